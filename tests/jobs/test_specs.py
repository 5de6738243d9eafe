"""Job specs (jobs/*.toml): validation naming file and field, and the tick that turns them into jobs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from studio.config import Workspace, shipped_dir
from studio.errors import ConfigError
from studio.jobs.queue import JobQueue, queue_config
from studio.jobs.specs import HotFolderSpec, ScheduledBulletinSpec, load_spec, load_specs
from studio.jobs.tasks import execute_job, tick
from studio.models import SourceItem
from studio.store import Store
from tests.jobs.conftest import write_txt

HOT = """id = "thu-muc"
kind = "hot-folder"
[watch]
folder = "{folder}"
settle_s = 0
[convert]
voice = "fake"
profile = "nhanh"
audio_only = true
[dispatch]
out = "{out}"
"""
SCHEDULED = """id = "ban-tin-sang"
kind = "scheduled-bulletin"
[schedule]
times = ["06:00", "17:30"]
days = ["mon", "tue", "wed", "thu", "fri"]
grace_min = 20
[bulletin]
template = "ban-tin"
voice = "fake"
profiles = ["loa"]
max_items = 2
[dispatch]
out = "{out}"
"""


def test_shipped_examples_load(jobs_workspace: Workspace) -> None:
    specs = load_specs(jobs_workspace, [shipped_dir("jobs")])
    kinds = sorted(type(s).__name__ for s in specs.values())
    assert kinds == ["HotFolderSpec", "ScheduledBulletinSpec"]
    hot = next(s for s in specs.values() if isinstance(s, HotFolderSpec))
    assert hot.folder == jobs_workspace.home / "inbox" / "thong-bao"
    assert hot.dispatch.out == jobs_workspace.home / "outbox" and hot.profile == "loa"


def test_workspace_spec_overrides_shipped_one_with_the_same_id(jobs_workspace: Workspace) -> None:
    folder = jobs_workspace.home / "jobs"
    folder.mkdir()
    text = (shipped_dir("jobs") / "ban-tin-sang-chieu.toml").read_text(encoding="utf-8")
    (folder / "mine.toml").write_text(text.replace("enabled = false", "enabled = true"), encoding="utf-8")
    spec = load_specs(jobs_workspace)["ban-tin-sang-chieu"]
    assert spec.enabled and spec.path == folder / "mine.toml"


@pytest.mark.parametrize(
    ("change", "field", "what"),
    [
        (('kind = "hot-folder"', 'kind = "watch"'), "kind", "expected one of hot-folder, scheduled-bulletin"),
        (("[watch]", "colour = 3\n[watch]"), "colour", "is unknown"),
        (("settle_s = 0", 'settle_s = "5"'), "watch.settle_s", "expected a number"),
        (("settle_s = 0", "settle_s = -1"), "watch.settle_s", "expected a number in 0–3600"),
        (("settle_s = 0", "setle_s = 0"), "watch.setle_s", "is unknown"),
        (('voice = "fake"', 'voice = "khong-co"'), "convert.voice", "'khong-co'; voices here"),
        (('profile = "nhanh"', 'profile = "lao"'), "convert.profile", "names 'lao'"),
        (("audio_only = true", 'audio_only = "yes"'), "convert.audio_only", "expected true or false"),
        (("[dispatch]", '[dispatch]\nto = "ftp://x"'), "dispatch.to", "expected an http:// or https:// URL"),
        (('id = "thu-muc"', 'id = "Thư Mục"'), "id", "lower-case letters"),
    ],
)
def test_hot_folder_spec_errors_name_the_file_and_field(
    jobs_workspace: Workspace, tmp_path: Path, change: tuple[str, str], field: str, what: str
) -> None:
    path = tmp_path / "hot.toml"
    text = HOT.format(folder=tmp_path / "in", out=tmp_path / "out")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_spec(path, jobs_workspace)
    assert err.value.message.startswith(f"{path}: field '{field}'")
    assert what in err.value.message


@pytest.mark.parametrize(
    ("change", "field", "what"),
    [
        (('"17:30"', '"25:00"'), "schedule.times", 'expected 24-hour "HH:MM"'),
        (('times = ["06:00", "17:30"]', "times = []"), "schedule.times", "is empty"),
        (('times = ["06:00", "17:30"]\n', ""), "schedule.times", "is missing"),
        (('"fri"', '"fri", "t7"'), "schedule.days", "has 't7'"),
        (('profiles = ["loa"]', 'profiles = ["loa", "radio"]'), "bulletin.profiles", "names 'radio'"),
        (('template = "ban-tin"', 'template = "khong-co"'), "bulletin.template", "not found"),
        (("max_items = 2", "max_items = 0"), "bulletin.max_items", "expected a number in 1–100"),
    ],
)
def test_scheduled_spec_errors_name_the_file_and_field(
    jobs_workspace: Workspace, tmp_path: Path, change: tuple[str, str], field: str, what: str
) -> None:
    path = tmp_path / "sched.toml"
    text = SCHEDULED.format(out=tmp_path / "out")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_spec(path, jobs_workspace)
    assert err.value.message.startswith(f"{path}: field '{field}'")
    assert what in err.value.message


def test_invalid_toml_and_duplicate_ids_are_errors(jobs_workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text("id = [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a\.toml: invalid TOML"):
        load_specs(jobs_workspace, [tmp_path])
    (tmp_path / "a.toml").write_text(SCHEDULED.format(out=tmp_path), encoding="utf-8")
    (tmp_path / "b.toml").write_text(SCHEDULED.format(out=tmp_path), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"b\.toml: field 'id' is 'ban-tin-sang', already used by .*a\.toml"
    ):
        load_specs(jobs_workspace, [tmp_path])


@pytest.fixture
def queue(jobs_workspace: Workspace) -> JobQueue:
    q = JobQueue(jobs_workspace, queue_config(jobs_workspace, redis_url=""))
    yield q
    q.close()


def test_hot_folder_tick_converts_each_file_once_and_archives_it(queue: JobQueue, tmp_path: Path) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    path = tmp_path / "hot.toml"
    path.write_text(HOT.format(folder=folder, out=out), encoding="utf-8")
    spec = load_spec(path, queue.workspace)
    write_txt(folder / "a.txt", 1)
    write_txt(folder / "b.txt", 2)
    (folder / "hong.pdf").write_bytes(b"%PDF-1.4 broken")
    (folder / "ghi-chu.odt").write_bytes(b"not watched")
    ids = tick(queue, specs={spec.id: spec})
    assert len(ids) == 3
    assert tick(queue, specs={spec.id: spec}) == []  # already queued: not again
    for job_id in ids:
        execute_job(queue, job_id)
    states = sorted((Path(queue.get(i).params["input"]).name, queue.get(i).state) for i in ids)
    assert states == [("a.txt", "done"), ("b.txt", "done"), ("hong.pdf", "failed")]
    assert sorted(p.name for p in (folder / "done").iterdir()) == ["a.txt", "b.txt"]
    assert sorted(p.name for p in (folder / "failed").iterdir()) == ["hong.pdf", "hong.pdf.error.txt"]
    assert "hong.pdf" in (folder / "failed" / "hong.pdf.error.txt").read_text(encoding="utf-8")
    assert (folder / "ghi-chu.odt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["a.srt", "a.vtt", "a.wav", "b.srt", "b.vtt", "b.wav"]
    # The same notice dropped in again is recognised as done and archived without a second conversion.
    write_txt(folder / "a.txt", 1)
    assert tick(queue, specs={spec.id: spec}) == []
    assert not (folder / "a.txt").exists()
    done = sorted(p.name for p in (folder / "done").iterdir())
    assert len(done) == 3 and done[0].startswith("a") and "b.txt" in done  # kept under a new name
    assert len(queue.list()) == 3 and len(list(out.iterdir())) == 6


def test_schedule_tick_submits_each_due_time_once(queue: JobQueue, tmp_path: Path) -> None:
    path = tmp_path / "sched.toml"
    path.write_text(SCHEDULED.format(out=tmp_path / "out"), encoding="utf-8")
    spec = load_spec(path, queue.workspace)
    assert isinstance(spec, ScheduledBulletinSpec)
    monday = datetime(2026, 11, 30, 6, 5).astimezone()
    specs = {spec.id: spec}
    (job_id,) = tick(queue, now=monday, specs=specs)
    assert tick(queue, now=monday + timedelta(minutes=10), specs=specs) == []  # same 06:00, within grace
    assert tick(queue, now=monday + timedelta(minutes=30), specs=specs) == []  # past grace: nothing due
    assert tick(queue, now=monday.replace(hour=5, minute=59), specs=specs) == []
    assert len(tick(queue, now=monday.replace(hour=17, minute=30), specs=specs)) == 1
    assert tick(queue, now=monday + timedelta(days=5), specs=specs) == []  # Saturday is not in `days`
    job = queue.get(job_id)
    assert job.kind == "bulletin" and job.spec == spec.id and job.params["due"].startswith("2026-11-30T06:00")


def test_scheduled_bulletin_job_composes_the_newest_items_into_a_signed_package(
    queue: JobQueue, tmp_path: Path
) -> None:
    from studio.package.signing import PublicKey, key_paths
    from studio.package.verify import verify_package

    ws = queue.workspace
    (ws.home / "jobs").mkdir()
    (ws.home / "jobs" / "sang.toml").write_text(SCHEDULED.format(out=tmp_path / "out"), encoding="utf-8")
    with Store(ws.db_path) as store:
        ids = [
            store.add_item(
                SourceItem(
                    source="xa", source_id=str(n), title=f"Tin số {n}", body=f"Nội dung ngắn của tin số {n}."
                )
            )[0]
            for n in range(3)
        ]
    job, _ = queue.submit(
        "bulletin",
        {"due": datetime.now().astimezone().isoformat(), "spec": "ban-tin-sang"},
        content_key="test-bulletin",
        spec="ban-tin-sang",
    )
    execute_job(queue, job.id)
    done = queue.get(job.id)
    assert done.state == "done", done.error
    assert sorted(done.result["items"]) == sorted(ids[-2:])  # max_items = 2, newest first
    package = Path(done.result["package"])
    assert package.parent == tmp_path / "out"
    trusted = [PublicKey.load(key_paths(ws.keys_dir, ws.settings.issuer).public)]
    verify_package(package, trusted)
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert [r["profile"] for r in manifest["renditions"]] == ["loa"]
    with Store(ws.db_path) as store:
        assert {store.get_item(i).state for i in ids[-2:]} == {"used"}
        assert store.get_item(ids[0]).state == "new"
    # Nothing new left in the window: the next run fails with the reason, not an empty bulletin.
    job2, _ = queue.submit(
        "bulletin", {"spec": "ban-tin-sang"}, content_key="test-bulletin-2", spec="ban-tin-sang"
    )
    with Store(ws.db_path) as store:
        store.set_item_state(ids[0], "used")
    execute_job(queue, job2.id)
    assert queue.get(job2.id).state == "failed" and "no new items" in queue.get(job2.id).error


class _Receiver:
    """A loopback dispatch endpoint: answers `codes` in turn (then 200) and keeps what it was sent."""

    def __init__(self, codes: list[int]) -> None:
        import http.server
        import threading

        self.codes, self.requests = list(codes), []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), len(body)))
                self.send_response(receiver.codes.pop(0) if receiver.codes else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/goi-tin"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_hot_folder_packages_are_dispatched_and_a_failed_delivery_is_retried(
    queue: JobQueue, tmp_path: Path
) -> None:
    receiver = _Receiver([400])  # the first delivery is refused for good (4xx is not retried in place)
    try:
        folder, out = tmp_path / "in", tmp_path / "out"
        folder.mkdir()
        path = tmp_path / "hot.toml"
        text = HOT.format(folder=folder, out=out).replace("audio_only = true", "audio_only = false")
        text = text.replace('profile = "nhanh"', 'profile = "loa"')
        path.write_text(text.replace("[dispatch]", f'[dispatch]\nto = "{receiver.url}"'), encoding="utf-8")
        spec = load_spec(path, queue.workspace)
        write_txt(folder / "a.txt", 1)
        (first,) = tick(queue, specs={spec.id: spec})
        execute_job(queue, first)
        failed = queue.get(first)
        assert failed.state == "failed" and "dispatch" in failed.error
        assert failed.result["status"] == "converted" and failed.result["dispatch"]["status"] == "failed"
        assert (folder / "a.txt").exists()  # kept until delivered
        (second,) = tick(queue, specs={spec.id: spec})
        execute_job(queue, second)
        done = queue.get(second)
        assert done.state == "done", done.error
        assert done.result["status"] == "skipped"  # not converted twice: only the delivery was redone
        assert done.result["dispatch"]["status"] == "delivered"
        assert done.result["output"] == failed.result["output"]
        assert not (folder / "a.txt").exists() and (folder / "done" / "a.txt").exists()
        package_id = Path(done.result["output"]).name
        assert [h.get("Idempotency-Key") for h, _ in receiver.requests] == [package_id, package_id]
    finally:
        receiver.close()


def test_jobs_submit_spec_runs_a_spec_now_and_names_unknown_ones(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from studio.cli import main

    (jobs_workspace.home / "jobs").mkdir()
    (jobs_workspace.home / "jobs" / "sang.toml").write_text(
        SCHEDULED.format(out=tmp_path / "out"), encoding="utf-8"
    )
    runner = CliRunner(mix_stderr=False)
    home = ["--home", str(jobs_workspace.home)]
    result = runner.invoke(main, [*home, "jobs", "submit", "--spec", "ban-tin-sang", "--json"])
    assert result.exit_code == 0, result.output
    job = json.loads(result.stdout)
    assert job["kind"] == "bulletin" and job["spec"] == "ban-tin-sang" and job["state"] == "queued"
    unknown = runner.invoke(main, [*home, "jobs", "submit", "--spec", "khong-co"])
    assert unknown.exit_code == 2
    assert "job spec 'khong-co' not found" in " ".join(unknown.stderr.split())
    assert "ban-tin-sang" in unknown.stderr and "thu-muc-thong-bao" in unknown.stderr
