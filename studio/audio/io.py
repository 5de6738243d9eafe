"""Audio file I/O: the only module in the project that reads or writes audio files.

Owns: decoding WAV/BWF, FLAC, OGG (Vorbis/Opus) and MP3 through libsndfile (bundled with the
soundfile wheel); high-quality resampling (libsoxr "HQ"); writing WAV/BWF with a bext v2 chunk
(EBU Tech 3285) carrying the five loudness fields, MP3 with ID3v2.4 tags (TIT2, TLAN, ReplayGain
TXXX), OGG/Opus with R128 gain tags, OGG/Vorbis and FLAC with ReplayGain tags; and writing one
rendition for a destination profile, re-measuring the encoded file (encoders add peaks).
Every write is atomic: temp file in the target folder, fsync, rename, fsync the folder.
Must not import textual, the TUI or the speech engines.
"""

from __future__ import annotations

import io as _io
import math
import os
import struct
import tempfile
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from mutagen import MutagenError
from numpy.typing import NDArray

from studio.audio.loudness import LoudnessMeter, LoudnessReport, _as_2d, _check_rate, measure
from studio.config import fsync_dir
from studio.errors import AudioError, AudioFormatError, InputError, disk_error_at, storage_error
from studio.models import DestinationProfile

__all__ = [
    "AudioInfo",
    "BEXT_UNSET",
    "FORMATS",
    "audio_info",
    "bext_chunk",
    "bext_loudness_value",
    "iter_blocks",
    "measure_file",
    "read_audio",
    "resample",
    "to_ascii",
    "write_audio",
    "write_checked",
    "write_for_profile",
    "write_wav_stream",
]

FORMATS = ("wav", "flac", "mp3", "ogg", "opus")
"""Formats `write_audio` produces: wav is always BWF (bext v2); ogg is Vorbis, opus is Ogg Opus."""
_SUFFIX_FORMATS = {".wav": "wav", ".bwf": "wav", ".flac": "flac", ".mp3": "mp3", ".ogg": "ogg",
                   ".oga": "ogg", ".opus": "opus"}
BEXT_UNSET = 0x7FFF
"""Tech 3285 v2: a loudness field holding 0x7FFF is 'not set'."""
REPLAYGAIN_REFERENCE_LUFS = -18.0
"""ReplayGain 2.0 reference loudness."""
R128_REFERENCE_LUFS = -23.0
"""RFC 7845 §5.2.1: R128_TRACK_GAIN is relative to −23 LUFS (EBU R 128)."""
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_MP3_RATES = (16000, 22050, 24000, 32000, 44100, 48000)
_BLOCK_FRAMES = 1 << 18  # the meter's chunk: blocks pass through without copies


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What a file holds, read from its header."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _open(path: Path) -> sf.SoundFile:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such audio file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an audio file")
    try:
        return sf.SoundFile(str(path))
    except sf.LibsndfileError as exc:
        raise AudioFormatError(f"{path}: not a readable audio file (WAV, FLAC, OGG/Opus or MP3): "
                               f"{exc.error_string}") from exc
    except (OSError, RuntimeError) as exc:
        raise AudioFormatError(f"{path}: cannot open: {exc}") from exc


def audio_info(path: Path) -> AudioInfo:
    """Header information of an audio file.

    Args:
        path: the file.

    Returns:
        AudioInfo (rate, channels, frames, container and codec names).

    Raises:
        InputError: the file does not exist.
        AudioFormatError: it is not a readable audio file.
    """
    with _open(path) as f:
        return AudioInfo(Path(path), f.samplerate, f.channels, f.frames, f.format, f.subtype)


def _check_block(path: Path, block: NDArray, offset: int, rate: int) -> None:
    if not np.isfinite(block).all():
        bad = int(np.flatnonzero(~np.isfinite(block).reshape(block.shape[0], -1).all(axis=1))[0]) + offset
        raise AudioFormatError(f"{path}: contains NaN/Inf samples (first at frame {bad}, "
                               f"t = {bad / rate:.3f} s): the file is corrupt")


def iter_blocks(path: Path, block_frames: int = _BLOCK_FRAMES) -> Iterator[NDArray[np.float32]]:
    """Stream a file as float32 blocks of shape (n, ch), for metering files larger than memory.

    Args:
        path: the file.
        block_frames: frames per block.

    Yields:
        float32 arrays (n, channels).

    Raises:
        InputError: missing file. AudioFormatError: unreadable, corrupt, or NaN/Inf samples.
    """
    with _open(path) as f:
        offset = 0
        try:
            for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
                _check_block(Path(path), block, offset, f.samplerate)
                offset += block.shape[0]
                yield block
        except sf.LibsndfileError as exc:
            raise AudioFormatError(
                f"{path}: decoding failed after {offset} frames: {exc.error_string}") from exc


def read_audio(path: Path) -> tuple[NDArray[np.float32], int]:
    """Read a whole audio file (WAV/BWF, FLAC, OGG Vorbis/Opus, MP3) as float32.

    Args:
        path: the file.

    Returns:
        (samples, rate): shape (n,) for mono, (n, ch) otherwise.

    Raises:
        InputError: the file does not exist.
        AudioFormatError: unreadable or corrupt file, zero-length audio, or NaN/Inf samples.
    """
    path = Path(path)
    with _open(path) as f:
        rate = f.samplerate
        try:
            data = f.read(dtype="float32", always_2d=True)
        except sf.LibsndfileError as exc:
            raise AudioFormatError(f"{path}: decoding failed: {exc.error_string}") from exc
    if data.shape[0] == 0:
        raise AudioFormatError(f"{path}: zero-length audio (the file holds no samples)")
    _check_block(path, data, 0, rate)
    return (data[:, 0].copy() if data.shape[1] == 1 else data), rate


def measure_file(path: Path, *, series_hz: int | None = None, layout: str | None = None) -> LoudnessReport:
    """Meter a file block by block (memory stays bounded whatever its length).

    Args:
        path: the file.
        series_hz: also return momentary/short-term series at this rate (1…100 Hz).
        layout: channel layout when not the default for the count.

    Returns:
        The LoudnessReport.

    Raises:
        InputError: missing file.
        AudioFormatError: unreadable/corrupt file, zero-length audio, NaN/Inf, unsupported layout.
    """
    info = audio_info(path)
    try:
        meter = LoudnessMeter(info.sample_rate, info.channels, layout=layout, series_hz=series_hz)
    except AudioFormatError as exc:
        raise AudioFormatError(f"{path}: {exc.message}") from exc
    for block in iter_blocks(path):
        meter.feed(block)
    if meter.frames == 0:
        raise AudioFormatError(f"{path}: zero-length audio (the file holds no samples)")
    return meter.report()


def resample(samples: NDArray, rate_in: int, rate_out: int, *, quality: str = "HQ") -> NDArray[np.float32]:
    """Change the sample rate with libsoxr (the resampler behind librosa's 'soxr_hq').

    Args:
        samples: float array (n,) or (n, ch).
        rate_in: current rate in Hz.
        rate_out: wanted rate in Hz.
        quality: soxr quality ('HQ' default, 'VHQ' for masters).

    Returns:
        float32 array, same channel layout; returned unchanged (as float32) when the rates match.

    Raises:
        AudioFormatError: bad shape, rate or NaN/Inf samples.
    """
    rate_in, rate_out = _check_rate(rate_in), _check_rate(rate_out)
    x = np.asarray(samples)
    _as_2d(x)
    if not np.isfinite(x).all():
        raise AudioFormatError("cannot resample: samples contain NaN/Inf values")
    if rate_in == rate_out:
        return x.astype(np.float32, copy=False)
    if x.shape[0] == 0:
        return x.astype(np.float32)
    return soxr.resample(x.astype(np.float32), rate_in, rate_out, quality=quality).astype(np.float32)


# ----------------------------------------------------------------------------------------------------------
# BWF bext v2 (EBU Tech 3285)

def to_ascii(text: str) -> str:
    """Transliterate to printable ASCII for bext text fields: NFD, drop marks, đ→d (DESIGN.md §5).

    Args:
        text: any Unicode text.

    Returns:
        ASCII text; characters with no ASCII base become '?'.
    """
    text = text.replace("đ", "d").replace("Đ", "D")
    base = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return "".join(c if 32 <= ord(c) < 127 else ("?" if c not in "\r\n\t" else " ") for c in base)


def bext_loudness_value(value: float | None) -> int:
    """Encode a loudness figure for bext: round(100·x) with ties away from zero; 0x7FFF if unset.

    The decimal repr of `value` is rounded (so −23.005 gives −2301, as written), then clamped to
    −32768 … 32766 (32767 is the 'unset' marker).

    Args:
        value: LUFS, LU or dBTP; None, NaN or ±inf mean unset.

    Returns:
        A signed 16-bit integer.
    """
    if value is None or not math.isfinite(value):
        return BEXT_UNSET
    scaled = (Decimal(repr(float(value))) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(-32768, min(32766, int(scaled)))


def _fixed(text: str, size: int) -> bytes:
    return to_ascii(text).encode("ascii")[:size].ljust(size, b"\0")


def bext_chunk(*, description: str = "", originator: str = "studio", originator_reference: str = "",
               origination: datetime | None = None, time_reference: int = 0,
               loudness: LoudnessReport | None = None, coding_history: str = "") -> bytes:
    """Build a complete 'bext' chunk (id, size, body), version 2.

    Args:
        description: up to 256 ASCII characters (Vietnamese transliterated).
        originator: up to 32 characters.
        originator_reference: up to 32 characters.
        origination: creation time (default now, local time).
        time_reference: first sample's count since midnight.
        loudness: the measured report; its five values go in the loudness fields, unset when None.
        coding_history: CR/LF-terminated lines (Tech 3285 annex).

    Returns:
        The chunk bytes, padded to an even length.
    """
    when = origination or datetime.now()
    values = (None, None, None, None, None)
    if loudness is not None:
        values = (loudness.integrated_lufs, loudness.loudness_range_lu, loudness.true_peak_dbtp,
                  loudness.max_momentary_lufs, loudness.max_short_term_lufs)
    body = b"".join([
        _fixed(description, 256),
        _fixed(originator, 32),
        _fixed(originator_reference, 32),
        when.strftime("%Y-%m-%d").encode("ascii"),
        when.strftime("%H:%M:%S").encode("ascii"),
        struct.pack("<II", time_reference & 0xFFFFFFFF, (time_reference >> 32) & 0xFFFFFFFF),
        struct.pack("<H", 2),
        bytes(64),  # UMID: none
        struct.pack("<5h", *(bext_loudness_value(v) for v in values)),
        bytes(180),
        "".join(to_ascii(line) + "\r\n" for line in coding_history.splitlines()).encode("ascii"),
    ])
    if len(body) % 2:
        body += b"\0"
    return b"bext" + struct.pack("<I", len(body)) + body


def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioError("internal: libsndfile did not produce a RIFF/WAVE stream")
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        chunks.append((cid, data[pos + 8:pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return chunks


def _with_bext(wav: bytes, bext: bytes) -> bytes:
    """Insert `bext` right after 'fmt ' (readers find it before the audio), dropping any other bext."""
    out = [b"WAVE"]
    for cid, body in _riff_chunks(wav):
        if cid == b"bext":
            continue
        out.append(cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b""))
        if cid == b"fmt ":
            out.append(bext)
    payload = b"".join(out)
    if len(payload) > 0xFFFFFFFF:
        raise AudioError("WAV larger than 4 GiB: RF64 is not supported; split the programme")
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


# ----------------------------------------------------------------------------------------------------------
# Writing

def _format_for(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise InputError(f"{path}: unknown audio format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower()
    if suffix not in _SUFFIX_FORMATS:
        raise InputError(f"{path}: cannot tell the audio format from the suffix {suffix!r}; use one of "
                         f"{', '.join(sorted(_SUFFIX_FORMATS))}")
    return _SUFFIX_FORMATS[suffix]


def _pcm_subtype(bit_depth: int, path: Path) -> str:
    subtypes = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
    if bit_depth not in subtypes:
        raise InputError(f"{path}: bit depth {bit_depth}: expected 16, 24 or 32 (float)")
    return subtypes[bit_depth]


def _mp3_compression(bitrate_kbps: int, rate: int, path: Path) -> float:
    # libsndfile maps compression_level c linearly onto LAME's CBR range and LAME snaps to the
    # nearest legal bitrate: MPEG-1 (≥ 32 kHz) 320 − 288·c kbps, MPEG-2 (< 32 kHz) 160 − 152·c.
    low, high = (32, 320) if rate >= 32000 else (8, 160)
    if not low < bitrate_kbps <= high:
        raise InputError(f"{path}: MP3 bitrate {bitrate_kbps} kbps at {rate} Hz is outside {low + 1}…{high}")
    return (high - bitrate_kbps) / (high - low)


def _file_mode() -> int:
    """0o666 less the umask: what open() would give. mkstemp's 0o600 would hide renditions from
    the other accounts (dispatch, web server) that read them."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@lru_cache(maxsize=32)
def mp3_encoder_gain_db(rate: int, channels: int, compression_level: float) -> float:
    """The broadband gain (dB) libsndfile's CBR MP3 encoder applies at these settings, measured once.

    Encodes 2 s of a multi-tone probe (200 Hz – 6 kHz, inside every bitrate's pass band), decodes it and
    compares levels. libsndfile 1.2 with LAME gives about −0.45 dB in CBR mode at 96–128 kbps.
    """
    t = np.arange(2 * rate) / rate
    freqs = np.geomspace(200.0, 6000.0, 17)
    probe = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate(freqs)) * (0.25 / len(freqs))
    probe = np.repeat(probe[:, None], channels, axis=1).astype(np.float32)
    buf = _io.BytesIO()
    sf.write(buf, probe, rate, format="MP3", subtype="MPEG_LAYER_III", compression_level=compression_level,
             bitrate_mode="CONSTANT")
    buf.seek(0)
    decoded, _ = sf.read(buf, dtype="float64", always_2d=True)
    core = slice(rate // 4, min(len(decoded), len(probe)) - rate // 4)  # skip the codec's edges
    ratio = np.sqrt(np.mean(np.square(decoded[core])) / np.mean(np.square(probe[core].astype(np.float64))))
    return float(20.0 * np.log10(ratio))


def _atomic_replace(tmp: Path, path: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, _file_mode())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _replaygain_values(report: LoudnessReport) -> tuple[str, str]:
    finite = math.isfinite(report.integrated_lufs)
    gain = REPLAYGAIN_REFERENCE_LUFS - report.integrated_lufs if finite else 0.0
    peak = 10.0 ** (report.true_peak_dbtp / 20.0) if math.isfinite(report.true_peak_dbtp) else 0.0
    return f"{gain:+.2f} dB", f"{peak:.6f}"


def _tag_mp3(path: Path, title: str, language: str, report: LoudnessReport) -> None:
    from mutagen.id3 import ID3, TIT2, TLAN, TXXX, ID3NoHeaderError

    try:
        tags = ID3(str(path))
    except ID3NoHeaderError:
        tags = ID3()
    gain, peak = _replaygain_values(report)
    if title:
        tags.add(TIT2(encoding=3, text=unicodedata.normalize("NFC", title)))
    tags.add(TLAN(encoding=3, text=language))
    # raw TXXX frames: EasyID3 would write RVA2, which few players read (DESIGN.md §5)
    tags.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_GAIN", text=gain))
    tags.add(TXXX(encoding=3, desc="REPLAYGAIN_TRACK_PEAK", text=peak))
    tags.save(str(path), v2_version=4)


def _tag_vorbis_comments(path: Path, fmt: str, title: str, language: str, report: LoudnessReport) -> None:
    if fmt == "flac":
        from mutagen.flac import FLAC as Tagged
    elif fmt == "opus":
        from mutagen.oggopus import OggOpus as Tagged
    else:
        from mutagen.oggvorbis import OggVorbis as Tagged
    audio = Tagged(str(path))
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    if title:
        tags["TITLE"] = unicodedata.normalize("NFC", title)
    tags["LANGUAGE"] = language
    if fmt == "opus":
        # RFC 7845 §5.2.1: Q7.8 gain to reach −23 LUFS; the header output gain stays 0.
        if math.isfinite(report.integrated_lufs):
            q78 = round(256.0 * (R128_REFERENCE_LUFS - report.integrated_lufs))
            tags["R128_TRACK_GAIN"] = str(max(-32768, min(32767, q78)))
    else:
        gain, peak = _replaygain_values(report)
        tags["REPLAYGAIN_TRACK_GAIN"] = gain
        tags["REPLAYGAIN_TRACK_PEAK"] = peak
    audio.save()


def write_audio(path: Path, samples: NDArray, rate: int, *, format: str | None = None,
                bit_depth: int = 24, bitrate_kbps: int = 128, title: str = "", description: str = "",
                language: str = "vie", originator: str = "studio", originator_reference: str = "",
                origination: datetime | None = None,
                loudness: LoudnessReport | None = None) -> LoudnessReport:
    """Write audio atomically, with loudness metadata measured on what was written.

    WAV is always BWF with a bext v2 chunk (loudness fields from `loudness`, or measured here).
    Lossy files (MP3, Opus, Vorbis) are decoded again after encoding and measured, and their tags
    carry those measured values (encoders add peaks). Text in bext is transliterated to ASCII;
    ID3/Vorbis tags keep full Unicode (NFC).

    Args:
        path: destination; the format comes from `format` or the suffix (.wav .bwf .flac .mp3 .ogg .opus).
        samples: float array (n,) or (n, ch), nominally within ±1.0 (PCM clips beyond it).
        rate: sample rate in Hz.
        format: 'wav', 'flac', 'mp3', 'ogg' (Vorbis) or 'opus'.
        bit_depth: 16, 24 or 32 (float; WAV only) for PCM formats.
        bitrate_kbps: CBR bitrate for MP3 (nominal for Vorbis/Opus).
        title: TIT2 / TITLE, and the bext Description when `description` is empty.
        description: bext Description (ASCII after transliteration, 256 max).
        language: ISO 639-2 code for TLAN / LANGUAGE.
        originator: bext Originator.
        originator_reference: bext OriginatorReference.
        origination: bext date and time (default now).
        loudness: a report of `samples` to record instead of measuring again (WAV/FLAC only).

    Returns:
        The LoudnessReport that was recorded (measured on the decoded file for lossy formats).

    Raises:
        InputError: unknown format/suffix, bad bit depth, bitrate or rate for the codec.
        AudioFormatError: zero-length, NaN/Inf or badly shaped samples.
        AudioError: the encoder or the file system failed.
    """
    path = Path(path)
    fmt = _format_for(path, format)
    rate = _check_rate(rate)
    x = _as_2d(samples)
    if x.shape[0] == 0:
        raise AudioFormatError(f"{path}: refusing to write zero-length audio")
    if not np.isfinite(x).all():
        raise AudioFormatError(f"{path}: refusing to write NaN/Inf samples")
    channels = x.shape[1]
    if fmt == "mp3":
        if rate not in _MP3_RATES:
            raise InputError(f"{path}: MP3 cannot carry {rate} Hz; resample to one of {_MP3_RATES}")
        if channels > 2:
            raise InputError(f"{path}: MP3 carries 1 or 2 channels, not {channels}")
    if fmt == "opus" and rate not in _OPUS_RATES:
        raise InputError(f"{path}: Opus cannot carry {rate} Hz; resample to one of {_OPUS_RATES}")
    data = np.ascontiguousarray(x[:, 0] if channels == 1 else x, dtype=np.float32)
    if not (fmt == "wav" and bit_depth == 32):
        over = int(np.count_nonzero(np.abs(data) > 1.0))
        if over:
            # recoverable: the file is still written, as pyloudnorm's normalize.loudness does
            warnings.warn(f"{path}: {over} sample(s) beyond full scale will clip in {fmt} "
                          f"(limit or normalize first)", stacklevel=2)
    if not path.parent.is_dir():
        raise InputError(f"{path}: the folder {path.parent} does not exist")

    tmp = _temp_beside(path, f"{path.suffix}.tmp")
    try:
        if fmt == "wav":
            report = loudness or measure(x, rate)
            buf = _io.BytesIO()
            sf.write(buf, data, rate, format="WAV", subtype=_pcm_subtype(bit_depth, path))
            mode = {1: "mono", 2: "stereo"}.get(channels, "multichannel")
            history = f"A=PCM,F={rate},W={bit_depth},M={mode},T=studio"
            bext = bext_chunk(description=description or title, originator=originator,
                              originator_reference=originator_reference, origination=origination,
                              loudness=report, coding_history=history)
            tmp.write_bytes(_with_bext(buf.getvalue(), bext))
        elif fmt == "flac":
            if bit_depth not in (16, 24):
                raise InputError(f"{path}: FLAC bit depth {bit_depth}: expected 16 or 24")
            sf.write(str(tmp), data, rate, format="FLAC", subtype=_pcm_subtype(bit_depth, path))
            report = loudness or measure(x, rate)
            _tag_vorbis_comments(tmp, fmt, title, language, report)
        else:
            if fmt == "mp3":
                level = _mp3_compression(bitrate_kbps, rate, path)
                # The CBR encoder scales its input by a constant (measured here −0.45 dB): undo it, so
                # the file carries the level it was given and the first encode usually meets the target.
                compensation = 10.0 ** (-mp3_encoder_gain_db(rate, channels, level) / 20.0)
                if float(np.max(np.abs(data))) * compensation < 1.0:
                    data = (np.asarray(data, dtype=np.float64) * compensation).astype(np.float32)
                sf.write(str(tmp), data, rate, format="MP3", subtype="MPEG_LAYER_III",
                         compression_level=level, bitrate_mode="CONSTANT")
            else:
                sf.write(str(tmp), data, rate, format="OGG", subtype="OPUS" if fmt == "opus" else "VORBIS")
            decoded, decoded_rate = read_audio(tmp)
            report = measure(decoded, decoded_rate)  # the listener's file, not our intention
            if fmt == "mp3":
                _tag_mp3(tmp, title, language, report)
            else:
                _tag_vorbis_comments(tmp, fmt, title, language, report)
        _atomic_replace(tmp, path)
    except sf.LibsndfileError as exc:  # says only "System error" on a full disk: look at the disk
        raise (disk_error_at(path) or AudioError(f"{path}: the {fmt} encoder failed: {exc.error_string}")) from exc
    except OSError as exc:
        raise (storage_error(exc, path) or AudioError(f"{path}: cannot write: {exc}")) from exc
    except MutagenError as exc:  # tagging the temp file: wraps the OSError of a full disk
        raise (disk_error_at(path) or AudioError(f"{path}: cannot write the tags: {exc}")) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return report


def _temp_beside(path: Path, suffix: str) -> Path:
    """An empty temp file in the folder of `path` (so the final rename is atomic)."""
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise (storage_error(exc, path) or AudioError(f"{path}: cannot write: {exc}")) from exc
    os.close(fd)
    return Path(tmp_name)


_CHANNEL_MASKS = {1: 0x4, 2: 0x3, 5: 0x37, 6: 0x3F}  # mono C; L R; L R C Ls Rs; L R C LFE Ls Rs
_KSDATAFORMAT_TAIL = bytes.fromhex("000000001000800000aa00389b71")


def _fmt_chunk(rate: int, channels: int, bit_depth: int) -> bytes:
    """'fmt ' for PCM 16/24 or IEEE float 32; WAVE_FORMAT_EXTENSIBLE beyond two channels."""
    tag = 3 if bit_depth == 32 else 1
    block_align = channels * bit_depth // 8
    base = struct.pack("<HHIIHH", tag, channels, rate, rate * block_align, block_align, bit_depth)
    if channels <= 2:
        return b"fmt " + struct.pack("<I", len(base)) + base
    if channels not in _CHANNEL_MASKS:
        raise InputError(f"cannot write {channels} channels: supported layouts are 1, 2, 5 (5.0) and 6 (5.1)")
    ext = struct.pack("<HHI", 22, bit_depth, _CHANNEL_MASKS[channels])  # cbSize, valid bits, mask
    ext += struct.pack("<H", tag) + _KSDATAFORMAT_TAIL
    body = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block_align, block_align, bit_depth) + ext
    return b"fmt " + struct.pack("<I", len(body)) + body


def _pcm_bytes(block: NDArray, bit_depth: int) -> bytes:
    if bit_depth == 32:
        return np.ascontiguousarray(block, dtype="<f4").tobytes()
    scale = float(2 ** (bit_depth - 1))
    ints = np.clip(np.round(block.astype(np.float64) * scale), -scale, scale - 1).astype("<i4")
    if bit_depth == 16:
        return ints.astype("<i2").tobytes()
    return ints.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()  # little-endian: drop the top byte


def write_wav_stream(path: Path, blocks: Iterable[NDArray], rate: int, channels: int, *, bit_depth: int = 24,
                     description: str = "", originator: str = "studio", originator_reference: str = "",
                     origination: datetime | None = None) -> LoudnessReport:
    """Write a BWF from blocks (programmes longer than memory), metering as it goes.

    The bext v2 chunk is written first with its loudness fields unset, the audio streamed after
    it through a LoudnessMeter, then the five fields and the RIFF sizes are patched in place before
    the atomic rename. Peak memory is one block.

    Args:
        path: destination .wav.
        blocks: float arrays (n,) or (n, channels), in order.
        rate: sample rate in Hz.
        channels: 1, 2, 5 (5.0) or 6 (5.1).
        bit_depth: 16, 24 or 32 (float).
        description, originator, originator_reference, origination: bext text fields.

    Returns:
        The LoudnessReport of everything written (also stored in the bext chunk).

    Raises:
        InputError: bad bit depth or channel count, or a file over 4 GiB.
        AudioFormatError: a block with the wrong shape, or NaN/Inf samples.
        AudioError: the file system failed.
    """
    path = Path(path)
    rate = _check_rate(rate)
    _pcm_subtype(bit_depth, path)
    meter = LoudnessMeter(rate, channels)
    fmt = _fmt_chunk(rate, channels, bit_depth)
    mode = {1: "mono", 2: "stereo"}.get(channels, "multichannel")
    history = f"A=PCM,F={rate},W={bit_depth},M={mode},T=studio"
    bext = bext_chunk(description=description, originator=originator,
                      originator_reference=originator_reference, origination=origination, loudness=None,
                      coding_history=history)
    loudness_at = 12 + len(fmt) + 8 + 412  # RIFF header, fmt chunk, bext id+size, fixed fields before
    tmp = _temp_beside(path, ".wav.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(b"RIFF\0\0\0\0WAVE" + fmt + bext + b"data\0\0\0\0")
            data_bytes = 0
            for block in blocks:
                x = _as_2d(block, channels)
                meter.feed(x)  # validates NaN/Inf before anything is written for the block
                chunk = _pcm_bytes(x, bit_depth)
                fh.write(chunk)
                data_bytes += len(chunk)
                if data_bytes > 0xFFFFFFFF - 4096:
                    raise InputError(f"{path}: WAV larger than 4 GiB: RF64 is not supported")
            if data_bytes & 1:
                fh.write(b"\0")
            report = meter.report()
            riff_size = 4 + len(fmt) + len(bext) + 8 + data_bytes + (data_bytes & 1)
            fh.seek(4)
            fh.write(struct.pack("<I", riff_size))
            fh.seek(12 + len(fmt) + len(bext) + 4)
            fh.write(struct.pack("<I", data_bytes))
            fh.seek(loudness_at)
            fh.write(struct.pack("<5h", *(bext_loudness_value(v) for v in (
                report.integrated_lufs, report.loudness_range_lu, report.true_peak_dbtp,
                report.max_momentary_lufs, report.max_short_term_lufs))))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise (storage_error(exc, path) or AudioError(f"{path}: cannot write: {exc}")) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return report


def write_checked(path: Path, samples: NDArray, rate: int, *, target_lufs: float, true_peak_dbtp: float,
                  tolerance_lu: float, format: str | None = None, bit_depth: int = 24,
                  bitrate_kbps: int = 128,
                  title: str = "", description: str = "", max_attempts: int = 4) -> LoudnessReport:
    """Write normalized audio and check the written file; re-normalize and re-encode if it drifted.

    The encoded file is decoded and measured. When the encoder pushed the true peak over the
    ceiling, or moved the loudness by more than the tolerance (less 0.1 LU for lossy codecs, which
    drop band-limited energy, so another meter reading a little differently still agrees),
    `samples` are normalized again with the ceiling lowered by the overshoot and the target moved
    past the error, and encoded again.

    Args:
        path: destination file.
        samples: float array (n,) or (n, ch), already normalized (or not: it is fixed up here).
        rate: sample rate in Hz.
        target_lufs: wanted integrated loudness of the file.
        true_peak_dbtp: true-peak ceiling of the file.
        tolerance_lu: accepted |measured − target|.
        format, bit_depth, bitrate_kbps, title, description: as for `write_audio`.
        max_attempts: encode attempts before giving up.

    Returns:
        The LoudnessReport measured on the written file.

    Raises:
        AudioError: the file cannot meet the target after `max_attempts`.
        InputError / AudioFormatError: as for `write_audio` and `dynamics.normalize`.
    """
    from studio.audio.dynamics import normalize

    fmt = _format_for(Path(path), format)
    lossy = fmt in ("mp3", "ogg", "opus")
    wanted = max(tolerance_lu - 0.1, tolerance_lu / 2) if lossy else tolerance_lu  # room for other meters
    x, aim_lufs = samples, target_lufs
    input_peak = measure(_as_2d(samples), rate).true_peak_dbtp
    report: LoudnessReport | None = None
    for attempt in range(1, max_attempts + 1):
        report = write_audio(path, x, rate, format=fmt, bit_depth=bit_depth, bitrate_kbps=bitrate_kbps,
                             title=title, description=description)
        error_lu = target_lufs - report.integrated_lufs
        if report.true_peak_dbtp <= true_peak_dbtp and abs(error_lu) <= wanted:
            return report
        if attempt == max_attempts or not math.isfinite(error_lu):
            break
        # what the encoder added on top of the input's true peak, plus a margin growing per attempt
        added_db = max(0.0, report.true_peak_dbtp - input_peak)
        ceiling = true_peak_dbtp - added_db - (0.1 if lossy else 0.01) * attempt
        aim_lufs += error_lu
        x, made = normalize(samples, rate, target_lufs=aim_lufs, true_peak_dbtp=max(ceiling, aim_lufs))
        input_peak = made.true_peak_dbtp
    assert report is not None
    if report.true_peak_dbtp <= true_peak_dbtp and abs(report.integrated_lufs - target_lufs) <= tolerance_lu:
        return report
    raise AudioError(
        f"{path}: the encoded file measures {report.integrated_lufs:.2f} LUFS, {report.true_peak_dbtp:.2f} "
        f"dBTP after {max_attempts} attempts (target {target_lufs} LUFS ±{tolerance_lu}, ceiling "
        f"{true_peak_dbtp} dBTP)")


def write_for_profile(path: Path, samples: NDArray, rate: int, profile: DestinationProfile, *,
                      title: str = "", description: str = "", max_attempts: int = 4) -> LoudnessReport:
    """Write one rendition for `profile` and check the written file against it (see `write_checked`).

    The samples should already be processed for the profile (`studio.audio.profiles.prepare`);
    they are resampled and channel-converted here if needed.

    Args:
        path: destination file (its suffix should match the profile's container).
        samples: float array (n,) or (n, ch).
        rate: sample rate of `samples` in Hz.
        profile: the destination.
        title: track title (tags; bext Description when `description` is empty).
        description: bext Description.
        max_attempts: encode attempts before giving up.

    Returns:
        The LoudnessReport measured on the written file.

    Raises:
        InputError: the profile's container is not written here (mp4 belongs to the package stage).
        AudioError: the file cannot meet the profile after `max_attempts`.
    """
    from studio.audio.mix import to_channels

    if profile.container not in FORMATS:
        raise InputError(f"profile {profile.id!r}: container {profile.container!r} is not an audio file "
                         "format written by studio.audio.io (mp4 is rendered by the package stage)")
    suffix_format = _SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if suffix_format != profile.container:
        raise InputError(f"{path}: profile {profile.id!r} writes {profile.container} files; "
                         f"give the output a .{profile.container} name")
    x = to_channels(resample(samples, rate, profile.sample_rate), profile.channels)
    try:
        return write_checked(path, x, profile.sample_rate, target_lufs=profile.target_lufs,
                             true_peak_dbtp=profile.true_peak_dbtp, tolerance_lu=profile.tolerance_lu,
                             format=profile.container, bit_depth=profile.bit_depth,
                             bitrate_kbps=profile.bitrate_kbps or 128, title=title, description=description,
                             max_attempts=max_attempts)
    except AudioError as exc:
        if type(exc) is AudioError:
            raise AudioError(f"profile {profile.id!r}: {exc.message}") from exc
        raise
