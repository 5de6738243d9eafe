"""Voice profiles and the engines that speak them.

Owns: loading `voices/*.toml` (shipped) and `<workspace>/voices/*.toml` (the workspace's own, which
override shipped ones with the same id), mapping engine names to engine classes without importing
them until used, and saying whether each voice can speak here (`status`). A model path in a profile
(Piper's `engine_voice`) that is relative means "in the workspace's voices folder": that is where
`studio voices import` copies models, and a shipped example becomes installed once it is imported.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from studio.config import shipped_dir
from studio.errors import ConfigError, EngineError, StudioError
from studio.models import VoiceProfile
from studio.tts.base import Engine

# name → "module:Class"; engines are imported only when a voice needs them.
ENGINES: dict[str, str] = {
    "espeak": "studio.tts.espeak:EspeakEngine",
    "fake": "studio.tts.fake:FakeEngine",
    "gtts": "studio.tts.gtts:GttsEngine",
    "piper": "studio.tts.piper:PiperEngine",
}
# Engines whose `engine_voice` is a model file path.
_MODEL_FILE_ENGINES = ("piper",)


@dataclass(frozen=True, slots=True)
class VoiceStatus:
    """Whether a voice can speak on this machine, and if not, why (with what to do)."""

    installed: bool
    reason: str = ""

_PROFILE_FIELDS = {f.name for f in fields(VoiceProfile)}
_BAD_FILE = "Tệp giọng đọc không hợp lệ"


def load_voice_file(path: Path) -> VoiceProfile:
    """Parse one voice profile TOML file.

    Raises:
        ConfigError: unreadable file, invalid TOML, unknown or missing fields, unknown engine.
    """
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read voice file: {exc}", title=_BAD_FILE) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", title=_BAD_FILE) from exc
    unknown = sorted(set(data) - _PROFILE_FIELDS)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(unknown)}", title=_BAD_FILE)
    for required in ("id", "name", "engine"):
        if not isinstance(data.get(required), str) or not data[required]:
            raise ConfigError(f"{path}: field {required!r} is missing or not a string",
                              title=_BAD_FILE)
    if data["engine"] not in ENGINES:
        raise ConfigError(f"{path}: field 'engine' is {data['engine']!r}; "
                          f"known engines: {', '.join(sorted(ENGINES))}", title=_BAD_FILE)
    try:
        return VoiceProfile(**data)
    except TypeError as exc:
        raise ConfigError(f"{path}: {exc}", title=_BAD_FILE) from exc
    except StudioError as exc:
        raise ConfigError(f"{path}: {exc.message}", title=_BAD_FILE) from exc


class VoiceRegistry:
    """All voices known to a workspace, and one engine instance per engine name."""

    def __init__(self, workspace_voices: Path | None = None) -> None:
        self._profiles: dict[str, VoiceProfile] = {}
        self.workspace_voices = workspace_voices
        """The workspace's voices folder (models imported there too), or None."""
        folders = [shipped_dir("voices")]
        if workspace_voices is not None and workspace_voices.is_dir():
            folders.append(workspace_voices)
        for folder in folders:
            for path in sorted(folder.glob("*.toml")):
                profile = load_voice_file(path)
                self._profiles[profile.id] = self._resolve(profile)
        self._engines: dict[str, Engine] = {}

    def _resolve(self, profile: VoiceProfile) -> VoiceProfile:
        """Make a relative model path absolute against the workspace's voices folder."""
        if (profile.engine in _MODEL_FILE_ENGINES and profile.engine_voice
                and not Path(profile.engine_voice).is_absolute() and self.workspace_voices is not None):
            return replace(profile, engine_voice=str(self.workspace_voices / profile.engine_voice))
        return profile

    def ids(self) -> list[str]:
        return sorted(self._profiles)

    def profiles(self) -> list[VoiceProfile]:
        return [self._profiles[i] for i in self.ids()]

    def add(self, profile: VoiceProfile) -> None:
        """Register a profile that is not in any folder (tests, the fake voice, a fresh import)."""
        if profile.engine not in ENGINES:
            raise ConfigError(f"voice {profile.id!r}: engine {profile.engine!r} is unknown; "
                              f"known engines: {', '.join(sorted(ENGINES))}")
        self._profiles[profile.id] = self._resolve(profile)

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
        """The engine instance for `name`, imported and built on first use.

        Raises:
            ConfigError: no engine has this name.
            EngineError: the engine's module cannot be imported (the message says what to install).
        """
        if name not in self._engines:
            if name not in ENGINES:
                raise ConfigError(f"engine {name!r} is unknown; known engines: {', '.join(sorted(ENGINES))}")
            module_name, _, class_name = ENGINES[name].partition(":")
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                raise EngineError(f"engine {name!r} cannot be imported ({exc}); install its extra: "
                                  f"pip install 'studio[{name}]'") from exc
            self._engines[name] = getattr(module, class_name)()
        return self._engines[name]

    def engine_for(self, voice: VoiceProfile) -> Engine:
        return self.engine(voice.engine)

    def status(self, voice: VoiceProfile | str) -> VoiceStatus:
        """Whether `voice` can speak here, without loading any model. Never raises for a known voice.

        Raises:
            ConfigError: `voice` is an id that does not exist.
        """
        profile = self.get(voice) if isinstance(voice, str) else voice
        try:
            engine = self.engine_for(profile)
        except StudioError as exc:
            return VoiceStatus(False, exc.message)
        installed, reason = engine.voice_status(profile)
        return VoiceStatus(installed, reason)
