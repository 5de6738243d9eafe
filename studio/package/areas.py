"""Target areas: official administrative unit codes, checked against the `vietnam-provinces` package.

Owns: turning a code a sender gave ("01", "00070", "legacy:00004") into an AreaEntry with its current
name. Since 1 July 2025 Vietnam has two tiers: 34 provinces (2-digit GSO codes) and 3,321 communes,
wards and special zones (5-digit codes); district level was abolished.

Legacy (pre-2025) codes must be marked `legacy:` because old and new ward codes share one number
space (00070 was and is a Hoàn Kiếm code, for different units). They are converted through the
package's 2025 conversion table (`vietnam_provinces._ward_conversion_2025`, releases that ship
`vietnam_provinces.legacy`); with a release without it, a legacy code is refused with that reason
rather than guessed.
"""

from __future__ import annotations

import re

from studio.errors import InputError
from studio.package.manifest import AreaEntry

LEGACY_PREFIX = "legacy:"
_CODE = re.compile(r"^\d{1,5}$")


def _lib():  # type: ignore[no-untyped-def]
    try:
        import vietnam_provinces
    except ImportError as exc:  # a core dependency; only a broken install gets here
        raise InputError(
            "target areas need the 'vietnam-provinces' package (pip install vietnam-provinces)"
        ) from exc
    return vietnam_provinces


def resolve_area(code: str) -> tuple[AreaEntry, ...]:
    """Resolve one administrative unit code.

    Args:
        code: "NN" (province), "NNNNN" (commune/ward/special zone), or "legacy:NNNNN" / "legacy:NN" for a
            pre-2025 code, which may resolve to more than one current unit.

    Returns:
        The current unit(s) the code names.

    Raises:
        InputError: unknown code, or a legacy code that cannot be converted (the message says why).
    """
    lib = _lib()
    text = code.strip()
    if text.startswith(LEGACY_PREFIX):
        return _resolve_legacy(text[len(LEGACY_PREFIX) :], lib)
    if not _CODE.match(text) or len(text) not in (2, 5):
        raise InputError(
            f"area {code!r}: expected a 2-digit province or 5-digit commune code (GSO), "
            f"or {LEGACY_PREFIX}CODE for a pre-2025 code"
        )
    number = int(text)
    if len(text) == 2:
        try:
            province = lib.Province.from_code(lib.ProvinceCode(number))
        except ValueError as exc:
            raise InputError(
                f"area {code!r}: no province with this code since 1 July 2025 (34 provinces; "
                f"data {lib.__data_version__}); a pre-2025 code needs {LEGACY_PREFIX}{text}"
            ) from exc
        return (AreaEntry(code=text, level="province", name=province.name, province_code=text),)
    try:
        ward = lib.Ward.from_code(lib.WardCode(number))
    except ValueError as exc:
        raise InputError(
            f"area {code!r}: no commune/ward with this code since 1 July 2025 (data "
            f"{lib.__data_version__}); a pre-2025 code needs {LEGACY_PREFIX}{text}"
        ) from exc
    return (
        AreaEntry(
            code=text, level="commune", name=ward.name, province_code=f"{int(ward.province_code.value):02d}"
        ),
    )


def _resolve_legacy(text: str, lib) -> tuple[AreaEntry, ...]:  # type: ignore[no-untyped-def]
    if not _CODE.match(text) or len(text) not in (2, 5):
        raise InputError(f"area {LEGACY_PREFIX}{text!r}: expected a 2- or 5-digit pre-2025 code")
    try:
        from vietnam_provinces import _ward_conversion_2025 as conversion  # type: ignore[attr-defined]
        from vietnam_provinces import legacy  # type: ignore[attr-defined]
    except ImportError as exc:
        raise InputError(
            f"area {LEGACY_PREFIX}{text}: the installed vietnam-provinces {lib.__version__} has no pre-2025 "
            "conversion data (vietnam_provinces.legacy); give the current code instead"
        ) from exc
    number = int(text)
    if len(text) == 5:
        entry = conversion.OLD_TO_NEW.get(number)
        if entry is None:
            raise InputError(
                f"area {LEGACY_PREFIX}{text}: not a pre-2025 ward code known to vietnam-provinces"
            )
        out = []
        for new in entry.new_wards:
            (area,) = resolve_area(f"{int(new.code):05d}")
            out.append(
                AreaEntry(
                    code=area.code,
                    level=area.level,
                    name=area.name,
                    province_code=area.province_code,
                    legacy_code=text,
                )
            )
        return tuple(out)
    try:
        old = legacy.Province.from_code(legacy.ProvinceCode(number))
    except ValueError as exc:
        raise InputError(f"area {LEGACY_PREFIX}{text}: not a pre-2025 province code") from exc
    current = [p for p in lib.Province.iter_all() if old in p.get_legacy_sources()]
    if not current:
        raise InputError(f"area {LEGACY_PREFIX}{text}: no current province lists {old.name} as a source")
    return tuple(
        AreaEntry(
            code=f"{int(p.code.value):02d}",
            level="province",
            name=p.name,
            province_code=f"{int(p.code.value):02d}",
            legacy_code=text,
        )
        for p in current
    )


def resolve_areas(codes: list[str] | tuple[str, ...]) -> tuple[AreaEntry, ...]:
    """Resolve codes in order, dropping repeats (by current code).

    Raises:
        InputError: the first code that cannot be resolved.
    """
    out: dict[str, AreaEntry] = {}
    for code in codes:
        for area in resolve_area(code):
            out.setdefault(area.code, area)
    return tuple(out.values())
