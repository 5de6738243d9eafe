"""The core never imports the UI (DESIGN.md §2)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import studio

REPO = Path(__file__).resolve().parent.parent


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(studio.__path__, "studio."):
        if not info.name.startswith("studio.tui"):
            names.append(info.name)
    return names


def test_core_modules_never_import_textual() -> None:
    modules = _core_modules()
    assert "studio.cli" in modules and "studio.produce" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as exc:\n"
        "        if 'textual' in str(exc): raise\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'studio.tui')))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def test_import_linter_contract() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    proc = subprocess.run([str(exe)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
