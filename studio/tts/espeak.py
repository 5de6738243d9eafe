"""The offline Vietnamese voice: our own ctypes binding to libespeak-ng from the espeakng-loader wheel.

Owns: loading libespeak-ng (no system espeak), one process-wide lock around it (the library keeps
global state and is not thread-safe), and turning its 16-bit callback buffers into float32 samples
with sentence timings from its SENTENCE events.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from threading import Event

import numpy as np

from studio.errors import Cancelled, EngineError
from studio.models import VoiceProfile, nfc
from studio.tts.base import Engine, Rendered, SentenceTiming, check_cancel

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_EE_OK = 0
_EVENT_LIST_TERMINATED = 0
_EVENT_SENTENCE = 2
_EVENT_MSG_TERMINATED = 6
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH = 1, 2, 3


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(_Event))

# libespeak-ng keeps one global synthesizer: every call into it holds this lock.
_LOCK = threading.Lock()


class _Library:
    """The loaded library, initialized once per process."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise EngineError("espeak: the 'espeakng-loader' package is not installed "
                              "(pip install espeakng-loader)") from exc
        lib_path = Path(espeakng_loader.get_library_path())
        data_path = Path(espeakng_loader.get_data_path())
        try:
            self.lib = ctypes.CDLL(str(lib_path))
        except OSError as exc:
            raise EngineError(f"espeak: cannot load {lib_path}: {exc}") from exc
        lib = self.lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.POINTER(ctypes.c_uint),
                                     ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int
        # The data path argument is the folder that *contains* espeak-ng-data.
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path.parent).encode(),
                                     _INIT_DONT_EXIT)
        if rate <= 0:
            raise EngineError(f"espeak: espeak_Initialize failed with data at {data_path} (returned {rate})")
        self.sample_rate = int(rate)
        self.chunks: list[np.ndarray] = []
        self.sentence_marks: list[tuple[int, int]] = []  # (text byte position, audio sample index)
        self.cancel: Event | None = None
        self.samples_so_far = 0
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: ctypes._Pointer, n: int, events: ctypes._Pointer) -> int:
        if wav and n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == _EVENT_SENTENCE:
                self.sentence_marks.append((ev.text_position, ev.sample))
            if ev.type == _EVENT_MSG_TERMINATED:
                break
            i += 1
        if self.cancel is not None and self.cancel.is_set():
            return 1  # abort synthesis
        return 0


_library: _Library | None = None


def _get_library() -> _Library:
    global _library
    if _library is None:
        _library = _Library()
    return _library


class EspeakEngine(Engine):
    """espeak-ng, offline, 22.05 kHz mono. Voice names: vi, vi-VN-x-central, vi-VN-x-south."""

    name = "espeak"

    def version(self, voice: VoiceProfile) -> str:
        """The espeakng-loader wheel's version: it pins both libespeak-ng and its voice data."""
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            return f"espeak:{dist_version('espeakng-loader')}"
        except PackageNotFoundError:  # pragma: no cover - a core dependency
            return "espeak:unknown"

    def synthesize(self, text: str, voice: VoiceProfile, *, cancel: Event | None = None) -> Rendered:
        text = nfc(text).strip()
        check_cancel(cancel)
        if not text:
            raise EngineError(f"espeak: voice {voice.id!r}: nothing to say (empty text)")
        voice_name = voice.engine_voice or "vi"
        data = text.encode("utf-8")
        with _LOCK:
            lib = _get_library()
            if lib.lib.espeak_SetVoiceByName(voice_name.encode()) != _EE_OK:
                raise EngineError(f"espeak: voice {voice.id!r}: engine_voice {voice_name!r} "
                                  "is not in espeak-ng's data")
            lib.lib.espeak_SetParameter(_PARAM_RATE, voice.rate_wpm, 0)
            lib.lib.espeak_SetParameter(_PARAM_PITCH, voice.pitch, 0)
            lib.lib.espeak_SetParameter(_PARAM_VOLUME, voice.volume, 0)
            lib.chunks, lib.sentence_marks, lib.cancel = [], [], cancel
            buf = ctypes.create_string_buffer(data)
            try:
                err = lib.lib.espeak_Synth(buf, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
                if err != _EE_OK:
                    raise EngineError(f"espeak: voice {voice.id!r}: espeak_Synth returned error {err}")
                lib.lib.espeak_Synchronize()
                chunks, marks = lib.chunks, lib.sentence_marks
            finally:
                lib.chunks, lib.sentence_marks, lib.cancel = [], [], None
            rate = lib.sample_rate
        if cancel is not None and cancel.is_set():
            raise Cancelled("tổng hợp giọng đọc đã bị huỷ")
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        samples = (pcm.astype(np.float32) / 32768.0).astype(np.float32)
        if samples.size == 0:
            raise EngineError(f"espeak: voice {voice.id!r}: produced no audio for {text[:40]!r}")
        return Rendered(samples=samples, sample_rate=rate, voice_id=voice.id, engine=self.name,
                        timings=_timings(data, marks, len(samples), rate))


def _timings(data: bytes, marks: list[tuple[int, int]], total: int, rate: int) -> tuple[SentenceTiming, ...]:
    """Sentence spans from SENTENCE events: (1-based character position, sample index) pairs."""
    text = data.decode("utf-8")
    points = sorted({(max(pos - 1, 0), sample) for pos, sample in marks})
    if not points or points[0][0] != 0:
        points.insert(0, (0, 0))
    out = []
    for k, (pos, start) in enumerate(points):
        end_pos, end = (points[k + 1] if k + 1 < len(points) else (len(text), total))
        piece = text[pos:end_pos].strip()
        if piece:
            out.append(SentenceTiming(text=piece, start_s=start / rate, end_s=end / rate))
    return tuple(out)
