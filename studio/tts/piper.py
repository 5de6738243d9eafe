"""Piper neural voices (optional extra `piper`: piper-tts, onnxruntime, onnx).

Owns: checking a Piper voice (`X.onnx` + `X.onnx.json`: config fields, the phoneme map's tone
symbols, the model's input/output signature), importing one into a workspace with its sha256, and
speaking with it through piper-tts's own load → phonemize → onnxruntime path. piper and onnxruntime
are imported inside functions only: listing voices never loads them. Must not import anything above
the tts stage.

Signature (piper-tts 1.x, VITS export): inputs `input` int64[1,N], `input_lengths` int64[1],
`scales` float32[3] (noise, length, noise_w), plus `sid` int64[1] when multi-speaker; first output
float32[1,1,T].
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from threading import Event
from typing import Any

import numpy as np

from studio.config import atomic_write_text, fsync_dir
from studio.errors import ConfigError, EngineError
from studio.models import VoiceProfile, nfc
from studio.tts.base import Engine, Rendered, SentenceTiming, check_cancel

INSTALL_HINT = "install the Piper extra: pip install 'studio[piper]' (piper-tts, onnxruntime)"
SAMPLE_RATES_HZ = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
# espeak-ng's Vietnamese phonemes carry the tone as a digit after the vowel (mà 2, mả 4, mã 5, mạ 6).
# A map without them drops the tone (vi_VN-vivos-x_low reads ma/mả/mã/mạ as one syllable).
VIETNAMESE_TONE_SYMBOLS = ("2", "4", "5", "6")
_BAD_VOICE = "Giọng Piper không hợp lệ"
_BAD_MODEL = "Mô hình Piper không hợp lệ"
_REQUIRED_SYMBOLS = ("_", "^", "$")  # piper's PAD, BOS, EOS
_SUPPORTED_PHONEME_TYPES = ("espeak", "text")  # the others download models (g2pW…) at run time
DEFAULT_RATE_WPM = 165
"""rate_wpm that maps to the model's own length_scale; 150 makes speech 10 % slower."""
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")

# Known open voices: the attribution their licence asks for, used when an import gives none.
KNOWN_ATTRIBUTIONS = {
    "vais1000": "Piper voice vi_VN-vais1000-medium, trained on the VAIS-1000 dataset (CC BY 4.0).",
}


@dataclass(frozen=True, slots=True)
class PiperVoiceInfo:
    """What a checked `X.onnx.json` says about its voice."""

    sample_rate: int
    espeak_voice: str
    phoneme_type: str
    num_symbols: int
    num_speakers: int
    speakers: tuple[str, ...]
    language: str
    """The config's language code (vi_VN), else the espeak voice."""
    dataset: str
    quality: str

    @property
    def vietnamese(self) -> bool:
        return self.language.lower().startswith("vi") or self.espeak_voice.lower().startswith("vi")


def check_config(data: Any, path: Path) -> PiperVoiceInfo:
    """Check a parsed Piper voice config and return what it says.

    Raises:
        ConfigError: a field is missing or has a wrong type or value; a Vietnamese voice's phoneme map
            lacks the tone symbols 2 4 5 6. The message names the file and field.
    """
    def bad(field_name: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: field {field_name!r} {why}", title=_BAD_VOICE)

    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, got {type(data).__name__}",
                          title=_BAD_VOICE)
    audio = data.get("audio")
    rate = audio.get("sample_rate") if isinstance(audio, dict) else None
    if rate is None:
        raise bad("audio.sample_rate", "is missing")
    if not isinstance(rate, int) or isinstance(rate, bool) or rate not in SAMPLE_RATES_HZ:
        rates = ", ".join(map(str, SAMPLE_RATES_HZ))
        raise bad("audio.sample_rate", f"is {rate!r}; expected one of {rates} Hz")
    phoneme_type = data.get("phoneme_type", "espeak")
    if phoneme_type not in _SUPPORTED_PHONEME_TYPES:
        raise bad("phoneme_type", f"is {phoneme_type!r}; supported: {', '.join(_SUPPORTED_PHONEME_TYPES)}")
    espeak = data.get("espeak")
    espeak_voice = espeak.get("voice") if isinstance(espeak, dict) else None
    if not isinstance(espeak_voice, str) or not espeak_voice.strip():
        raise bad("espeak.voice", "is missing or not a voice name")
    id_map = data.get("phoneme_id_map")
    if not isinstance(id_map, dict) or not id_map:
        raise bad("phoneme_id_map", "is missing or empty (the voice has no phoneme map)")
    for symbol, ids in id_map.items():
        if (not isinstance(ids, list) or not ids
                or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids)):
            raise bad("phoneme_id_map", f"maps {symbol!r} to {ids!r}; expected a list of ids ≥ 0")
    missing = [s for s in _REQUIRED_SYMBOLS if s not in id_map]
    if missing:
        raise bad("phoneme_id_map", f"lacks piper's pad/start/end symbols {' '.join(missing)}")
    num_symbols = data.get("num_symbols")
    if not isinstance(num_symbols, int) or isinstance(num_symbols, bool) or num_symbols < 1:
        raise bad("num_symbols", f"is {num_symbols!r}; expected a positive integer")
    top = max(i for ids in id_map.values() for i in ids)
    if top >= num_symbols:
        raise bad("phoneme_id_map", f"uses id {top}, but num_symbols is {num_symbols}")
    num_speakers = data.get("num_speakers", 1)
    if not isinstance(num_speakers, int) or isinstance(num_speakers, bool) or num_speakers < 1:
        raise bad("num_speakers", f"is {num_speakers!r}; expected a positive integer")
    speaker_map = data.get("speaker_id_map") or {}
    if not isinstance(speaker_map, dict):
        raise bad("speaker_id_map", "is not an object")
    lang = data.get("language")
    language = lang.get("code", "") if isinstance(lang, dict) else ""
    info = PiperVoiceInfo(
        sample_rate=rate, espeak_voice=espeak_voice, phoneme_type=phoneme_type, num_symbols=num_symbols,
        num_speakers=num_speakers, speakers=tuple(str(s) for s in speaker_map),
        language=str(language or espeak_voice), dataset=str(data.get("dataset", "")),
        quality=str((data.get("audio") or {}).get("quality", "")),
    )
    if info.vietnamese and phoneme_type == "espeak":
        lacking = [s for s in VIETNAMESE_TONE_SYMBOLS if s not in id_map]
        if lacking:
            raise bad("phoneme_id_map",
                      f"lacks the Vietnamese tone symbols {' '.join(lacking)}: this voice would read "
                      "ma, mả, mã, mạ alike; refusing it")
    return info


def read_config(path: Path) -> tuple[dict[str, Any], PiperVoiceInfo]:
    """Read and check `X.onnx.json`.

    Raises:
        ConfigError: missing, unreadable, not JSON, or failing `check_config`.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: the voice config file does not exist "
                          "(a Piper voice is X.onnx + X.onnx.json)", title=_BAD_VOICE) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the voice config: {exc}", title=_BAD_VOICE) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}", title=_BAD_VOICE) from exc
    return data, check_config(data, path)


def check_signature(session: Any, info: PiperVoiceInfo, path: Path) -> None:
    """Check an onnxruntime session has Piper's inputs and output.

    Raises:
        ConfigError: an input is missing, extra or of the wrong type or rank; the output is not
            float32[1,1,T].
    """
    expected = {"input": ("tensor(int64)", 2), "input_lengths": ("tensor(int64)", 1),
                "scales": ("tensor(float)", 1)}
    if info.num_speakers > 1:
        expected["sid"] = ("tensor(int64)", 1)
    found = {i.name: (i.type, len(i.shape)) for i in session.get_inputs()}
    for name, (kind, rank) in expected.items():
        if name not in found:
            raise ConfigError(f"{path}: the model has no input {name!r} "
                              f"(inputs: {', '.join(found) or 'none'})", title=_BAD_MODEL)
        if found[name] != (kind, rank):
            raise ConfigError(f"{path}: input {name!r} is {found[name][0]} of rank {found[name][1]}; "
                              f"expected {kind} of rank {rank}", title=_BAD_MODEL)
    extra = sorted(set(found) - set(expected))
    if extra:
        why = "the config says one speaker" if extra == ["sid"] else "Piper does not feed them"
        raise ConfigError(f"{path}: the model has extra input(s) {', '.join(extra)} ({why})",
                          title=_BAD_MODEL)
    outputs = session.get_outputs()
    if not outputs or outputs[0].type != "tensor(float)" or len(outputs[0].shape) != 3:
        got = f"{outputs[0].type} of rank {len(outputs[0].shape)}" if outputs else "none"
        raise ConfigError(f"{path}: the model's first output is {got}; expected tensor(float) [1,1,T]",
                          title=_BAD_MODEL)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_path_for(voice: VoiceProfile) -> Path:
    """The voice's config: option `config`, else the model path + '.json'."""
    explicit = voice.options.get("config")
    model = Path(voice.engine_voice)
    if isinstance(explicit, str) and explicit:
        path = Path(explicit)
        return path if path.is_absolute() else model.parent / path
    return Path(f"{model}.json")


def _import_error() -> EngineError:
    return EngineError(f"piper: not installed: {INSTALL_HINT}")


class PiperEngine(Engine):
    """Piper voices, offline, at the model's rate (22.05 kHz for medium voices).

    `engine_voice` is the model path (the registry makes workspace-relative paths absolute). Profile
    options: `sha256` (checked on load), `config`, `speaker` (name or id), `length_scale`,
    `noise_scale`, `noise_w_scale`.
    """

    name = "piper"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, int, int], Any] = {}
        self._hashes: dict[tuple[str, int, int], str] = {}

    def available(self) -> tuple[bool, str]:
        import importlib.util

        for module in ("piper", "onnxruntime"):
            if importlib.util.find_spec(module) is None:
                return False, f"the {module!r} package is missing: {INSTALL_HINT}"
        return True, ""

    def voice_status(self, voice: VoiceProfile) -> tuple[bool, str]:
        ok, why = self.available()
        if not ok:
            return ok, why
        model = Path(voice.engine_voice)
        if not voice.engine_voice or not model.is_absolute():
            return False, (f"model {voice.engine_voice or '(none)'} is not installed in a workspace: "
                           "run `studio voices import X.onnx`")
        if not model.is_file():
            return False, f"model file {model} not found: run `studio voices import X.onnx`"
        config = config_path_for(voice)
        if not config.is_file():
            return False, f"voice config {config} not found (a Piper voice is X.onnx + X.onnx.json)"
        return True, ""

    def version(self, voice: VoiceProfile) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            piper_version = dist_version("piper-tts")
        except PackageNotFoundError:
            raise _import_error() from None
        model = Path(voice.engine_voice)
        digest = str(voice.options.get("sha256", "")) or self._model_hash(model)
        config = config_path_for(voice)
        try:
            config_digest = hashlib.sha256(config.read_bytes()).hexdigest()[:16]
        except OSError as exc:
            raise EngineError(f"piper: voice {voice.id!r}: cannot read {config}: {exc.strerror}") from exc
        return f"piper:{piper_version}:{digest}:{config_digest}"

    def _model_hash(self, model: Path) -> str:
        try:
            st = model.stat()
        except OSError as exc:
            raise EngineError(f"piper: model file {model} cannot be read: {exc.strerror}") from exc
        key = (str(model), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key not in self._hashes:
                self._hashes[key] = sha256_file(model)
            return self._hashes[key]

    def load(self, voice: VoiceProfile) -> Any:
        """The loaded `piper.PiperVoice` for `voice`, checked and kept for reuse.

        Raises:
            EngineError: piper is not installed; the model or config is missing, corrupt, changed since
                import (sha256), or does not have Piper's signature.
        """
        ok, why = self.voice_status(voice)
        if not ok:
            raise EngineError(f"piper: voice {voice.id!r}: {why}")
        model = Path(voice.engine_voice)
        st = model.stat()
        key = (str(model), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise _import_error() from exc
        config_path = config_path_for(voice)
        try:
            _, info = read_config(config_path)
        except ConfigError as exc:
            raise EngineError(f"piper: voice {voice.id!r}: {exc.message}") from exc
        expected = voice.options.get("sha256")
        if expected and self._model_hash(model) != expected:
            raise EngineError(f"piper: voice {voice.id!r}: {model} does not match its sha256 from import "
                              "(corrupt or replaced): import it again")
        try:
            loaded = PiperVoice.load(model, config_path=config_path)
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise EngineError(f"piper: voice {voice.id!r}: cannot load model {model}: "
                              f"{type(exc).__name__}: {exc}") from exc
        try:
            check_signature(loaded.session, info, model)
        except ConfigError as exc:
            raise EngineError(f"piper: voice {voice.id!r}: {exc.message}") from exc
        with self._lock:
            self._loaded[key] = loaded
        return loaded

    def synthesize(self, text: str, voice: VoiceProfile, *, cancel: Event | None = None) -> Rendered:
        """Speak `text` with a Piper voice, one model run per sentence.

        Raises:
            EngineError: see `load`; empty text; a failed model run.
            Cancelled: `cancel` was set (checked between sentences).
        """
        text = nfc(text).strip()
        check_cancel(cancel)
        if not text:
            raise EngineError(f"piper: voice {voice.id!r}: nothing to say (empty text)")
        loaded = self.load(voice)
        from piper import SynthesisConfig

        syn = SynthesisConfig(
            speaker_id=self._speaker_id(voice, loaded.config),
            length_scale=self._float_option(voice, "length_scale",
                                            loaded.config.length_scale * DEFAULT_RATE_WPM / voice.rate_wpm),
            noise_scale=self._float_option(voice, "noise_scale", None),
            noise_w_scale=self._float_option(voice, "noise_w_scale", None),
            volume=voice.volume / 100.0,
        )
        chunks: list[np.ndarray] = []
        try:
            for chunk in loaded.synthesize(text, syn_config=syn):
                check_cancel(cancel)
                chunks.append(np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise EngineError(f"piper: voice {voice.id!r}: synthesis failed: "
                              f"{type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            if type(exc).__module__.startswith("onnxruntime"):
                raise EngineError(f"piper: voice {voice.id!r}: the model run failed: {exc}") from exc
            raise
        rate = int(loaded.config.sample_rate)
        if not chunks or sum(c.size for c in chunks) == 0:
            raise EngineError(f"piper: voice {voice.id!r}: produced no audio for {text[:40]!r}")
        samples = np.concatenate(chunks).astype(np.float32)
        if not np.all(np.isfinite(samples)):
            raise EngineError(f"piper: voice {voice.id!r}: the model produced NaN or Inf samples")
        return Rendered(samples=samples, sample_rate=rate, voice_id=voice.id, engine=self.name,
                        timings=_timings(text, chunks, rate))

    @staticmethod
    def _float_option(voice: VoiceProfile, key: str, default: float | None) -> float | None:
        value = voice.options.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
                or not 0 < value <= 10:
            raise ConfigError(f"voice {voice.id!r}: option {key!r} is {value!r}; "
                              "expected a number in (0, 10]")
        return float(value)

    @staticmethod
    def _speaker_id(voice: VoiceProfile, config: Any) -> int | None:
        speaker = voice.options.get("speaker")
        if speaker is None or config.num_speakers <= 1:
            return None
        if isinstance(speaker, str):
            if speaker not in config.speaker_id_map:
                raise ConfigError(f"voice {voice.id!r}: speaker {speaker!r} is not in the model; "
                                  f"speakers: {', '.join(config.speaker_id_map)}")
            return int(config.speaker_id_map[speaker])
        if isinstance(speaker, int) and not isinstance(speaker, bool) and 0 <= speaker < config.num_speakers:
            return speaker
        raise ConfigError(f"voice {voice.id!r}: option 'speaker' is {speaker!r}; expected a name or an id "
                          f"below {config.num_speakers}")


def _timings(text: str, chunks: list[np.ndarray], rate: int) -> tuple[SentenceTiming, ...]:
    """One span per chunk (piper yields one per sentence); texts when our split agrees with its count."""
    pieces = [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]
    if len(pieces) != len(chunks):
        return (SentenceTiming(text, 0.0, sum(c.size for c in chunks) / rate),)
    out, t = [], 0
    for piece, chunk in zip(pieces, chunks, strict=True):
        out.append(SentenceTiming(piece, t / rate, (t + chunk.size) / rate))
        t += chunk.size
    return tuple(out)


# --- import into a workspace ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ImportedVoice:
    """What `import_voice` wrote."""

    profile: VoiceProfile
    profile_path: Path
    model_path: Path
    config_path: Path
    sha256: str
    info: PiperVoiceInfo


def default_voice_id(model_path: Path) -> str:
    """`vi_VN-vais1000-medium.onnx` → `piper-vi-vn-vais1000-medium`."""
    stem = model_path.name.removesuffix(".onnx")
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return f"piper-{slug}" if slug else "piper-voice"


def import_voice(model_path: Path, voices_dir: Path, *, config_path: Path | None = None,
                 voice_id: str | None = None, name: str | None = None, region: str | None = None,
                 attribution: str | None = None, fallback: str | None = None, force: bool = False,
                 template: VoiceProfile | None = None) -> ImportedVoice:
    """Check a Piper voice and copy it into the workspace's voice folder with a profile.

    Everything is checked on the source files first (config, tone symbols, signature, one trial
    synthesis); the copies go through temporary files renamed into place, and the profile TOML is
    written last, so a failure leaves nothing in `voices_dir`.

    Args:
        model_path: `X.onnx`.
        voices_dir: the workspace's voices folder (Workspace.voices_dir).
        config_path: default `X.onnx.json` beside the model.
        voice_id: default `piper-<model name>`.
        name, region, attribution, fallback: profile fields; defaults come from `template` (a shipped
            profile with the same id), else from the config.
        force: replace a workspace voice with the same id.
        template: the existing profile with this id, if any (a shipped example).

    Returns:
        What was written, with the model's sha256.

    Raises:
        ConfigError: bad or missing model or config, a refused phoneme map, an existing voice id.
        EngineError: the Piper extra is not installed.
    """
    model_path = Path(model_path)
    if model_path.suffix != ".onnx":
        raise ConfigError(f"{model_path}: expected a Piper model file named X.onnx")
    if not model_path.is_file():
        raise ConfigError(f"{model_path}: the model file does not exist")
    config_path = Path(config_path) if config_path is not None else Path(f"{model_path}.json")
    _, info = read_config(config_path)
    voice_id = voice_id or (template.id if template else default_voice_id(model_path))
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", voice_id):
        raise ConfigError(f"voice id {voice_id!r}: use 1–64 lower-case letters, digits, '-' or '_'")
    profile_path = voices_dir / f"{voice_id}.toml"
    if profile_path.exists() and not force:
        raise ConfigError(f"{profile_path}: voice {voice_id!r} already exists in the workspace; "
                          "use --force to replace it")
    digest = sha256_file(model_path)
    _trial_run(model_path, config_path, info)

    dest_model = voices_dir / model_path.name
    dest_config = voices_dir / f"{model_path.name}.json"
    options: dict[str, Any] = {"sha256": digest}
    if info.num_speakers > 1 and info.speakers:
        options["speaker"] = info.speakers[0]
    base = template or VoiceProfile(id=voice_id, name="", engine="piper")
    region = region or (base.region if template else _region_from(info))
    profile = VoiceProfile(
        id=voice_id,
        name=name or base.name or f"Piper {model_path.name.removesuffix('.onnx')}",
        engine="piper",
        region=region,
        engine_voice=dest_model.name,
        rate_wpm=base.rate_wpm if template else DEFAULT_RATE_WPM,
        pitch=base.pitch,
        volume=base.volume,
        online=False,
        fallback=fallback if fallback is not None else (base.fallback if template else "vi-bac"),
        attribution=attribution or base.attribution or KNOWN_ATTRIBUTIONS.get(info.dataset, ""),
        options={**{k: v for k, v in base.options.items() if k not in ("sha256", "config")}, **options},
    )
    text = profile_toml(profile, comment=f"Piper voice imported from {model_path.name} "
                                         f"({info.sample_rate} Hz, espeak voice {info.espeak_voice}).")
    voices_dir.mkdir(parents=True, exist_ok=True)
    temps: list[Path] = []
    try:
        for src in (model_path, config_path):
            temps.append(_copy_to_temp(src, voices_dir))
        if sha256_file(temps[0]) != digest:
            raise ConfigError(f"{voices_dir}: the copy of {model_path.name} does not match its sha256 "
                              "(disk error?)")
        os.replace(temps[0], dest_model)
        os.replace(temps[1], dest_config)
        fsync_dir(voices_dir)
        atomic_write_text(profile_path, text)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return ImportedVoice(profile=replace(profile, engine_voice=str(dest_model)), profile_path=profile_path,
                         model_path=dest_model, config_path=dest_config, sha256=digest, info=info)


def _region_from(info: PiperVoiceInfo) -> str:
    voice = info.espeak_voice.lower()
    if "south" in voice:
        return "nam"
    if "central" in voice:
        return "trung"
    return "bac"


def _trial_run(model_path: Path, config_path: Path, info: PiperVoiceInfo) -> None:
    """Load the model with piper, check its signature and speak a short phrase: a voice that imports
    is a voice that speaks."""
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise _import_error() from exc
    try:
        loaded = PiperVoice.load(model_path, config_path=config_path)
    except Exception as exc:  # onnxruntime's errors derive from Exception only
        raise ConfigError(f"{model_path}: not a loadable ONNX model: {type(exc).__name__}: {exc}",
                          title=_BAD_MODEL) from exc
    check_signature(loaded.session, info, model_path)
    phrase = "xin chào" if info.vietnamese else "hello"
    try:
        audio = [c.audio_float_array for c in loaded.synthesize(phrase)]
    except Exception as exc:  # the model run or espeak voice lookup; reported, not swallowed
        raise ConfigError(f"{model_path}: a trial synthesis failed: {type(exc).__name__}: {exc}",
                          title=_BAD_MODEL) from exc
    if not audio or sum(np.asarray(a).size for a in audio) == 0:
        raise ConfigError(f"{model_path}: a trial synthesis produced no audio", title=_BAD_MODEL)


def _copy_to_temp(src: Path, folder: Path) -> Path:
    """Copy `src` to a fsynced temporary file in `folder` (renamed into place by the caller)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{src.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes.
        return json.dumps(value, ensure_ascii=False)
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) into a voice profile")


def profile_toml(profile: VoiceProfile, *, comment: str = "") -> str:
    """A voice profile as TOML that `registry.load_voice_file` reads back to the same profile."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for key in ("id", "name", "engine", "engine_voice", "region", "rate_wpm", "pitch", "volume", "online",
                "fallback", "attribution"):
        lines.append(f"{key} = {_toml_value(getattr(profile, key))}")
    if profile.options:
        lines.append("")
        lines.append("[options]")
        for key, value in profile.options.items():
            if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
                raise ConfigError(f"voice {profile.id!r}: option name {key!r} cannot be written")
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
