"""The online voice: Google Translate's speech through the `gTTS` package, under a hard deadline.

Owns: running gTTS in a worker thread with an overall deadline and cancel, decoding its MP3 answer to
float32 samples, and remembering a recent outage so a bulletin does not wait for it sentence after
sentence. Falling back to an offline voice is the caller's job (tts/cache.py `synthesize_cached`):
this engine only fails fast and clearly. Must not import anything above the tts stage.

Measured (DESIGN.md §6): offline gTTS raises in milliseconds, a silent DNS takes 10 s and a stalled
server with gTTS's default `timeout=None` hangs for ever, so a per-request timeout is not enough.
"""

from __future__ import annotations

import io
import threading
import time
from threading import Event
from typing import Any

import numpy as np

from studio.errors import Cancelled, ConfigError, EngineError
from studio.models import VoiceProfile, nfc
from studio.tts.base import Engine, Rendered, SentenceTiming, check_cancel

DEFAULT_DEADLINE_S = 15.0
"""Overall time one synthesize call may take, DNS and every request included."""
DEFAULT_RETRY_AFTER_S = 30.0
"""After a failure, calls fail at once for this long instead of waiting for the network again."""
_POLL_S = 0.02


def _option(voice: VoiceProfile, key: str, kind: type, default: Any) -> Any:
    value = voice.options.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise ConfigError(f"voice {voice.id!r}: option {key!r} is {value!r}; expected a {kind.__name__}")
    return value


class GttsEngine(Engine):
    """gTTS (`lang="vi"` by default), online, 24 kHz mono MP3 decoded to float32.

    Profile options: `lang` (default "vi"), `tld` (default "com"), `slow` (bool), `deadline_s`
    (default 15), `retry_after_s` (default 30; 0 retries every call).
    """

    name = "gtts"

    def __init__(self) -> None:
        self._down_lock = threading.Lock()
        self._down_until = 0.0
        self._down_reason = ""

    def available(self) -> tuple[bool, str]:
        import importlib.util

        if importlib.util.find_spec("gtts") is None:
            return False, "the 'gtts' package is not installed (pip install gtts)"
        return True, ""

    def version(self, voice: VoiceProfile) -> str:
        from importlib.metadata import version as dist_version

        # The service behind it can change without notice; the package version is what we can pin.
        return f"gtts:{dist_version('gTTS')}"

    def synthesize(self, text: str, voice: VoiceProfile, *, cancel: Event | None = None) -> Rendered:
        """Speak `text` through gTTS within the profile's deadline.

        Raises:
            EngineError: no answer within the deadline, a network or HTTP failure, an answer without
                audio, empty text, or a recent outage (see `retry_after_s`).
            Cancelled: `cancel` was set.
            ConfigError: an option in the profile has the wrong type or range.
        """
        text = nfc(text).strip()
        check_cancel(cancel)
        if not text:
            raise EngineError(f"gtts: voice {voice.id!r}: nothing to say (empty text)")
        lang = _option(voice, "lang", str, "vi")
        tld = _option(voice, "tld", str, "com")
        slow = _option(voice, "slow", bool, False)
        deadline_s = _option(voice, "deadline_s", float, DEFAULT_DEADLINE_S)
        retry_after_s = _option(voice, "retry_after_s", float, DEFAULT_RETRY_AFTER_S)
        if not 0.0 < deadline_s <= 600.0:
            raise ConfigError(f"voice {voice.id!r}: option 'deadline_s' {deadline_s} is outside (0, 600] s")
        with self._down_lock:
            wait_s = self._down_until - time.monotonic()
            if wait_s > 0:
                raise EngineError(f"gtts: voice {voice.id!r}: service failed recently ({self._down_reason}); "
                                  f"not retrying for another {wait_s:.0f} s")
        try:
            mp3 = self._fetch(text, lang=lang, tld=tld, slow=slow, deadline_s=deadline_s, cancel=cancel)
        except EngineError as exc:
            if retry_after_s > 0:
                with self._down_lock:
                    self._down_until = time.monotonic() + retry_after_s
                    self._down_reason = exc.message
            raise EngineError(f"gtts: voice {voice.id!r}: {exc.message}") from exc
        samples, rate = _decode_mp3(mp3, voice.id)
        if voice.volume != 100:
            samples = np.clip(samples * (voice.volume / 100.0), -1.0, 1.0).astype(np.float32)
        return Rendered(samples=samples, sample_rate=rate, voice_id=voice.id, engine=self.name,
                        timings=(SentenceTiming(text, 0.0, len(samples) / rate),))

    @staticmethod
    def _fetch(text: str, *, lang: str, tld: str, slow: bool, deadline_s: float,
               cancel: Event | None) -> bytes:
        """gTTS's MP3 for `text`, from a daemon thread the caller stops waiting for at the deadline.

        A thread cannot be killed: at the deadline it is abandoned. Its requests carry a socket timeout
        of the deadline + 1 s, so it ends by itself soon after even on a stalled server.
        """
        result: dict[str, Any] = {}
        done = threading.Event()
        abandoned = threading.Event()

        def work() -> None:
            try:
                from gtts import gTTS, gTTSError

                try:
                    # Past the deadline, so that the deadline (not a socket timeout) is what the
                    # caller sees; it still ends this abandoned thread soon after on a stalled server.
                    socket_timeout_s = deadline_s + 1.0
                    tts = gTTS(text, lang=lang, tld=tld, slow=slow, lang_check=False,
                               timeout=(socket_timeout_s, socket_timeout_s))
                    parts = []
                    for part in tts.stream():
                        if abandoned.is_set():
                            return
                        parts.append(part)
                    result["mp3"] = b"".join(parts)
                except gTTSError as exc:
                    result["error"] = str(exc) or type(exc).__name__
                except AssertionError as exc:  # gTTS asserts when nothing speakable is left
                    result["error"] = f"nothing to send: {exc}"
            except Exception as exc:  # handed to the waiting thread, which raises it as EngineError
                result["error"] = f"{type(exc).__name__}: {exc}"
            finally:
                done.set()

        start = time.monotonic()
        worker = threading.Thread(target=work, name="gtts-request", daemon=True)
        worker.start()
        while not done.wait(_POLL_S):
            if cancel is not None and cancel.is_set():
                abandoned.set()
                raise Cancelled("tổng hợp giọng đọc đã bị huỷ")
            if time.monotonic() - start >= deadline_s:
                abandoned.set()
                raise EngineError(f"no answer within the {deadline_s:g} s deadline")
        if "error" in result:
            raise EngineError(str(result["error"]))
        mp3 = result.get("mp3", b"")
        if not mp3:
            raise EngineError("the service answered without audio")
        return mp3


def _decode_mp3(data: bytes, voice_id: str) -> tuple[np.ndarray, int]:
    """Decode gTTS's in-memory MP3 answer (never a file: audio files belong to studio.audio.io)."""
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise EngineError(f"gtts: voice {voice_id!r}: the answer is not decodable MP3 audio ({exc})") from exc
    mono = samples.mean(axis=1).astype(np.float32)
    if mono.size == 0:
        raise EngineError(f"gtts: voice {voice_id!r}: the answer decoded to no audio")
    return mono, int(rate)
