"""`studio ingest` and `studio items` (moved to studio.cli.sources)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from studio.cli import main
from tests.ingest.conftest import DOCUMENTS, FEEDS


def test_ingest_json_output_and_exit_code(tmp_path: Path) -> None:
    runner = CliRunner(mix_stderr=False)
    bad = tmp_path / "hong.json"
    bad.write_text("{\"id\": ", encoding="utf-8")
    result = runner.invoke(main, ["ingest", str(FEEDS / "cong-thong-tin-quang-ngai.rss"),
                                  str(DOCUMENTS / "thong-bao-tiem-chung.docx"), str(bad), "--json"])
    assert result.exit_code == 1, result.output  # some inputs failed; the rest were stored
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in records] == ["added", "added", "added", "error", "added", "error"]
    assert "invalid JSON at line 1" in records[-1]["message"]

    listed = runner.invoke(main, ["items", "--state", "lỗi", "--json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert {r["state_label"] for r in rows} == {"lỗi"} and len(rows) == 2
    plain = runner.invoke(main, ["items", "--priority", "ưu tiên"])
    assert plain.stdout.splitlines() == [
        f"{records[1]['id']}\tưu tiên\tmới\tKhẩn trương thu hoạch lúa vụ mùa trước mưa lũ"]


def test_ingest_ok_exit_zero_and_unknown_state(tmp_path: Path) -> None:
    runner = CliRunner(mix_stderr=False)
    path = tmp_path / "tb.txt"
    shutil.copy(DOCUMENTS / "thong-bao-nuoc-sach.txt", path)
    result = runner.invoke(main, ["ingest", str(path)])
    assert result.exit_code == 0 and "\tđã nhận\t1\tThông báo tạm ngừng cấp nước sinh hoạt" in result.stdout
    bad = runner.invoke(main, ["items", "--state", "xong"])
    assert bad.exit_code == 2 and "unknown item state 'xong'" in bad.stderr


def test_hotfolder_command(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy(DOCUMENTS / "hop-dan-thon.md", inbox / "hop.md")
    result = CliRunner().invoke(main, ["hotfolder", str(inbox), "--settle", "0"])
    assert result.exit_code == 0 and result.stdout.startswith("hop.md\tdone\t")
    assert (inbox / "done" / "hop.md").is_file()
