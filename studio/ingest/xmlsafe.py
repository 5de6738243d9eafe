"""XML from outside, read safely: no DTD entities, no external references, no network.

Owns: `parse_untrusted` (defusedxml over the stdlib expat parser) and the messages for refused or
malformed XML. Every XML input (CAP alerts, feeds) passes here before any other XML library sees it,
so entity-expansion bombs and XXE are refused with a clear error instead of being expanded.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from studio.errors import InputError


def parse_untrusted(raw: bytes, *, name: str, allow_doctype: bool = False) -> ET.Element:
    """Parse `raw` refusing entity declarations and external references (and any DOCTYPE unless
    `allow_doctype`: RSS 0.91 files carry a bare public DOCTYPE).

    Raises:
        InputError: malformed XML (with line and column) or a refused construct, naming `name`.
    """
    try:
        return fromstring(raw, forbid_dtd=not allow_doctype, forbid_entities=True, forbid_external=True)
    except DTDForbidden as exc:
        raise InputError(f"{name}: refused: the XML declares a DTD ({exc.name or 'inline'}); "
                         "DTDs and entities are not accepted from outside") from None
    except EntitiesForbidden as exc:
        raise InputError(f"{name}: refused: the XML declares the entity {exc.name!r}; entity expansion "
                         "is not accepted from outside (it is how XML bombs and XXE work)") from None
    except ExternalReferenceForbidden as exc:
        raise InputError(f"{name}: refused: the XML references the external resource "
                         f"{exc.sysid or exc.pubid!r}; nothing is fetched while reading input") from None
    except DefusedXmlException as exc:
        raise InputError(f"{name}: refused unsafe XML: {exc}") from None
    except LookupError as exc:  # <?xml encoding="…"?> naming a codec Python does not have
        raise InputError(f"{name}: the XML declares an unknown encoding ({exc}); send it as UTF-8") from None
    except ValueError as exc:  # expat: "multi-byte encodings are not supported" (UTF-7, UTF-32, Shift_JIS…)
        raise InputError(f"{name}: the XML declares an encoding the XML reader cannot read ({exc}); "
                         "send it as UTF-8") from None
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise InputError(f"{name}: malformed XML at line {line} column {column + 1}: {reason}") from None


def local(tag: str) -> str:
    """'{urn:…}alert' → 'alert'."""
    return tag.rsplit("}", 1)[-1]
