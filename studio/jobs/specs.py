"""Job specs: `jobs/*.toml` (shipped examples) and `<workspace>/jobs/*.toml` (the station's own).

Owns: parsing and validating the two kinds of standing job, a hot-folder conversion (watch a folder,
convert each notice dropped there, dispatch the package) and a scheduled bulletin (compose from the
newest items at given times), into frozen dataclasses. Every error names the file and the field.
A workspace spec overrides a shipped one with the same id. Must not import Huey or the pipeline.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import time as dtime
from pathlib import Path
from typing import Any

from studio.config import Workspace, shipped_dir
from studio.errors import ConfigError

HOT_FOLDER, SCHEDULED_BULLETIN = "hot-folder", "scheduled-bulletin"
KINDS = (HOT_FOLDER, SCHEDULED_BULLETIN)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_TITLE = "Tệp công việc không hợp lệ"


@dataclass(frozen=True, slots=True)
class DispatchSpec:
    """Where finished packages go."""

    out: Path
    """The spool folder packages are published into (the workspace outbox by default)."""
    to: str = ""
    """An http(s) URL to POST each package to, or '' to leave it in the spool folder."""


@dataclass(frozen=True, slots=True)
class HotFolderSpec:
    id: str
    name: str
    path: Path
    """The spec file."""
    enabled: bool
    folder: Path
    """Watched folder; files are moved to `done/` or `failed/` inside it, never deleted."""
    patterns: tuple[str, ...]
    settle_s: float
    """A file must be unchanged this long before it is taken (it may still be being copied)."""
    voice: str
    profile: str
    audio_only: bool
    template: str
    key: str
    dispatch: DispatchSpec
    kind: str = HOT_FOLDER


@dataclass(frozen=True, slots=True)
class ScheduledBulletinSpec:
    id: str
    name: str
    path: Path
    enabled: bool
    template: str
    times: tuple[dtime, ...]
    """Local times of day to compose at."""
    days: tuple[str, ...]
    max_items: int
    since_hours: float
    """Only items stored within this many hours."""
    voice: str
    profiles: tuple[str, ...]
    key: str
    grace_min: int
    """A time missed while no worker ran is still made up to this many minutes later."""
    dispatch: DispatchSpec
    kind: str = SCHEDULED_BULLETIN


JobSpec = HotFolderSpec | ScheduledBulletinSpec


class _Fields:
    """Typed reads from one TOML table, each error naming the file and the dotted field."""

    def __init__(self, path: Path, data: dict[str, Any], prefix: str = "") -> None:
        self.path, self.data, self.prefix, self.used = path, data, prefix, set[str]()

    def _err(self, key: str, what: str) -> ConfigError:
        return ConfigError(f"{self.path}: field '{self.prefix}{key}' {what}", title=_TITLE)

    def get(self, key: str, types: tuple[type, ...], default: Any = ..., *, what: str) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is ...:
                raise self._err(key, f"is missing; expected {what}")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise self._err(key, f"is {value!r}; expected {what}")
        return value

    def string(self, key: str, default: Any = ..., *, allow_empty: bool = False) -> str:
        value = self.get(key, (str,), default, what="a string")
        if not allow_empty and not str(value).strip():
            raise self._err(key, "is empty")
        return str(value).strip()

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, (list,), default, what="a list of strings")
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self._err(key, f"is {value!r}; expected a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def number(self, key: str, default: Any, lo: float, hi: float) -> float:
        value = self.get(key, (int, float), default, what=f"a number in {lo:g}–{hi:g}")
        if not lo <= value <= hi:
            raise self._err(key, f"is {value}; expected a number in {lo:g}–{hi:g}")
        return float(value)

    def table(self, key: str) -> _Fields:
        value = self.get(key, (dict,), {}, what="a [table]")
        return _Fields(self.path, value, f"{self.prefix}{key}.")

    def check_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self._err(unknown[0], f"is unknown; allowed here: {', '.join(sorted(self.used))}")

    def path_in(self, key: str, home: Path, default: str) -> Path:
        raw = Path(self.string(key, default)).expanduser()
        return raw if raw.is_absolute() else home / raw


def load_spec(path: Path, workspace: Workspace) -> JobSpec:
    """Parse and validate one job spec file.

    Raises:
        ConfigError: unreadable, invalid TOML, unknown/missing/wrong field, unknown voice, profile or
            template, bad time; the message names the file and the field.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read job file: {exc}", title=_TITLE) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", title=_TITLE) from exc
    f = _Fields(path, data)
    spec_id = f.string("id")
    if not _ID.match(spec_id):
        raise f._err("id", f"is {spec_id!r}; expected lower-case letters, digits and '-'")
    kind = f.string("kind")
    if kind not in KINDS:
        raise f._err("kind", f"is {kind!r}; expected one of {', '.join(KINDS)}")
    name = f.string("name", spec_id)
    enabled = f.get("enabled", (bool,), True, what="true or false")
    home = workspace.home
    d = f.table("dispatch")
    dispatch = DispatchSpec(
        out=d.path_in("out", home, str(workspace.outbox)), to=d.string("to", "", allow_empty=True)
    )
    if dispatch.to and not dispatch.to.startswith(("http://", "https://")):
        raise d._err(
            "to", f'is {dispatch.to!r}; expected an http:// or https:// URL, or "" for the spool folder'
        )
    d.check_unknown()
    settings = workspace.settings
    spec: JobSpec
    if kind == HOT_FOLDER:
        w, c = f.table("watch"), f.table("convert")
        spec = HotFolderSpec(
            id=spec_id,
            name=name,
            path=path,
            enabled=enabled,
            folder=w.path_in("folder", home, "inbox/thong-bao"),
            patterns=w.strings("patterns", ["*.txt", "*.md", "*.docx", "*.pdf", "*.json"]),
            settle_s=w.number("settle_s", 5.0, 0.0, 3600.0),
            voice=c.string("voice", settings.default_voice),
            profile=c.string("profile", settings.default_profile),
            audio_only=c.get("audio_only", (bool,), False, what="true or false"),
            template=c.string("template", "", allow_empty=True),
            key=c.string("key", "", allow_empty=True),
            dispatch=dispatch,
        )
        w.check_unknown()
        c.check_unknown()
        _check_names(
            path,
            "convert.",
            voice=spec.voice,
            profiles=(spec.profile,),
            template=spec.template,
            workspace=workspace,
            profile_field="profile",
        )
    else:
        s = f.table("schedule")
        raw_times = s.strings("times")
        if not raw_times:
            raise s._err("times", 'is empty; give at least one "HH:MM"')
        times = []
        for t in raw_times:
            m = _TIME.match(t)
            if m is None:
                raise s._err("times", f'has {t!r}; expected 24-hour "HH:MM" such as "06:30"')
            times.append(dtime(int(m.group(1)), int(m.group(2))))
        days = s.strings("days", list(DAYS))
        bad = [day for day in days if day not in DAYS]
        if bad:
            raise s._err("days", f"has {bad[0]!r}; expected some of {', '.join(DAYS)}")
        grace = int(s.number("grace_min", 30, 0, 720))
        b = f.table("bulletin")
        profiles = b.strings("profiles", [settings.default_profile])
        if not profiles:
            raise b._err("profiles", "is empty; give at least one destination profile")
        spec = ScheduledBulletinSpec(
            id=spec_id,
            name=name,
            path=path,
            enabled=enabled,
            template=b.string("template", "ban-tin"),
            times=tuple(sorted(set(times))),
            days=days,
            max_items=int(b.number("max_items", 10, 1, 100)),
            since_hours=b.number("since_hours", 24.0, 0.1, 24.0 * 31),
            voice=b.string("voice", settings.default_voice),
            profiles=profiles,
            key=b.string("key", "", allow_empty=True),
            grace_min=grace,
            dispatch=dispatch,
        )
        s.check_unknown()
        b.check_unknown()
        _check_names(
            path,
            "bulletin.",
            voice=spec.voice,
            profiles=spec.profiles,
            template=spec.template,
            workspace=workspace,
            profile_field="profiles",
        )
    f.check_unknown()
    return spec


def _check_names(
    path: Path,
    prefix: str,
    *,
    voice: str,
    profiles: tuple[str, ...],
    template: str,
    workspace: Workspace,
    profile_field: str,
) -> None:
    """Unknown voice/profile/template ids are errors at load, not at 06:00 when the bulletin is due."""
    from studio.audio.profiles import load_profiles
    from studio.tts.registry import VoiceRegistry

    voices = VoiceRegistry(workspace.voices_dir).ids()
    if voice not in voices:
        raise ConfigError(
            f"{path}: field '{prefix}voice' is {voice!r}; voices here: {', '.join(voices)}", title=_TITLE
        )
    known = load_profiles(workspace.home / "profiles")
    for p in profiles:
        if p not in known:
            raise ConfigError(
                f"{path}: field '{prefix}{profile_field}' names {p!r}; profiles: {', '.join(sorted(known))}",
                title=_TITLE,
            )
    if template:
        from studio.compose import load_template

        try:
            load_template(template, extra_dir=workspace.home / "templates")
        except ConfigError as exc:
            raise ConfigError(f"{path}: field '{prefix}template': {exc.message}", title=_TITLE) from exc


def spec_dirs(workspace: Workspace) -> list[Path]:
    """Where specs are read from, in override order: shipped jobs/, then `<workspace>/jobs/`."""
    folders = []
    try:
        folders.append(shipped_dir("jobs"))
    except ConfigError:
        pass  # a wheel built without the examples: only the workspace's own specs
    folders.append(workspace.home / "jobs")
    return folders


def load_specs(workspace: Workspace, folders: list[Path] | None = None) -> dict[str, JobSpec]:
    """Every job spec by id; a later folder's spec replaces an earlier one with the same id.

    Raises:
        ConfigError: any file is invalid (a bad spec is never skipped silently), or two files in one
            folder use the same id.
    """
    specs: dict[str, JobSpec] = {}
    for folder in folders if folders is not None else spec_dirs(workspace):
        if not folder.is_dir():
            continue
        here: dict[str, Path] = {}
        for path in sorted(folder.glob("*.toml")):
            spec = load_spec(path, workspace)
            if spec.id in here:
                raise ConfigError(
                    f"{path}: field 'id' is {spec.id!r}, already used by {here[spec.id]}", title=_TITLE
                )
            here[spec.id] = path
            specs[spec.id] = spec
    return specs
