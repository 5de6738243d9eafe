"""The manifest against docs/package.schema.json, the ninjs document against the official IPTC 3.1 schema,
target areas against vietnam-provinces, and the atomic build."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from studio.config import Workspace
from studio.errors import InputError, PackageError
from studio.models import Priority
from studio.package.areas import resolve_area, resolve_areas
from studio.package.build import build_package
from studio.package.manifest import MANIFEST_NAME, NINJS_NAME, Manifest, ManifestError
from studio.store import Store
from tests.conftest import REPO, STANDARDS
from tests.package.helpers import make_package

jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is in the test extra")
NINJS_SCHEMA = STANDARDS / "ninjs-schema_3.1.json"
GEOJSON_URI = "https://geojson.org/schema/GeoJSON.json"


def _ninjs_validator():  # type: ignore[no-untyped-def]
    if not NINJS_SCHEMA.is_file():
        pytest.skip(f"IPTC ninjs 3.1 schema not found at {NINJS_SCHEMA} (../shared/standards is absent)")
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    # Offline stand-in for the GeoJSON schema ninjs references for places[].geoJSON (we never emit geoJSON).
    stand_in = Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": GEOJSON_URI, "type": "object"},
        default_specification=DRAFT202012,
    )
    registry = Registry().with_resource(GEOJSON_URI, stand_in).with_resource(GEOJSON_URI + "#", stand_in)
    schema = json.loads(NINJS_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(
        schema, registry=registry, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _manifest_validator():  # type: ignore[no-untyped-def]
    schema = json.loads((REPO / "docs" / "package.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from studio.config import open_workspace

    ws = open_workspace(tmp_path_factory.mktemp("docs"))
    return make_package(ws, profiles=("loa", "web"), areas=("01", "00070", "79")).path


def test_ninjs_validates_against_the_official_schema(package: Path) -> None:
    validator = _ninjs_validator()
    doc = json.loads((package / NINJS_NAME).read_text(encoding="utf-8"))
    errors = [e.message for e in validator.iter_errors(doc)]
    assert errors == []
    assert doc["language"] == "vi" and doc["type"] == "audio" and doc["urgency"] == 5
    assert {r["name"] for r in doc["renditions"]} >= {"loa.mp3", "web.mp3", "captions.vtt"}
    assert [a["rel"] for a in doc["associations"]] == ["source"]
    assert [p["literal"] for p in doc["places"]] == ["vn-province:01", "vn-commune:00070", "vn-province:79"]


def test_ninjs_schema_rejects_our_checksums(package: Path) -> None:
    """Why checksums live in the manifest: ninjs has unevaluatedProperties false."""
    validator = _ninjs_validator()
    doc = json.loads((package / NINJS_NAME).read_text(encoding="utf-8"))
    doc["renditions"][0]["sha256"] = "0" * 64
    assert not validator.is_valid(doc)


def test_manifest_validates_against_our_schema_and_reads_back(package: Path) -> None:
    data = (package / MANIFEST_NAME).read_bytes()
    raw = json.loads(data)
    assert [e.message for e in _manifest_validator().iter_errors(raw)] == []
    manifest = Manifest.from_json(data)
    assert manifest.to_json() == data  # exact bytes: what was signed is what is read
    assert [a.name for a in manifest.areas] == [
        "Thành phố Hà Nội",
        "Phường Hoàn Kiếm",
        "Thành phố Hồ Chí Minh",
    ]
    loa = next(r for r in manifest.renditions if r.profile == "loa")
    assert loa.integrated_lufs == pytest.approx(-16.0, abs=0.5) and loa.true_peak_dbtp <= -1.5
    assert manifest.text == "Bão số 5 đổ bộ vào đất liền." and manifest.voices[0].engine == "fake"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.update(extra_field=1), "unknown field"),
        (lambda m: m.pop("valid_until"), "missing valid_until"),
        (lambda m: m.update(sequence=0), "sequence"),
        (lambda m: m.update(spec_version="2.0"), "spec_version"),
        (lambda m: m.update(priority="urgent"), "priority"),
        (lambda m: m["files"][0].update(path="../x"), "path traversal"),
        (lambda m: m["files"][0].update(path="/etc/passwd"), "absolute"),
        (lambda m: m["files"][0].update(sha256="ABC"), "sha256"),
        (lambda m: m.update(valid_until=m["created"]), "not after created"),
        (lambda m: m["areas"][0].update(code="1"), r"areas\[0\]\.code"),
    ],
)
def test_reader_and_schema_agree_on_bad_manifests(package: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = json.loads((package / MANIFEST_NAME).read_bytes())
    mutate(raw)
    data = json.dumps(raw, ensure_ascii=False).encode()
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(data)
    if message not in ("not after created",):  # an order between two fields is beyond JSON Schema
        assert not _manifest_validator().is_valid(raw)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(ManifestError, match="appears twice"):
        Manifest.from_json(b'{"title": "a", "title": "b"}')


@pytest.mark.parametrize(
    ("code", "level", "name"),
    [("01", "province", "Thành phố Hà Nội"), ("00070", "commune", "Phường Hoàn Kiếm")],
)
def test_current_codes_resolve(code: str, level: str, name: str) -> None:
    (area,) = resolve_area(code)
    assert (area.level, area.name, area.province_code) == (level, name, "01")


@pytest.mark.parametrize("code", ["99", "99999", "1", "abc", "legacy:x"])
def test_unknown_codes_are_refused(code: str) -> None:
    with pytest.raises(InputError, match="area"):
        resolve_area(code)


def test_counts_after_the_2025_reorganization() -> None:
    from vietnam_provinces import Province, Ward

    assert len(list(Province.iter_all())) == 34 and len(list(Ward.iter_all())) == 3321
    assert [a.code for a in resolve_areas(["01", "00070", "01"])] == ["01", "00070"]


def test_legacy_codes_convert_or_are_refused_with_the_reason() -> None:
    try:
        import vietnam_provinces.legacy  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="has no pre-2025 conversion data"):
            resolve_area("legacy:00004")
        return
    areas = resolve_area("legacy:00004")  # a pre-2025 Ba Đình ward: now part of one current ward
    assert areas and all(a.legacy_code == "00004" and a.level == "commune" for a in areas)


def test_build_is_atomic_and_a_failed_build_consumes_its_sequence(workspace: Workspace) -> None:
    def fill(folder: Path) -> Manifest:
        (folder / "half.wav").write_bytes(b"RIFF")
        raise PackageError("encoder crashed")

    with pytest.raises(PackageError, match="encoder crashed"):
        build_package(workspace.outbox, "p1", fill)
    assert list(workspace.outbox.iterdir()) == []  # neither the package nor its staging folder
    first = make_package(workspace)
    with Store(workspace.db_path) as store:
        store.reserve_package(
            "doomed",
            issuer="studio-demo",
            bulletin_id=None,
            priority=Priority.THONG_THUONG,
            path=workspace.outbox,
        )
        store.set_package_state("doomed", "failed")
    second = make_package(workspace)
    assert (first.manifest.sequence, second.manifest.sequence) == (1, 3)


def test_unlisted_file_in_staging_is_refused(workspace: Workspace) -> None:
    result = make_package(workspace)

    def fill(folder: Path) -> Manifest:
        (folder / "bulletin.txt").write_text("x\n", encoding="utf-8")
        (folder / "stray.tmp").write_text("y", encoding="utf-8")
        from studio.package.manifest import FileEntry

        return replace(result.manifest, files=(FileEntry.of(folder, folder / "bulletin.txt"),))

    with pytest.raises(PackageError, match="not in the manifest: stray.tmp"):
        build_package(workspace.outbox, "p2", fill)
