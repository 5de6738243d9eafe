"""Destination profiles (DESIGN.md §4) as data: the shipped `profiles.toml` plus workspace overrides.

Owns: parsing and validating profile TOML into `studio.models.DestinationProfile`. Nothing here
branches on a profile id: renditions are driven by the fields. No audio I/O; must not import
textual, the TUI or the speech engines.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import ConfigError
from studio.models import DestinationProfile

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from studio.audio.loudness import LoudnessReport

__all__ = ["CONTAINERS", "get_profile", "load_profiles", "parse_profiles", "prepare"]

CONTAINERS = ("mp3", "wav", "flac", "ogg", "opus", "mp4")
"""Containers a profile may name; 'mp4' is rendered by the package stage, the others by audio.io."""

_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "container": (str,),
    "sample_rate": (int,),
    "channels": (int,),
    "target_lufs": (int, float),
    "true_peak_dbtp": (int, float),
    "bitrate_kbps": (int,),
    "bit_depth": (int,),
    "highpass_hz": (int, float),
    "compress": (bool,),
    "tolerance_lu": (int, float),
}
LOSSY_HEADROOM_DB = 0.5
"""Extra true-peak headroom `prepare` leaves for lossy containers (the encoder adds peaks)."""
_REQUIRED = ("container", "sample_rate", "channels", "target_lufs", "true_peak_dbtp")
_SHIPPED = "profiles.toml"


def _build(profile_id: str, table: dict[str, Any], source: str) -> DestinationProfile:
    known = {f.name for f in fields(DestinationProfile)} - {"id"}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"{source}: profile {profile_id!r}: unknown field {key!r}; "
                              f"expected some of {', '.join(sorted(known))}", title="Invalid profile file")
        types = _FIELD_TYPES.get(key, (object,))
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise ConfigError(f"{source}: profile {profile_id!r}: field {key!r} = {value!r} should be "
                              f"{' or '.join(t.__name__ for t in types)}", title="Invalid profile file")
    missing = [k for k in _REQUIRED if k not in table]
    if missing:
        raise ConfigError(f"{source}: profile {profile_id!r}: missing field(s) {', '.join(missing)}",
                          title="Invalid profile file")
    container = table["container"]
    if container not in CONTAINERS:
        raise ConfigError(f"{source}: profile {profile_id!r}: container {container!r}; expected one of "
                          f"{', '.join(CONTAINERS)}", title="Invalid profile file")
    if not 8000 <= table["sample_rate"] <= 192000:
        raise ConfigError(f"{source}: profile {profile_id!r}: sample_rate {table['sample_rate']} is outside "
                          "8000…192000 Hz", title="Invalid profile file")
    if container in ("mp3", "ogg", "opus", "mp4") and not 8 <= table.get("bitrate_kbps", 0) <= 512:
        raise ConfigError(f"{source}: profile {profile_id!r}: a {container} profile needs bitrate_kbps "
                          "in 8…512", title="Invalid profile file")
    if container in ("wav", "flac") and table.get("bit_depth", 16) not in (16, 24, 32):
        raise ConfigError(f"{source}: profile {profile_id!r}: bit_depth {table.get('bit_depth')} should be "
                          "16, 24 or 32", title="Invalid profile file")
    if container == "mp3" and table["sample_rate"] not in (32000, 44100, 48000, 16000, 22050, 24000):
        raise ConfigError(f"{source}: profile {profile_id!r}: MP3 cannot carry {table['sample_rate']} Hz",
                          title="Invalid profile file")
    if container == "opus" and table["sample_rate"] != 48000:
        raise ConfigError(f"{source}: profile {profile_id!r}: Opus files are decoded at 48000 Hz; "
                          f"sample_rate {table['sample_rate']} is not allowed", title="Invalid profile file")
    if not 0.0 <= float(table.get("highpass_hz", 0.0)) <= 1000.0:
        raise ConfigError(f"{source}: profile {profile_id!r}: highpass_hz {table['highpass_hz']} is outside "
                          "0…1000 Hz", title="Invalid profile file")
    if not 0.05 <= float(table.get("tolerance_lu", 1.0)) <= 3.0:
        raise ConfigError(f"{source}: profile {profile_id!r}: tolerance_lu {table['tolerance_lu']} is "
                          "outside 0.05…3 LU", title="Invalid profile file")
    values = dict(table)
    values.setdefault("name", profile_id)
    try:
        return DestinationProfile(id=profile_id, **values)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", title="Invalid profile file") from exc


def parse_profiles(text: str, source: str,
                   base: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Parse one profiles TOML document into raw tables, merged over `base` field by field.

    Args:
        text: TOML with one `[profile-id]` table per profile.
        source: file name for error messages.
        base: tables already known (a later file overrides single fields of an earlier one).

    Returns:
        The merged raw tables by profile id.

    Raises:
        ConfigError: invalid TOML, or a top-level value that is not a table.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}", title="Invalid profile file") from exc
    merged = {k: dict(v) for k, v in (base or {}).items()}
    for profile_id, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: top-level key {profile_id!r} should be a [table] of profile fields",
                              title="Invalid profile file")
        merged.setdefault(profile_id, {}).update(table)
    return merged


def load_profiles(extra_dir: Path | None = None) -> dict[str, DestinationProfile]:
    """The shipped profiles, overridden or extended by every `*.toml` in `extra_dir` (sorted by name).

    Args:
        extra_dir: a folder of profile TOML files (e.g. the workspace's `profiles/`); may be absent.

    Returns:
        Profiles by id.

    Raises:
        ConfigError: a file is unreadable or invalid; the message names the file, profile and field.
    """
    text = resources.files("studio.audio").joinpath(_SHIPPED).read_text(encoding="utf-8")
    raw = parse_profiles(text, f"studio/audio/{_SHIPPED}")
    sources = {pid: f"studio/audio/{_SHIPPED}" for pid in raw}
    if extra_dir is not None and extra_dir.is_dir():
        for path in sorted(extra_dir.glob("*.toml")):
            try:
                body = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read: {exc}", title="Invalid profile file") from exc
            before = set(raw)
            raw = parse_profiles(body, str(path), raw)
            for pid in tomllib.loads(body):
                sources[pid] = str(path) if pid not in before else f"{sources[pid]} + {path}"
    return {pid: _build(pid, table, sources[pid]) for pid, table in raw.items()}


def get_profile(profile_id: str, extra_dir: Path | None = None) -> DestinationProfile:
    """One profile by id.

    Args:
        profile_id: e.g. 'loa', 'phat-song', 'web', 'bang-tin'.
        extra_dir: optional folder of override files, as for `load_profiles`.

    Returns:
        The profile.

    Raises:
        ConfigError: unknown id (the message lists the known ones) or an invalid profile file.
    """
    profiles = load_profiles(extra_dir)
    if profile_id not in profiles:
        raise ConfigError(f"unknown destination profile {profile_id!r}; known profiles: "
                          f"{', '.join(sorted(profiles))}", title="Unknown profile")
    return profiles[profile_id]


def prepare(samples: NDArray, rate: int,
            profile: DestinationProfile) -> tuple[NDArray[np.float32], int, LoudnessReport]:
    """Process a programme for `profile`: resample, high-pass, compress, set channels, normalize.

    Every step is driven by a profile field (sample_rate, highpass_hz, compress, channels,
    target_lufs, true_peak_dbtp), never by the profile's id.

    Args:
        samples: float array (n,) or (n, ch), mono or stereo.
        rate: its sample rate in Hz.
        profile: the destination.

    Returns:
        (samples at profile.sample_rate with profile.channels, that rate, the report measured on them).

    Raises:
        AudioFormatError: bad, silent or unsupported input.
        AudioError: the loudness target cannot be reached.
    """
    from studio.audio import dynamics, filters, io, mix  # deferred: profiles load without scipy

    x = io.resample(samples, rate, profile.sample_rate)
    if profile.highpass_hz > 0:
        x = filters.highpass(x, profile.sample_rate, profile.highpass_hz)
    if profile.compress:
        x = dynamics.compress(x, profile.sample_rate)
    x = mix.to_channels(x, profile.channels)
    # lossy encoders add inter-sample peaks (measured 0.1-0.4 dB at 96-128 kbps): leave headroom so
    # that the first encode usually passes write_for_profile's check
    headroom_db = LOSSY_HEADROOM_DB if profile.container in ("mp3", "ogg", "opus", "mp4") else 0.0
    ceiling = max(profile.true_peak_dbtp - headroom_db, profile.target_lufs)
    y, report = dynamics.normalize(x, profile.sample_rate, target_lufs=profile.target_lufs,
                                   true_peak_dbtp=ceiling)
    return y, profile.sample_rate, report
