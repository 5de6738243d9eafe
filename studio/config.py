"""The workspace: where studio keeps its state, and the settings read from it.

Owns: workspace layout, settings.toml, the shipped data folders (voices/, templates/, jobs/, samples/),
and atomic file writes. The workspace is `--home DIR`, else $STUDIO_HOME, else the platform's user
data folder. Must not import any stage module.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from studio.errors import ConfigError, StoreError, storage_error
from studio.models import nfc

APP_NAME = "studio"
SETTINGS_FILE = "settings.toml"

_REPO_ROOT = Path(__file__).resolve().parent.parent
_SHIPPED = Path(__file__).resolve().parent / "_shipped"


def shipped_dir(name: str) -> Path:
    """The shipped data folder `name` (voices, templates, jobs, samples).

    In a source checkout or editable install it is the repo's top-level folder; in a wheel it is
    carried inside the package.
    """
    for base in (_REPO_ROOT, _SHIPPED):
        candidate = base / name
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"shipped folder {name!r} not found beside {_REPO_ROOT} or in {_SHIPPED}")


def default_home() -> Path:
    """$STUDIO_HOME if set, else the platform's user data folder for studio."""
    env = os.environ.get("STUDIO_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path  # deferred: only needed without --home/STUDIO_HOME

    return user_data_path(APP_NAME, appauthor=False)


@dataclass(frozen=True, slots=True)
class Settings:
    """Workspace settings from `<home>/settings.toml`; every field optional there."""

    station_name: str = "Trung tâm Văn hoá, Thông tin và Thể thao huyện"
    """Said in bulletin openings ("Đây là …")."""
    issuer: str = "studio-demo"
    """Package issuer id, recorded in every manifest."""
    default_voice: str = "vi-bac"
    """Voice id used when a command gets no --voice."""
    default_profile: str = "loa"
    """Destination profile used when a command gets no --profile."""
    region: str = "bac"
    """Default reading region for text that has no voice attached."""

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, path: Path) -> Settings:
        """Build settings from a parsed TOML table, rejecting unknown keys and wrong types."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown setting {key!r}; known: {', '.join(sorted(known))}")
            if not isinstance(value, str):
                raise ConfigError(f"{path}: setting {key!r} must be a string, got {type(value).__name__}")
            values[key] = nfc(value)
        settings = cls(**values)
        if settings.region not in ("bac", "trung", "nam"):
            raise ConfigError(f"{path}: setting 'region' is {settings.region!r}; expected bac, trung or nam")
        return settings


@dataclass(frozen=True, slots=True)
class Workspace:
    """A studio workspace folder and its settings."""

    home: Path
    settings: Settings

    @property
    def db_path(self) -> Path:
        return self.home / "studio.db"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def voices_dir(self) -> Path:
        return self.home / "voices"

    @property
    def lexicon_path(self) -> Path:
        return self.home / "lexicon.toml"

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"


def open_workspace(home: Path | str | None = None, *, create: bool = True) -> Workspace:
    """Open (and by default create) the workspace at `home` or the default location.

    Raises:
        ConfigError: settings.toml is unreadable or invalid.
        StoreError: the folder cannot be created.
    """
    root = Path(home).expanduser() if home is not None else default_home()
    if create:
        try:
            for sub in ("", "outbox", "cache", "voices", "inbox", "keys"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise (storage_error(exc, root)
                   or StoreError(f"{root}: cannot create the workspace folder: {exc.strerror}")) from exc
    elif not root.is_dir():
        raise ConfigError(f"{root}: workspace folder does not exist")
    path = Path(os.environ.get("STUDIO_CONFIG_FILE", root / SETTINGS_FILE))
    settings = Settings()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read settings: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        settings = Settings.from_mapping(data, path=path)
    return Workspace(home=root, settings=settings)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write `data` to `path` atomically: temp file in the same folder, fsync, rename, fsync the folder.

    A crash leaves either the old file or the new one, never a torn one.

    Raises:
        DiskFullError, ReadOnlyError: the disk is full or read-only (the old file, if any, is untouched and
            no temp file is left behind); other OSErrors as they are.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        mapped = storage_error(exc, path)
        if mapped is None:
            raise
        raise mapped from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        mapped = storage_error(exc, path) if isinstance(exc, OSError) else None
        if mapped is not None:
            raise mapped from exc
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int | None = None) -> None:
    """atomic_write_bytes for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def fsync_dir(folder: Path) -> None:
    """fsync a folder so a rename inside it survives a power cut."""
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
