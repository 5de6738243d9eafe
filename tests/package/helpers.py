"""Small signed packages for the package and dispatch tests: a 3-second tone programme, real stages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from studio import produce
from studio.config import Workspace
from studio.models import Bulletin, Priority, Segment, SourceItem
from studio.package.assemble import PackageInput, PackageResult, publish_package
from studio.package.signing import SecretKey, generate_key, key_paths, load_key
from studio.store import Store

NOW = datetime(2026, 11, 28, 6, 0, 0, tzinfo=UTC)


def tone_programme(seconds: float = 3.0) -> produce.Programme:
    """A speech-like tone (amplitude-modulated 220 Hz) with two caption cues."""
    rate = produce.PROGRAMME_RATE_HZ
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.7 * t))).astype(
        np.float32
    )
    half = seconds / 2
    cues = (
        produce.Cue("Khẩn cấp: bão số 5 đổ bộ vào đất liền.", 0.1, half - 0.1),
        produce.Cue("Đề nghị bà con không ra khơi & neo đậu tàu thuyền.", half, seconds - 0.1),
    )
    return produce.Programme(samples=samples, sample_rate=rate, cues=cues, voice_id="fake", fallbacks=())


def key(workspace: Workspace, name: str, *, emergency: bool = False) -> SecretKey:
    if not key_paths(workspace.keys_dir, name).secret.exists():
        generate_key(workspace.keys_dir, name, emergency=emergency)
    return load_key(workspace.keys_dir, name)


def pubkey(workspace: Workspace, name: str) -> Path:
    return key_paths(workspace.keys_dir, name).public


def make_package(
    workspace: Workspace,
    *,
    priority: Priority = Priority.THONG_THUONG,
    key_name: str = "routine",
    emergency_key: bool = False,
    profiles: tuple[str, ...] = ("loa",),
    areas: tuple[str, ...] = (),
    now: datetime = NOW,
    valid_for: timedelta = timedelta(hours=24),
    item_valid_until: datetime | None = None,
) -> PackageResult:
    """Publish one signed package into the workspace outbox and return it."""
    item = SourceItem(
        source="httn-tinh",
        source_id=f"T-{now:%H%M%S%f}",
        title="Cảnh báo bão số 5",
        body="Bão số 5 đổ bộ vào đất liền.",
        priority=priority,
        valid_until=item_valid_until,
    )
    bulletin = Bulletin(
        title="Khẩn cấp: cảnh báo bão số 5",
        template="test",
        segments=(Segment("speech", item.body),),
        priority=priority,
    )
    signing_key = key(workspace, key_name, emergency=emergency_key)
    with Store(workspace.db_path) as store:
        return publish_package(
            workspace,
            store,
            PackageInput(
                bulletin=bulletin,
                bulletin_id=None,
                items=(item,),
                programme=tone_programme(),
                voice_engine="fake",
                profiles=profiles,
                areas=areas,
                valid_for=valid_for,
            ),
            signing_key,
            actor="test",
            now=now,
        )
