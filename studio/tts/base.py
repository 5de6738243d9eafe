"""The speech engine contract.

Owns: `Engine` (what every engine implements), `Rendered` (what it returns) and `SentenceTiming`.
Must not import any engine module or anything above the tts stage.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from threading import Event

import numpy as np
from numpy.typing import NDArray

from studio.errors import Cancelled
from studio.models import VoiceProfile


@dataclass(frozen=True, slots=True)
class SentenceTiming:
    """Where one sentence of the input lies in the rendered audio."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Rendered:
    """Speech from an engine: mono float32 samples in [-1, 1], their rate, and sentence timings."""

    samples: NDArray[np.float32]
    sample_rate: int
    voice_id: str
    engine: str
    timings: tuple[SentenceTiming, ...] = ()
    fallback_from: str = ""
    """The voice id that failed when this audio came from its offline fallback, else ''."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class Engine(ABC):
    """A speech engine. Engines are cheap to construct; load models lazily on first use."""

    name: str = ""

    @abstractmethod
    def synthesize(self, text: str, voice: VoiceProfile, *, cancel: Event | None = None) -> Rendered:
        """Speak `text` (already in spoken form) with `voice`.

        Args:
            text: NFC text with no digits or symbols left (see studio.text.normalize).
            voice: the profile; its engine field names this engine.
            cancel: set it from another thread to stop early.

        Returns:
            Mono float32 samples, their rate, and per-sentence timings where the engine reports them.

        Raises:
            EngineError: the engine failed or is not installed.
            Cancelled: `cancel` was set.
        """

    def available(self) -> tuple[bool, str]:
        """Whether this engine can run here, and if not, why (an install hint)."""
        return True, ""

    def voice_status(self, voice: VoiceProfile) -> tuple[bool, str]:
        """Whether `voice` can be spoken here (its model file exists…), and if not, why.

        Never raises and never loads a model: `studio voices list` calls it for every voice.
        """
        return self.available()

    def version(self, voice: VoiceProfile) -> str:
        """What, besides the profile, decides this engine's output for `voice` (library and model
        versions). Part of the speech cache key: change it and cached clips are made again."""
        return f"{self.name}:1"


def check_cancel(cancel: Event | None) -> None:
    """Raise Cancelled when `cancel` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("tổng hợp giọng đọc đã bị huỷ")
