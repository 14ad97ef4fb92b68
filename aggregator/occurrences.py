"""The dates on which an event takes place within a window: single events, recurring series with their
added, excluded, moved and cancelled dates, all-day events by date.

The series is built as the same VEVENTs the calendar subscription gets (feeds/ical_write.py) and expanded
by recurring-ical-events, so the directory's lists of dates and its .ics agree by construction, and the
wall-clock time stays put across daylight-saving changes in the event's own zone.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import recurring_ical_events
from icalendar import Calendar

from feeds.feed import Feed
from feeds.ical_write import like_start, vevents, wall_value, zone_of

MAX_OCCURRENCES = 1000      # per event and window: an endless daily rule costs at most this much
PAST = timedelta(days=30)   # the store keeps dates from this long ago ...
HORIZON = timedelta(days=730)  # ... up to this far ahead of now

# The override fields that describe a date (start, end, status); the rest are changed texts and places.
OVERRIDE_DATE_FIELDS = frozenset({"recurrence_id", "start", "end", "status"})


@dataclass(frozen=True)
class Occurrence:
    """One date of an event, with what an override changed on it."""

    start_utc: datetime
    end_utc: datetime | None        # exclusive; all-day: midnight after the last day, in the event's zone
    all_day: bool
    start_local: str                # as the event writes it: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]
    status: str                     # scheduled | cancelled | postponed
    recurrence_id: str | None       # the date of the series this one stands for (None for single events)
    changes: dict = field(default_factory=dict)  # an override's own title, description, location, ...

    def in_zone(self, zone) -> tuple[date | datetime, date | datetime | None]:
        """Start and end as the event's zone tells them: an all-day date by its first and last day
        (the stored end is the midnight after the last), a timed one by its local times."""
        start = self.start_utc.astimezone(zone)
        end = self.end_utc.astimezone(zone) if self.end_utc else None
        if self.all_day:
            return start.date(), (end.date() - timedelta(days=1)) if end else None
        return start, end

    @property
    def local_date(self) -> str:
        """The day it starts on, in the event's zone: what a list by day groups it under."""
        return self.start_local[:10]


class ExpansionError(ValueError):
    """An event whose dates cannot be worked out, with the event's id and the reason."""


def expand(event: dict, default_timezone: str, window_start: datetime, window_end: datetime,
           limit: int = MAX_OCCURRENCES) -> list[Occurrence]:
    """The event's occurrences that end after ``window_start`` and start before ``window_end``
    (both aware datetimes), at most ``limit``, in order of start."""
    zone_name = event.get("timezone") or default_timezone
    zone = zone_of(zone_name)
    series_start = wall_value(event["start"], zone)
    overrides = {_slot(o["recurrence_id"], zone, series_start): o for o in event.get("overrides", [])}
    try:
        components = _bounded(recurring_ical_events.of(_calendar(event, zone_name)), zone, window_start, window_end, limit,
                              _first_span(event, window_start, window_end, limit))
    except (ValueError, TypeError, KeyError) as exc:
        raise ExpansionError(f"event {event.get('id')!r}: its dates cannot be worked out ({exc})") from exc
    recurring = "recurrence" in event or bool(overrides)
    return [_occurrence(c, event, zone, overrides, recurring) for c in components]


def window_around(now: datetime, past: timedelta = PAST, horizon: timedelta = HORIZON) -> tuple[datetime, datetime]:
    """The window of dates the store keeps for a given moment."""
    return now - past, now + horizon


def _calendar(event: dict, zone_name: str) -> Calendar:
    """A calendar holding the event as the subscription writes it (master and overrides)."""
    feed = Feed({"publisher": {"id": "directory"}, "default_language": "de", "timezone": zone_name})
    calendar = Calendar()
    for component in vevents(event | {"updated": event.get("updated", "2020-01-01T00:00:00Z")}, feed):
        calendar.add_component(component)
    return calendar


def _first_span(event: dict, window_start: datetime, window_end: datetime, limit: int) -> timedelta:
    """How much of the window to expand at once: as many days as occurrences may be kept (a rule
    repeating at most daily cannot give more), or a single day for rules repeating more often."""
    rule = (event.get("recurrence") or {}).get("rrule", "").upper()
    sub_daily = any(f"FREQ={freq}" in rule for freq in ("HOURLY", "MINUTELY", "SECONDLY"))
    return timedelta(days=1) if sub_daily else min(window_end - window_start, timedelta(days=limit))


def _bounded(query, zone, window_start: datetime, window_end: datetime, limit: int, span: timedelta) -> list:
    """The first ``limit`` occurrences in the window, sorted by start, found in spans doubling from
    ``span``, so a rule repeating every hour stops after a day's work rather than two years'."""
    found, low = [], window_start
    while low < window_end and len(found) < limit:
        high = min(window_end, low + span)
        chunk = query.between(low, high)
        # Later spans keep only dates starting in them: one lasting across a span's edge came with the span before.
        found += chunk if low == window_start else [c for c in chunk if _instant(c["DTSTART"].dt, zone) >= low]
        low, span = high, span * 2
    # The library reads all-day dates as floating; the window is held to the event's own zone here.
    inside = [c for c in found if _overlaps(c, zone, window_start, window_end)]
    return sorted(inside, key=lambda c: _instant(c["DTSTART"].dt, zone))[:limit]


def _overlaps(component, zone, window_start: datetime, window_end: datetime) -> bool:
    """Whether a date starts before the window's end and ends after its start (one without end: starts in it)."""
    start, end = _span(component, zone)
    return start < window_end and (end > window_start if end else start >= window_start)


def _span(component, zone) -> tuple[datetime, datetime | None]:
    """Start and end of an expanded VEVENT as aware datetimes; a timed event without end has none
    (the library gives it an end equal to its start)."""
    start = _instant(component["DTSTART"].dt, zone)
    end = _instant(component["DTEND"].dt, zone) if "DTEND" in component else None
    return start, end if end != start else None


def _slot(value: str, zone, series_start: date | datetime) -> date | datetime:
    """A recurrence id as the calendar compares it: in the type of the series' start."""
    return like_start(wall_value(value, zone), series_start)


def _instant(value: date | datetime, zone) -> datetime:
    """A start or end as an aware datetime: a date is midnight at the start of that day in the zone."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return datetime.combine(value, time(), zone)


def _local_text(value: date | datetime, zone) -> str:
    """A date or time written as the feed writes it, wall-clock in the event's zone."""
    if not isinstance(value, datetime):
        return value.isoformat()
    local = _instant(value, zone).astimezone(zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


def _occurrence(component, event: dict, zone, overrides: dict, recurring: bool) -> Occurrence:
    """One expanded VEVENT as an occurrence, with its override's changes."""
    start = component["DTSTART"].dt
    start_utc, end_utc = _span(component, zone)
    slot = component["RECURRENCE-ID"].dt if recurring and "RECURRENCE-ID" in component else None
    override = overrides.get(slot, {}) if slot is not None else {}
    return Occurrence(
        start_utc=start_utc.astimezone(timezone.utc),
        end_utc=end_utc.astimezone(timezone.utc) if end_utc else None,
        all_day=not isinstance(start, datetime),
        start_local=_local_text(start, zone),
        status=override.get("status", event.get("status", "scheduled")),
        recurrence_id=_local_text(slot, zone) if slot is not None else None,
        changes={k: v for k, v in override.items() if k not in OVERRIDE_DATE_FIELDS},
    )
