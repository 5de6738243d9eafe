"""The shipped templates (ban-tin, thong-bao, khan-cap), variables, the sandbox, and the audio assets."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from studio.audio.io import read_audio
from studio.compose import compose, find_asset, list_templates, load_template, load_variables
from studio.config import Settings, shipped_dir
from studio.errors import ConfigError
from studio.models import Priority, SourceItem

SETTINGS = Settings(station_name="Đài Truyền thanh xã Nghĩa Hà")
DAY = date(2026, 11, 28)


def _items(n: int = 1) -> list[tuple[int, SourceItem]]:
    return [(i, SourceItem(source="s", source_id=str(i), title=f"Thông báo số {i}", body=f"Nội dung {i}.",
                           priority=Priority.UU_TIEN, published=datetime(2026, 11, 27, 8 + i, tzinfo=UTC)))
            for i in range(1, n + 1)]


def _kinds(bulletin) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.kind for s in bulletin.segments]


def test_shipped_templates() -> None:
    assert {"ban-tin", "thong-bao", "khan-cap"} <= set(list_templates())


def test_ban_tin_running_order() -> None:
    b = compose(load_template("ban-tin"), _items(3), SETTINGS, today=DAY)
    assert _kinds(b) == ["jingle", "gap", "speech", "gap", "speech", "gap", "jingle", "gap", "speech", "gap",
                         "jingle", "gap", "speech", "gap", "speech", "gap", "jingle"]
    jingles = [s.text for s in b.segments if s.kind == "jingle"]
    assert jingles == ["nhac-hieu", "nhac-cat", "nhac-cat", "nhac-hieu"]
    opening = b.segments[2].text
    assert opening.startswith("Đây là Đài Truyền thanh xã Nghĩa Hà. Hôm nay, thứ Bảy, ngày 28 tháng 11 năm 2026.")
    assert b.music_bed == ""


def test_thong_bao_reads_the_notice_twice() -> None:
    b = compose(load_template("thong-bao"), _items(1), SETTINGS, today=DAY)
    speech = [s for s in b.segments if s.kind == "speech"]
    assert len(speech) == 4 and speech[1].item_id == speech[2].item_id == 1
    assert speech[1].text == "Thông báo số 1. Nội dung 1."
    assert speech[2].text == "Xin nhắc lại. Thông báo số 1. Nội dung 1."
    with pytest.raises(ConfigError, match=r"reads at most 1 item\(s\); 2 given"):
        compose(load_template("thong-bao"), _items(2), SETTINGS, today=DAY)


def test_khan_cap_attention_tone_twice_no_music() -> None:
    t = load_template("khan-cap")
    b = compose(t, _items(1), SETTINGS, today=DAY)
    assert b.segments[0].kind == "jingle" and b.segments[0].text == "tin-hieu-khan-cap"
    assert [s.text for s in b.segments if s.kind == "jingle"] == ["tin-hieu-khan-cap"]  # no music at all
    assert b.music_bed == "" and not (t.intro_jingle or t.outro_jingle or t.separator_jingle or t.music_bed)
    speech = [s.text for s in b.segments if s.kind == "speech"]
    assert speech[0].startswith("Thông báo khẩn cấp.") and speech[2].startswith("Xin nhắc lại thông báo khẩn cấp.")


def _write(tmp_path: Path, name: str, **fields: str) -> Path:
    base = {"id": name, "name": "Thử", "opening": "Mở đầu.", "item": "{{ item.title }}.", "closing": "Hết."}
    base.update(fields)
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in base.items()),
                    encoding="utf-8")
    return path


def test_variables_from_settings_and_workspace(tmp_path: Path) -> None:
    (tmp_path / "variables.toml").write_text('xa = "xã Nghĩa Hà"\nhotline = "0255 3822 111"\n', encoding="utf-8")
    path = _write(tmp_path, "bien", opening="{{ settings.station_name }} của {{ vars.xa }}, {{ date_text }}. "
                  "Đường dây nóng {{ vars.hotline }}.")
    b = compose(load_template(path), _items(1), SETTINGS, today=DAY, variables=load_variables(tmp_path))
    assert b.segments[0].text == ("Đài Truyền thanh xã Nghĩa Hà của xã Nghĩa Hà, ngày 28 tháng 11 năm 2026. "
                                  "Đường dây nóng 0255 3822 111.")


def test_unknown_template_variable_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "sai", closing="{{ vars.khong_co }}")
    with pytest.raises(ConfigError, match=r"sai.toml: field 'closing': 'dict object' has no attribute 'khong_co'"):
        compose(load_template(path), _items(1), SETTINGS, today=DAY)


@pytest.mark.parametrize("expression", [
    "{{ station.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ item.title.format.__globals__ }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'x' * 1000000000 }}",
    "{{ 9 ** 999999 }}",
])
def test_sandbox_escapes_are_refused(tmp_path: Path, expression: str) -> None:
    path = _write(tmp_path, "thoat", opening=expression)
    with pytest.raises(ConfigError, match="thoat.toml: field 'opening'"):
        compose(load_template(path), _items(1), SETTINGS, today=DAY)


def test_template_loading_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="audio asset 'khong-co' not found"):
        load_template(_write(tmp_path, "a", intro_jingle="khong-co"))
    with pytest.raises(ConfigError, match="field 'repeat' must be a number in 1–3"):
        (tmp_path / "b.toml").write_text(_write(tmp_path, "b").read_text(encoding="utf-8") + "\nrepeat = 5\n",
                                         encoding="utf-8")
        load_template(tmp_path / "b.toml")
    with pytest.raises(ConfigError, match="unknown field.s. music"):
        load_template(_write(tmp_path, "c", music="nen-nhac"))


def _make_assets_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_assets", shipped_dir("templates") / "make_assets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_assets_are_made_by_the_script_in_the_repo(tmp_path: Path) -> None:
    make_assets = _make_assets_module()
    written = make_assets.main(tmp_path)
    assert {p.stem for p in written} == {"nhac-hieu", "nhac-cat", "tin-hieu-khan-cap", "nen-nhac"}
    for path in written:
        shipped = find_asset(path.stem)
        assert shipped.stat().st_size < 100_000  # small files
        ours, rate = read_audio(path)
        theirs, rate_shipped = read_audio(shipped)
        assert rate == rate_shipped == make_assets.RATE_HZ
        np.testing.assert_array_equal(ours, theirs)  # the committed file is what the code makes


def test_attention_tone_is_853_and_960_hz() -> None:
    samples, rate = read_audio(find_asset("tin-hieu-khan-cap"))
    spectrum = np.abs(np.fft.rfft(samples[: rate // 2]))
    freqs = np.fft.rfftfreq(rate // 2, 1 / rate)
    top = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert top == pytest.approx([853, 960], abs=3)
