"""Voice profiles and the engines that speak them.

Owns: loading `voices/*.toml` (shipped) and `<workspace>/voices/*.toml` (the workspace's own, which
override shipped ones with the same id), and mapping engine names to engine classes without importing
them until used.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

from studio.config import shipped_dir
from studio.errors import ConfigError, StudioError
from studio.models import VoiceProfile
from studio.tts.base import Engine

# name → "module:Class"; engines are imported only when a voice needs them.
ENGINES: dict[str, str] = {
    "espeak": "studio.tts.espeak:EspeakEngine",
    "fake": "studio.tts.fake:FakeEngine",
}

_PROFILE_FIELDS = {f.name for f in fields(VoiceProfile)}


def load_voice_file(path: Path) -> VoiceProfile:
    """Parse one voice profile TOML file.

    Raises:
        ConfigError: unreadable file, invalid TOML, unknown or missing fields, unknown engine.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read voice file: {exc}", title="Tệp giọng đọc không hợp lệ") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", title="Tệp giọng đọc không hợp lệ") from exc
    unknown = sorted(set(data) - _PROFILE_FIELDS)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(unknown)}", title="Tệp giọng đọc không hợp lệ")
    for required in ("id", "name", "engine"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise ConfigError(f"{path}: field {required!r} is missing or not a string",
                              title="Tệp giọng đọc không hợp lệ")
    if data["engine"] not in ENGINES:
        raise ConfigError(f"{path}: field 'engine' is {data['engine']!r}; known engines: {', '.join(sorted(ENGINES))}",
                          title="Tệp giọng đọc không hợp lệ")
    try:
        return VoiceProfile(**data)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}", title="Tệp giọng đọc không hợp lệ") from exc
    except StudioError as exc:
        raise ConfigError(f"{path}: {exc.message}", title="Tệp giọng đọc không hợp lệ") from exc


class VoiceRegistry:
    """All voices known to a workspace, and one engine instance per engine name."""

    def __init__(self, workspace_voices: Path | None = None) -> None:
        self._profiles: dict[str, VoiceProfile] = {}
        folders = [shipped_dir("voices")]
        if workspace_voices is not None and workspace_voices.is_dir():
            folders.append(workspace_voices)
        for folder in folders:
            for path in sorted(folder.glob("*.toml")):
                profile = load_voice_file(path)
                self._profiles[profile.id] = profile
        self._engines: dict[str, Engine] = {}

    def ids(self) -> list[str]:
        return sorted(self._profiles)

    def profiles(self) -> list[VoiceProfile]:
        return [self._profiles[i] for i in self.ids()]

    def add(self, profile: VoiceProfile) -> None:
        """Register a profile that is not in any folder (tests, the fake voice)."""
        self._profiles[profile.id] = profile

    def get(self, voice_id: str) -> VoiceProfile:
        """The profile `voice_id`.

        Raises:
            ConfigError: unknown id; the message lists the voices that exist.
        """
        try:
            return self._profiles[voice_id]
        except KeyError:
            raise ConfigError(f"voice {voice_id!r} does not exist; available: {', '.join(self.ids())}",
                              title="Không có giọng đọc này") from None

    def engine(self, name: str) -> Engine:
        """The engine instance for `name`, imported and built on first use."""
        if name not in self._engines:
            if name not in ENGINES:
                raise ConfigError(f"engine {name!r} is unknown; known engines: {', '.join(sorted(ENGINES))}")
            module_name, _, class_name = ENGINES[name].partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            self._engines[name] = cls()
        return self._engines[name]

    def engine_for(self, voice: VoiceProfile) -> Engine:
        return self.engine(voice.engine)
