"""Speech engine bench: real-time factors, gTTS deadline behaviour, Piper timings, the cache's speed-up.

    .venv/bin/python bench/bench_tts.py [--quick] [--json out.json]

Offline only: gTTS talks to the loopback fake server of tests/tts/tts_fakes.py. Piper runs on (a) the
tiny test model and (b) a random-weight stand-in for a medium voice built here with onnx.helper: a
6-block text encoder (192 channels, attention replaced by 1×1 convolutions of the same size), 3
frames per phoneme id instead of a duration predictor, 4 flow couplings of 4 gated WaveNet layers,
and Piper's default ("medium") HiFi-GAN decoder from piper/train/vits/config.py (resblock 2, kernels
3/5/7, upsample 8·8·4, 256 channels) — about vi_VN-vais1000-medium's 63 MB. Its factor estimates a
real voice's; it is not a measurement of one. RTF = synthesis time / audio duration (lower is faster).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "tts"))

from studio.tts.cache import SpeechCache, synthesize_cached  # noqa: E402
from studio.tts.registry import VoiceRegistry  # noqa: E402

COMMUNES = ["Tân Lập", "Hòa Bình", "Đông Sơn", "Phú Mỹ", "Thanh Hà", "Quảng Phú", "Bình Minh", "An Khánh",
            "Kim Liên", "Xuân Thủy", "Cẩm Giang", "Yên Lạc"]
TEMPLATES = [
    "Ủy ban nhân dân xã {c} thông báo lịch tiêm chủng mở rộng cho trẻ em vào sáng thứ {d} tuần này.",
    "Bà con xã {c} chú ý khơi thông cống rãnh, gia cố nhà cửa trước mùa mưa bão năm nay.",
    "Hội Nông dân xã {c} tổ chức tập huấn kỹ thuật chăm sóc lúa cho {n} hộ gia đình.",
    "Trạm y tế xã {c} khám sức khỏe miễn phí cho người cao tuổi vào ngày {d} tháng tới.",
    "Đoàn thanh niên xã {c} ra quân làm sạch đường làng ngõ xóm với {n} đoàn viên tham gia.",
    "Công an xã {c} đề nghị bà con cảnh giác với các cuộc gọi lừa đảo qua điện thoại.",
    "Xã {c} đã hoàn thành {n} ki-lô-mét đường giao thông nông thôn trong quý vừa qua.",
    "Người dân xã {c} cần đăng ký thông tin cư trú trước ngày {d} để được cấp giấy tờ kịp thời.",
]


# espeak's vi voices at rate_wpm 150 say about 190 of these words a minute (measured: 750 → 3.9 min).
WORDS_PER_MINUTE = 190


def bulletin_text(minutes: float = 5.0) -> str:
    """About `minutes` of espeak speech (12–20 words a sentence), every sentence different."""
    sentences = []
    words = 0
    k = 0
    while words < minutes * WORDS_PER_MINUTE:
        template = TEMPLATES[k % len(TEMPLATES)]
        commune = COMMUNES[(k // len(TEMPLATES)) % len(COMMUNES)]
        sentence = template.format(c=commune, d=2 + k % 5, n=10 + 7 * k)
        sentences.append(sentence)
        words += len(sentence.split())
        k += 1
    paragraphs = [" ".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - start


def bench_espeak(text: str, results: dict[str, Any]) -> None:
    reg = VoiceRegistry(None)
    for voice_id in ("vi-bac", "vi-trung", "vi-nam"):
        voice = reg.get(voice_id)
        engine = reg.engine_for(voice)
        engine.synthesize("xin chào", voice)  # load the library first
        direct, direct_s = timed(engine.synthesize, text, voice)
        rendered, full_s = timed(synthesize_cached, reg, voice_id, text, None)
        results[f"espeak.{voice_id}"] = {
            "audio_s": round(rendered.duration_s, 1), "engine_rtf": direct_s / direct.duration_s,
            "pipeline_rtf": full_s / rendered.duration_s, "sentences": len(rendered.timings),
        }
        print(f"espeak {voice_id:9s} {rendered.duration_s:6.1f} s of speech: engine alone RTF "
              f"{direct_s / direct.duration_s:.4f} ({direct.duration_s / direct_s:.0f}× real time); "
              f"sentence by sentence + front-end + 48 kHz RTF {full_s / rendered.duration_s:.4f} "
              f"({rendered.duration_s / full_s:.0f}×)")


def cache_rerender(reg: VoiceRegistry, voice_id: str, text: str, label: str, results: dict[str, Any]) -> None:
    """Render `text` cold, again fully cached, then with one sentence changed."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "speech"
        cold, cold_s = timed(synthesize_cached, reg, voice_id, text, SpeechCache(folder))
        _, warm_s = timed(synthesize_cached, reg, voice_id, text, SpeechCache(folder))
        changed = SpeechCache(folder)
        edited = text.replace("Hòa Bình", "Hòa Bình mới", 1)
        _, changed_s = timed(synthesize_cached, reg, voice_id, edited, changed)
    results[f"cache.{label}"] = {
        "audio_s": round(cold.duration_s, 1), "sentences": len(cold.timings), "cold_s": cold_s,
        "all_cached_s": warm_s, "one_changed_s": changed_s, "one_changed_synthesized": changed.misses,
        "one_changed_from_cache": changed.hits, "speedup_one_changed": cold_s / changed_s,
    }
    print(f"cache  {label}: {cold.duration_s / 60:.1f}-minute bulletin, {len(cold.timings)} sentences: "
          f"cold {cold_s:.3f} s, all cached {warm_s:.3f} s, one sentence changed {changed_s:.3f} s "
          f"({changed.misses} synthesized, {changed.hits} from cache: {cold_s / changed_s:.1f}× faster)")


def bench_gtts(results: dict[str, Any], *, quick: bool) -> None:
    """gTTS on the loopback fake server: its factor, the cache on it, and the deadline behaviour."""
    import gtts.tts
    from tts_fakes import FakeGttsServer

    server = FakeGttsServer().start()
    original = gtts.tts._translate_url
    gtts.tts._translate_url = server.url
    try:
        reg = VoiceRegistry(None)
        text = " ".join(TEMPLATES[:6]).format(c="Tân Lập", d=3, n=40)
        rendered, wall_s = timed(synthesize_cached, reg, "vi-gtts", text, None)
        results["gtts.fake_server"] = {"audio_s": rendered.duration_s, "rtf": wall_s / rendered.duration_s,
                                       "requests": len(server.requests)}
        print(f"gtts   fake loopback server: {rendered.duration_s:.1f} s of speech in {wall_s:.3f} s, RTF "
              f"{wall_s / rendered.duration_s:.4f} ({len(server.requests)} requests; the real service adds "
              "its network round trips)")
        cache_rerender(VoiceRegistry(None), "vi-gtts", bulletin_text(5.0), "gtts fake server", results)
        server.mode = "stall"
        deadlines = [1.0, 5.0] if quick else [1.0, 5.0, 15.0]
        for deadline_s in deadlines:
            reg = VoiceRegistry(None)
            voice = reg.get("vi-gtts")
            reg.add(replace(voice, options={**voice.options, "deadline_s": deadline_s}))
            out, took = timed(synthesize_cached, reg, "vi-gtts", "Xin chào bà con.", None)
            assert out.fallback_from == "vi-gtts"
            results[f"gtts.stalled.deadline_{deadline_s:g}s"] = {"fallback_after_s": took}
            print(f"gtts   stalled server, deadline {deadline_s:4.1f} s: fell back to {out.voice_id} after "
                  f"{took:.3f} s")
        # the next sentence in the same session skips the network (retry_after_s)
        _, took = timed(synthesize_cached, reg, "vi-gtts", "Câu tiếp theo.", None)
        results["gtts.stalled.next_sentence_s"] = took
        print(f"gtts   next sentence after that failure: fallback in {took:.3f} s (no network wait)")
    finally:
        server.stop()
        gtts.tts._translate_url = original
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gtts.tts._translate_url = lambda tld="com", path="": f"http://127.0.0.1:{port}/{path}"
    try:
        out, took = timed(synthesize_cached, VoiceRegistry(None), "vi-gtts", "Xin chào bà con.", None)
        results["gtts.offline.fallback_s"] = took
        print(f"gtts   offline (connection refused): fell back to {out.voice_id} after {took:.3f} s")
    finally:
        gtts.tts._translate_url = original


def _conv(nodes: list, inits: list, rng: np.random.Generator, name: str, x: str, c_in: int, c_out: int,
          k: int, dilation: int = 1) -> str:
    from onnx import helper, numpy_helper

    w = (rng.standard_normal((c_out, c_in, k)) / np.sqrt(c_in * k)).astype(np.float32)
    inits += [numpy_helper.from_array(w, f"{name}.w"), numpy_helper.from_array(np.zeros(c_out, np.float32),
                                                                                f"{name}.b")]
    pad = dilation * (k - 1) // 2
    nodes.append(helper.make_node("Conv", [x, f"{name}.w", f"{name}.b"], [name], dilations=[dilation],
                                  pads=[pad, pad], kernel_shape=[k]))
    return name


def _lrelu(nodes: list, x: str, name: str) -> str:
    from onnx import helper

    nodes.append(helper.make_node("LeakyRelu", [x], [name], alpha=0.1))
    return name


def real_size_piper_model(num_symbols: int = 256) -> bytes:
    """A random-weight model with Piper's signature and VITS medium's size and decoder (see module doc)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes: list = []
    inits: list = []
    hidden, frames_per_id = 192, 3
    embedding = (rng.standard_normal((num_symbols, hidden)) * 0.3).astype(np.float32)
    inits.append(numpy_helper.from_array(embedding, "emb"))
    nodes += [helper.make_node("Gather", ["emb", "input"], ["e"]),               # [1, N, 192]
              helper.make_node("Transpose", ["e"], ["x0"], perm=[0, 2, 1])]     # [1, 192, N]
    x = "x0"
    for i in range(6):  # text encoder: attention-sized 1×1 convs + FFN per block
        a = _conv(nodes, inits, rng, f"enc{i}.attn", x, hidden, hidden * 4, 1)
        a = _lrelu(nodes, a, f"enc{i}.act")
        a = _conv(nodes, inits, rng, f"enc{i}.ffn", a, hidden * 4, hidden, 3)
        nodes.append(helper.make_node("Add", [x, a], [f"enc{i}.out"]))
        x = f"enc{i}.out"
    inits += [numpy_helper.from_array(np.array([3], dtype=np.int64), "ax3"),
              numpy_helper.from_array(np.array([1, 1, 1, frames_per_id], dtype=np.int64), "rep"),
              numpy_helper.from_array(np.array([1, hidden, -1], dtype=np.int64), "frames_shape")]
    nodes += [helper.make_node("Unsqueeze", [x, "ax3"], ["x4"]),
              helper.make_node("Tile", ["x4", "rep"], ["x4r"]),
              helper.make_node("Reshape", ["x4r", "frames_shape"], ["z"])]    # [1, 192, 3N]
    for f in range(4):  # flow: 4 coupling layers of 4 gated WaveNet layers (kernel 5) on the frames
        for layer in range(4):
            n = f"flow{f}.{layer}"
            h = _conv(nodes, inits, rng, f"{n}.in", x, hidden, 2 * hidden, 5)
            nodes += [helper.make_node("Split", [h], [f"{n}.t", f"{n}.s"], axis=1),  # equal halves
                      helper.make_node("Tanh", [f"{n}.t"], [f"{n}.th"]),
                      helper.make_node("Sigmoid", [f"{n}.s"], [f"{n}.sg"]),
                      helper.make_node("Mul", [f"{n}.th", f"{n}.sg"], [f"{n}.g"])]
            r = _conv(nodes, inits, rng, f"{n}.res", f"{n}.g", hidden, hidden, 1)
            nodes.append(helper.make_node("Add", [x, r], [f"flow{f}.{layer}.out"]))
            x = f"flow{f}.{layer}.out"
    # decoder: Piper's default ("medium") HiFi-GAN, resblock type 2
    x = _conv(nodes, inits, rng, "dec.pre", x, hidden, 256, 7)
    channels = 256
    for s, (rate, kernel_up) in enumerate(((8, 16), (8, 16), (4, 8))):
        x = _lrelu(nodes, x, f"up{s}.act")
        c_out = channels // 2
        w = rng.standard_normal((channels, c_out, kernel_up)) / np.sqrt(channels * kernel_up)
        inits += [numpy_helper.from_array(w.astype(np.float32), f"up{s}.w"),
                  numpy_helper.from_array(np.zeros(c_out, np.float32), f"up{s}.b")]
        pad = (kernel_up - rate) // 2
        nodes.append(helper.make_node("ConvTranspose", [x, f"up{s}.w", f"up{s}.b"], [f"up{s}"],
                                      strides=[rate], pads=[pad, pad], kernel_shape=[kernel_up]))
        x, channels = f"up{s}", c_out
        branches = []
        for kernel, dilations in ((3, (1, 2)), (5, (2, 6)), (7, (3, 12))):
            y = x
            for d in dilations:
                h = _lrelu(nodes, y, f"rb{s}.{kernel}.{d}.a")
                h = _conv(nodes, inits, rng, f"rb{s}.{kernel}.{d}.c", h, channels, channels, kernel, d)
                nodes.append(helper.make_node("Add", [y, h], [f"rb{s}.{kernel}.{d}.out"]))
                y = f"rb{s}.{kernel}.{d}.out"
            branches.append(y)
        inits.append(numpy_helper.from_array(np.array(1 / 3, dtype=np.float32), f"mrf{s}.third"))
        nodes += [helper.make_node("Sum", branches, [f"mrf{s}.sum"]),
                  helper.make_node("Mul", [f"mrf{s}.sum", f"mrf{s}.third"], [f"mrf{s}"])]
        x = f"mrf{s}"
    x = _lrelu(nodes, x, "post.act")
    x = _conv(nodes, inits, rng, "post", x, channels, 1, 7)
    nodes.append(helper.make_node("Tanh", [x], ["output"]))
    inputs = [helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
              helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
              helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3])]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "samples"])
    graph = helper.make_graph(nodes, "piper-size-proxy", inputs, [output], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="studio-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def bench_piper(results: dict[str, Any], *, quick: bool) -> None:
    try:
        from tts_fakes import write_piper_voice

        from studio.tts.piper import import_voice
    except ImportError as exc:
        print(f"piper  skipped: the 'piper' extra is not installed ({exc})")
        return
    text = " ".join(TEMPLATES[:4]).format(c="Tân Lập", d=3, n=40)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        models = [("tiny test model", write_piper_voice(folder / "dl", "vi_VN-test-x_low"))]
        if not quick:
            big = write_piper_voice(folder / "dl", "vi_VN-sizeproxy-medium", model=real_size_piper_model())
            models.append(("real-size random model", big))
        for label, model in models:
            size_mb = model.stat().st_size / 1e6
            imported, import_s = timed(import_voice, model, folder / "voices")
            reg = VoiceRegistry(folder / "voices")
            voice = reg.get(imported.profile.id)
            engine = reg.engine("piper")
            _, load_s = timed(engine.load, voice)
            _, first_s = timed(engine.synthesize, "xin chào", voice)
            rendered, wall_s = timed(synthesize_cached, reg, voice.id, text, None)
            key = "piper.tiny" if label.startswith("tiny") else "piper.real_size_random"
            results[key] = {"model_mb": size_mb, "import_s": import_s, "load_s": load_s,
                            "first_short_s": first_s, "audio_s": rendered.duration_s,
                            "rtf": wall_s / rendered.duration_s}
            if not label.startswith("tiny"):
                cache_rerender(reg, voice.id, bulletin_text(5.0), "piper real-size random model", results)
            print(f"piper  {label} ({size_mb:.3f} MB): import {import_s:.3f} s, load {load_s:.3f} s, "
                  f"'xin chào' {first_s:.3f} s; {rendered.duration_s:.1f} s of speech in {wall_s:.3f} s, "
                  f"RTF {wall_s / rendered.duration_s:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 15 s deadline and the 63 MB model")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    text = bulletin_text(5.0)
    bench_espeak(text, results)
    cache_rerender(VoiceRegistry(None), "vi-bac", text, "espeak vi-bac", results)
    bench_gtts(results, quick=args.quick)
    bench_piper(results, quick=args.quick)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
