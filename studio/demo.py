"""The end-to-end demo on embedded defaults: samples → store → bulletin → speech → signed package.

Owns: only the orchestration of one run; every step is the real stage function. Used by `studio demo`
and `make demo`. On first run it creates the workspace's demo keys (unencrypted, mode 0600): `demo`
(routine) and `demo-khan-cap` (emergency), and signs with the one the bulletin's priority needs, so
the package it publishes verifies with `studio package verify PKG --trust <home>/keys/<key>.pub`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from threading import Event

from studio import produce
from studio.compose import compose, load_template
from studio.config import Workspace, shipped_dir
from studio.errors import InputError
from studio.ingest.items import parse_file
from studio.models import Priority
from studio.package.assemble import PackageInput, default_profiles, publish_package
from studio.package.signing import SecretKey, generate_key, key_paths, load_key
from studio.store import Store
from studio.tts.registry import VoiceRegistry

DEMO_KEY = "demo"
DEMO_EMERGENCY_KEY = "demo-khan-cap"


@dataclass(frozen=True, slots=True)
class DemoResult:
    items_ingested: int
    items_in_bulletin: int
    bulletin_id: int
    package_path: Path
    duration_s: float
    renditions: tuple[produce.Rendition, ...]
    voice_id: str
    key_name: str
    public_key_path: Path


def demo_key(workspace: Workspace, priority: Priority) -> SecretKey:
    """The workspace's demo signing key for `priority`, created (unencrypted, 0600) on first use."""
    emergency = priority is Priority.KHAN_CAP
    name = DEMO_EMERGENCY_KEY if emergency else DEMO_KEY
    if not key_paths(workspace.keys_dir, name).secret.exists():
        generate_key(workspace.keys_dir, name, emergency=emergency)
    return load_key(workspace.keys_dir, name)


def run_demo(
    workspace: Workspace,
    *,
    voice_id: str | None = None,
    cancel: Event | None = None,
    on_progress: produce.ProgressCallback | None = None,
) -> DemoResult:
    """Ingest the shipped sample items, compose `ban-tin`, render it, and publish a signed package.

    Raises:
        StudioError: any stage failing, with its own message.
    """
    samples = sorted((shipped_dir("samples") / "items").glob("*.json"))
    if not samples:
        raise InputError(f"{shipped_dir('samples') / 'items'}: no sample items (*.json) found")
    voice_id = voice_id or workspace.settings.default_voice
    registry = VoiceRegistry(workspace.voices_dir)
    voice = registry.get(voice_id)  # fail before any work on an unknown voice
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
        programme = produce.render_workspace_programme(
            workspace, bulletin, registry, voice_id, cancel=cancel, on_progress=on_progress
        )
        key = demo_key(workspace, bulletin.priority)
        items_by_id = dict(items)
        result = publish_package(
            workspace,
            store,
            PackageInput(
                bulletin=bulletin,
                bulletin_id=bulletin_id,
                items=tuple(items_by_id[i] for i in bulletin.item_ids),
                programme=programme,
                voice_engine=voice.engine,
                profiles=default_profiles(),
            ),
            key,
            actor="demo",
        )
        renditions = result.renditions
        for r in renditions:
            store.add_render(
                bulletin_id,
                r.profile.id,
                r.path,
                duration_s=r.report.duration_s,
                integrated_lufs=r.report.integrated_lufs,
                true_peak_dbtp=r.report.true_peak_dbtp,
            )
    return DemoResult(
        items_ingested=len(ids),
        items_in_bulletin=len(bulletin.item_ids),
        bulletin_id=bulletin_id,
        package_path=result.path,
        duration_s=programme.duration_s,
        renditions=renditions,
        voice_id=voice_id,
        key_name=key.name,
        public_key_path=key_paths(workspace.keys_dir, key.name).public,
    )
