"""Records put into words for the visitor: vocabulary labels, language names, consultation hours,
dates, costs, phone links and the schema.org description search engines read."""
from datetime import date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo

import langcodes
import phonenumbers
import wegweiser_schema
from babel import Locale
from babel import dates as babel_dates
from babel.dates import format_skeleton, get_day_names
from babel.lists import format_list
from flask import Flask, url_for
from flask_babel import format_currency, format_date, format_datetime, gettext, lazy_gettext, ngettext

from aggregator import merge
from aggregator.occurrences import Occurrence
from aggregator.query import REGION_TIMEZONE
from webapp.i18n import direction, pick, visitor_language

WEEKDAY_INDEX = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
VOCABULARY_OF_FACET = {"category": "categories", "target_group": "target-groups", "provider_kind": "organisation-kinds"}


@cache
def _labels(vocabulary: str) -> dict[str, dict]:
    return {term["id"]: term["label"] for term in wegweiser_schema.vocabulary(vocabulary)["terms"]}


def term_label(vocabulary: str, term: str) -> str:
    """A vocabulary term's label in the visitor's language (German, else the id, as fallback)."""
    label = _labels(vocabulary).get(term)
    return pick(label)[1] if label else term


def language_name(tag: str) -> str:
    """A language's name in the visitor's language: ``tr`` is "Türkisch" to a German reader."""
    locale = Locale.parse(visitor_language())
    name = locale.languages.get(tag) or locale.languages.get(tag.split("-")[0])
    if name:
        return name
    try:
        return langcodes.Language.get(tag).display_name(visitor_language())
    except (ValueError, LookupError):
        return tag


def facet_label(facet: str, value: str, names: dict[str, str]) -> str:
    """What a facet value is called on the page: a vocabulary label, a language name, an
    organisation's name (from ``names``), or the value itself (towns)."""
    if facet in VOCABULARY_OF_FACET:
        return term_label(VOCABULARY_OF_FACET[facet], value)
    if facet == "language":
        return language_name(value)
    if facet == "organisation":
        return names.get(value, value)
    return value


def _clock(value: str) -> str:
    return babel_dates.format_time(time.fromisoformat(value), "short", locale=visitor_language())


def _weekdays(codes: list[str]) -> str:
    """"Tuesday", "Tuesday and Thursday", "first Tuesday", "last Friday", in the visitor's language."""
    names = get_day_names("wide", locale=visitor_language())
    ordinals = {1: gettext("first"), 2: gettext("second"), 3: gettext("third"), 4: gettext("fourth"),
                5: gettext("fifth"), -1: gettext("last")}
    words = []
    for code in codes:
        day = names[WEEKDAY_INDEX[code[-2:]]]
        words.append(f"{ordinals.get(int(code[:-2]), code[:-2])} {day}" if len(code) > 2 else day)
    return format_list(words, locale=visitor_language())


def schedule_in_words(schedule: dict) -> str:
    """Consultation hours as people say them: "every Tuesday 10:00–12:00", "every 2 weeks on
    Monday 09:00–11:00", "first Wednesday of the month 18:00–20:00"."""
    hours = f"{_clock(schedule['opens_at'])}–{_clock(schedule['closes_at'])}"
    interval = schedule.get("interval", 1)
    days = _weekdays(schedule["byday"]) if schedule.get("byday") else ""
    freq = schedule["freq"]
    if freq == "DAILY":
        text = gettext("daily %(hours)s", hours=hours) if interval == 1 else \
            gettext("every %(n)s days %(hours)s", n=interval, hours=hours)
    elif freq == "WEEKLY":
        if interval == 1:
            text = gettext("every %(days)s %(hours)s", days=days, hours=hours) if days else gettext("weekly %(hours)s", hours=hours)
        else:
            text = gettext("every %(n)s weeks on %(days)s %(hours)s", n=interval, days=days, hours=hours)
    else:
        text = gettext("%(days)s of the month %(hours)s", days=days, hours=hours) if days else \
            ngettext("monthly %(hours)s", "every %(num)s months %(hours)s", interval, hours=hours)
    return text


ATTENDING = {"walk_in": lazy_gettext("without an appointment"), "appointment": lazy_gettext("by appointment only"),
             "walk_in_or_appointment": lazy_gettext("with or without an appointment")}


def attending_in_words(schedule: dict) -> str:
    kind = schedule.get("attending_type")
    return str(ATTENDING[kind]) if kind in ATTENDING else ""


def schedule_validity(schedule: dict) -> str:
    """"from 1 December 2026 until 31 March 2027", or empty."""
    parts = []
    if schedule.get("valid_from"):
        parts.append(gettext("from %(day)s", day=format_date(date.fromisoformat(schedule["valid_from"]), "long")))
    if schedule.get("valid_to"):
        parts.append(gettext("until %(day)s", day=format_date(date.fromisoformat(schedule["valid_to"]), "long")))
    if "public_holidays" in schedule.get("closed_during", []):
        parts.append(gettext("not on public holidays"))
    if "school_holidays" in schedule.get("closed_during", []):
        parts.append(gettext("not in the school holidays"))
    return ", ".join(parts)


def occurrence_when(occurrence: Occurrence, zone_name: str | None, with_day: bool = True) -> str:
    """When a date of an event is, in the visitor's language and the event's zone."""
    zone = ZoneInfo(zone_name or REGION_TIMEZONE)
    start, end = occurrence.in_zone(zone)
    if occurrence.all_day:
        last = end or start
        first = format_date(start, "full")
        if last > start:
            return gettext("%(first)s to %(last)s", first=first, last=format_date(last, "full"))
        return first if with_day else gettext("all day")
    language = visitor_language()
    clock = babel_dates.format_time(start, "short", tzinfo=zone, locale=language)
    if end:
        clock = f"{clock}–{babel_dates.format_time(end, 'short', tzinfo=zone, locale=language)}" if end.date() == start.date() else \
            f"{clock} – {babel_dates.format_datetime(end, 'medium', tzinfo=zone, locale=language)}"
    return f"{format_date(start.date(), 'full')}, {clock}" if with_day else clock


def day_heading(day: date) -> str:
    return format_date(day, "full")


def short_day(occurrence: Occurrence) -> str:
    """The day a date starts on, short ("Di., 24. Nov."), in the event's own zone."""
    return format_skeleton("MMMEd", date.fromisoformat(occurrence.start_local[:10]), locale=visitor_language())


def month_name(year: int, month: int) -> str:
    return format_date(date(year, month, 1), "LLLL")


def cost_in_words(cost: dict | None) -> str:
    if not cost:
        return ""
    if cost.get("free"):
        text = gettext("free of charge")
    else:
        amounts = [format_currency(cost[key], cost.get("currency", "EUR")) for key in ("amount", "reduced_amount") if key in cost]
        text = gettext("%(amount)s, reduced %(reduced)s", amount=amounts[0], reduced=amounts[1]) if len(amounts) == 2 else \
            (amounts[0] if amounts else gettext("not free of charge"))
    return text


def tel_href(number: str) -> str | None:
    """A ``tel:`` link in international form, so a tap calls from any phone; None if unparseable."""
    try:
        parsed = phonenumbers.parse(number, "DE")
    except phonenumbers.NumberParseException:
        return None
    return "tel:" + phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def organisation_entry_id(reference, publisher: str) -> str | None:
    """The directory entry id of an organisation a record refers to (by local id or across feeds)."""
    if isinstance(reference, str):
        return merge.entry_id_for("organisation", merge.global_id(publisher, reference))
    if isinstance(reference, dict) and reference.get("publisher") and reference.get("id"):
        return merge.entry_id_for("organisation", merge.global_id(reference["publisher"], reference["id"]))
    return None


def original_publisher(entry: dict) -> str:
    """The publisher id of the record an entry shows: its first provenance."""
    provenance = (entry.get("data") or {}).get("provenance") or [{}]
    return provenance[0].get("publisher", "")


def provider_of(entry: dict) -> str | None:
    """The entry id of the organisation behind an offer (provider) or event (organiser)."""
    record = entry.get("data") or {}
    reference = record.get("provider") if entry["kind"] == "offer" else record.get("organiser")
    return organisation_entry_id(reference, original_publisher(entry))


def instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def as_date(text: str) -> date:
    """A record's date (or the date part of a timestamp)."""
    return date.fromisoformat(text[:10])


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        term_label=term_label, language_name=language_name, facet_label=facet_label,
        schedule_in_words=schedule_in_words, attending_in_words=attending_in_words,
        schedule_validity=schedule_validity, occurrence_when=occurrence_when, day_heading=day_heading, short_day=short_day, month_name=month_name,
        cost_in_words=cost_in_words, tel_href=tel_href, instant=instant, as_date=as_date, provider_of=provider_of, text_direction=direction,
        format_date=format_date, format_datetime=format_datetime, url_for=url_for)
