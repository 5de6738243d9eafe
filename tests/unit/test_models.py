import unicodedata

import pytest

from studio.errors import ConfigError, InputError
from studio.models import DestinationProfile, Priority, Segment, SourceItem, VoiceProfile


@pytest.mark.parametrize(("value", "expected"), [
    ("khẩn cấp", Priority.KHAN_CAP), ("Khẩn Cấp", Priority.KHAN_CAP), ("khan-cap", Priority.KHAN_CAP),
    ("ưu tiên", Priority.UU_TIEN), ("uu_tien", Priority.UU_TIEN), ("thông thường", Priority.THONG_THUONG),
    (unicodedata.normalize("NFD", "khẩn cấp"), Priority.KHAN_CAP), ("emergency", Priority.KHAN_CAP),
])
def test_priority_parse(value: str, expected: Priority) -> None:
    assert Priority.parse(value) is expected


def test_priority_parse_error_names_field_and_choices() -> None:
    with pytest.raises(InputError, match=r"items.json\[3\].priority: unknown priority 'gấp'.*khẩn cấp"):
        Priority.parse("gấp", field_name="items.json[3].priority")


def test_priority_labels_and_order() -> None:
    assert [p.label for p in sorted(Priority, key=lambda p: p.rank)] == ["khẩn cấp", "ưu tiên", "thông thường"]


def test_source_item_is_nfc_and_requires_text() -> None:
    nfd = unicodedata.normalize("NFD", "Thông báo")
    item = SourceItem(source="s", source_id="1", title=nfd, body=nfd + " mới")
    assert item.title == "Thông báo" and unicodedata.is_normalized("NFC", item.body)
    other = SourceItem(source="x", source_id="2", title="Thông báo", body="Thông báo mới")
    assert item.content_hash == other.content_hash
    with pytest.raises(InputError, match="field 'body' is empty"):
        SourceItem(source="s", source_id="1", title="a", body="  ")


def test_segment_validation() -> None:
    with pytest.raises(InputError, match="segment kind 'music'"):
        Segment("music")
    with pytest.raises(InputError, match="outside 0–60 s"):
        Segment("gap", duration_s=-1)


def test_voice_profile_bounds() -> None:
    with pytest.raises(ConfigError, match="voice 'x': field 'region'"):
        VoiceProfile(id="x", name="X", engine="espeak", region="tay")
    with pytest.raises(ConfigError, match="'rate_wpm' 9 is outside"):
        VoiceProfile(id="x", name="X", engine="espeak", rate_wpm=9)


def test_destination_profile_bounds() -> None:
    with pytest.raises(ConfigError, match="target_lufs 3"):
        DestinationProfile(id="p", name="P", container="mp3", sample_rate=48000, channels=1, target_lufs=3,
                           true_peak_dbtp=-1)
