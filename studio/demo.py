"""The end-to-end demo on embedded defaults: samples → store → bulletin → speech → renditions → package.

Owns: only the orchestration of one run; every step is the real stage function. Used by `studio demo`
and `make demo`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Event

from studio import produce
from studio.audio.profiles import get_profile
from studio.compose import compose, load_template
from studio.config import Workspace, atomic_write_text, shipped_dir
from studio.errors import InputError
from studio.ingest.items import parse_file
from studio.package.build import build_package
from studio.package.manifest import FileEntry, Manifest, RenditionEntry
from studio.store import Store
from studio.tts.registry import VoiceRegistry

# The master for FM/TV and the loudspeaker MP3: the two renditions the demo package carries.
DEMO_PROFILES = (("phat-song", "master.wav"), ("loa", "loa.mp3"))


@dataclass(frozen=True, slots=True)
class DemoResult:
    items_ingested: int
    items_in_bulletin: int
    bulletin_id: int
    package_path: Path
    duration_s: float
    renditions: tuple[produce.Rendition, ...]
    voice_id: str


def run_demo(workspace: Workspace, *, voice_id: str | None = None, cancel: Event | None = None,
             on_progress: produce.ProgressCallback | None = None) -> DemoResult:
    """Ingest the shipped sample items, compose `ban-tin`, render it, and publish a package.

    Raises:
        StudioError: any stage failing, with its own message.
    """
    samples = sorted((shipped_dir("samples") / "items").glob("*.json"))
    if not samples:
        raise InputError(f"{shipped_dir('samples') / 'items'}: no sample items (*.json) found")
    voice_id = voice_id or workspace.settings.default_voice
    registry = VoiceRegistry(workspace.voices_dir)
    registry.get(voice_id)  # fail before any work on an unknown voice
    with Store(workspace.db_path) as store:
        ids: list[int] = []
        for path in samples:
            for entry in parse_file(path):
                if entry.item is None:
                    raise InputError(f"{entry.location}: {entry.error}")
                item_id, _created = store.add_item(entry.item, actor="demo")
                ids.append(item_id)
        items = [(i, store.get_item(i).item) for i in ids]
        bulletin = compose(load_template("ban-tin"), items, workspace.settings)
        bulletin_id = store.save_bulletin(bulletin, actor="demo")
        programme = produce.render_programme(bulletin, registry, voice_id, cache_dir=workspace.cache_dir,
                                             cancel=cancel, on_progress=on_progress)
        issuer = workspace.settings.issuer
        sequence = store.next_sequence(issuer)
        created = datetime.now(UTC).replace(microsecond=0)
        package_id = f"{created:%Y%m%dT%H%M%SZ}-{sequence:06d}-{uuid.uuid4().hex[:8]}"
        renditions: list[produce.Rendition] = []

        def fill(folder: Path) -> Manifest:
            for profile_id, name in DEMO_PROFILES:
                renditions.append(produce.render_rendition(programme, get_profile(profile_id), folder / name,
                                                           title=bulletin.title))
            atomic_write_text(folder / "bulletin.txt", bulletin.script + "\n")
            files = tuple(FileEntry.of(folder, p) for p in sorted(folder.iterdir()) if p.is_file())
            return Manifest(
                package_id=package_id, issuer=issuer, sequence=sequence, created=created.isoformat(),
                priority=bulletin.priority.value, title=bulletin.title,
                valid_until=(created + timedelta(days=1)).isoformat(),
                summary=", ".join(items_by_id[i].title for i in bulletin.item_ids),
                files=files,
                renditions=tuple(_rendition_entry(r, folder) for r in renditions),
                source_items=tuple({"source": items_by_id[i].source, "id": items_by_id[i].source_id}
                                   for i in bulletin.item_ids),
                voices=({"voice": voice_id, "fallbacks": "; ".join(programme.fallbacks)},),
            )

        items_by_id = dict(items)
        path = build_package(workspace.outbox, package_id, fill)
        store.add_package(package_id, issuer=issuer, sequence=sequence, bulletin_id=bulletin_id,
                          priority=bulletin.priority, path=path, actor="demo")
        for r in renditions:
            store.add_render(bulletin_id, r.profile.id, path / r.path.name, duration_s=r.report.duration_s,
                             integrated_lufs=r.report.integrated_lufs, true_peak_dbtp=r.report.true_peak_dbtp)
    return DemoResult(items_ingested=len(ids), items_in_bulletin=len(bulletin.item_ids), bulletin_id=bulletin_id,
                      package_path=path, duration_s=programme.duration_s, renditions=tuple(renditions),
                      voice_id=voice_id)


def _rendition_entry(r: produce.Rendition, folder: Path) -> RenditionEntry:
    rep = r.report
    return RenditionEntry(profile=r.profile.id, file=r.path.relative_to(folder).as_posix(),
                          duration_s=round(rep.duration_s, 3), integrated_lufs=round(rep.integrated_lufs, 2),
                          true_peak_dbtp=round(rep.true_peak_dbtp, 2),
                          loudness_range_lu=None if rep.loudness_range_lu is None else round(rep.loudness_range_lu, 2),
                          target_lufs=r.profile.target_lufs, ceiling_dbtp=r.profile.true_peak_dbtp,
                          sample_rate=rep.sample_rate, channels=rep.channels)
