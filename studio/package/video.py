"""The `bang-tin` rendition: an MP4 (H.264 + AAC) for public electronic boards.

Owns: one slide (station, priority banner, wrapped title) for the whole bulletin, with the captions
burned in, encoded by the ffmpeg binary of the `imageio-ffmpeg` wheel (optional extra `video`; it is
built with libass, libfreetype and libx264). The text is drawn with DejaVu Sans (Debian
`fonts-dejavu-core`), whose Latin Extended Additional block covers every Vietnamese letter with its
tone mark; $STUDIO_FONT names another TTF. The audio is loudness-normalized, AAC-encoded, decoded and
re-measured until it meets the profile (AAC adds peaks), then muxed with the video; the returned
report is of the encoded audio.
Must not import tts/tui.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from studio.audio.loudness import LoudnessReport
from studio.errors import AudioError, InputError, PackageError
from studio.models import DestinationProfile

WIDTH, HEIGHT = 1280, 720
FRAME_RATE = 5
"""A slide with captions changing per sentence: 5 fps is plenty and keeps encoding ~10× faster than 25."""
_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
)
_BANNERS = {
    "khan-cap": ("KHẨN CẤP", "0xC62828"),
    "uu-tien": ("ƯU TIÊN", "0xEF6C00"),
    "thong-thuong": ("BẢN TIN", "0x1565C0"),
}


class VideoError(PackageError):
    """The MP4 rendition cannot be made (no ffmpeg, no font, or ffmpeg failed)."""

    default_title = "Lỗi dựng video"


@dataclass(frozen=True, slots=True)
class VideoReport:
    loudness: LoudnessReport
    """Measured on the AAC audio as written (decoded again)."""
    width: int
    height: int
    frame_rate: int
    video_codec: str = "h264"
    audio_codec: str = "aac"


def ffmpeg_exe() -> str:
    """The ffmpeg binary from the imageio-ffmpeg wheel.

    Raises:
        VideoError: the `video` extra is not installed.
    """
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise VideoError("the bang-tin MP4 needs the 'video' extra: pip install 'studio[video]'") from exc
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise VideoError(f"imageio-ffmpeg has no ffmpeg binary: {exc}") from exc


def find_font() -> Path:
    """A TTF with Vietnamese glyphs: $STUDIO_FONT, else DejaVu Sans from the system fonts.

    Raises:
        VideoError: none found (install Debian's fonts-dejavu-core or set STUDIO_FONT).
    """
    env = os.environ.get("STUDIO_FONT")
    candidates = ([env] if env else []) + list(_FONT_CANDIDATES)
    for candidate in candidates:
        if Path(candidate).is_file():
            return Path(candidate)
    raise VideoError(
        "no font with Vietnamese glyphs found: install fonts-dejavu-core (apt) or set STUDIO_FONT "
        f"to a TTF; looked in {', '.join(candidates)}"
    )


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        raise VideoError(f"ffmpeg failed while {what} (exit {proc.returncode}): {tail}")


def _ass_style(font_name: str) -> str:
    # libass style for the burned captions: white on a translucent box, bottom centre, 2 lines max.
    return (
        f"FontName={font_name},FontSize=18,PrimaryColour=&H00FFFFFF,BackColour=&H80000000,"
        "BorderStyle=4,Outline=0,Shadow=0,Alignment=2,MarginV=28,MarginL=40,MarginR=40"
    )


def _encode_audio(
    ffmpeg: str,
    samples: NDArray[np.float32],
    rate: int,
    profile: DestinationProfile,
    work: Path,
    max_attempts: int,
) -> tuple[Path, LoudnessReport]:
    """normalize → AAC → decode → measure, lowering the ceiling by any overshoot (as write_checked does)."""
    from studio.audio.dynamics import normalize
    from studio.audio.io import measure_file, write_audio

    aim, ceiling = profile.target_lufs, profile.true_peak_dbtp
    report: LoudnessReport | None = None
    aac = work / "audio.m4a"
    for _ in range(max_attempts):
        x, _rep = normalize(samples, rate, target_lufs=aim, true_peak_dbtp=ceiling)
        write_audio(work / "audio.wav", x, rate, bit_depth=24)
        _run(
            [
                ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-y",
                "-i",
                "audio.wav",
                "-c:a",
                "aac",
                "-b:a",
                f"{profile.bitrate_kbps or 128}k",
                "-ar",
                str(profile.sample_rate),
                "-ac",
                str(profile.channels),
                "audio.m4a",
            ],
            work,
            "encoding AAC",
        )
        _run(
            [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", "audio.m4a", "-c:a", "pcm_f32le", "decoded.wav"],
            work,
            "decoding AAC for measurement",
        )
        report = measure_file(work / "decoded.wav")
        error = profile.target_lufs - report.integrated_lufs
        if report.true_peak_dbtp <= profile.true_peak_dbtp and abs(error) <= profile.tolerance_lu / 2:
            return aac, report
        aim += error if math.isfinite(error) else 0.0
        ceiling = max(aim, ceiling - max(0.0, report.true_peak_dbtp - profile.true_peak_dbtp) - 0.1)
    assert report is not None
    if (
        report.true_peak_dbtp <= profile.true_peak_dbtp
        and abs(report.integrated_lufs - profile.target_lufs) <= profile.tolerance_lu
    ):
        return aac, report
    raise AudioError(
        f"profile {profile.id!r}: the AAC audio measures {report.integrated_lufs:.2f} LUFS, "
        f"{report.true_peak_dbtp:.2f} dBTP after {max_attempts} attempts (target "
        f"{profile.target_lufs} LUFS, ceiling {profile.true_peak_dbtp} dBTP)"
    )


def render_video(
    samples: NDArray[np.float32],
    rate: int,
    profile: DestinationProfile,
    path: Path,
    *,
    title: str,
    station: str,
    priority: str,
    captions_srt: str,
    max_attempts: int = 3,
) -> VideoReport:
    """Write the bang-tin MP4 to `path`.

    Args:
        samples: the programme (mono or stereo float), already prepared for `profile` or not (it is
            normalized here either way).
        rate: its sample rate.
        profile: the `bang-tin` destination profile (container mp4).
        path: the MP4 to write (replaced atomically).
        title: the bulletin title on the slide (wrapped to 3 lines).
        station: the station line at the top.
        priority: 'khan-cap', 'uu-tien' or 'thong-thuong' (the banner's word and colour).
        captions_srt: SRT text burned in at the bottom.
        max_attempts: audio encode attempts before giving up on the loudness target.

    Returns:
        What was written and measured.

    Raises:
        InputError: the profile is not an mp4 profile.
        VideoError: no ffmpeg/font, or ffmpeg failed.
        AudioError: the encoded audio cannot meet the profile.
    """
    if profile.container != "mp4":
        raise InputError(f"profile {profile.id!r}: container {profile.container!r}, expected mp4")
    from studio.audio.io import resample
    from studio.audio.mix import to_channels

    ffmpeg, font = ffmpeg_exe(), find_font()
    x = to_channels(resample(samples, rate, profile.sample_rate), profile.channels)
    banner, colour = _BANNERS.get(priority, _BANNERS["thong-thuong"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".bang-tin-", dir=path.parent) as tmp:
        work = Path(tmp)
        aac, report = _encode_audio(ffmpeg, x, profile.sample_rate, profile, work, max_attempts)
        # Files referenced from the filter graph get plain names inside `work`, so no path needs
        # ffmpeg filter escaping (':' and quotes in a workspace path would break it).
        shutil.copyfile(font, work / "font.ttf")
        (work / "captions.srt").write_text(captions_srt, encoding="utf-8")
        (work / "title.txt").write_text("\n".join(textwrap.wrap(title, 34)[:3]), encoding="utf-8")
        (work / "station.txt").write_text(station, encoding="utf-8")
        (work / "banner.txt").write_text(banner, encoding="utf-8")
        duration_s = report.duration_s
        graph = ",".join(
            [
                f"drawbox=x=0:y=0:w=iw:h=110:color={colour}@1:t=fill",
                "drawtext=fontfile=font.ttf:textfile=banner.txt:fontsize=60:fontcolor=white:x=(w-tw)/2:y=25",
                "drawtext=fontfile=font.ttf:textfile=station.txt:fontsize=26:fontcolor=0xB0BEC5:x=(w-tw)/2:y=140",
                "drawtext=fontfile=font.ttf:textfile=title.txt:fontsize=46:fontcolor=white:line_spacing=14:"
                "x=(w-tw)/2:y=230",
                "subtitles=filename=captions.srt:charenc=UTF-8:fontsdir=."
                f":force_style='{_ass_style('DejaVu Sans')}'",
            ]
        )
        _run(
            [
                ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"color=c=0x0D1B2A:s={WIDTH}x{HEIGHT}:r={FRAME_RATE}:d={duration_s:.3f}",
                "-i",
                aac.name,
                "-filter_complex",
                f"[0:v]{graph}[v]",
                "-map",
                "[v]",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "stillimage",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "copy",
                "-shortest",
                "-movflags",
                "+faststart",
                "-map_metadata",
                "-1",
                "-metadata",
                f"title={title}",
                "-metadata:s:a:0",
                "language=vie",
                "out.mp4",
            ],
            work,
            "encoding the MP4",
        )
        out = work / "out.mp4"
        with out.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(out, path)
    return VideoReport(loudness=report, width=WIDTH, height=HEIGHT, frame_rate=FRAME_RATE)
