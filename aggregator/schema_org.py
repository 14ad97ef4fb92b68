"""schema.org as records of the shared format: Event, Organization and Service nodes and their values.

Dates with an offset become wall-clock times in the feed's zone, eventStatus a status, Place, PostalAddress
and VirtualLocation a location, inLanguage and availableLanguage language tags, offers a cost. An organiser
or provider becomes a reference only when it names an organisation described on the same page.
"""
import re
from datetime import date, datetime
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import langcodes

from aggregator.parsed import Parsed
from aggregator.record_values import (event_end, keep_valid, language_tag, moment, place_location, plain_text,
                                      record_id, set_if_given, unplaced, web_address)
from feeds.checks import FeedContext
from feeds.feed import UNKNOWN_UPDATED, utc_timestamp
from feeds.ical_vevent import ADDRESS, LANGUAGE_TAG, written
from feeds.problems import Problem, warning
from feeds.suggest import fold
from feeds.vocabulary import terms_named

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


def record_kind(node: dict) -> str | None:
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


class RecordReader:
    """Turns a page's schema.org nodes into records: organisations first, so events and offers can name them."""

    def __init__(self, url: str, page_language: str | None, language: str, zone: str):
        self.url, self.page_language, self.language, self.zone = url, page_language, language, zone
        self.seen: set[str] = set()
        self.described: set[tuple[str, str]] = set()
        self.organisations: dict[str, str] = {}  # @id and folded name → local id

    def read(self, nodes: list[tuple[dict, int]], parsed: Parsed) -> None:
        """Add to ``parsed`` a record for every node that makes one, its problems placed at the node's line."""
        builders = {"organisation": (self._organisation, parsed.organisations),
                    "offer": (self._offer, parsed.offers), "event": (self._event, parsed.events)}
        for kind, (build, records) in builders.items():
            context = FeedContext(today=date.today(), default_language=self.page_language or self.language,
                                  timezone=self.zone, organisation_ids=frozenset(self.organisations.values()))
            for node, line in nodes:
                if record_kind(node) == kind:
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
            problems.append(warning("/start", f"the event {name!r} has no readable start (startDate), so it is "
                                              "left out", "give startDate like 2026-12-05T18:00:00+01:00",
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
                return utc_timestamp(wall.replace(tzinfo=ZoneInfo(self.zone)))
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
