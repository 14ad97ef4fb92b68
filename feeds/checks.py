"""The rules JSON Schema cannot express: dates that exist and are in order, known terms, real
language tags and time zones, recurrence rules that parse and end, reachable kinds of links,
plausible phone numbers and emails, plain text without markup.

Every check takes one record (already schema-valid in shape or not: each check guards its own
input) and yields problems with pointers relative to that record.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import email_validator
import nh3
import phonenumbers
from dateutil.rrule import rrulestr
from language_tags import tags as language_registry

import wegweiser_schema
from feeds.languages import language_tag
from feeds.problems import Problem, error, in_sentence, warning
from feeds.suggest import did_you_mean

EARLIEST = date(2000, 1, 1)
HORIZON_YEARS = 5
STALE_AFTER = timedelta(days=365)
TEXT_KEYS = frozenset({"title", "description", "name", "role", "accessibility", "notes", "alt"})
URL_KEYS = frozenset({"url", "website", "homepage"})
DATE_KEYS = frozenset({"start", "end", "valid_from", "valid_to", "last_verified", "deadline", "recurrence_id"})
ACTIVE_MARKUP = re.compile(r"<\s*/?\s*(script|iframe|object|embed|style|form|svg|math)\b|\bon[a-z]+\s*=|javascript\s*:|data\s*:\s*text/html", re.I)
UNBOUNDED_TOO_OFTEN = ("SECONDLY", "MINUTELY", "HOURLY")
MAX_COUNT = 1000


@dataclass(frozen=True)
class FeedContext:
    """What record checks need to know about the feed around the record."""

    today: date
    default_language: str = "de"
    timezone: str = "Europe/Berlin"
    organisation_ids: frozenset[str] | None = None  # None: local references are not checked
    publisher_id: str = ""


@dataclass
class _Walk:
    """Collects problems while walking one record."""

    context: FeedContext
    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)


def check_record(kind: str, record: dict, context: FeedContext) -> list[Problem]:
    """All semantic problems of one organisation, offer or event."""
    walk = _Walk(context)
    if not isinstance(record, dict) or record.get("deleted") is True:
        return []
    _walk_values(walk, record, "")
    _check_terms(walk, kind, record)
    _check_references(walk, record)
    if kind == "offer":
        _check_offer(walk, record)
    elif kind == "event":
        _check_event(walk, record)
    return walk.problems


def check_envelope(document: dict, context: FeedContext) -> list[Problem]:
    """Semantic problems of the feed document itself and its publisher."""
    problems = []
    if isinstance(document.get("default_language"), str):
        problems += _language_problems(document["default_language"], "/default_language")
    if isinstance(document.get("timezone"), str):
        problems += _timezone_problems(document["timezone"], "/timezone")
    publisher = document.get("publisher")
    if isinstance(publisher, dict):
        walk = _Walk(context)
        _walk_values(walk, publisher, "/publisher")
        problems += walk.problems
        problems += _term_problems("organisation-kinds", publisher.get("kind"), "/publisher/kind")
        license_id = publisher.get("license")
        if isinstance(license_id, str) and license_id not in wegweiser_schema.term_ids("licenses"):
            guess = did_you_mean(license_id, wegweiser_schema.term_ids("licenses"))
            problems.append(warning("/publisher/license", f"'{license_id}' is not a known open data licence",
                                    (f"did you mean '{guess}'? " if guess else "") + "use dl-de/by-2-0, CC-BY-4.0 or CC0-1.0 so others may reuse the data",
                                    "unknown-license"))
    problems += _timestamp_problems(document.get("updated"), "/updated", context)
    return problems


# --- walking every value -------------------------------------------------------------

# Free-text strings that are not multilingual texts: names and the parts of an address.
PLAIN_STRING_KEYS = frozenset({"name", "address_1", "address_2", "postal_code", "city"})


def _walk_values(walk: _Walk, value, pointer: str, key: str = "") -> None:
    """Visit every value once and apply the checks its field name calls for."""
    if isinstance(value, dict):
        if key in TEXT_KEYS:
            _check_text(walk, value, pointer)
            return
        for name, child in value.items():
            _walk_values(walk, child, f"{pointer}/{_escape(name)}", name)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _walk_values(walk, child, f"{pointer}/{index}", key)
    elif isinstance(value, str):
        _check_string(walk, key, value, pointer)


def _check_string(walk: _Walk, key: str, value: str, pointer: str) -> None:
    if key in URL_KEYS:
        walk.problems += _url_problems(value, pointer)
    elif key == "email":
        walk.problems += _email_problems(value, pointer)
    elif key == "phone":
        walk.problems += _phone_problems(value, pointer)
    elif key in ("languages", "language"):
        walk.problems += _language_problems(value, pointer)
    elif key == "timezone":
        walk.problems += _timezone_problems(value, pointer)
    elif key in DATE_KEYS or key in ("rdate", "exdate"):
        walk.problems += _date_problems(value, pointer, walk.context)
    elif key in ("updated", "fetched"):
        walk.problems += _timestamp_problems(value, pointer, walk.context)
    elif key in PLAIN_STRING_KEYS:
        walk.problems += _markup_problems(value, pointer)


def _check_text(walk: _Walk, text: dict, pointer: str) -> None:
    """A multilingual text: real language tags, plain text, and the feed's default language present."""
    for tag, value in text.items():
        walk.problems += _language_problems(tag, f"{pointer}/{_escape(tag)}", as_key=True)
        if isinstance(value, str):
            walk.problems += _markup_problems(value, f"{pointer}/{_escape(tag)}")
    if text and walk.context.default_language not in text:
        walk.add(warning(pointer, f"no text in the feed's default language '{walk.context.default_language}'",
                         f"add a \"{walk.context.default_language}\" version; readers whose language is missing see the default language",
                         "missing-default-language"))


# --- single values -------------------------------------------------------------------

def _list(value) -> list:
    """The value if it is a list, else nothing to check (the schema reports the wrong type)."""
    return value if isinstance(value, list) else []


def _escape(name: str) -> str:
    name = str(name)
    return name.replace("~", "~0").replace("/", "~1") if "~" in name or "/" in name else name


@cache
def _is_language_tag(tag: str) -> bool:
    return language_registry.check(tag)


def _language_problems(tag: str, pointer: str, as_key: bool = False) -> list[Problem]:
    if not isinstance(tag, str) or _is_language_tag(tag):
        return []
    guess = _suggest_language(tag)
    what = "the text's language" if as_key else "the language"
    hint = f"did you mean '{guess}'? " if guess else ""
    return [error(pointer, f"{what} '{tag}' is not a BCP 47 language tag",
                  hint + "use tags such as de, tr, ar, uk, ru, fa, ku (see https://r12a.github.io/app-subtags/)",
                  "invalid-language-tag")]


@cache
def _suggest_language(text: str) -> str | None:
    candidate = text.replace("_", "-")
    if candidate != text and _is_language_tag(candidate):
        return candidate
    return language_tag(text)


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone_problems(name: str, pointer: str) -> list[Problem]:
    if name in _known_timezones():
        return []
    if re.fullmatch(r"(UTC|GMT)?\s*[+-]\d{1,2}(:?\d{2})?", name, re.I) or name.upper() in ("CET", "CEST", "MEZ", "MESZ"):
        hint = "write the place's zone, such as Europe/Berlin: an offset is wrong for half of the year"
    else:
        guess = did_you_mean(name, _known_timezones())
        hint = f"did you mean '{guess}'?" if guess else "use an IANA zone name such as Europe/Berlin"
    return [error(pointer, f"'{name}' is not a known IANA time zone", hint, "unknown-timezone")]


def _url_problems(url: str, pointer: str) -> list[Problem]:
    try:
        parts = urlsplit(url)
        parts.hostname  # an unclosed IPv6 bracket only shows when the host is read
    except ValueError:
        return [error(pointer, f"{url!r} is not a valid web address", "write the whole address as the browser shows it, "
                      "e.g. https://www.example.de/angebot", "invalid-url")]
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        hint = "links must start with https:// or http://"
        if scheme in ("mailto", "tel"):
            hint += "; put email addresses and phone numbers in the `email` and `phone` fields"
        shown = f"a {scheme}: link" if scheme else f"{url!r} (no https://)"
        return [error(pointer, f"{shown} is not allowed as a web address", hint, "bad-url-scheme")]
    host = parts.hostname or ""
    if "." not in host and host != "localhost":
        return [error(pointer, f"the web address {url!r} has no valid host name", "write the full address, e.g. https://www.example.org/angebot", "bad-url-host")]
    return []


def _email_problems(address: str, pointer: str) -> list[Problem]:
    reason = _email_fault(address)
    if reason:
        return [error(pointer, f"the email address {address!r} is not valid: {in_sentence(reason)}", "write it like beratung@verein.example", "bad-email")]
    return []


@lru_cache(maxsize=4096)
def _email_fault(address: str) -> str:
    """Why an address is not valid, or ''; cached because feeds repeat their contact addresses."""
    try:
        email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        return str(exc)
    return ""


def _phone_problems(number: str, pointer: str) -> list[Problem]:
    verdict = _phone_verdict(number)
    hint = "write the number with area code, best internationally: +49 5123 45678"
    if verdict == "unparsable":
        return [error(pointer, f"{number!r} is not a phone number", hint, "bad-phone")]
    if verdict == "impossible":
        return [error(pointer, f"the phone number {number!r} has too few or too many digits", hint, "bad-phone")]
    if verdict == "unassigned":
        return [warning(pointer, f"the phone number {number!r} does not look like a number in use", hint, "implausible-phone")]
    return []


@lru_cache(maxsize=4096)
def _phone_verdict(number: str) -> str:
    """'ok', 'unparsable', 'impossible' or 'unassigned' (German numbers without +49 allowed)."""
    try:
        parsed = phonenumbers.parse(number, "DE")
    except phonenumbers.NumberParseException:
        return "unparsable"
    if len(re.sub(r"\D", "", number)) < 6 or not phonenumbers.is_possible_number(parsed):
        return "impossible"
    return "ok" if phonenumbers.is_valid_number(parsed) else "unassigned"


def _markup_problems(value: str, pointer: str) -> list[Problem]:
    if ACTIVE_MARKUP.search(value):
        return [error(pointer, "the text contains a script or active HTML",
                      "texts are plain text: remove tags such as <script> and attributes such as onclick", "script-in-text")]
    if nh3.is_html(value):
        return [warning(pointer, "the text contains HTML tags, which will be shown as they are",
                        "texts are plain text: remove tags such as <b> or <br>; line breaks are kept", "html-in-text")]
    return []


def parse_moment(value: str) -> date | datetime | None:
    """A ``YYYY-MM-DD`` date or ``YYYY-MM-DDTHH:MM[:SS]`` wall-clock time; None if it does not exist."""
    try:
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError:
        return None


def _day(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


def _date_problems(value: str, pointer: str, context: FeedContext) -> list[Problem]:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?", value):
        return []  # the schema reports the shape
    moment = parse_moment(value)
    if moment is None:
        return [error(pointer, f"{value!r} is not a date that exists", "check day and month, written YYYY-MM-DD", "no-such-date")]
    return _distance_problems(_day(moment), value, pointer, context)


def _timestamp_problems(value, pointer: str, context: FeedContext) -> list[Problem]:
    if not isinstance(value, str):
        return []
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return [error(pointer, f"{value!r} is not a date and time that exists", "write it like 2026-11-20T09:30:00+01:00", "no-such-date")]
    if moment.tzinfo is None:
        return []  # the schema reports the missing offset
    if moment.date() > context.today + timedelta(days=1):
        return [warning(pointer, f"{value!r} lies in the future", "`updated` says when the record last changed; check the computer's clock", "updated-in-future")]
    return _distance_problems(moment.date(), value, pointer, context)


def _distance_problems(day: date, value: str, pointer: str, context: FeedContext) -> list[Problem]:
    horizon = context.today.replace(year=context.today.year + HORIZON_YEARS)
    if day < EARLIEST or day > horizon:
        return [error(pointer, f"{value!r} is implausibly far away", f"dates must lie between {EARLIEST.isoformat()} and {horizon.isoformat()}; is the year mistyped?", "date-out-of-range")]
    return []


# --- terms and references -------------------------------------------------------------

@cache
def _labels(vocabulary: str) -> dict[str, list[str]]:
    return {t["id"]: list(t.get("label", {}).values()) for t in wegweiser_schema.vocabulary(vocabulary)["terms"]}


def _term_problems(vocabulary: str, term, pointer: str) -> list[Problem]:
    if not isinstance(term, str) or term in wegweiser_schema.term_ids(vocabulary):
        return []
    guess = did_you_mean(term, wegweiser_schema.term_ids(vocabulary), _labels(vocabulary))
    hint = f"did you mean '{guess}'? " if guess else ""
    return [error(pointer, f"'{term}' is not a term of the {vocabulary} vocabulary",
                  hint + f"see schema/vocabularies/{vocabulary}.json for the list", "unknown-term")]


def _check_terms(walk: _Walk, kind: str, record: dict) -> None:
    for field_name, vocabulary in (("categories", "categories"), ("target_groups", "target-groups")):
        terms = record.get(field_name)
        if isinstance(terms, list):
            for index, term in enumerate(terms):
                walk.problems += _term_problems(vocabulary, term, f"/{field_name}/{index}")
    if kind == "organisation":
        walk.problems += _term_problems("organisation-kinds", record.get("kind"), "/kind")


def _references(record: dict):
    """Every organisation reference in a record with its pointer."""
    for name in ("provider", "organiser", "parent_organisation"):
        if name in record:
            yield f"/{name}", record[name]
    for index, ref in enumerate(_list(record.get("co_organisers"))):
        yield f"/co_organisers/{index}", ref


def _check_references(walk: _Walk, record: dict) -> None:
    known = walk.context.organisation_ids
    if known is None:
        return
    for pointer, ref in _references(record):
        local = ref if isinstance(ref, str) else None
        if isinstance(ref, dict) and ref.get("publisher") == walk.context.publisher_id:
            local = ref.get("id")
        if isinstance(local, str) and local not in known:
            guess = did_you_mean(local, known)
            walk.add(error(pointer, f"no organisation with id '{local}' in this feed",
                           (f"did you mean '{guess}'? " if guess else "") + "add the organisation to `organisations`, or refer to another publisher's with {\"publisher\": …, \"id\": …}",
                           "unknown-reference"))


# --- offers and events ------------------------------------------------------------------

def _check_order(walk: _Walk, first, second, pointer: str, what: str, allow_equal: bool = True) -> None:
    """Report when ``second`` comes before ``first`` (both strings of the same kind)."""
    a, b = (parse_moment(v) if isinstance(v, str) else None for v in (first, second))
    if a is None or b is None:
        return
    if type(a) is not type(b):
        walk.add(error(pointer, f"{what}: one is a date and the other a date with time",
                       "write both as dates (all day) or both with a time", "mixed-date-kinds"))
    elif b < a or (b == a and not allow_equal):
        walk.add(error(pointer, f"{what}: the end {second!r} is before the start {first!r}",
                       "swap them or correct the date", "end-before-start"))


def _check_offer(walk: _Walk, offer: dict) -> None:
    _check_order(walk, offer.get("valid_from"), offer.get("valid_to"), "/valid_to", "validity")
    verified = parse_moment(offer["last_verified"]) if isinstance(offer.get("last_verified"), str) else None
    if isinstance(verified, date) and walk.context.today - _day(verified) > STALE_AFTER:
        walk.add(warning("/last_verified", f"not verified since {offer['last_verified']}",
                         "check that the offer still runs as described and update `last_verified`", "stale"))
    for index, schedule in enumerate(_list(offer.get("schedules"))):
        if isinstance(schedule, dict):
            _check_schedule(walk, schedule, f"/schedules/{index}")
    _check_cost(walk, offer.get("cost"))


def _check_schedule(walk: _Walk, schedule: dict, pointer: str) -> None:
    opens, closes = schedule.get("opens_at"), schedule.get("closes_at")
    if isinstance(opens, str) and isinstance(closes, str) and closes <= opens:
        walk.add(error(f"{pointer}/closes_at", f"closes at {closes} but opens at {opens}",
                       "closes_at must be later than opens_at on the same day", "end-before-start"))
    _check_order(walk, schedule.get("valid_from"), schedule.get("valid_to"), f"{pointer}/valid_to", "schedule validity")
    if schedule.get("freq") != "MONTHLY":
        for index, day in enumerate(_list(schedule.get("byday"))):
            if isinstance(day, str) and day[:1] in "-123456789" and len(day) > 2:
                walk.add(error(f"{pointer}/byday/{index}", f"'{day}' counts weekdays in a month, but freq is {schedule.get('freq')}",
                               "use freq MONTHLY for '1TU' (first Tuesday), or just 'TU' for every Tuesday", "ordinal-needs-monthly"))


def _check_cost(walk: _Walk, cost) -> None:
    if not isinstance(cost, dict):
        return
    amount = cost.get("amount")
    if cost.get("free") is True and isinstance(amount, (int, float)) and amount > 0:
        walk.add(error("/cost/amount", f"the cost says free but also an amount of {amount}", "set free to false, or remove the amount", "free-with-amount"))
    reduced = cost.get("reduced_amount")
    if isinstance(amount, (int, float)) and isinstance(reduced, (int, float)) and reduced > amount:
        walk.add(warning("/cost/reduced_amount", f"the reduced amount {reduced} is higher than the full amount {amount}", "swap the two amounts", "reduced-above-full"))


def _check_event(walk: _Walk, event: dict) -> None:
    _check_order(walk, event.get("start"), event.get("end"), "/end", "event")
    for index, override in enumerate(_list(event.get("overrides"))):
        if isinstance(override, dict):
            _check_order(walk, override.get("start"), override.get("end"), f"/overrides/{index}/end", "changed occurrence")
    recurrence = event.get("recurrence")
    if isinstance(recurrence, dict) and isinstance(recurrence.get("rrule"), str):
        _check_rrule(walk, recurrence["rrule"], event.get("start"))
    elif event.get("overrides"):
        walk.add(error("/overrides", "the event has changed occurrences but no recurrence",
                       "overrides change single dates of a repeating event: add `recurrence`, or make them events of their own", "overrides-without-recurrence"))


def _check_rrule(walk: _Walk, rule: str, start) -> None:
    pointer = "/recurrence/rrule"
    first = parse_moment(start) if isinstance(start, str) else None
    if first is None:
        return
    dtstart = first if isinstance(first, datetime) else datetime.combine(first, datetime.min.time())
    try:
        rrulestr(rule, dtstart=dtstart, ignoretz=True)
    except (ValueError, TypeError) as exc:
        walk.add(error(pointer, f"the repetition rule does not parse: {exc}",
                       "write an RFC 5545 rule such as FREQ=WEEKLY;BYDAY=TU;UNTIL=20270630T215959Z", "bad-rrule"))
        return
    parts = dict(p.split("=", 1) for p in rule.upper().split(";") if "=" in p)
    if "UNTIL" not in parts and "COUNT" not in parts:
        if parts.get("FREQ") in UNBOUNDED_TOO_OFTEN:
            walk.add(error(pointer, f"the event repeats {parts['FREQ'].lower()} without end",
                           "an event cannot repeat every hour forever: add COUNT or UNTIL, or publish an offer with schedules", "endless-rrule"))
        else:
            walk.add(warning(pointer, "the event repeats without end",
                             "add UNTIL (e.g. the end of the season) so no dates are shown after it stopped", "endless-rrule"))
    if "COUNT" in parts and parts["COUNT"].isdigit() and int(parts["COUNT"]) > MAX_COUNT:
        walk.add(warning(pointer, f"the event repeats {parts['COUNT']} times", f"more than {MAX_COUNT} dates is unlikely: check COUNT", "huge-count"))
    until = parts.get("UNTIL", "")
    if until and isinstance(first, datetime) and not until.endswith("Z"):
        walk.add(error(pointer, f"UNTIL={until} must be a UTC time ending in Z because the event starts at a time",
                       "write e.g. UNTIL=20270630T215959Z", "until-not-utc"))
    if until and not isinstance(first, datetime) and "T" in until:
        walk.add(error(pointer, f"UNTIL={until} must be a date because the event lasts all day",
                       "write e.g. UNTIL=20270630", "until-not-date"))
