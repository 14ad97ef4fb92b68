"""Web pages as records: schema.org JSON-LD (Event, Organization, Service) and the feeds a page links to.

Registering an organisation's homepage works: its ``<link rel="alternate">`` feeds become ``alternates``,
and whatever the page describes in ``<script type="application/ld+json">`` becomes records. Each block is
read on its own, so a broken one costs only itself; blocks over ``MAX_JSON_LD_CHARS`` and structures
deeper than ``MAX_DEPTH`` are not read. An organiser or provider becomes a reference only when it names an
organisation described on the same page.
"""
import codecs
import json
import re
from datetime import date, datetime
from datetime import timezone as utc
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import langcodes
import lxml.etree
import lxml.html

from aggregator.parse_rss import (UNKNOWN_UPDATED, event_end, keep_valid, language_tag, moment, place_location,
                                  plain_text, record_id, set_if_given, unplaced, terms_named, web_address)
from aggregator.parsed import Parsed
from aggregator.xmlsafe import check_xml
from feeds.checks import FeedContext
from feeds.ical_vevent import ADDRESS, LANGUAGE_TAG, written
from feeds.problems import Problem, warning
from feeds.suggest import fold

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
# Properties whose values are further things the page describes, not parts of the thing holding them.
CONTAINERS = ("@graph", "mainEntity", "itemListElement", "item", "event", "events", "subEvent", "subEvents",
              "makesOffer", "itemOffered")
EVENT_TYPES = frozenset({
    "Event", "BusinessEvent", "ChildrensEvent", "ComedyEvent", "CourseInstance", "DanceEvent", "DeliveryEvent",
    "EducationEvent", "EventSeries", "ExhibitionEvent", "Festival", "FoodEvent", "Hackathon", "LiteraryEvent",
    "MusicEvent", "PublicationEvent", "BroadcastEvent", "OnDemandEvent", "SaleEvent", "ScreeningEvent",
    "SocialEvent", "SportsEvent", "TheaterEvent", "VisualArtsEvent"})
SERVICE_TYPES = frozenset({"Service", "GovernmentService"})
EDUCATION_TYPES = frozenset({"EducationalOrganization", "CollegeOrUniversity", "ElementarySchool", "HighSchool",
                             "MiddleSchool", "Preschool", "School"})
# Places of worship stand for the faith communities that describe themselves with them.
FAITH_TYPES = frozenset({"PlaceOfWorship", "Mosque", "Church", "CatholicChurch", "Synagogue", "HinduTemple",
                         "BuddhistTemple"})
ORGANISATION_TYPES = EDUCATION_TYPES | FAITH_TYPES | frozenset({
    "Organization", "NGO", "GovernmentOrganization", "GovernmentOffice", "LocalBusiness", "Corporation",
    "Consortium", "Cooperative", "FundingScheme", "LibrarySystem", "Library", "MedicalOrganization",
    "NewsMediaOrganization", "OnlineBusiness", "PerformingGroup", "PoliticalParty", "Project",
    "ResearchOrganization", "SearchRescueOrganization", "SportsOrganization", "SportsTeam", "WorkersUnion"})
STATUSES = {"EventCancelled": "cancelled", "EventPostponed": "postponed"}
CATEGORY_PROPERTIES = ("category", "keywords", "genre", "serviceType", "about")


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
        parsed.problems.append(warning("", f"The page describes {len(nodes):,} events, organisations and services; "
                                           f"only the first {MAX_RECORDS:,} are read.", "Publish a feed with pages "
                                           "instead.", "json-ld-too-many").at(nodes[MAX_RECORDS][1], None))
    _PageReader(base, page_language, language, timezone).read(nodes[:MAX_RECORDS], parsed)
    if not parsed.alternates and not parsed.record_count:
        message = ("no schema.org data and no feed link found on the page" if not blocks else
                   "the page's schema.org data describes no event, organisation or service, and it links no feed")
        parsed.problems.append(warning("", message, "Register the address of the organisation's feed or calendar "
                                                    "instead of its homepage.", "html-nothing-found"))
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
    return [warning("", f"The page could not be read to its end ({fatal[0].message.strip()}), so later parts of it "
                        "are missing.", "Keep pages and the data in them below 10 MB.", "html-cut-short")
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
            problems.append(warning("", f"A schema.org block of {len(text):,} characters is too large to read.",
                                    f"Keep each JSON-LD block below {MAX_JSON_LD_CHARS:,} characters.",
                                    "json-ld-too-large").at(line, None))
            continue
        try:
            blocks.append((json.loads(text), line))
        except json.JSONDecodeError as exc:
            problems.append(warning("", f"A schema.org block is not valid JSON ({exc.msg}), so it is left out.",
                                    "Check the block with https://validator.schema.org/", "json-ld-invalid")
                            .at(line + exc.lineno - 1, exc.colno))
        except RecursionError:
            problems.append(warning("", "A schema.org block is nested too deeply to read, so it is left out.",
                                    f"Nest the data less than {MAX_DEPTH} levels deep.", "json-ld-too-deep")
                            .at(line, None))
    return blocks


def _described(value, line: int, problems: list[Problem]) -> list[tuple[dict, int]]:
    """The events, organisations and services in one block: at the top, in @graph, lists and other containers."""
    found, stack, visited = [], [(value, 0)], 0
    while stack:
        item, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            problems.append(warning("", f"A schema.org block has more than {MAX_NODES:,} parts; the rest is not read.",
                                    "Split the data into several pages.", "json-ld-too-large").at(line, None))
            break
        if depth > MAX_DEPTH:
            problems.append(warning("", f"A schema.org block is nested deeper than {MAX_DEPTH} levels; the deeper "
                                        "parts are not read.", "Nest the data less deeply.", "json-ld-too-deep")
                            .at(line, None))
            break
        if isinstance(item, list):
            stack.extend((element, depth + 1) for element in reversed(item))
        elif isinstance(item, dict):
            if _kind(item):
                found.append((item, line))
            stack.extend((item[key], depth + 1) for key in reversed(CONTAINERS) if key in item)
    return found


def _kind(node: dict) -> str | None:
    """The kind of record a node makes, an event before an offer before an organisation, or None."""
    types = _types(node)
    if types & EVENT_TYPES:
        return "event"
    if types & SERVICE_TYPES:
        return "offer"
    return "organisation" if types & ORGANISATION_TYPES else None


def _types(node: dict) -> set[str]:
    """The schema.org types of a node, however written: Event, schema:Event, https://schema.org/Event."""
    return {re.split(r"[/#:]", kind)[-1] for kind in _listed(node.get("@type")) if isinstance(kind, str)}


def _listed(value) -> list:
    """A JSON-LD value that may be one thing or a list of things, as a list."""
    return value if isinstance(value, list) else [] if value is None else [value]


class _PageReader:
    """Turns a page's schema.org nodes into records: organisations first, so events and offers can name them."""

    def __init__(self, url: str, page_language: str | None, language: str, zone: str):
        self.url, self.page_language, self.language, self.zone = url, page_language, language, zone
        self.seen: set[str] = set()
        self.described: set[tuple[str, str]] = set()
        self.organisations: dict[str, str] = {}  # @id and folded name → local id

    def read(self, nodes: list[tuple[dict, int]], parsed: Parsed) -> None:
        """Add a record for every node that makes one."""
        builders = {"organisation": (self._organisation, parsed.organisations),
                    "offer": (self._offer, parsed.offers), "event": (self._event, parsed.events)}
        for kind, (build, records) in builders.items():
            context = FeedContext(today=date.today(), default_language=self.page_language or self.language,
                                  timezone=self.zone, organisation_ids=frozenset(self.organisations.values()))
            for node, line in nodes:
                if _kind(node) == kind:
                    found: list[Problem] = []
                    record = build(node, found)
                    record = keep_valid(kind, record, context, found) if record else None
                    parsed.problems.extend(problem.under(f"/{kind}s/{len(records)}").at(line, None)
                                           for problem in found)
                    if record:
                        self._keep(kind, node, record, records)

    def _keep(self, kind: str, node: dict, record: dict, records: list[dict]) -> None:
        """Append a finished record; an organisation is remembered by its @id and names for references."""
        self.seen.add(record["id"])
        records.append(record)
        if kind == "organisation":
            for key in [self._node_id(node), *(fold(name) for name in record["name"].values())]:
                if key:
                    self.organisations.setdefault(key, record["id"])

    def _node_id(self, node: dict) -> str:
        """The node's @id as an absolute address ("#org" on a page stands for page#org), or ""."""
        own = _first_string(node.get("@id"))
        return urljoin(self.url, own) if own else ""

    def _claim_id(self, node: dict, start: str = "") -> str | None:
        """A local id from the node's @id or url, told apart by its start when another record has it; None when
        the page describes the same thing twice."""
        own = self._node_id(node) or web_address(_first_string(node.get("url")), self.url)
        key = own or f"{'-'.join(sorted(_types(node)))}|{_first_string(node.get('name'))}"
        if (key, start) in self.described:
            return None
        self.described.add((key, start))
        return next((candidate for candidate in (record_id(key), record_id(f"{key}|{start}"))
                     if candidate not in self.seen), None)

    def _organisation(self, node: dict, problems: list[Problem]) -> dict | None:
        """An organisation from an Organization (or a subtype, or a place of worship)."""
        own_id = self._claim_id(node)
        if own_id is None:
            return None
        language = self._text_language(node)
        types = _types(node)
        kind = next(iter(terms_named(_words(node, ("additionalType", "keywords")), "organisation-kinds")),
                    "education-provider" if types & EDUCATION_TYPES else
                    "faith-community" if types & FAITH_TYPES else "other")
        record = {"id": own_id, "updated": self._updated(node), "name": _texts(node.get("name"), language),
                  "kind": kind}
        set_if_given(record, "description", _texts(node.get("description"), language))
        set_if_given(record, "website", web_address(_first_string(node.get("url")), self.url))
        set_if_given(record, "email", _first_string(node.get("email")).removeprefix("mailto:").strip())
        set_if_given(record, "phone", _first_string(node.get("telephone")).removeprefix("tel:").strip())
        set_if_given(record, "address", _address(node.get("address")))
        set_if_given(record, "languages", _spoken(node.get("knowsLanguage")))
        return record

    def _offer(self, node: dict, problems: list[Problem]) -> dict | None:
        """An offer from a Service or GovernmentService, active as long as the page describes it."""
        own_id = self._claim_id(node)
        if own_id is None:
            return None
        language = self._text_language(node)
        channels = [channel for channel in _listed(node.get("availableChannel")) if isinstance(channel, dict)]
        record = {"id": own_id, "updated": self._updated(node), "title": _texts(node.get("name"), language),
                  "status": "active"}
        set_if_given(record, "description", _texts(node.get("description"), language))
        set_if_given(record, "categories", terms_named(_words(node, CATEGORY_PROPERTIES), "categories"))
        set_if_given(record, "languages", list(dict.fromkeys(_spoken(node.get("availableLanguage")) + [
            tag for channel in channels for tag in _spoken(channel.get("availableLanguage"))])))
        places = [place for channel in channels for place in _listed(channel.get("serviceLocation"))]
        locations = (self._location(place, language, problems) for place in places)
        set_if_given(record, "locations", [location for location in locations if location])
        set_if_given(record, "cost", _cost(node))
        set_if_given(record, "provider", self._reference(node.get("provider")))
        set_if_given(record, "url", web_address(_first_string(node.get("url")), self.url))
        return record

    def _event(self, node: dict, problems: list[Problem]) -> dict | None:
        """An event from an Event or a subtype; left out, with a warning, when its start cannot be read."""
        name = next(iter(_texts(node.get("name"), self.language).values()), "")
        start = moment(_first_string(node.get("startDate")), self.zone)
        if start is None:
            problems.append(warning("/start", f"The event {name!r} has no readable start (startDate), so it is "
                                              "left out.", "Give startDate like 2026-12-05T18:00:00+01:00.",
                                    "json-ld-no-start"))
            return None
        own_id = self._claim_id(node, written(start))
        if own_id is None:
            return None
        language = self._text_language(node)
        record = {"id": own_id, "updated": self._updated(node), "title": _texts(node.get("name"), language)}
        set_if_given(record, "description", _texts(node.get("description"), language))
        set_if_given(record, "status", STATUSES.get(_term(node.get("eventStatus"))))
        record["start"] = written(start)
        end = moment(_first_string(node.get("endDate")), self.zone)
        set_if_given(record, "end", event_end(start, end, False, problems))
        set_if_given(record, "location", self._location(node.get("location"), language, problems))
        set_if_given(record, "organiser", self._reference(node.get("organizer")))
        set_if_given(record, "categories", terms_named(_words(node, CATEGORY_PROPERTIES), "categories"))
        set_if_given(record, "languages", _spoken(node.get("inLanguage")))
        set_if_given(record, "cost", _cost(node))
        set_if_given(record, "url", web_address(_first_string(node.get("url")), self.url))
        return record

    def _text_language(self, node: dict) -> str:
        """The language a node's texts are written in: the page's, else the one it is held in, else the default.

        The page's lang comes first because inLanguage says what is spoken at an event, which a German page
        may well describe in German.
        """
        spoken = _spoken(node.get("inLanguage"))
        return self.page_language or (spoken[0] if len(spoken) == 1 else self.language)

    def _updated(self, node: dict) -> str:
        """dateModified, else datePublished, in UTC; a fixed time when the node gives neither."""
        for key in ("dateModified", "datePublished"):
            value = moment(_first_string(node.get(key)), self.zone)
            if value is not None:
                wall = value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())
                return wall.replace(tzinfo=ZoneInfo(self.zone)).astimezone(utc.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return UNKNOWN_UPDATED

    def _reference(self, value) -> str | None:
        """The local id of the first organisation on this page that the organiser or provider names."""
        for item in _listed(value):
            keys = [self._node_id(item), _first_string(item.get("name"))] if isinstance(item, dict) else [item]
            for key in (key for key in keys if isinstance(key, str) and key):
                found = self.organisations.get(key) or self.organisations.get(fold(key))
                if found:
                    return found
        return None

    def _location(self, value, language: str, problems: list[Problem]) -> dict | None:
        """The first usable place, physical before online; a warning when places are given but none is usable."""
        usable = [location for location in (_place(item, language) for item in _listed(value)) if location]
        physical = [location for location in usable if location["location_type"] == "physical"]
        if usable:
            return (physical or usable)[0]
        if _listed(value):
            problems.append(unplaced(_place_words(_listed(value)[0])))
        return None


def _first_string(value) -> str:
    """The first string of a value that may be a list, a JSON-LD value object, or missing."""
    for item in _listed(value):
        if isinstance(item, dict):  # {"@value": …} or a thing named by {"@id": …}
            item = item.get("@value", item.get("@id"))
        if isinstance(item, (str, int, float)) and not isinstance(item, bool):
            return str(item)
    return ""


def _term(value) -> str:
    """The last part of a schema.org enumeration member: https://schema.org/EventCancelled → EventCancelled."""
    return re.split(r"[/#:]", _first_string(value))[-1]


def _texts(value, language: str) -> dict[str, str]:
    """A text map from a string, a language-tagged value object (@value, @language) or a list of them."""
    texts = {}
    for item in _listed(value):
        tag, wording = language, item
        if isinstance(item, dict):
            tag, wording = language_tag(item.get("@language")) or language, item.get("@value")
        cleaned = plain_text(wording) if isinstance(wording, str) else ""
        if cleaned:
            texts.setdefault(tag, cleaned)
    return texts


def _words(node: dict, properties: tuple[str, ...]) -> list[str]:
    """The words a node is tagged with in the given properties: strings, comma lists, and named things."""
    words = []
    for name in properties:
        for item in _listed(node.get(name)):
            item = item.get("name") if isinstance(item, dict) else item
            words += [word.strip() for word in _first_string(item).split(",") if word.strip()]
    return words


def _spoken(value) -> list[str]:
    """Language tags from inLanguage or availableLanguage: tags, names (German, Türkçe) or Language things."""
    tags = []
    for item in _listed(value):
        names = [item.get("alternateName"), item.get("name")] if isinstance(item, dict) else [item]
        tag = next((found for found in (_tag_of(name) for name in names if isinstance(name, str)) if found), None)
        if tag:
            tags.append(tag)
    return list(dict.fromkeys(tags))


def _tag_of(text: str) -> str | None:
    """A BCP 47 tag for a tag or a language name in one of many languages."""
    text = text.strip()
    if LANGUAGE_TAG.match(text) and langcodes.tag_is_valid(text):
        return langcodes.standardize_tag(text)
    try:
        return langcodes.find(text).to_tag()
    except LookupError:
        return None


def _address(value) -> dict | None:
    """A postal address from a PostalAddress or from "street, postcode town"; None without all three parts."""
    if isinstance(value, str):
        match = ADDRESS.match(" ".join(value.split()))
        return {"address_1": match["street"].strip(), "postal_code": match["postal"],
                "city": match["city"].strip()} if match else None
    if not isinstance(value, dict):
        return None
    address = {"address_1": " ".join(_first_string(value.get("streetAddress")).split()),
               "postal_code": _first_string(value.get("postalCode")).strip(),
               "city": _first_string(value.get("addressLocality")).strip()}
    if not all(address.values()):
        return None
    country = value.get("addressCountry")
    code = _first_string(country.get("name") if isinstance(country, dict) else country).strip()
    if re.fullmatch(r"[A-Za-z]{2}", code):
        address["country"] = code.upper()
    return address


def _place(value, language: str) -> dict | None:
    """A location from a Place, a VirtualLocation or a written address; None when it is not usable."""
    if isinstance(value, str):
        return place_location(value, language)
    if not isinstance(value, dict):
        return None
    address = _address(value.get("address"))
    if address:
        location = {"location_type": "physical"}
        set_if_given(location, "name", _texts(value.get("name"), language))
        location["address"] = address
        location.update(_coordinates(value.get("geo")))
        return location
    link = web_address(_first_string(value.get("url")), "")
    return {"location_type": "virtual", "url": link} if link and "VirtualLocation" in _types(value) else None


def _coordinates(geo) -> dict:
    """latitude and longitude from GeoCoordinates, when both are numbers in range."""
    try:
        latitude, longitude = float(geo["latitude"]), float(geo["longitude"])
    except (TypeError, KeyError, ValueError):
        return {}
    return {"latitude": latitude, "longitude": longitude} if abs(latitude) <= 90 and abs(longitude) <= 180 else {}


def _place_words(value) -> str:
    """How a place the page gives reads, for a warning."""
    if not isinstance(value, dict):
        return _first_string(value)
    address = value.get("address")
    parts = [value.get("name")] + ([address.get(key) for key in ("streetAddress", "postalCode", "addressLocality")]
                                   if isinstance(address, dict) else [address])
    return ", ".join(words for words in (" ".join(_first_string(part).split()) for part in parts) if words)


def _cost(node: dict) -> dict | None:
    """free when isAccessibleForFree or every offer's price is 0; else the lowest price and its currency."""
    if node.get("isAccessibleForFree") in (True, "true", "True"):
        return {"free": True}
    offers = [offer for offer in _listed(node.get("offers")) if isinstance(offer, dict)]
    prices = [(price, offer) for offer in offers if (price := _price(offer.get("price"))) is not None]
    if not prices:
        return None
    if all(price == 0 for price, _ in prices):
        return {"free": True}
    price, offer = min((entry for entry in prices if entry[0] > 0), key=lambda entry: entry[0])
    cost = {"free": False, "amount": price}
    currency = _first_string(offer.get("priceCurrency")).strip().upper()
    if re.fullmatch(r"[A-Z]{3}", currency):
        cost["currency"] = currency
    return cost


def _price(value) -> float | None:
    """A price written as a number, "0", "12.50" or "12,50 €"; None when there is no number in it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value >= 0 else None
    match = re.search(r"\d+(?:[.,]\d+)?", str(value or ""))
    return float(match[0].replace(",", ".")) if match else None
