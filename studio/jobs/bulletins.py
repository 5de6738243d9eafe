"""The scheduled bulletin job: compose from the newest items, render, and publish a signed package.

Owns: only the orchestration of one scheduled run; every step is the stage's own public function
(store, compose, produce, package.assemble). The spec's signing key is the standing approval of the
desk that wrote the spec; a khẩn cấp item still needs an emergency key (publish_package refuses
otherwise). Must not import Huey or the TUI.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from threading import Event
from typing import Any

from studio.config import Workspace
from studio.errors import Cancelled, InputError
from studio.jobs.specs import ScheduledBulletinSpec
from studio.models import ItemState


def make_scheduled_bulletin(
    workspace: Workspace,
    spec: ScheduledBulletinSpec,
    *,
    cancel: Event | None = None,
    on_progress: Callable[[float, str], None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Compose `spec.template` from the newest new items, render it, publish it, mark the items used.

    Returns:
        {bulletin_id, items, package, duration_s}.

    Raises:
        InputError: no new items in the window (nothing to broadcast).
        ConfigError / PackageError / EngineError / AudioError: from the stages.
        Cancelled: `cancel` was set.
    """
    from studio import produce
    from studio.compose import compose, load_template
    from studio.convert import KEY_PASSPHRASE_ENV, _OutboxWorkspace
    from studio.package.assemble import PackageInput, publish_package
    from studio.package.signing import load_key
    from studio.store import Store
    from studio.tts.registry import VoiceRegistry

    now = now or datetime.now(UTC)
    since = now - timedelta(hours=spec.since_hours)
    registry = VoiceRegistry(workspace.voices_dir)
    voice = registry.get(spec.voice)
    key = load_key(
        workspace.keys_dir, spec.key or workspace.settings.issuer, os.environ.get(KEY_PASSPHRASE_ENV) or None
    )
    with Store(workspace.db_path) as store:
        fresh = [
            s
            for s in store.items(state=ItemState.NEW)
            if datetime.fromisoformat(s.created_at).astimezone(UTC) >= since
        ]
        fresh.sort(key=lambda s: s.id, reverse=True)
        chosen = fresh[: spec.max_items]
        if not chosen:
            raise InputError(
                f"{spec.path}: no new items in the last {spec.since_hours:g} h for bulletin {spec.id!r}"
            )
        pairs = [(s.id, s.item) for s in chosen]
        template = load_template(spec.template, extra_dir=workspace.home / "templates")
        bulletin = compose(template, pairs, workspace.settings, today=now.astimezone().date())
        bulletin_id = store.save_bulletin(bulletin, actor=f"schedule:{spec.id}")
        if on_progress is not None:
            on_progress(0.05, "đã soạn bản tin")

        def speech(fraction: float, what: str) -> None:
            if on_progress is not None:
                on_progress(0.05 + 0.6 * fraction, what)

        programme = produce.render_workspace_programme(
            workspace, bulletin, registry, voice.id, cancel=cancel, on_progress=speech
        )
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"bulletin {spec.id}: cancelled")
        by_id = dict(pairs)
        data = PackageInput(
            bulletin=bulletin,
            bulletin_id=bulletin_id,
            items=tuple(by_id[i] for i in bulletin.item_ids),
            programme=programme,
            voice_engine=voice.engine,
            profiles=spec.profiles,
        )
        published = publish_package(
            _OutboxWorkspace(workspace.home, workspace.settings, spec.dispatch.out),
            store,
            data,
            key,
            actor=f"schedule:{spec.id} (key {key.name})",
        )
        store.save_bulletin(bulletin, bulletin_id=bulletin_id, state="approved", actor=f"schedule:{spec.id}")
        for item_id in bulletin.item_ids:
            store.set_item_state(
                item_id, ItemState.USED, note=f"bản tin {bulletin_id}", actor=f"schedule:{spec.id}"
            )
    result: dict[str, Any] = {
        "bulletin_id": bulletin_id,
        "items": list(bulletin.item_ids),
        "package": str(published.path),
        "duration_s": round(programme.duration_s, 3),
    }
    if spec.dispatch.to:
        from studio.jobs.tasks import _dispatch_http

        result["dispatch"] = _dispatch_http(published.path, spec.dispatch.to, workspace)
    return result
