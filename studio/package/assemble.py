"""Publish a signed package for a bulletin: renditions, captions, text, ninjs, manifest, signature.

Owns: the package layout (docs/package-spec.md §2), the choice of valid-until, the signing-key policy
(khẩn cấp needs an emergency key) on the producing side, and the store bookkeeping of one approval:
the build lock is taken, the sequence number is reserved (never reused, even when the build fails),
then the package is built in staging, signed, and renamed into the outbox in one step
(studio.package.build), and the row moves to 'approved' before the lock is let go.

Recovery after a kill (`recover_packages`, run by every publish_package and approve_bulletin — so by
`studio bulletin approve`, `studio convert`, scheduled bulletins and the workers — and by
`studio package recover`): rows left in 'building' by a dead process (its build lock is free) become
'approved' when their package was published and verifies, else 'failed' with a note (the sequence
number stays taken: it is never handed out again); dead staging folders are removed. An approval is
idempotent: approving a bulletin again with the same content, options, voice parameters and workspace
lexicon finds the package an interrupted (or earlier) approval published and finishes that one instead
of signing a second (a caller killed before it saw the answer can always re-run it).
Must not import tui.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Event

from studio import produce
from studio.audio.loudness import LoudnessReport
from studio.audio.profiles import get_profile, prepare
from studio.config import Workspace, atomic_write_bytes, atomic_write_text
from studio.errors import Cancelled, PackageError
from studio.models import Bulletin, Priority, SourceItem
from studio.package.areas import resolve_areas
from studio.package.build import BuildLock, build_lock, build_package, staging_path, sweep_staging, try_lock
from studio.package.captions import to_srt, to_webvtt
from studio.package.manifest import (
    NINJS_NAME,
    SPEC_VERSION,
    AreaEntry,
    CaptionEntry,
    FileEntry,
    Manifest,
    RenditionEntry,
    SignerEntry,
    SourceRef,
    VoiceEntry,
    format_time,
)
from studio.package.ninjs import build_ninjs, ninjs_bytes
from studio.package.signing import EMERGENCY, PublicKey, SecretKey, load_public_keys
from studio.package.verify import VerificationError, verify_package
from studio.store import Store, StoredPackage
from studio.tts.registry import VoiceRegistry

ALL_PROFILES = ("phat-song", "loa", "web", "bang-tin")
FILE_NAMES = {"phat-song": "master.wav", "loa": "loa.mp3", "web": "web.mp3", "bang-tin": "bang-tin.mp4"}
TEXT_FILE = "bulletin.txt"
VTT_FILE = "captions.vtt"
SRT_FILE = "captions.srt"
DEFAULT_VALIDITY = timedelta(hours=24)
ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class PackageInput:
    """Everything a package is made from."""

    bulletin: Bulletin
    bulletin_id: int | None
    items: tuple[SourceItem, ...]
    """The source items the bulletin reads, in its order."""
    programme: produce.Programme
    voice_engine: str
    profiles: tuple[str, ...] = ALL_PROFILES
    areas: tuple[str, ...] = ()
    """Extra target area codes; the items' own areas are always included."""
    valid_for: timedelta = DEFAULT_VALIDITY


@dataclass(frozen=True, slots=True)
class PackageResult:
    path: Path
    manifest: Manifest
    manifest_sha256: str
    renditions: tuple[produce.Rendition, ...]
    """Each rendition's file in the published folder and the full report measured on it."""
    earlier: bool = False
    """True when an earlier approval (perhaps one killed after publishing) had already made it."""


def default_profiles() -> tuple[str, ...]:
    """All four destinations when the `video` extra is installed, else the three audio ones."""
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return tuple(p for p in ALL_PROFILES if p != "bang-tin")
    return ALL_PROFILES


def check_signing_key(priority: Priority | str, key: SecretKey) -> None:
    """khẩn cấp packages are signed only with an emergency key.

    Raises:
        PackageError: a khẩn cấp bulletin and a routine key.
    """
    if Priority(priority) is Priority.KHAN_CAP and key.role != EMERGENCY:
        raise PackageError(
            f"a khẩn cấp (khan-cap) package must be signed with an emergency key; key {key.name!r} "
            f"is a {key.role} key (create one with: studio keys new NAME --emergency)"
        )


def webvtt_text(cues: tuple[produce.Cue, ...]) -> str:
    """The programme's cues as WebVTT (studio.package.captions)."""
    return to_webvtt(cues)


def srt_text(cues: tuple[produce.Cue, ...]) -> str:
    """The programme's cues as SRT (studio.package.captions)."""
    return to_srt(cues)


def _rendition_entry(
    profile_id: str,
    file: str,
    rep,
    profile,
    *,
    captions: str | None = None,  # type: ignore[no-untyped-def]
    video: dict[str, object] | None = None,
) -> RenditionEntry:
    return RenditionEntry(
        profile=profile_id,
        file=file,
        duration_s=round(rep.duration_s, 3),
        integrated_lufs=round(rep.integrated_lufs, 2),
        true_peak_dbtp=round(rep.true_peak_dbtp, 2),
        loudness_range_lu=None if rep.loudness_range_lu is None else round(rep.loudness_range_lu, 2),
        target_lufs=profile.target_lufs,
        ceiling_dbtp=profile.true_peak_dbtp,
        sample_rate=rep.sample_rate,
        channels=rep.channels,
        captions=captions,
        video=video,
    )


def trusted_comment(manifest: Manifest, manifest_sha256: str, key: SecretKey) -> str:
    """The signed one-line summary in the .minisig (what `minisign -V` prints)."""
    return (
        f"studio-package spec={manifest.spec_version} id={manifest.package_id} issuer={manifest.issuer} "
        f"sequence={manifest.sequence} priority={manifest.priority} valid_until={manifest.valid_until} "
        f"key={key.name} role={key.role} manifest_sha256={manifest_sha256}"
    )


def publish_package(
    workspace: Workspace,
    store: Store,
    data: PackageInput,
    key: SecretKey,
    *,
    actor: str | None = None,
    now: datetime | None = None,
    on_progress: ProgressCallback | None = None,
    before_publish: Callable[[Path, Manifest], None] | None = None,
    approval_key: str = "",
    recover: bool = True,
) -> PackageResult:
    """Build, sign and publish the package for `data` into the workspace outbox.

    Args:
        workspace: gives the outbox, the issuer and the station name.
        store: records the package (sequence, state) and the approval in the audit log.
        data: the bulletin, its items and its spoken programme.
        key: the approver's signing key.
        actor: who approves (default: the OS user and the key name).
        now: the creation time (tests).
        on_progress: (fraction, what) callback.
        before_publish: (final path, manifest), called just before the package becomes visible.
        approval_key: what this approval was for (approval_key()), kept on the package row.
        recover: first settle what killed builds left behind (recover_packages).

    Returns:
        The published package.

    Raises:
        PackageError: routine key for khẩn cấp, an expired source item, or a build failure.
        InputError: an unknown target area code.
        AudioError / VideoError: a rendition cannot be made.
    """
    bulletin = data.bulletin
    check_signing_key(bulletin.priority, key)
    unknown = [p for p in data.profiles if p not in FILE_NAMES]
    if unknown or not data.profiles:
        raise PackageError(
            f"profiles {', '.join(unknown) or '(none)'}: a package carries some of {', '.join(ALL_PROFILES)}"
        )
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    valid_until = created + data.valid_for
    for item in data.items:
        if item.valid_until is not None and item.valid_until.astimezone(UTC) < valid_until:
            valid_until = item.valid_until.astimezone(UTC).replace(microsecond=0)
    if valid_until <= created:
        raise PackageError(
            f"bulletin {bulletin.title!r}: a source item expired at {format_time(valid_until)}; "
            "an expired item must not be broadcast"
        )
    area_codes = tuple(dict.fromkeys([*data.areas, *(a for item in data.items for a in item.areas)]))
    areas = resolve_areas(area_codes)
    issuer = workspace.settings.issuer
    actor = actor or f"{getpass.getuser()} (key {key.name})"
    package_id = f"{issuer}-{created:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    if recover:
        recover_packages(workspace, store, extra_keys=(key.public_key,))
    with build_lock(workspace.outbox, package_id) as lock:
        # Held from before the row exists until it is settled: a row in 'building' whose lock is free
        # belongs to a dead process (recover_packages).
        sequence = store.reserve_package(
            package_id,
            issuer=issuer,
            bulletin_id=data.bulletin_id,
            priority=bulletin.priority,
            path=(workspace.outbox / package_id).absolute(),
            actor=actor,
            approval_key=approval_key,
        )
        return _build_and_record(workspace, store, data, key, package_id, sequence, created, valid_until, areas,
                                 actor, on_progress, before_publish, lock)


def _build_and_record(workspace: Workspace, store: Store, data: PackageInput, key: SecretKey, package_id: str,
                      sequence: int, created: datetime, valid_until: datetime, areas: tuple[AreaEntry, ...],
                      actor: str, on_progress: ProgressCallback | None,
                      before_publish: Callable[[Path, Manifest], None] | None, lock: BuildLock) -> PackageResult:
    bulletin = data.bulletin
    issuer = workspace.settings.issuer
    programme = data.programme
    manifest_holder: list[Manifest] = []
    written: list[produce.Rendition] = []

    def progress(fraction: float, what: str) -> None:
        if on_progress is not None:
            on_progress(fraction, what)

    def fill(folder: Path) -> Manifest:
        renditions: list[RenditionEntry] = []
        cue_count = len(programme.cues)
        atomic_write_text(folder / VTT_FILE, webvtt_text(programme.cues))
        atomic_write_text(folder / SRT_FILE, srt_text(programme.cues))
        atomic_write_text(folder / TEXT_FILE, bulletin.script + "\n")
        for n, profile_id in enumerate(data.profiles):
            progress(n / len(data.profiles), f"dựng {profile_id}")
            profile = get_profile(profile_id)
            name = FILE_NAMES[profile_id]
            if profile.container == "mp4":
                from studio.package.video import render_video  # deferred: only the video profile needs ffmpeg

                # render_video normalizes (and re-measures after AAC) itself; only filters need prepare().
                x, rate = programme.samples, programme.sample_rate
                if profile.highpass_hz > 0 or profile.compress:
                    x, rate, _ = prepare(x, rate, profile)
                video = render_video(
                    x,
                    rate,
                    profile,
                    folder / name,
                    title=bulletin.title,
                    station=workspace.settings.station_name,
                    priority=bulletin.priority.value,
                    captions_srt=srt_text(programme.cues),
                )
                written.append(produce.Rendition(profile=profile, path=Path(name), report=video.loudness))
                renditions.append(
                    _rendition_entry(
                        profile_id,
                        name,
                        video.loudness,
                        profile,
                        captions=SRT_FILE,
                        video={
                            "width": video.width,
                            "height": video.height,
                            "frame_rate": video.frame_rate,
                            "video_codec": video.video_codec,
                            "audio_codec": video.audio_codec,
                        },
                    )
                )
            else:
                r = produce.render_rendition(programme, profile, folder / name, title=bulletin.title)
                written.append(produce.Rendition(profile=profile, path=Path(name), report=r.report))
                renditions.append(
                    _rendition_entry(
                        profile_id,
                        name,
                        r.report,
                        profile,
                        captions=VTT_FILE if profile_id == "web" else None,
                    )
                )
        progress(1.0, "đóng gói")
        draft = Manifest(
            package_id=package_id,
            issuer=issuer,
            sequence=sequence,
            created=format_time(created),
            valid_until=format_time(valid_until),
            priority=bulletin.priority.value,
            title=bulletin.title,
            summary="; ".join(item.title for item in data.items),
            text=bulletin.script,
            text_file=TEXT_FILE,
            files=tuple(FileEntry.of(folder, p) for p in sorted(folder.iterdir()) if p.is_file()),
            renditions=tuple(renditions),
            captions=(CaptionEntry(VTT_FILE, "webvtt", cue_count), CaptionEntry(SRT_FILE, "srt", cue_count)),
            source_items=tuple(SourceRef(source=i.source, id=i.source_id, title=i.title) for i in data.items),
            voices=(
                VoiceEntry(voice=programme.voice_id, engine=data.voice_engine, fallbacks=programme.fallbacks),
            ),
            signer=SignerEntry(key_id=key.key_id_hex, key_name=key.name, role=key.role),
            areas=areas,
            spec_version=SPEC_VERSION,
        )
        atomic_write_bytes(
            folder / NINJS_NAME, ninjs_bytes(build_ninjs(draft, by=workspace.settings.station_name))
        )
        files = tuple(FileEntry.of(folder, p) for p in sorted(folder.iterdir()) if p.is_file())
        manifest = replace(draft, files=files)
        manifest_holder.append(manifest)
        return manifest

    def sign(manifest_bytes: bytes) -> bytes:
        (manifest,) = manifest_holder
        return key.sign(
            manifest_bytes,
            trusted_comment=trusted_comment(manifest, hashlib.sha256(manifest_bytes).hexdigest(), key),
        )

    try:
        path = build_package(workspace.outbox, package_id, fill, sign, before_publish, lock=lock)
    except BaseException as exc:
        store.set_package_state(package_id, "failed", actor=actor, detail={"error": str(exc)[:500]},
                                note=f"build failed: {str(exc)[:300] or type(exc).__name__}")
        raise
    manifest = manifest_holder[0]
    digest = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    detail = {
        "package_id": package_id,
        "sequence": sequence,
        "manifest_sha256": digest,
        "key": key.name,
        "key_id": key.key_id_hex,
        "role": key.role,
        "priority": bulletin.priority.value,
    }
    store.set_package_state(package_id, "approved", actor=actor, action="package.build", detail=detail)
    subject = f"bulletin:{data.bulletin_id}" if data.bulletin_id is not None else f"package:{package_id}"
    store.audit(actor, "bulletin.approve", subject, detail)
    return PackageResult(
        path=path,
        manifest=manifest,
        manifest_sha256=digest,
        renditions=tuple(
            produce.Rendition(profile=r.profile, path=path / r.path, report=r.report) for r in written
        ),
    )


@dataclass(frozen=True, slots=True)
class Recovery:
    """What recover_packages settled (package ids)."""

    approved: tuple[str, ...] = ()
    """Rows left in 'building' whose package had been published (and verifies): now 'approved'."""
    failed: tuple[str, ...] = ()
    """Rows left in 'building' whose build died before publishing: now 'failed', with a note."""
    swept: tuple[str, ...] = ()
    """Dead staging folders (and lock files) removed."""
    busy: tuple[str, ...] = ()
    """Rows still being built by a live process: left alone."""
    errors: tuple[str, ...] = field(default_factory=tuple)
    """What could not be settled (and why); tried again next time."""


def _row_path(row: StoredPackage, workspace: Workspace) -> Path:
    path = Path(row.path)
    if path.is_absolute() or path.parent.is_dir():
        return path
    return workspace.outbox / row.package_id  # a relative path from an older row, read from elsewhere


def _settle(final: Path, row: StoredPackage, trusted: Sequence[PublicKey]) -> tuple[str, str]:
    """The state and note of a dead build's row, from what it left in the outbox."""
    if not final.is_dir() or final.is_symlink():
        return "failed", (f"build interrupted before publishing (the process died); its staging folder was "
                          f"removed; sequence {row.sequence} stays used and is never given again")
    if not trusted:
        return "failed", "published folder found but no public key in the workspace to verify it; left in place"
    try:
        # Checked as of the build (the row's time), so a package that expired since still counts as made.
        verified = verify_package(final, trusted, now=datetime.fromisoformat(row.created_at))
    except VerificationError as exc:
        return "failed", f"published folder does not verify ({exc.reason}); left in place for inspection"
    m = verified.manifest
    if m.package_id != row.package_id or m.sequence != row.sequence or m.issuer != row.issuer:
        return "failed", (f"published folder holds {m.issuer}#{m.sequence} {m.package_id}, not this row's "
                          f"{row.issuer}#{row.sequence}; left in place for inspection")
    return "approved", "published before the process died; state set by recovery"


def recover_packages(workspace: Workspace, store: Store, *, extra_keys: Sequence[PublicKey] = (),
                     actor: str = "recovery") -> Recovery:
    """Settle what killed builds left: 'building' rows of dead processes and their staging folders.

    A build holds its lock (studio.package.build) from before its row is reserved until the row is
    settled, so a 'building' row whose lock this process can take belongs to a dead process. With the
    lock held: its package folder present and verifying (against the workspace's public keys and
    `extra_keys`) → 'approved'; absent → 'failed' with a note, and its staging folder is removed. The
    row is kept either way, so its sequence number is never reserved again. Then every outbox seen is
    swept of dead staging folders. Builds running in other processes are never touched.
    """
    trusted = [*extra_keys, *load_public_keys(workspace.keys_dir, skip_bad=True)]
    outboxes = {workspace.outbox}
    approved: list[str] = []
    failed: list[str] = []
    busy: list[str] = []
    errors: list[str] = []
    for row in store.packages(state="building"):
        final = _row_path(row, workspace)
        outbox = final.parent
        try:
            if outbox.is_dir():
                outboxes.add(outbox)
                lock = try_lock(outbox, row.package_id)
                if lock is None:
                    busy.append(row.package_id)
                    continue
            else:
                lock = None  # no folder, no build: nothing can be running there
            try:
                state, note = _settle(final, row, trusted)
                if state == "failed" and outbox.is_dir():
                    staging = staging_path(outbox, row.package_id)
                    if staging.is_dir() and not staging.is_symlink():
                        shutil.rmtree(staging)
                if not outbox.is_dir():
                    note = f"outbox folder {outbox} is gone; " + note
                if store.set_package_state(row.package_id, state, actor=actor, action="package.recovered",
                                           note=note, detail={"sequence": row.sequence, "path": str(final)},
                                           only_from="building"):
                    (approved if state == "approved" else failed).append(row.package_id)
            finally:
                if lock is not None:
                    lock.release()
        except OSError as exc:
            errors.append(f"{final}: {exc}")
    swept: list[str] = []
    for outbox in sorted(outboxes):
        try:
            swept.extend(sweep_staging(outbox))
        except OSError as exc:
            errors.append(f"{outbox}: {exc}")
    return Recovery(tuple(approved), tuple(failed), tuple(swept), tuple(busy), tuple(errors))


def approval_key(bulletin: Bulletin, items: Sequence[SourceItem], *, voice: str, profiles: Sequence[str],
                 areas: Sequence[str], valid_for: timedelta, key: SecretKey, lexicon: bytes = b"") -> str:
    """What an approval is for: the bulletin's content, its items, the voice (`voice`: its whole profile,
    every sound parameter), profiles, areas, validity, signing key and the workspace lexicon's bytes (its
    readings). Two approvals with the same key make the same package (but for its time): a reading fixed
    in the lexicon or a voice retuned makes a new one."""
    canonical = {
        "lexicon": hashlib.sha256(lexicon).hexdigest(),
        "title": bulletin.title, "template": bulletin.template, "priority": bulletin.priority.value,
        "segments": [[sg.kind, sg.text, sg.duration_s, sg.item_id] for sg in bulletin.segments],
        "item_ids": list(bulletin.item_ids), "music_bed": bulletin.music_bed,
        "items": [item.content_hash for item in items], "voice": voice, "profiles": list(profiles),
        "areas": list(areas), "valid_for_s": valid_for.total_seconds(), "key_id": key.key_id_hex,
    }
    return hashlib.sha256(json.dumps(canonical, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def published_approval(store: Store, bulletin_id: int, key_hex: str, key: SecretKey) -> PackageResult | None:
    """The package an earlier approval with the same approval key published, if it still verifies
    (signature, every file, not expired); None otherwise. Its renditions carry the manifest's measured
    values (the sample peak is not in the manifest: the true peak, its upper bound, stands in)."""
    for row in store.packages(bulletin_id=bulletin_id):
        if row.approval_key != key_hex or row.state not in ("approved", "dispatched"):
            continue
        folder = Path(row.path)
        try:
            verified = verify_package(folder, [key.public_key])
        except VerificationError:
            continue
        m = verified.manifest
        renditions = tuple(
            produce.Rendition(
                profile=get_profile(r.profile),
                path=folder / r.file,
                report=LoudnessReport(
                    integrated_lufs=r.integrated_lufs, loudness_range_lu=r.loudness_range_lu,
                    true_peak_dbtp=r.true_peak_dbtp, sample_peak_dbfs=r.true_peak_dbtp, max_momentary_lufs=None,
                    max_short_term_lufs=None, duration_s=r.duration_s, sample_rate=r.sample_rate,
                    channels=r.channels,
                ),
            )
            for r in m.renditions
        )
        return PackageResult(path=folder, manifest=m, manifest_sha256=verified.manifest_sha256,
                             renditions=renditions, earlier=True)
    return None


def approve_bulletin(
    workspace: Workspace,
    store: Store,
    bulletin_id: int,
    key: SecretKey,
    *,
    registry: VoiceRegistry | None = None,
    voice_id: str | None = None,
    profiles: tuple[str, ...] | None = None,
    areas: tuple[str, ...] = (),
    valid_for: timedelta = DEFAULT_VALIDITY,
    actor: str | None = None,
    cancel: Event | None = None,
    on_progress: ProgressCallback | None = None,
) -> PackageResult:
    """An approver signs bulletin `bulletin_id`: it is spoken as the workspace reads, then published.

    The key is checked against the bulletin's priority before any rendering (khẩn cấp needs an
    emergency key); speech comes from the cache when the bulletin was rendered before. The bulletin
    is marked 'approved'. The CLI, the desk and scheduled jobs all approve through here.

    Raises:
        StoreError: no such bulletin. PackageError: key policy, expired items, build failure.
        ConfigError: unknown voice or profile. Cancelled: `cancel` was set before publishing.
    """
    stored = store.get_bulletin(bulletin_id)
    check_signing_key(stored.bulletin.priority, key)
    registry = registry or VoiceRegistry(workspace.voices_dir)
    voice = registry.get(voice_id or workspace.settings.default_voice)
    items = tuple(store.get_item(i).item for i in stored.bulletin.item_ids)
    profiles = profiles or default_profiles()
    lexicon = workspace.lexicon_path.read_bytes() if workspace.lexicon_path.is_file() else b""
    key_hex = approval_key(stored.bulletin, items, voice=repr(voice), profiles=profiles, areas=areas,
                           valid_for=valid_for, key=key, lexicon=lexicon)
    recover_packages(workspace, store, extra_keys=(key.public_key,))
    done = published_approval(store, bulletin_id, key_hex, key)
    if done is not None:  # approved before (perhaps by a run killed after publishing): finish, never sign twice
        if stored.state != "approved":
            store.save_bulletin(stored.bulletin, bulletin_id=bulletin_id, state="approved", actor=actor or "studio")
            store.audit(actor or f"{getpass.getuser()} (key {key.name})", "bulletin.approve",
                        f"bulletin:{bulletin_id}",
                        {"package_id": done.manifest.package_id, "sequence": done.manifest.sequence,
                         "manifest_sha256": done.manifest_sha256, "key": key.name, "resumed": True})
        return done

    def part(lo: float, hi: float) -> ProgressCallback | None:
        return None if on_progress is None else (lambda f, what: on_progress(lo + (hi - lo) * f, what))

    programme = produce.render_workspace_programme(workspace, stored.bulletin, registry, voice.id, cancel=cancel,
                                                   on_progress=part(0.0, 0.3))
    if cancel is not None and cancel.is_set():
        raise Cancelled("duyệt đã bị huỷ")
    result = publish_package(
        workspace,
        store,
        PackageInput(bulletin=stored.bulletin, bulletin_id=bulletin_id, items=items, programme=programme,
                     voice_engine=voice.engine, profiles=profiles, areas=areas, valid_for=valid_for),
        key,
        actor=actor,
        on_progress=part(0.3, 1.0),
        approval_key=key_hex,
        recover=False,
    )
    store.save_bulletin(stored.bulletin, bulletin_id=bulletin_id, state="approved", actor=actor or "studio")
    return result
