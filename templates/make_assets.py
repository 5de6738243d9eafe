"""Make the shipped jingles and tones in templates/assets/ from code (licence-clean: pure synthesis).

    .venv/bin/python templates/make_assets.py          # rewrite templates/assets/*.flac

Every sound is a few lines of numpy: bell-like notes (a fundamental plus two decaying partials), the
two-tone attention signal (853 Hz + 960 Hz, the pair the US Emergency Alert System chose because it is
hard to ignore), and a soft pad for the music bed whose tremolo period divides its length, so it loops
without a click. Files are 24 kHz 16-bit FLAC (a few tens of KB); the pipeline resamples them to 48 kHz.
`studio.audio.io.write_audio` writes them (the one audio file writer).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

RATE_HZ = 24000
ASSETS = Path(__file__).resolve().parent / "assets"
NOTE_HZ = {"C4": 261.63, "E4": 329.63, "G4": 392.00, "C5": 523.25, "E5": 659.25, "G5": 783.99, "C6": 1046.50}


def _t(duration_s: float) -> np.ndarray:
    return np.arange(int(round(duration_s * RATE_HZ)), dtype=np.float64) / RATE_HZ


def _ramp(x: np.ndarray, ramp_s: float = 0.01) -> np.ndarray:
    n = min(int(ramp_s * RATE_HZ), len(x) // 2)
    if n:
        r = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
        x[:n] *= r
        x[-n:] *= r[::-1]
    return x


def bell(freq_hz: float, duration_s: float) -> np.ndarray:
    """A struck-bell note: partials 1, 2, 3 with faster decay for the higher ones."""
    t = _t(duration_s)
    tone = (np.sin(2 * np.pi * freq_hz * t) * np.exp(-t * 3.0)
            + 0.4 * np.sin(2 * np.pi * 2 * freq_hz * t) * np.exp(-t * 5.0)
            + 0.15 * np.sin(2 * np.pi * 3 * freq_hz * t) * np.exp(-t * 8.0))
    return _ramp(tone, 0.004)


def sequence(notes: list[tuple[str, float]], step_s: float, tail_s: float) -> np.ndarray:
    """Notes struck every `step_s`, each ringing for `tail_s`, summed."""
    total = step_s * (len(notes) - 1) + tail_s
    out = np.zeros(len(_t(total)))
    for k, (name, gain) in enumerate(notes):
        note = gain * bell(NOTE_HZ[name], tail_s)
        start = int(round(k * step_s * RATE_HZ))
        out[start:start + len(note)] += note[:len(out) - start]
    return out


def signature() -> np.ndarray:
    """nhac-hieu: the station's call sign, a rising C-major arpeggio closing on the octave."""
    return sequence([("C5", 1.0), ("E5", 0.9), ("G5", 0.9), ("C6", 1.0)], 0.32, 1.6)


def separator() -> np.ndarray:
    """nhac-cat: a two-note chime between items."""
    return sequence([("G5", 0.9), ("C5", 1.0)], 0.28, 0.9)


def attention() -> np.ndarray:
    """tin-hieu-khan-cap: four pulses of 853 + 960 Hz, 0.5 s on, 0.15 s off."""
    t = _t(0.5)
    pulse = _ramp(np.sin(2 * np.pi * 853 * t) + np.sin(2 * np.pi * 960 * t), 0.01)
    gap = np.zeros(int(0.15 * RATE_HZ))
    return np.concatenate([np.concatenate([pulse, gap]) for _ in range(4)])[:-len(gap)]


def bed() -> np.ndarray:
    """nen-nhac: an 8 s pad (C major, low register) with a 0.25 Hz tremolo: loops seamlessly."""
    t = _t(8.0)
    chord = sum(np.sin(2 * np.pi * NOTE_HZ[n] / 2 * t) * g for n, g in (("C4", 1.0), ("E4", 0.6), ("G4", 0.7)))
    chord += 0.3 * np.sin(2 * np.pi * NOTE_HZ["C5"] / 2 * t)
    return chord * (0.75 + 0.25 * np.sin(2 * np.pi * 0.25 * t))


SOUNDS = {"nhac-hieu": signature, "nhac-cat": separator, "tin-hieu-khan-cap": attention, "nen-nhac": bed}
TITLES = {"nhac-hieu": "Nhạc hiệu", "nhac-cat": "Nhạc cắt", "tin-hieu-khan-cap": "Tín hiệu khẩn cấp",
          "nen-nhac": "Nhạc nền"}
PEAK_DBFS = -6.0


def render(name: str) -> np.ndarray:
    """The float32 samples of asset `name` at RATE_HZ, peak-normalized to PEAK_DBFS."""
    x = SOUNDS[name]()
    return (x / np.max(np.abs(x)) * 10 ** (PEAK_DBFS / 20)).astype(np.float32)


def main(folder: Path = ASSETS) -> list[Path]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from studio.audio.io import write_audio

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SOUNDS:
        path = folder / f"{name}.flac"
        write_audio(path, render(name), RATE_HZ, format="flac", bit_depth=16, title=TITLES[name],
                    originator="studio templates/make_assets.py")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in main():
        print(f"{p}\t{p.stat().st_size} bytes")
