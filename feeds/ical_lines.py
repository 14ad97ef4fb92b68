"""An .ics file as content lines: decoded, unfolded, parsed into calendars, each component located by line.

The iCalendar parser keeps no line numbers, so the lines are scanned alongside it; a line or a component the
parser cannot take is left out with a warning, so that one broken part does not lose the whole calendar.
"""
import warnings
from dataclasses import dataclass, field

from icalendar import Calendar
from icalendar.parser import Contentline

from feeds.problems import Problem, warning


@dataclass
class Line:
    """One unfolded content line and the line number it starts on."""

    number: int
    text: str
    name: str
    value: str


@dataclass
class Source:
    """Where one component sits in the file: its BEGIN and END lines, its properties' lines and raw RRULE values."""

    begin: int
    end: int | None = None
    properties: dict[str, int] = field(default_factory=dict)
    rrules: list[str] = field(default_factory=list)

    def line(self, prop: str) -> int:
        """The line of a property, or of BEGIN when the component lacks it."""
        return self.properties.get(prop, self.begin)

    def holds(self, line: int) -> bool:
        """Whether a line lies between the component's BEGIN and END."""
        return self.end is not None and self.begin < line < self.end


def decode(data: bytes) -> str:
    """The file as text, without a byte order mark; raises ValueError unless it is UTF-8 iCalendar text."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not UTF-8 text (byte {exc.start} cannot be read), so it is no iCalendar "
                         "file") from None
    if not text.strip():
        raise ValueError("not an iCalendar file: the file is empty")
    if not text.lstrip().upper().startswith("BEGIN:VCALENDAR"):
        first = text.lstrip().split("\n", 1)[0][:40]
        raise ValueError(f"not an iCalendar file: it starts with {first!r} instead of BEGIN:VCALENDAR")
    return text


def content_lines(text: str) -> tuple[list[Line], list[Problem]]:
    """The unfolded content lines; a line that is no "NAME;PARAMS:value" is left out with a warning."""
    lines, problems = [], []
    for number, raw in _unfolded(text):
        try:
            name, _, value = Contentline(raw).parts()
        except ValueError:
            problems.append(warning("", f"line {number} cannot be read and is skipped: {raw[:60]!r}",
                                    "lines look like NAME:value; check this one in the calendar program",
                                    "ical-unreadable-line").at(number, None))
            continue
        lines.append(Line(number, raw, name.upper(), value))
    return lines, problems


def _unfolded(text: str) -> list[tuple[int, str]]:
    """Each logical line with the number of its first physical line; folded continuations joined, blanks dropped."""
    logical: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if raw[:1] in (" ", "\t") and logical:
            logical[-1] = (logical[-1][0], logical[-1][1] + raw[1:])
        elif raw.strip():
            logical.append((number, raw))
    return logical


def parse(lines: list[Line], problems: list[Problem]) -> list[Calendar]:
    """Every VCALENDAR; when another component breaks the parser, again with events only, and a warning.

    Raises ValueError when even that fails: a calendar cut off in transfer must not be taken for one whose
    events were deleted.
    """
    try:
        return _calendars(lines)
    except ValueError:
        events_only = _events_only(lines)
        if len(events_only) == len(lines):
            raise
    calendars = _calendars(events_only)
    skipped = sorted({line.number for line in lines} - {line.number for line in events_only})
    problems.append(warning("", "parts of the calendar other than events (time zone definitions, alarms, tasks) "
                                "cannot be read and are skipped; time zones are taken by their names",
                            "check the calendar's time zone and reminder settings", "ical-unreadable-component")
                    .at(skipped[0], None))
    return calendars


def _calendars(lines: list[Line]) -> list[Calendar]:
    """Parse content lines into calendars; raises ValueError with a one-line reason."""
    try:
        # Vendor-prefixed TZIDs (/freeassociation.sourceforge.net/Europe/Berlin) are mapped as wanted.
        with warnings.catch_warnings(action="ignore"):
            calendars = Calendar.from_ical("\r\n".join(line.text for line in lines), multiple=True)
    except Exception as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"the iCalendar file cannot be read: {reason}") from None
    calendars = [calendar for calendar in calendars if calendar.name == "VCALENDAR"]
    if not calendars:
        raise ValueError("the iCalendar file has no complete calendar: BEGIN:VCALENDAR without END:VCALENDAR")
    return calendars


def _events_only(lines: list[Line]) -> list[Line]:
    """Calendar properties and events, without time zone definitions, alarms, tasks or journal entries."""
    kept, stack = [], []
    for line in lines:
        if line.name == "BEGIN":
            stack.append(line.value.strip().upper())
        if all(kind in ("VCALENDAR", "VEVENT") for kind in stack):
            kept.append(line)
        if line.name == "END":
            del stack[-1:]
    return kept


def scan(lines: list[Line]) -> tuple[list[Source], list[Source]]:
    """The source lines of each VCALENDAR and each VEVENT, in file order (the parser keeps no line numbers)."""
    calendars: list[Source] = []
    events: list[Source] = []
    stack: list[tuple[str, Source | None]] = []
    for line in lines:
        if line.name == "END":
            if stack and stack[-1][1] is not None:
                stack[-1][1].end = line.number
            del stack[-1:]
        elif line.name == "BEGIN":
            kind = line.value.strip().upper()
            source = None
            # Only what the parser keeps counts: calendars at the top, events inside a calendar.
            if kind == "VCALENDAR" and not stack:
                source = Source(line.number)
                calendars.append(source)
            elif kind == "VEVENT" and stack and stack[0][0] == "VCALENDAR":
                source = Source(line.number)
                events.append(source)
            stack.append((kind, source))
        elif stack and stack[-1][1] is not None:
            source = stack[-1][1]
            source.properties.setdefault(line.name, line.number)
            if line.name == "RRULE" and stack[-1][0] == "VEVENT":
                source.rrules.append(line.value.strip())
    return calendars, events
