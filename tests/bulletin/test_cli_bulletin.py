"""`studio bulletin new|show|render`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from studio.cli import main
from studio.config import Workspace
from studio.store import Store
from tests.bulletin.conftest import add_items


def test_new_show_render(ws: Workspace) -> None:
    with Store(ws.db_path) as store:
        ids = add_items(store)
    runner = CliRunner(mix_stderr=False)
    home = ["--home", str(ws.home)]
    created = runner.invoke(main, [*home, "bulletin", "new", "--template", "thong-bao", "--item", str(ids[1]),
                                   "--title", "Thông báo phòng chống bão"])
    assert created.exit_code == 0, created.stderr
    bulletin_id = int(created.stdout.split("\t")[0])
    assert created.stdout.strip() == f"{bulletin_id}\tThông báo phòng chống bão"

    shown = runner.invoke(main, [*home, "bulletin", "show", str(bulletin_id)])
    assert shown.exit_code == 0 and "Xin nhắc lại. Phòng chống bão." in shown.stdout
    assert "nhạc/tín hiệu: nhac-cat" in shown.stdout

    out = ws.home / "out"
    rendered = runner.invoke(main, [*home, "bulletin", "render", str(bulletin_id), "--profile", "phat-song",
                                    "--profile", "loa", "-o", str(out), "--json"])
    assert rendered.exit_code == 0, rendered.stderr
    data = json.loads(rendered.stdout)
    assert [r["profile"] for r in data["renditions"]] == ["phat-song", "loa"]
    assert {Path(c).name for c in data["captions"]} == {"captions.vtt", "captions.srt"}
    assert (out / "loa.mp3").is_file() and (out / "phat-song.wav").is_file()
    loa = data["renditions"][1]
    assert abs(loa["integrated_lufs"] - loa["target_lufs"]) <= 0.5 and loa["true_peak_dbtp"] <= loa["ceiling_dbtp"]
    assert abs(loa["duration_s"] - data["duration_s"]) < 0.05

    history = json.loads(runner.invoke(main, [*home, "bulletin", "show", str(bulletin_id), "--json"]).stdout)
    assert len(history["renders"]) == 2 and history["template"] == "thong-bao"


def test_errors_are_clear(ws: Workspace) -> None:
    runner = CliRunner(mix_stderr=False)
    home = ["--home", str(ws.home)]
    missing = runner.invoke(main, [*home, "bulletin", "new", "--template", "khong-co", "--item", "1"])
    assert missing.exit_code == 2 and "template 'khong-co' not found; available:" in missing.stderr
    nothing = runner.invoke(main, [*home, "bulletin", "show", "99"])
    assert nothing.exit_code == 2 and "no bulletin with id 99" in " ".join(nothing.stderr.split())
