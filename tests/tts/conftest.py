"""Fixtures for the speech engine tests: a loopback gTTS server, tiny Piper voices, registries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tts_fakes import PIPER_MISSING, FakeGttsServer, write_piper_voice

from studio.models import VoiceProfile
from studio.tts.registry import VoiceRegistry

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture
def gtts_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGttsServer]:
    """gTTS pointed at a loopback server: gtts.tts._translate_url is where gTTS 2.5 builds its URL."""
    import gtts.tts

    for var in _PROXY_VARS:  # gTTS passes urllib's proxies explicitly: loopback must not go through one
        monkeypatch.delenv(var, raising=False)
    server = FakeGttsServer().start()
    monkeypatch.setattr(gtts.tts, "_translate_url", server.url)
    yield server
    server.stop()


@pytest.fixture
def dead_gtts(monkeypatch: pytest.MonkeyPatch) -> str:
    """gTTS pointed at a loopback port nobody listens on: how 'offline' looks to it."""
    import socket

    import gtts.tts

    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    monkeypatch.setattr(gtts.tts, "_translate_url", lambda tld="com", path="": url + path)
    return url


@pytest.fixture
def workspace_voices(tmp_path: Path) -> Path:
    folder = tmp_path / "ws" / "voices"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def registry(workspace_voices: Path) -> VoiceRegistry:
    reg = VoiceRegistry(workspace_voices)
    reg.add(VoiceProfile(id="fake", name="Giọng thử", engine="fake"))
    return reg


@pytest.fixture
def piper_model(tmp_path: Path) -> Path:
    """A Piper voice (X.onnx + X.onnx.json) outside the workspace, ready to import."""
    if PIPER_MISSING:
        pytest.skip(f"the 'piper' extra is not installed here (missing: {', '.join(PIPER_MISSING)})")
    return write_piper_voice(tmp_path / "downloads")
