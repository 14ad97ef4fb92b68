"""What a list of the directory asks for: the filters every page, feed and API call shares, read from a
query string, and the shape of the answer. The SQL behind them is in aggregator/store.py.

Values of one facet combine with OR (category=health&category=youth: either), different facets with
AND; ``from``/``to`` are days in the region's zone, both included.
"""
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import wegweiser_schema
from feeds.feed import utc_timestamp

REGION_TIMEZONE = "Europe/Berlin"
FACETS = ("category", "target_group", "language", "town", "organisation", "provider_kind")
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000
# Dates outside these years are typing mistakes, and arithmetic on them would overflow.
YEARS = (1900, 2999)
# Longer searches are not what people type; the full-text index refuses very long ones.
MAX_QUERY_CHARACTERS = 200
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Facets whose values are vocabulary terms, so a mistyped value can be named rather than finding nothing.
VOCABULARY_OF = {"category": "categories", "target_group": "target-groups", "provider_kind": "organisation-kinds"}


@dataclass(frozen=True)
class Filters:
    """One filter combination; ``from_`` is the public parameter ``from``."""

    q: str = ""
    category: tuple[str, ...] = ()
    target_group: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    town: tuple[str, ...] = ()
    organisation: tuple[str, ...] = ()
    provider_kind: tuple[str, ...] = ()
    from_: date | None = None
    to: date | None = None
    changed_since: datetime | None = None
    timezone: str = REGION_TIMEZONE

    @classmethod
    def from_args(cls, args: Mapping, timezone_name: str = REGION_TIMEZONE) -> "Filters":
        """Filters from a query string's parameters (a dict, or a multi-dict with ``getlist``);
        raises ValueError naming the parameter and how to write it."""
        facets = {name: _facet_values(name, _values(args, name)) for name in FACETS}
        start = _day("from", _single(args, "from"))
        end = _day("to", _single(args, "to"))
        if start and end and end < start:
            raise ValueError(f"to: '{end}' is before from: '{start}', the range would be empty")
        return cls(q=_query(_values(args, "q")), from_=start, to=end,
                   changed_since=_moment("changed_since", _single(args, "changed_since")),
                   timezone=timezone_name, **facets)

    def facet_values(self, name: str) -> tuple[str, ...]:
        return getattr(self, name)

    def utc_range(self) -> tuple[str | None, str | None]:
        """``from``/``to`` as UTC instants: from the start of the first day to the end of the last."""
        return day_range(self.from_, self.to, self.timezone)


@dataclass
class Found:
    """One page of a list: how many there are in all, the page's entries, and the facet counts."""

    total: int
    entries: list[dict]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    page: int = 1
    per_page: int = 20

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def day_range(start: date | None, end: date | None, zone_name: str) -> tuple[str | None, str | None]:
    """Days (both included) in a zone as half-open UTC instants, as the store writes them."""
    zone = ZoneInfo(zone_name)
    low = utc_text(datetime.combine(start, time(), zone)) if start else None
    high = utc_text(datetime.combine(end + timedelta(days=1), time(), zone)) if end else None
    return low, high


def utc_text(moment: datetime) -> str:
    """An aware datetime as the store writes instants: YYYY-MM-DDTHH:MM:SSZ."""
    return utc_timestamp(moment)


def page_bounds(page: int, per_page: int) -> tuple[int, int]:
    """LIMIT and OFFSET for a page (counted from 1); raises ValueError for pages that cannot exist."""
    if not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page: {page} is not a page number, pages start at 1 (and end long before {MAX_PAGE})")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page: {per_page} is out of range, choose 1 to {MAX_PER_PAGE}")
    return per_page, (page - 1) * per_page


def _values(args: Mapping, name: str) -> list[str]:
    """Every non-empty value given for a parameter, repeated or single."""
    raw = args.getlist(name) if hasattr(args, "getlist") else args.get(name, [])
    raw = [raw] if isinstance(raw, str) else list(raw)
    return [v.strip() for v in raw if v and v.strip()]


def _single(args: Mapping, name: str) -> str | None:
    values = _values(args, name)
    if len(values) > 1:
        raise ValueError(f"{name}: given {len(values)} times ({', '.join(values)}), give it once")
    return values[0] if values else None


def _facet_values(name: str, values: list[str]) -> tuple[str, ...]:
    """A facet's selected values, checked against its vocabulary where it has one."""
    if name in VOCABULARY_OF:
        known = wegweiser_schema.term_ids(VOCABULARY_OF[name])
        for value in values:
            if value not in known:
                raise ValueError(f"{name}: '{value}' is not a known value, use one of: {', '.join(sorted(known))}")
    return tuple(dict.fromkeys(values))


def _query(values: list[str]) -> str:
    """The search words, control characters taken out; raises ValueError for an overlong search."""
    text = CONTROL.sub(" ", " ".join(values)).strip()
    if len(text) > MAX_QUERY_CHARACTERS:
        raise ValueError(f"q: the search is {len(text)} characters long; search with a few words "
                         f"(at most {MAX_QUERY_CHARACTERS} characters)")
    return text


def _in_years(name: str, value: str, year: int) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise ValueError(f"{name}: '{value}' is out of range, choose a year from {YEARS[0]} to {YEARS[1]}")


def _day(name: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if not DAY.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}: '{value}' is not a date, write YYYY-MM-DD") from None
    _in_years(name, value, day.year)
    return day


def _moment(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"{name}: '{value}' is not a time with a zone, write e.g. 2026-11-22T10:00:00Z")
    _in_years(name, value, moment.year)
    return moment
