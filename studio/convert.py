"""`studio convert`: one notice in, one signed package (or normalized audio + captions) out.

Owns: reading a notice through the ingest parsers, turning it into a one-notice bulletin, running the
real pipeline (studio.produce) for one destination profile, and the idempotency ledger: a conversion is
keyed by the input's bytes, the voice's sound parameters and the destination profile, so a re-run skips
what is unchanged without loading any engine (100 unchanged inputs well under a second). Used by the CLI
and by queue workers (studio.jobs), which run the same `Converter.convert`. Must not import the TUI.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from threading import Event
from typing import TYPE_CHECKING, Any

from studio.config import Workspace
from studio.errors import Cancelled, ConfigError, InputError, StudioError
from studio.jobs.records import JobStore
from studio.models import Bulletin, DestinationProfile, Segment, SourceItem, VoiceProfile

if TYPE_CHECKING:
    from studio.package.signing import SecretKey
    from studio.produce import Programme
    from studio.tts.registry import VoiceRegistry

CONVERT_FORMAT = 1
"""Part of every conversion key: bump it when the same inputs should now give different outputs."""
DOCUMENT_SUFFIXES = (".txt", ".md", ".docx", ".pdf")
ITEM_SUFFIXES = (".json",)
INPUT_SUFFIXES = DOCUMENT_SUFFIXES + ITEM_SUFFIXES
"""What `studio convert` accepts: any document or JSON items file the ingest stage reads."""
KEY_PASSPHRASE_ENV = "STUDIO_KEY_PASSPHRASE"
"""Passphrase of an encrypted signing key, for unattended runs (batch scripts, workers)."""
TITLE_GAP_S = 0.6
"""Silence between a notice's title and its body."""

CONVERTED, SKIPPED, FAILED = "converted", "skipped", "failed"
ProgressCallback = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """What every input of one batch is converted with."""

    out_dir: Path
    voice_id: str
    profile_id: str
    audio_only: bool = False
    """Write `<name>.<ext>` + `.vtt` + `.srt` instead of a signed package."""
    key_name: str = ""
    """Signing key (workspace keys/); '' means the issuer's name from settings."""
    template: str = ""
    """A bulletin template to read the notice with; '' reads title then body."""

    def to_params(self) -> dict[str, Any]:
        """JSON-ready form for a queued job."""
        return {
            "out_dir": str(self.out_dir),
            "voice_id": self.voice_id,
            "profile_id": self.profile_id,
            "audio_only": self.audio_only,
            "key_name": self.key_name,
            "template": self.template,
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ConvertOptions:
        return cls(
            out_dir=Path(params["out_dir"]),
            voice_id=str(params["voice_id"]),
            profile_id=str(params["profile_id"]),
            audio_only=bool(params.get("audio_only", False)),
            key_name=str(params.get("key_name", "")),
            template=str(params.get("template", "")),
        )


@dataclass(frozen=True, slots=True)
class ConvertResult:
    """What happened to one input. `to_dict` is the `--json` line (an API for batch scripts)."""

    input: str
    status: str
    """'converted', 'skipped' (unchanged since a previous run) or 'failed'."""
    output: str | None = None
    """The package folder, or the audio file with --audio-only."""
    duration_s: float | None = None
    """Length of the finished audio."""
    wall_s: float = 0.0
    """Time this run spent on the input."""
    loudness: dict[str, float | None] | None = None
    """Measured on the written file: integrated_lufs, true_peak_dbtp, loudness_range_lu."""
    error: str = ""
    content_key: str = ""
    files: tuple[str, ...] = field(default=())
    """Every file written (audio, captions, package files)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "status": self.status,
            "output": self.output,
            "duration": None if self.duration_s is None else round(self.duration_s, 3),
            "wall_s": round(self.wall_s, 3),
            "loudness": self.loudness,
            "error": self.error or None,
        }

    def ledger(self) -> dict[str, Any]:
        """What the ledger keeps, so a skip can report the earlier output and loudness."""
        return {
            "output": self.output,
            "duration_s": self.duration_s,
            "loudness": self.loudness,
            "files": list(self.files),
        }


def read_notice(path: Path) -> list[SourceItem]:
    """The items in one input file, through the ingest parser for its kind.

    Raises:
        InputError: unsupported kind, unreadable or corrupt file, or an entry that is not a valid item
            (the message names the file and why).
    """
    suffix = path.suffix.lower()
    if suffix in ITEM_SUFFIXES:
        from studio.ingest.items import parse_file
    elif suffix in DOCUMENT_SUFFIXES:
        from studio.ingest.documents import parse_file  # type: ignore[no-redef]
    else:
        raise InputError(
            f"{path}: cannot convert {suffix or 'a file without extension'}; "
            f"accepted: {', '.join(INPUT_SUFFIXES)}"
        )
    entries = parse_file(path)
    errors = [f"{e.location}: {e.error}" for e in entries if e.item is None]
    if errors:
        raise InputError("; ".join(errors))
    items = [e.item for e in entries if e.item is not None]
    if not items:
        raise InputError(f"{path}: no notice in this file")
    return items


def notice_bulletin(items: Sequence[SourceItem], *, template_id: str = "", workspace: Workspace) -> Bulletin:
    """A bulletin that reads `items`: title, a short pause, body (or through a template)."""
    if template_id:
        from studio.compose import compose, load_template

        return compose(
            load_template(template_id),
            list(enumerate(items, start=1)),
            workspace.settings,
            title=items[0].title,
        )
    segments: list[Segment] = []
    for n, item in enumerate(items):
        if n:
            segments.append(Segment("gap", duration_s=1.0))
        segments += [
            Segment("speech", item.title.rstrip(". ") + "."),
            Segment("gap", duration_s=TITLE_GAP_S),
            Segment("speech", item.body),
        ]
    priority = min((i.priority for i in items), key=lambda p: p.rank)
    return Bulletin(title=items[0].title, template="", segments=tuple(segments), priority=priority)


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


class Converter:
    """Converts inputs for one batch: the voice, profile and signing key are resolved once.

    Args:
        workspace: where the speech cache, keys, store and settings are.
        options: what to convert with.
        registry: a voice registry to use (tests add the fake voice to one); default: the workspace's.

    Raises:
        ConfigError: unknown voice, profile, template or signing key (before any input is touched).
    """

    def __init__(
        self, workspace: Workspace, options: ConvertOptions, *, registry: VoiceRegistry | None = None
    ) -> None:
        from studio.audio.profiles import get_profile
        from studio.tts.registry import VoiceRegistry

        self.workspace = workspace
        self.options = options
        self.out_dir = options.out_dir.expanduser().resolve()
        self.registry = registry or VoiceRegistry(workspace.voices_dir)
        self.voice: VoiceProfile = self.registry.get(options.voice_id)
        self.profile: DestinationProfile = get_profile(options.profile_id, workspace.home / "profiles")
        if options.audio_only and self.profile.container == "mp4":
            raise ConfigError(
                f"--profile {self.profile.id}: a video rendition only goes in a package; "
                "--audio-only makes audio (use loa, phat-song or web)"
            )
        self.key_name = options.key_name or workspace.settings.issuer
        if not options.audio_only:
            from studio.package.assemble import FILE_NAMES
            from studio.package.signing import key_paths

            if self.profile.id not in FILE_NAMES:
                raise ConfigError(
                    f"--profile {self.profile.id}: a package carries one of "
                    f"{', '.join(FILE_NAMES)}; use --audio-only for other profiles"
                )

            if not key_paths(workspace.keys_dir, self.key_name).secret.is_file():
                raise ConfigError(
                    f"{workspace.keys_dir}: no signing key {self.key_name!r} for the packages; "
                    f"create it with `studio keys new {self.key_name}` or pass --key NAME, "
                    "or use --audio-only",
                    title="Thiếu khoá ký",
                )
        template_blob = b""
        if options.template:
            from studio.compose import load_template

            template_blob = load_template(options.template).path.read_bytes()
        self._salt = hashlib.sha256(
            _canonical(
                {
                    "format": CONVERT_FORMAT,
                    "voice": asdict(self.voice),
                    "profile": asdict(self.profile),
                    "audio_only": options.audio_only,
                    "key": "" if options.audio_only else self.key_name,
                }
            )
            + template_blob
            # a reading fixed in the workspace lexicon changes the audio: convert again
            + (workspace.lexicon_path.read_bytes() if workspace.lexicon_path.is_file() else b"")
        ).digest()
        self._jobs: JobStore | None = None
        self._key: SecretKey | None = None

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self._jobs = JobStore(self.workspace.db_path)
        return self._jobs

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None

    def key(self, path: Path) -> str:
        """The conversion key of `path`: its bytes + voice + profile + mode + template + workspace lexicon.

        Raises:
            InputError: the file cannot be read.
        """
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
        return hashlib.sha256(self._salt + hashlib.sha256(data).digest()).hexdigest()

    def done_before(
        self, path: Path, key: str, ledger: dict[str, dict[str, Any]] | None = None
    ) -> ConvertResult | None:
        """A 'skipped' result when `key` was converted into this out dir and its output is still there."""
        record = ledger.get(key) if ledger is not None else self.jobs.conversion(key, self.out_dir)
        if record is None or not record.get("output") or not Path(record["output"]).exists():
            return None
        return ConvertResult(
            input=str(path),
            status=SKIPPED,
            output=record["output"],
            duration_s=record.get("duration_s"),
            loudness=record.get("loudness"),
            content_key=key,
            files=tuple(record.get("files", ())),
        )

    def convert(
        self,
        path: Path,
        *,
        output_name: str | None = None,
        force: bool = False,
        cancel: Event | None = None,
        on_progress: ProgressCallback | None = None,
        lease: tuple[int, str] | None = None,
    ) -> ConvertResult:
        """Convert one input, or skip it when unchanged. Never raises a StudioError: failures are results.

        Args:
            lease: (job id, lease) of the queued job doing this: its package is published only while the
                job is still this worker's (see JobStore.record_conversion).

        Raises:
            Cancelled: `cancel` was set (the caller decides what a cancelled input means); LeaseLost (a
                Cancelled) when the job was taken over by another worker before publishing.
        """
        start = time.perf_counter()
        key = ""
        try:
            key = self.key(path)
            if not force:
                skipped = self.done_before(path, key)
                if skipped is not None:
                    return skipped
            result = self._convert(
                path, key, output_name or path.stem, cancel=cancel, on_progress=on_progress, lease=lease
            )
        except Cancelled:
            raise
        except StudioError as exc:
            return ConvertResult(
                input=str(path),
                status=FAILED,
                error=exc.message,
                content_key=key,
                wall_s=time.perf_counter() - start,
            )
        result = _with_wall(result, time.perf_counter() - start)
        if self.options.audio_only:  # a package recorded itself just before it became visible (_package)
            self.jobs.record_conversion(key, self.out_dir, str(path), result.output or "", result.ledger())
        return result

    def _convert(
        self,
        path: Path,
        key: str,
        name: str,
        *,
        cancel: Event | None,
        on_progress: ProgressCallback | None,
        lease: tuple[int, str] | None = None,
    ) -> ConvertResult:
        from studio import produce

        items = read_notice(path)
        bulletin = notice_bulletin(items, template_id=self.options.template, workspace=self.workspace)

        def speech_progress(fraction: float, what: str) -> None:
            if on_progress is not None:
                on_progress(0.8 * fraction, what)

        programme = produce.render_workspace_programme(
            self.workspace, bulletin, self.registry, self.voice.id, cancel=cancel, on_progress=speech_progress
        )
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{path}: chuyển đổi đã bị huỷ")
        if on_progress is not None:
            on_progress(0.8, f"xử lý âm thanh ({self.profile.id})")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.options.audio_only:
            result = self._audio_only(path, key, name, bulletin, programme)
        else:
            result = self._package(path, key, bulletin, items, programme, lease=lease)
        if on_progress is not None:
            on_progress(1.0, "xong")
        return result

    def _audio_only(
        self, path: Path, key: str, name: str, bulletin: Bulletin, programme: Programme
    ) -> ConvertResult:
        from studio import produce
        from studio.package.captions import write_captions

        audio = self.out_dir / f"{name}.{self.profile.container}"
        rendition = produce.render_rendition(programme, self.profile, audio, title=bulletin.title)
        vtt, srt = write_captions(programme.cues, audio)  # name.vtt, name.srt beside name.mp3
        report = rendition.report
        return ConvertResult(
            input=str(path),
            status=CONVERTED,
            output=str(audio),
            duration_s=report.duration_s,
            loudness=_loudness(report),
            content_key=key,
            files=(str(audio), str(vtt), str(srt)),
        )

    def _package(
        self,
        path: Path,
        key: str,
        bulletin: Bulletin,
        items: Sequence[SourceItem],
        programme: Programme,
        *,
        lease: tuple[int, str] | None = None,
    ) -> ConvertResult:
        from studio.package.assemble import PackageInput, publish_package
        from studio.package.manifest import Manifest
        from studio.package.signing import load_key
        from studio.store import Store

        if self._key is None:
            self._key = load_key(
                self.workspace.keys_dir, self.key_name, os.environ.get(KEY_PASSPHRASE_ENV) or None
            )
        data = PackageInput(
            bulletin=bulletin,
            bulletin_id=None,
            items=tuple(items),
            programme=programme,
            voice_engine=self.voice.engine,
            profiles=(self.profile.id,),
        )
        def result(final: Path, manifest: Manifest) -> ConvertResult:
            (rendition,) = manifest.renditions
            return ConvertResult(
                input=str(path),
                status=CONVERTED,
                output=str(final),
                duration_s=rendition.duration_s,
                content_key=key,
                files=tuple(str(final / f.path) for f in manifest.files),
                loudness={
                    "integrated_lufs": rendition.integrated_lufs,
                    "true_peak_dbtp": rendition.true_peak_dbtp,
                    "loudness_range_lu": rendition.loudness_range_lu,
                },
            )

        def record(final: Path, manifest: Manifest) -> None:
            # Recorded before the package becomes visible: killed after the rename, the next run skips
            # this input instead of publishing a second package for it (killed before, the output does
            # not exist and the input is converted again).
            # A queued job's lease is checked in the same transaction: a worker that was frozen past
            # stale_after_s while another did its job publishes nothing (LeaseLost removes the staging).
            self.jobs.record_conversion(
                key, self.out_dir, str(path), str(final), result(final, manifest).ledger(), lease=lease
            )

        with Store(self.workspace.db_path) as store:
            published = publish_package(
                _OutboxWorkspace(self.workspace.home, self.workspace.settings, self.out_dir),
                store,
                data,
                self._key,
                actor=f"convert (key {self.key_name})",
                before_publish=record,
            )
        return result(published.path, published.manifest)


@dataclass(frozen=True, slots=True)
class _OutboxWorkspace(Workspace):
    """The workspace, publishing into `--out DIR` instead of its own outbox (publish_package writes
    to `workspace.outbox`)."""

    out: Path = Path()

    @property
    def outbox(self) -> Path:
        return self.out


def _with_wall(result: ConvertResult, wall_s: float) -> ConvertResult:
    from dataclasses import replace

    return replace(result, wall_s=wall_s)


def _loudness(report: Any) -> dict[str, float | None]:
    return {
        "integrated_lufs": round(report.integrated_lufs, 2),
        "true_peak_dbtp": round(report.true_peak_dbtp, 2),
        "loudness_range_lu": None if report.loudness_range_lu is None else round(report.loudness_range_lu, 2),
    }


def output_names(inputs: Sequence[Path]) -> dict[Path, str]:
    """A distinct output name per input: its stem; `stem-ext` where stems clash; `stem-ext-<hash of the
    path>` where those clash too (same name in two folders)."""

    def clashing(names: dict[Path, str]) -> set[str]:
        seen: dict[str, int] = {}
        for name in names.values():
            seen[name] = seen.get(name, 0) + 1
        return {n for n, count in seen.items() if count > 1}

    names = {p: p.stem for p in inputs}
    for widen in (
        lambda p: f"{p.stem}-{p.suffix.lstrip('.').lower()}",
        lambda p: (
            f"{p.stem}-{p.suffix.lstrip('.').lower()}-"
            f"{hashlib.sha256(str(p.resolve()).encode()).hexdigest()[:8]}"
        ),
    ):
        clash = clashing(names)
        names = {p: widen(p) if n in clash else n for p, n in names.items()}
    return names


def expand_inputs(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a folder stands for the convertible files directly inside it (sorted).

    Raises:
        InputError: a path does not exist.
    """
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found += sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in INPUT_SUFFIXES)
        elif p.exists():
            found.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    unique: dict[Path, Path] = {}
    for p in found:
        unique.setdefault(p.resolve(), p)
    return list(unique.values())


# -- batches ---------------------------------------------------------------------------------------------

ResultCallback = Callable[[ConvertResult], None]
_worker_converter: Converter | None = None


def _init_worker(home: str, options: dict[str, Any]) -> None:
    global _worker_converter
    from studio.config import open_workspace

    _worker_converter = Converter(open_workspace(home), ConvertOptions.from_params(options))


def _convert_in_worker(path: str, name: str) -> ConvertResult:
    assert _worker_converter is not None, "worker not initialized"
    return _worker_converter.convert(Path(path), output_name=name, force=True)


def convert_batch(
    workspace: Workspace,
    inputs: Sequence[Path],
    options: ConvertOptions,
    *,
    workers: int = 1,
    registry: VoiceRegistry | None = None,
    on_result: ResultCallback | None = None,
    cancel: Event | None = None,
) -> list[ConvertResult]:
    """Convert `inputs` (skipping unchanged ones) with `workers` processes; results in input order.

    Unchanged inputs are found first, in this process, with one ledger query and no engine loaded.

    Args:
        workspace: the workspace (speech cache, keys, store).
        inputs: files to convert.
        options: voice, profile, out dir, mode.
        workers: processes converting in parallel (1: in this process).
        registry: voice registry for the in-process path (tests); workers build their own.
        on_result: called with each result as it is known (skips first).
        cancel: stop starting new inputs once set.

    Raises:
        ConfigError: unknown voice, profile or key (nothing was converted).
    """
    if workers < 1:
        raise InputError(f"--workers {workers}: must be at least 1")
    converter = Converter(workspace, options, registry=registry)
    try:
        ledger = converter.jobs.conversions(converter.out_dir)
        names = output_names(inputs)
        results: dict[int, ConvertResult] = {}
        todo: list[int] = []
        for i, path in enumerate(inputs):
            try:
                key = converter.key(path)
            except InputError as exc:
                results[i] = ConvertResult(input=str(path), status=FAILED, error=exc.message)
            else:
                skipped = converter.done_before(path, key, ledger)
                if skipped is None:
                    todo.append(i)
                    continue
                results[i] = skipped
            if on_result is not None:
                on_result(results[i])
        if workers == 1 or len(todo) <= 1:
            for i in todo:
                if cancel is not None and cancel.is_set():
                    break
                results[i] = converter.convert(inputs[i], output_name=names[inputs[i]], force=True)
                if on_result is not None:
                    on_result(results[i])
        else:
            _run_pool(
                workspace, inputs, options, todo, names, min(workers, len(todo)), results, on_result, cancel
            )
    finally:
        converter.close()
    return [results[i] for i in sorted(results)]


def _run_pool(
    workspace: Workspace,
    inputs: Sequence[Path],
    options: ConvertOptions,
    todo: list[int],
    names: dict[Path, str],
    workers: int,
    results: dict[int, ConvertResult],
    on_result: ResultCallback | None,
    cancel: Event | None,
) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    # spawn, not fork: the parent may hold threads (rich's refresher) and open SQLite handles.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(str(workspace.home), options.to_params()),
    ) as pool:
        pending: dict[Future[ConvertResult], int] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < workers * 2 and not (cancel is not None and cancel.is_set()):
                i = queue.pop(0)
                pending[pool.submit(_convert_in_worker, str(inputs[i]), names[inputs[i]])] = i
            if not pending:
                break
            done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    results[i] = fut.result()
                except Cancelled as exc:
                    results[i] = ConvertResult(input=str(inputs[i]), status=FAILED, error=exc.message)
                if on_result is not None:
                    on_result(results[i])
