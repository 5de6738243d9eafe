from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from studio.compose import compose, load_template
from studio.config import Settings
from studio.errors import ConfigError
from studio.models import Priority, SourceItem


def _item(n: int, priority: Priority, hour: int) -> tuple[int, SourceItem]:
    return n, SourceItem(source="s", source_id=str(n), title=f"Tin số {n}", body=f"Nội dung {n}.\n\nĐoạn hai.",
                         priority=priority, published=datetime(2026, 11, 28, hour, tzinfo=UTC))


def test_ban_tin_orders_by_priority_then_time() -> None:
    items = [_item(1, Priority.THONG_THUONG, 8), _item(2, Priority.KHAN_CAP, 9), _item(3, Priority.THONG_THUONG, 7)]
    b = compose(load_template("ban-tin"), items, Settings(station_name="Đài Truyền thanh huyện X"),
                today=date(2026, 11, 28))
    assert b.item_ids == (2, 3, 1)
    assert b.priority is Priority.KHAN_CAP
    speech = [s for s in b.segments if s.kind == "speech"]
    assert speech[0].text.startswith("Đây là Đài Truyền thanh huyện X. Hôm nay, thứ Bảy, ngày 28 tháng 11 năm 2026.")
    assert speech[1].text.startswith("Tin khẩn cấp. Tin số 2.") and speech[1].item_id == 2
    assert "\n\nĐoạn hai." in speech[1].text
    assert "kết thúc" in speech[-1].text
    kinds = [s.kind for s in b.segments]
    assert kinds.count("gap") == 8 and kinds.count("jingle") == 4  # call sign, 2 chimes, call sign


def test_template_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text('id = "x"\nname = "X"\nopening = "{{ station"\nitem = "a"\nclosing = "b"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x.toml: field 'opening': template syntax error"):
        load_template(bad)
    bad.write_text('id = "x"\nname = "X"\nopening = "{{ stasion }}"\nitem = "a"\nclosing = "b"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x.toml: field 'opening': 'stasion' is undefined"):
        compose(load_template(bad), [_item(1, Priority.UU_TIEN, 8)], Settings())
    with pytest.raises(ConfigError, match="template 'nope' not found; available: ban-tin, khan-cap, thong-bao"):
        load_template("nope")


def test_template_sandbox_blocks_attribute_escape(tmp_path: Path) -> None:
    evil = tmp_path / "e.toml"
    evil.write_text('id = "e"\nname = "E"\nopening = "{{ station.__class__.__mro__[1].__subclasses__() }}"\n'
                    'item = "a"\nclosing = "b"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="e.toml: field 'opening'"):
        compose(load_template(evil), [_item(1, Priority.UU_TIEN, 8)], Settings())
