"""Bench: reading accuracy and speed of studio.text against Vietnamese normalizers on PyPI.

A script, not a test. Each peer is installed into its own throwaway venv under /tmp (pip from
PyPI), then run in a subprocess over the project's suite (tests/data/text_cases). Accuracy is judged
exactly as tests/text/test_cases.py judges ours (canonical words, accepted readings). Speed is the
mean wall time per sentence inside the peer's process, after import and one warm-up call.

    .venv/bin/python bench/bench_text.py [--only NAME ...] [--venvs DIR] [--fresh] [--json OUT]

Peers: sea-g2p (Normalizer), g2p-hamster (t0 pipeline read_string), vietnormalizer
(VietnameseNormalizer), vinorm (TTSnorm; a bundled binary: one call for the whole suite, lines
split on its "#line#" marker, as its README batches).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_spec = importlib.util.spec_from_file_location("text_cases", ROOT / "tests" / "text" / "cases.py")
assert _spec and _spec.loader
cases_mod = importlib.util.module_from_spec(_spec)
sys.modules["text_cases"] = cases_mod
_spec.loader.exec_module(cases_mod)

# Runner code executed inside each peer's venv: reads {"texts": [...]} on stdin, prints JSON.
_RUNNER_HEAD = """
import json, sys, time
texts = json.load(sys.stdin)["texts"]
"""
_RUNNER_LOOP = """
fn(texts[0])  # warm-up: dictionaries load lazily
outputs, errors = [], 0
t0 = time.perf_counter()
for t in texts:
    try:
        outputs.append(str(fn(t)))
    except Exception as exc:  # a peer crashing on one sentence scores it wrong, the run goes on
        outputs.append("")
        errors += 1
elapsed = time.perf_counter() - t0
print(json.dumps({"outputs": outputs, "seconds": elapsed, "errors": errors}))
"""

PEERS: dict[str, dict[str, str]] = {
    "sea-g2p": {
        "pip": "sea-g2p",
        "setup": "from sea_g2p import Normalizer\n_n = Normalizer('vi')\nfn = lambda t: _n.normalize(t)\n",
    },
    "g2p-hamster": {
        "pip": "g2p-hamster",
        "setup": "from g2p_hamster.t0.pipeline import normalize as _norm\n"
                 "fn = lambda t: _norm(t)['read_string']\n",
    },
    "vietnormalizer": {
        "pip": "vietnormalizer",
        "setup": "from vietnormalizer import VietnameseNormalizer\n_n = VietnameseNormalizer()\n"
                 "fn = lambda t: _n.normalize(t)\n",
    },
    "vinorm": {
        "pip": "vinorm",
        # The binary reads a file per call; batching the suite in one call is its intended use.
        "runner": textwrap.dedent("""
            import json, sys, time
            from vinorm import TTSnorm
            texts = json.load(sys.stdin)["texts"]
            TTSnorm("khởi động")
            t0 = time.perf_counter()
            raw = TTSnorm("\\n".join(texts))
            elapsed = time.perf_counter() - t0
            parts = [p for p in raw.split(". ") if p.strip()]
            errors = 0
            if len(parts) != len(texts):  # fall back to one call per sentence
                t0 = time.perf_counter()
                parts = [TTSnorm(t) for t in texts]
                elapsed = time.perf_counter() - t0
            print(json.dumps({"outputs": parts, "seconds": elapsed, "errors": errors}))
        """),
    },
}


def ensure_venv(name: str, pip_name: str, root: Path, fresh: bool) -> Path | str:
    """The venv's python, created and installed on first use; a string is the failure reason."""
    venv = root / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if fresh and venv.exists():
        subprocess.run(["rm", "-rf", str(venv)], check=True)
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run([str(python), "-m", "pip", "install", "-q", pip_name],
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            return f"pip install failed: {proc.stderr.strip().splitlines()[-1:]}"
        marker.write_text(pip_name)
    return python


def run_peer(name: str, python: Path, texts: list[str]) -> dict[str, object]:
    spec = PEERS[name]
    code = spec.get("runner") or (_RUNNER_HEAD + spec["setup"] + _RUNNER_LOOP)
    proc = subprocess.run([str(python), "-c", code], input=json.dumps({"texts": texts}),
                          capture_output=True, text=True, timeout=1800, cwd="/tmp")
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"error": f"run failed: {tail[0][:200]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_ours(cases: list) -> dict[str, object]:
    from studio.text import normalize

    normalize(cases[0].text)
    outputs = []
    t0 = time.perf_counter()
    for case in cases:
        outputs.append(normalize(case.text, case.region))
    return {"outputs": outputs, "seconds": time.perf_counter() - t0, "errors": 0}


def score(cases: list, outputs: list[str]) -> tuple[int, dict[str, list[int]]]:
    right = 0
    by_class: dict[str, list[int]] = {}
    for case, out in zip(cases, outputs, strict=True):
        ok = cases_mod.judge(case, out)
        right += ok
        tally = by_class.setdefault(case.source, [0, 0])
        tally[0] += ok
        tally[1] += 1
    return right, by_class


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help="peer names to run (default: all)")
    ap.add_argument("--venvs", type=Path, default=Path("/tmp/studio-bench"), help="where peer venvs live")
    ap.add_argument("--fresh", action="store_true", help="reinstall each peer's venv")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument("--show-misses", type=int, default=0, help="print N wrong readings per peer")
    args = ap.parse_args()

    cases = cases_mod.load_cases()
    # Peers have no region switch: they are judged on the Bắc (default) cases, and so are we.
    bac = [c for c in cases if c.region == "bac"]
    texts = [c.text for c in bac]
    args.venvs.mkdir(parents=True, exist_ok=True)

    results: dict[str, dict[str, object]] = {"studio": run_ours(bac)}
    for name in args.only if args.only is not None else PEERS:
        python = ensure_venv(name, PEERS[name]["pip"], args.venvs, args.fresh)
        if isinstance(python, str):
            results[name] = {"error": python}
            continue
        results[name] = run_peer(name, python, texts)

    ours = results["studio"]
    our_right, _ = score(bac, ours["outputs"])  # type: ignore[arg-type]
    our_ms = 1000 * float(ours["seconds"]) / len(bac)  # type: ignore[arg-type]
    print(f"suite: {len(bac)} Bắc cases ({len(cases)} in all, regional ones run for studio only)")
    print(f"{'reader':<16}{'right':>9}{'accuracy':>10}{'ms/sent':>10}{'acc vs ours':>13}{'time vs ours':>14}")
    figures = {}
    for name, res in results.items():
        if "error" in res:
            print(f"{name:<16}  {res['error']}")
            figures[name] = {"error": res["error"]}
            continue
        right, by_class = score(bac, res["outputs"])  # type: ignore[arg-type]
        ms = 1000 * float(res["seconds"]) / len(bac)  # type: ignore[arg-type]
        print(f"{name:<16}{right:>5}/{len(bac):<3}{right / len(bac):>10.1%}{ms:>10.3f}"
              f"{right / our_right:>12.2f}x{ms / our_ms:>13.1f}x")
        figures[name] = {"right": right, "total": len(bac), "ms_per_sentence": ms,
                         "errors": res.get("errors", 0),
                         "by_class": {k: f"{v[0]}/{v[1]}" for k, v in sorted(by_class.items())}}
        if args.show_misses and name != "studio":
            shown = 0
            for case, out in zip(bac, res["outputs"], strict=True):  # type: ignore[arg-type]
                if not cases_mod.judge(case, out) and shown < args.show_misses:
                    print(f"    {case.id}: {case.text}\n      → {out.strip()[:160]}")
                    shown += 1
    print("\nby class (right/total):")
    classes = sorted({c.source for c in bac})
    print(f"{'':<16}" + "".join(f"{c[:10]:>11}" for c in classes))
    for name, fig in figures.items():
        if "by_class" in fig:
            print(f"{name:<16}" + "".join(f"{fig['by_class'].get(c, '-'):>11}" for c in classes))
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
