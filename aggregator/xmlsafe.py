"""XML from untrusted servers, read without expanding entities, loading DTDs or touching the network.

Two parsers read harvested XML: lxml (through ``xml_parser``) and feedparser, which uses Python's expat.
``check_xml`` runs on the raw bytes before either of them, and before the HTML parser too, since XHTML
pages carry DOCTYPEs. It refuses documents that declare entities: external ones read local files or reach
other servers (XXE), nested ones expand a few hundred bytes into gigabytes (billion laughs). A DOCTYPE
that only names an external DTD, as RSS 0.91 feeds do, is allowed: neither parser loads it.
"""
import codecs
import pyexpat
import re

import lxml.etree

# lxml resolved entities in iterparse until 6.1.0 (CVE-2026-41066) and fetched external parameter
# entities until 6.1.3.
LXML_FIXED = (6, 1, 3)
if lxml.etree.LXML_VERSION[:3] < LXML_FIXED:
    raise ImportError(f"lxml {'.'.join(map(str, LXML_FIXED))} or newer is needed to read untrusted XML safely, "
                      f"found {lxml.__version__}")

# Expat bounds entity amplification (billion laughs, quadratic blowup) only from 2.7.2 on; with an older
# one every entity declaration is refused, since feedparser hands the bytes to expat.
EXPAT_BOUNDS_ENTITIES = pyexpat.version_info >= (2, 7, 2)
# Plain entities such as <!ENTITY nbsp "&#160;"> are harmless with a bounding expat; a long value
# referenced many times is the quadratic blowup, so values stay short.
MAX_ENTITY_VALUE = 64

DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
ENTITY = re.compile(r"<!ENTITY", re.IGNORECASE)
ENTITY_DECLARATION = re.compile(
    r"""<!ENTITY\s+(?P<parameter>%\s+)?(?P<name>[^\s%"'>]+)\s+"""
    r"""(?:(?P<external>SYSTEM|PUBLIC)\b[^>]*|"(?P<double>[^"]*)"|'(?P<single>[^']*)')\s*>""", re.IGNORECASE)
CHARACTER_REFERENCE = re.compile(r"&#(?:[0-9]+|x[0-9a-fA-F]+);")
DECLARED_ENCODING = re.compile(r"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")
# How the first bytes give the encoding away (XML 1.0, appendix F); everything else is read as Latin-1,
# which keeps the ASCII markup of any ASCII-compatible encoding as it is.
SNIFFED_ENCODINGS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"), (b"\x4c\x6f\xa7\x94", "cp037"),
)
WIDE_ENCODINGS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


class UnsafeXML(ValueError):
    """The document declares XML entities that could expand without bound, read files or reach other servers."""


def xml_parser() -> lxml.etree.XMLParser:
    """A fresh lxml parser for untrusted XML: no entity expansion, no DTD, no network, libxml2's size limits on.

    Pass it explicitly to every parse call; never install it with ``set_default_parser``, which changes
    parsing for the whole process.
    """
    return lxml.etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                                attribute_defaults=False, huge_tree=False, decompress=False,
                                remove_comments=True, remove_pis=True)


def check_xml(data: bytes) -> None:
    """Raise UnsafeXML, with a one-line reason, when the document's DOCTYPE declares a dangerous entity."""
    for text in _readings(data):
        reason = _entity_danger(text)
        if reason:
            raise UnsafeXML(reason)


def count_start_tags(data: bytes, names: tuple[str, ...]) -> int:
    """How many elements with these local names (any prefix) the document opens, in whichever reading of its
    encoding shows the most: cheap enough to run before a slow parser."""
    pattern = re.compile(rf"<(?:[\w.-]+:)?(?:{'|'.join(map(re.escape, names))})(?=[\s/>])")
    return max(sum(1 for _ in pattern.finditer(text)) for text in _readings(data))


def _readings(data: bytes) -> list[str]:
    """The document as text in every encoding a parser might read it in: sniffed, declared, or wide."""
    sniffed = next((name for mark, name in SNIFFED_ENCODINGS if data.startswith(mark)), "latin-1")
    readings = {sniffed: data.decode(sniffed, errors="replace")}
    declared = DECLARED_ENCODING.match(readings[sniffed][:200])
    if declared and _known_codec(declared[1]):
        readings.setdefault(declared[1], data.decode(declared[1], errors="replace"))
    # Without a byte order mark, UTF-16 and UTF-32 markup shows only as NUL bytes between the characters.
    if b"\x00" in data[:4]:
        for name in WIDE_ENCODINGS:
            readings.setdefault(name, data.decode(name, errors="replace"))
    return list(readings.values())


def _known_codec(name: str) -> bool:
    """True when Python can decode the encoding a document declares (feedparser would use it too)."""
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _entity_danger(text: str) -> str | None:
    """Why the entities declared after the DOCTYPE are unsafe, or None when there are none or all are harmless.

    Any ``<!ENTITY`` after a DOCTYPE counts, wherever it stands: finding the end of the internal subset
    would mean parsing it, and a comment or string that hides a declaration from a scanner is the attack.
    """
    doctype = DOCTYPE.search(text)
    if doctype is None:
        return None
    for found in ENTITY.finditer(text, doctype.start()):
        declaration = ENTITY_DECLARATION.match(text, found.start())
        reason = _declaration_danger(declaration)
        if reason:
            return reason
    return None


def _declaration_danger(declaration: re.Match | None) -> str | None:
    """Why one entity declaration is unsafe, or None for a short plain value under a bounding expat."""
    if declaration is None:
        return "the XML declares an entity in a form that cannot be checked, so it is not read"
    name = declaration["name"][:40]
    if declaration["parameter"]:
        return (f"the XML declares the parameter entity '%{name}', which can load content from elsewhere, "
                "so it is not read")
    if declaration["external"]:
        return (f"the XML declares the external entity '{name}', which would read a file or web address "
                "(an XXE attack), so it is not read")
    value = declaration["double"] if declaration["double"] is not None else declaration["single"]
    if not EXPAT_BOUNDS_ENTITIES:
        return (f"the XML declares its own entity '{name}'; with expat {pyexpat.EXPAT_VERSION.split('_')[-1]} "
                "entities could expand without limit (billion laughs), so it is not read")
    if "&" in CHARACTER_REFERENCE.sub("", value) or "%" in value:
        return f"the XML declares the entity '{name}' built from other entities (billion laughs), so it is not read"
    if len(value) > MAX_ENTITY_VALUE:
        return (f"the XML declares the entity '{name}' with {len(value)} characters, which could blow up "
                "when repeated, so it is not read")
    return None
