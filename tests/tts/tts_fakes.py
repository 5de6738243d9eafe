"""Stand-ins for the outside world of the speech engines, shared by tests/tts and bench/bench_tts.py.

- `FakeGttsServer`: a loopback HTTP server that answers gTTS's batchexecute request the way Google
  Translate does (a `jQ1olc` line with base64 MP3), or stalls, or fails, as a test asks.
- `write_piper_voice`: a tiny ONNX model with Piper's exact signature, built with onnx.helper, and its
  `X.onnx.json`, so tests run piper-tts's real load → phonemize → onnxruntime path.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

PIPER_MISSING = [m for m in ("piper", "onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
"""Modules of the `piper` extra (and onnx, to build test models) that are not installed here."""

GTTS_RATE_HZ = 24000
SECONDS_PER_CHAR = 0.06
HOP = 256  # samples per phoneme id in the fake Piper model (Piper's own hop length)


def mp3_tone(duration_s: float, *, rate: int = GTTS_RATE_HZ, freq_hz: float = 220.0) -> bytes:
    """An MP3 (via libsndfile/LAME, like gTTS's answer) of a tone of `duration_s`."""
    import soundfile as sf

    n = max(int(duration_s * rate), rate // 10)
    t = np.arange(n) / rate
    tone = (0.3 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, tone, rate, format="MP3")
    return buf.getvalue()


@dataclass
class FakeGttsServer:
    """Behaviour per request: mode 'ok' | 'stall' | 'http500' | 'no-audio' | 'not-mp3'."""

    mode: str = "ok"
    requests: list[list[Any]] = field(default_factory=list)
    """Each request's decoded parameter: [text, lang, speed, "null"]."""
    release: threading.Event = field(default_factory=threading.Event)
    """Set to let stalled handlers finish."""
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def url(self, tld: str = "com", path: str = "") -> str:
        """Stands in for gtts.utils._translate_url(tld, path)."""
        return f"http://127.0.0.1:{self.port}/{path}"

    def start(self) -> FakeGttsServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8")
                freq = urllib.parse.parse_qs(body)["f.req"][0]
                rpc = json.loads(freq)
                parameter = json.loads(rpc[0][0][1])
                owner.requests.append(parameter)
                if owner.mode == "stall":
                    owner.release.wait(60)
                    return
                if owner.mode == "http500":
                    self._reply(500, b"upstream error")
                    return
                if owner.mode == "no-audio":
                    self._reply(200, b")]}'\n\n12\n[[\"wrb.fr\",\"other\"]]\n")
                    return
                audio = b"not an mp3 at all" * 8 if owner.mode == "not-mp3" else mp3_tone(
                    SECONDS_PER_CHAR * len(parameter[0]))
                b64 = base64.b64encode(audio).decode("ascii")
                line = '[["wrb.fr","jQ1olc","[\\"' + b64 + '\\"]",null,null,null,"generic"]]'
                self._reply(200, (")]}'\n\n" + str(len(line)) + "\n" + line + "\n").encode("utf-8"))

            def _reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-gtts",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


def piper_id_map(*, tones: bool = True) -> dict[str, list[int]]:
    """Piper's default espeak phoneme map (it has the tone digits); without them when `tones` is False
    (like vi_VN-vivos-x_low)."""
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    id_map = {k: list(v) for k, v in DEFAULT_PHONEME_ID_MAP.items()}
    if not tones:
        for digit in "0123456789":
            id_map.pop(digit, None)
    return id_map


def piper_model_bytes(*, num_speakers: int = 1, hop: int = HOP, hidden: int = 0,
                      input_dtype: int | None = None, extra_input: bool = False) -> bytes:
    """An ONNX model with Piper's signature. Output: each phoneme id becomes `hop` samples of
    value id/256 (+ sid/64 for multi-speaker), so lengths and values trace the ids piper fed it.

    `hidden` > 0 adds a (hidden × hidden) random dense stack applied per sample block, to make a model
    of a real voice's size for the bench (its output still depends on the ids). `input_dtype` and
    `extra_input` make deliberately wrong signatures for tests.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    in_type = TensorProto.INT64 if input_dtype is None else input_dtype
    inputs = [
        helper.make_tensor_value_info("input", in_type, [1, "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    if num_speakers > 1:
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
    if extra_input:
        inputs.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1]))
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])
    inits = [
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1, 1, hop], dtype=np.int64), "expand_shape"),
        numpy_helper.from_array(np.array([1, 1, -1], dtype=np.int64), "out_shape"),
        numpy_helper.from_array(np.array(1 / 256, dtype=np.float32), "id_scale"),
    ]
    nodes = [
        helper.make_node("Cast", ["input"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["ids_f", "id_scale"], ["ids_scaled"]),
    ]
    last = "ids_scaled"
    if num_speakers > 1:
        inits.append(numpy_helper.from_array(np.array(1 / 64, dtype=np.float32), "sid_scale"))
        nodes += [
            helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["sid_f", "sid_scale"], ["sid_term"]),
            helper.make_node("Add", [last, "sid_term"], ["with_sid"]),
        ]
        last = "with_sid"
    nodes += [
        helper.make_node("Unsqueeze", [last, "axis2"], ["ids_3d"]),
        helper.make_node("Expand", ["ids_3d", "expand_shape"], ["blocks"]),  # [1, N, hop]
    ]
    last = "blocks"
    if hidden > 0:
        rng = np.random.default_rng(0)
        inits.append(numpy_helper.from_array(
            (rng.standard_normal((hop, hidden)) / np.sqrt(hop)).astype(np.float32), "w_in"))
        nodes.append(helper.make_node("MatMul", [last, "w_in"], ["h0"]))
        last = "h0"
        for k in range(4):
            inits.append(numpy_helper.from_array(
                (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32), f"w{k}"))
            nodes += [helper.make_node("MatMul", [last, f"w{k}"], [f"m{k}"]),
                      helper.make_node("Tanh", [f"m{k}"], [f"h{k + 1}"])]
            last = f"h{k + 1}"
        inits.append(numpy_helper.from_array(
            (rng.standard_normal((hidden, hop)) / np.sqrt(hidden)).astype(np.float32), "w_out"))
        nodes += [helper.make_node("MatMul", [last, "w_out"], ["dense_out"]),
                  helper.make_node("Add", ["dense_out", "blocks"], ["mixed"])]
        last = "mixed"
    nodes.append(helper.make_node("Reshape", [last, "out_shape"], ["output"]))
    graph = helper.make_graph(nodes, "piper-test", inputs, [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="studio-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def piper_config(*, sample_rate: int | Any = 22050, num_speakers: int = 1, tones: bool = True,
                 espeak_voice: str = "vi", language: str = "vi_VN", dataset: str = "test") -> dict[str, Any]:
    """A Piper voice config as piper-tts writes them, for the fake model."""
    config: dict[str, Any] = {
        "audio": {"sample_rate": sample_rate, "quality": "x_low"},
        "espeak": {"voice": espeak_voice},
        "language": {"code": language},
        "dataset": dataset,
        "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_id_map": piper_id_map(tones=tones),
        "num_symbols": 256,
        "num_speakers": num_speakers,
        "speaker_id_map": {f"spk{i}": i for i in range(num_speakers)} if num_speakers > 1 else {},
        "piper_version": "1.0.0",
    }
    return config


def write_piper_voice(folder: Path, name: str = "vi_VN-test-x_low", *, model: bytes | None = None,
                      config: dict[str, Any] | None = None, **config_kw: Any) -> Path:
    """Write `name.onnx` + `name.onnx.json` into `folder`; returns the model path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    num_speakers = config_kw.get("num_speakers", 1)
    path.write_bytes(model if model is not None else piper_model_bytes(num_speakers=num_speakers))
    cfg = config if config is not None else piper_config(**config_kw)
    Path(f"{path}.json").write_text(json.dumps(cfg, ensure_ascii=False), encoding="utf-8")
    return path


def needs_piper_reason() -> str:
    return (f"the 'piper' extra is not installed here (missing: {', '.join(PIPER_MISSING)}); "
            "pip install -e '.[piper]'")
