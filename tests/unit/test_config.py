import os
import stat
from pathlib import Path

import pytest

from studio.config import atomic_write_bytes, open_workspace, shipped_dir
from studio.errors import ConfigError, DiskFullError


def test_workspace_created_with_defaults(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws")
    assert ws.outbox.is_dir() and ws.cache_dir.is_dir() and ws.voices_dir.is_dir()
    assert ws.settings.default_voice == "vi-bac"


def test_studio_home_env_is_default(_isolated_home: Path) -> None:
    assert open_workspace().home == _isolated_home


def test_settings_file_read_and_validated(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text('station_name = "Đài Truyền thanh huyện Mộc Châu"\n', encoding="utf-8")
    assert open_workspace(tmp_path).settings.station_name == "Đài Truyền thanh huyện Mộc Châu"
    (tmp_path / "settings.toml").write_text('statoin_name = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"settings.toml: unknown setting 'statoin_name'"):
        open_workspace(tmp_path)
    (tmp_path / "settings.toml").write_text("station_name = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"settings.toml: invalid TOML"):
        open_workspace(tmp_path)


def test_config_file_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "other.toml"
    cfg.write_text('region = "nam"\n', encoding="utf-8")
    monkeypatch.setenv("STUDIO_CONFIG_FILE", str(cfg))
    assert open_workspace(tmp_path / "ws").settings.region == "nam"


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two", mode=0o600)
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["f.bin"]


def test_atomic_write_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "f.txt"
    atomic_write_bytes(target, b"old")

    def boom(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(DiskFullError, match="f.txt: đĩa đầy"):  # ENOSPC is said as a full disk
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_shipped_dirs_exist() -> None:
    assert (shipped_dir("voices") / "vi-bac.toml").is_file()
    assert (shipped_dir("templates") / "ban-tin.toml").is_file()
    with pytest.raises(ConfigError, match="shipped folder 'nope'"):
        shipped_dir("nope")
