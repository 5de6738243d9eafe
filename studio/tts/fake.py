"""A deterministic engine for tests: no model, no library, same output for the same input.

Each sentence becomes a tone whose length follows the text (60 ms per character, like speech at about
165 words a minute), separated by short silences, so durations and timings are predictable. It plays
the part httpx's MockTransport plays for the network.
"""

from __future__ import annotations

import hashlib
import re
from threading import Event

import numpy as np

from studio.errors import EngineError
from studio.models import VoiceProfile, nfc
from studio.tts.base import Engine, Rendered, SentenceTiming, check_cancel

SAMPLE_RATE = 16000
SECONDS_PER_CHAR = 0.06
GAP_S = 0.2

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


class FakeEngine(Engine):
    """Tone-per-sentence speech; the tone's pitch depends on the text's hash."""

    name = "fake"

    def synthesize(self, text: str, voice: VoiceProfile, *, cancel: Event | None = None) -> Rendered:
        text = nfc(text).strip()
        if not text:
            raise EngineError(f"fake: voice {voice.id!r}: nothing to say (empty text)")
        sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
        parts: list[np.ndarray] = []
        timings: list[SentenceTiming] = []
        t = 0.0
        for sentence in sentences:
            check_cancel(cancel)
            n = int(round(len(sentence) * SECONDS_PER_CHAR * SAMPLE_RATE))
            freq = 150.0 + int(hashlib.sha256(sentence.encode()).hexdigest()[:4], 16) % 150
            ts = np.arange(n, dtype=np.float64) / SAMPLE_RATE
            tone = 0.3 * np.sin(2 * np.pi * freq * ts) * np.hanning(n) if n else np.zeros(0)
            parts.append(tone.astype(np.float32))
            timings.append(SentenceTiming(sentence, t, t + n / SAMPLE_RATE))
            gap = int(GAP_S * SAMPLE_RATE)
            parts.append(np.zeros(gap, dtype=np.float32))
            t += (n + gap) / SAMPLE_RATE
        samples = np.concatenate(parts).astype(np.float32)
        return Rendered(samples=samples, sample_rate=SAMPLE_RATE, voice_id=voice.id, engine=self.name,
                        timings=tuple(timings))
