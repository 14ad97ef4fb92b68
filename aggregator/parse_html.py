"""Web pages as records: schema.org JSON-LD (Event, Organization, Service) and the feeds a page links to.

Registering an organisation's homepage works: its ``<link rel="alternate">`` feeds become ``alternates``,
and whatever the page describes in ``<script type="application/ld+json">`` becomes records (mapped by
``schema_org``). Each block is read on its own, so a broken one costs only itself; blocks over
``MAX_JSON_LD_CHARS`` and structures deeper than ``MAX_DEPTH`` are not read.
"""
import codecs
import json
import re

import lxml.etree
import lxml.html

from aggregator.parsed import Parsed
from aggregator.record_values import language_tag, web_address
from aggregator.schema_org import CONTAINERS, RecordReader, record_kind
from aggregator.xmlsafe import check_xml
from feeds.problems import Problem, warning

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/json",
                        "application/feed+json", "text/calendar"})
MAX_JSON_LD_CHARS = 4_000_000
MAX_DEPTH = 32
MAX_NODES = 20_000
# Reading a record takes about a millisecond (mapping and validation): a page of tiny blocks must not hold the
# harvester for minutes.
MAX_RECORDS = 5000
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)


def parse_html(data: bytes, *, url: str, language: str = "de", timezone: str = "Europe/Berlin") -> Parsed:
    """Read a web page fetched from ``url``: its schema.org records and its feed links.

    Raises UnsafeXML when the page declares XML entities and ValueError when it is no readable page.
    """
    check_xml(data)
    parser = _parser(data)
    try:
        root = lxml.html.document_fromstring(data, parser=parser)
    except lxml.etree.ParserError as exc:
        raise ValueError(f"not a readable web page: {exc}") from exc
    page_language = language_tag(root.get("lang") or root.get(XML_LANG))
    parsed = Parsed(timezone=timezone, default_language=page_language or language)
    parsed.problems.extend(_cut_short(parser))
    base = _base(root, url)
    parsed.alternates = _alternates(root, base)
    blocks = _json_ld(root, parsed.problems)
    nodes = [found for value, line in blocks for found in _described(value, line, parsed.problems)]
    if len(nodes) > MAX_RECORDS:
        parsed.problems.append(warning("", f"the page describes {len(nodes):,} events, organisations and services; "
                                           f"only the first {MAX_RECORDS:,} are read", "publish a feed with pages "
                                           "instead", "json-ld-too-many").at(nodes[MAX_RECORDS][1], None))
    RecordReader(base, page_language, language, timezone).read(nodes[:MAX_RECORDS], parsed)
    if not parsed.alternates and not parsed.record_count:
        message = ("no schema.org data and no feed link found on the page" if not blocks else
                   "the page's schema.org data describes no event, organisation or service, and it links no feed")
        parsed.problems.append(warning("", message, "register the address of the organisation's feed or calendar "
                                                    "instead of its homepage", "html-nothing-found"))
    return parsed


def _parser(data: bytes) -> lxml.html.HTMLParser:
    """An HTML parser for an untrusted page in the page's encoding: no network, libxml2's size limits on."""
    for encoding in _encodings(data):
        try:
            return lxml.html.HTMLParser(encoding=encoding, no_network=True, remove_comments=True, remove_pis=True,
                                        huge_tree=False, decompress=False)
        except LookupError:  # a <meta charset> libxml2 does not know
            continue
    raise AssertionError("UTF-8 and Windows-1252 are always known")


def _encodings(data: bytes) -> list[str]:
    """Encodings to try, best first: the byte order mark, the <meta charset>, UTF-8 when it decodes, Windows-1252.

    libxml2 guesses Latin-1 for a page that declares nothing, which garbles the UTF-8 most pages are in.
    """
    if data.startswith(codecs.BOM_UTF8):
        return ["utf-8"]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return ["utf-16"]
    declared = META_CHARSET.search(data[:4096])
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        undeclared = "windows-1252"
    else:
        undeclared = "utf-8"
    return [declared[1].decode("ascii"), undeclared] if declared else [undeclared]


def _cut_short(parser: lxml.html.HTMLParser) -> list[Problem]:
    """A warning when libxml2 stopped early, as it does at its size limits (text over 10 MB, deep nesting)."""
    fatal = [entry for entry in parser.error_log if entry.level_name == "FATAL"]
    return [warning("", f"the page could not be read to its end ({fatal[0].message.strip()}), so later parts of it "
                        "are missing", "keep pages and the data in them below 10 MB", "html-cut-short")
            .at(fatal[0].line, None)] if fatal else []


def _base(root, url: str) -> str:
    """The address relative links are read against: the page's <base href>, else its own."""
    base = root.find(".//base[@href]")
    return web_address(base.get("href"), url) or url if base is not None else url


def _alternates(root, base: str) -> list[str]:
    """The feeds and calendars the page links to with <link rel="alternate">, absolute, each once."""
    found = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        address = web_address(link.get("href", ""), base) if "alternate" in rel and kind in FEED_TYPES else None
        if address:
            found.append(address)
    return list(dict.fromkeys(found))


def _json_ld(root, problems: list[Problem]) -> list[tuple[object, int]]:
    """Every JSON-LD block of the page that reads, with its line; each one that does not gets a warning."""
    blocks = []
    for script in root.iter("script"):
        if (script.get("type") or "").split(";")[0].strip().lower() != "application/ld+json":
            continue
        text, line = script.text or "", script.sourceline or 1
        if len(text) > MAX_JSON_LD_CHARS:
            problems.append(warning("", f"a schema.org block of {len(text):,} characters is too large to read",
                                    f"keep each JSON-LD block below {MAX_JSON_LD_CHARS:,} characters",
                                    "json-ld-too-large").at(line, None))
            continue
        try:
            blocks.append((json.loads(text), line))
        except json.JSONDecodeError as exc:
            problems.append(warning("", f"a schema.org block is not valid JSON ({exc.msg}), so it is left out",
                                    "check the block with https://validator.schema.org/", "json-ld-invalid")
                            .at(line + exc.lineno - 1, exc.colno))
        except RecursionError:
            problems.append(warning("", "a schema.org block is nested too deeply to read, so it is left out",
                                    f"nest the data less than {MAX_DEPTH} levels deep", "json-ld-too-deep")
                            .at(line, None))
    return blocks


def _described(value, line: int, problems: list[Problem]) -> list[tuple[dict, int]]:
    """The events, organisations and services in one block: at the top, in @graph, lists and other containers."""
    found, stack, visited = [], [(value, 0)], 0
    while stack:
        item, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            problems.append(warning("", f"a schema.org block has more than {MAX_NODES:,} parts; the rest is not read",
                                    "split the data into several pages", "json-ld-too-large").at(line, None))
            break
        if depth > MAX_DEPTH:
            problems.append(warning("", f"a schema.org block is nested deeper than {MAX_DEPTH} levels; the deeper "
                                        "parts are not read", "nest the data less deeply", "json-ld-too-deep")
                            .at(line, None))
            break
        if isinstance(item, list):
            stack.extend((element, depth + 1) for element in reversed(item))
        elif isinstance(item, dict):
            if record_kind(item):
                found.append((item, line))
            stack.extend((item[key], depth + 1) for key in reversed(CONTAINERS) if key in item)
    return found
