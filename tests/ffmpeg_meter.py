"""ffmpeg's ebur128 filter as an independent loudness meter for tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def ebur128(ffmpeg: str, path: Path) -> dict[str, float]:
    """Integrated loudness (LUFS), LRA (LU) and true peak (dBTP) as ffmpeg measures `path`."""
    proc = subprocess.run([ffmpeg, "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True, check=True)
    summary = proc.stderr[proc.stderr.rfind("Summary:"):]
    integrated = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    lra = float(re.search(r"LRA:\s+(-?[\d.]+) LU", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return {"integrated_lufs": integrated, "lra_lu": lra, "true_peak_dbtp": peak}
