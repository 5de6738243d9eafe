"""A speech engine for the responsiveness test: the fake engine, held at a gate until the test opens it."""

from __future__ import annotations

from threading import Event

from studio.models import VoiceProfile
from studio.tts.base import Rendered, check_cancel
from studio.tts.fake import FakeEngine

GATE = Event()
"""Set it to let speech through; until then every synthesize call waits (and honours cancel)."""
ENTERED = Event()
"""Set when a render has reached the engine."""


class GatedEngine(FakeEngine):
    name = "gated"

    def synthesize(self, text: str, voice: VoiceProfile, *, cancel: Event | None = None) -> Rendered:
        ENTERED.set()
        while not GATE.wait(0.02):
            check_cancel(cancel)
        return super().synthesize(text, voice, cancel=cancel)
