"""The IPTC ninjs 3.1 document of a package (`bulletin.ninjs.json`).

Owns: mapping a package's manifest onto ninjs: one document per bulletin, `type` audio (composite when
a video rendition is present), `language` vi, one ninjs rendition per file rendition, source items as
`associations` with rel "source", target areas as `places`. ninjs forbids extra fields
(`unevaluatedProperties: false`), so checksums, loudness and signatures stay in our manifest.
Must not import audio/tts/tui.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from studio.package.manifest import Manifest

NINJS_VERSION = "3.1"
NINJS_SCHEMA_URI = "http://www.iptc.org/std/ninjs/ninjs-schema_3.1.json#"
# ninjs urgency: 1 = most urgent … 9 = least (IPTC NewsCodes "urgency").
_URGENCY = {"khan-cap": 1, "uu-tien": 3, "thong-thuong": 5}
_FORMATS = {"audio/mpeg": "mp3", "audio/wav": "wav", "video/mp4": "mp4"}


def package_uri(issuer: str, package_id: str) -> str:
    """The package's persistent identifier, a URN (RFC 8141 allows these characters unescaped)."""
    return f"urn:studio:package:{quote(issuer, safe='')}:{quote(package_id, safe='')}"


def item_uri(source: str, source_id: str) -> str:
    return f"urn:studio:item:{quote(source, safe='')}:{quote(source_id, safe='')}"


def build_ninjs(manifest: Manifest, *, by: str) -> dict[str, object]:
    """The ninjs 3.1 document for `manifest`.

    Args:
        manifest: the package manifest (its files must already be listed, except the ninjs file itself).
        by: the producing station, for `by` and `copyrightHolder`.
    """
    files = {f.path: f for f in manifest.files}
    renditions: list[dict[str, object]] = []
    has_video = False
    for r in manifest.renditions:
        f = files[r.file]
        entry: dict[str, object] = {
            "name": r.file,
            "title": r.profile,
            "contentType": f.media_type,
            "sizeInBytes": f.size,
            "duration": r.duration_s,
        }
        if f.media_type in _FORMATS:
            entry["format"] = _FORMATS[f.media_type]
        if r.video is not None:
            has_video = True
            entry.update(
                width=r.video["width"],
                height=r.video["height"],
                frameRate=r.video["frame_rate"],
                videoCodec=r.video["video_codec"],
                scanType="progressive",
            )
        renditions.append(entry)
    for c in manifest.captions:
        f = files[c.file]
        renditions.append(
            {
                "name": c.file,
                "title": f"captions-{c.format}",
                "contentType": f.media_type,
                "sizeInBytes": f.size,
                "format": c.format,
            }
        )
    doc: dict[str, object] = {
        "standard": {"name": "ninjs", "version": NINJS_VERSION, "schema": NINJS_SCHEMA_URI},
        "uri": package_uri(manifest.issuer, manifest.package_id),
        "type": "composite" if has_video else "audio",
        "representationType": "full",
        "profile": f"studio-package-{manifest.spec_version}",
        "version": str(manifest.sequence),
        "firstCreated": manifest.created,
        "versionCreated": manifest.created,
        "expires": manifest.valid_until,
        "pubStatus": "usable",
        "urgency": _URGENCY[manifest.priority],
        "language": manifest.language,
        "title": manifest.title,
        "headlines": [{"value": manifest.title}],
        "by": by,
        "copyrightHolder": by,
        "bodies": [
            {
                "role": "script",
                "contentType": "text/plain",
                "value": manifest.text,
                "charCount": len(manifest.text),
                "wordCount": len(manifest.text.split()),
            }
        ],
        "altIds": [
            {"role": "package-id", "value": manifest.package_id},
            {"role": "issuer", "value": manifest.issuer},
            {"role": "sequence", "value": str(manifest.sequence)},
        ],
        "renditions": renditions,
    }
    if manifest.summary:
        doc["descriptions"] = [{"role": "summary", "value": manifest.summary}]
    if manifest.areas:
        doc["places"] = [
            {"name": a.name, "rel": "target-area", "literal": f"vn-{a.level}:{a.code}"}
            for a in manifest.areas
        ]
    if manifest.source_items:
        doc["associations"] = [
            {
                "name": f"source-{i + 1}",
                "rel": "source",
                "type": "text",
                "uri": item_uri(s.source, s.id),
                "title": s.title,
            }
            for i, s in enumerate(manifest.source_items)
        ]
    return doc


def ninjs_bytes(doc: dict[str, object]) -> bytes:
    """UTF-8 JSON, sorted keys, 2-space indent, trailing newline."""
    return (json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
