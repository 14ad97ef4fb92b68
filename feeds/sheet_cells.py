"""Reading one spreadsheet cell: the text a volunteer typed, as the value the feed writes.

Dates and times, repetition phrases (as an RRULE), opening hours (as schedules), costs, web and
email addresses, registration, vocabulary terms, languages, and cells holding a list. A reader
returns the value or raises Unreadable with a message and a hint for the person fixing the cell.
"""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from datetime import timezone as utc
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

import wegweiser_schema
from feeds.languages import known_language_names, language_tag
from feeds.suggest import did_you_mean
from feeds.vocabulary import term_named

DATE_FORMS = "write TT.MM.JJJJ HH:MM (e.g. 05.12.2026 15:00), or TT.MM.JJJJ for the whole day"
RECURRENCE_FORMS = ("write e.g. 'wöchentlich samstags bis 30.06.2027', 'alle 2 Wochen freitags', "
                    "'monatlich am 1. Samstag' or an RRULE such as FREQ=WEEKLY;BYDAY=SA")
HOURS_FORMS = "write e.g. 'Di 10:00-12:00; Do 16:00-18:00' or 'Mo-Fr 9-12 Uhr'"
COST_FORMS = "write 'kostenlos', '5 €' or '5 € (ermäßigt 2,50 €)'"
REGISTRATION_FORMS = "write 'ja' or 'nein', optionally with a web address or email: 'ja, https://…'"


class Unreadable(ValueError):
    """A cell (or the whole file) whose text cannot be read as expected."""

    def __init__(self, message: str, hint: str = "", code: str = "bad-cell"):
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


# --- dates and times ----------------------------------------------------------------------

MOMENT = re.compile(
    r"(?:(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4}|\d{2})|(?P<Y>\d{4})-(?P<M>\d{1,2})-(?P<D>\d{1,2}))"
    r"(?:(?:\s+|T|,\s*)(?:um\s+)?(?P<h>\d{1,2})[:.](?P<min>\d{2})(?::(?P<s>\d{2}))?(?:\s*uhr)?)?", re.I)
TIME_ONLY = re.compile(r"(?:um\s+)?(\d{1,2})[:.](\d{2})(?:\s*uhr)?", re.I)


def parse_moment(text: str) -> str:
    """'05.12.2026 15:00', '05.12.2026' or ISO as the feed writes it: 2026-12-05T15:00 or 2026-12-05."""
    match = MOMENT.fullmatch(text.strip())
    if not match:
        raise Unreadable(f"'{text}' is not a date", DATE_FORMS, "bad-date")
    year = int(match["y"] or match["Y"])
    year += 2000 if year < 100 else 0
    try:
        day = date(year, int(match["m"] or match["M"]), int(match["d"] or match["D"]))
    except ValueError:
        raise Unreadable(f"'{text}' is not a date that exists", "check day and month; " + DATE_FORMS, "bad-date") from None
    if match["h"] is None:
        return day.isoformat()
    return f"{day.isoformat()}T{_clock(int(match['h']), int(match['min']), text)}" + (
        f":{match['s']}" if match["s"] and match["s"] != "00" else "")


def _clock(hour: int, minute: int, text: str) -> str:
    """HH:MM, or Unreadable when the hour or minute does not exist."""
    if hour > 23 or minute > 59:
        raise Unreadable(f"'{text}' has no valid time of day", "hours go from 0 to 23, minutes from 0 to 59", "bad-time")
    return f"{hour:02d}:{minute:02d}"


def parse_end(text: str, start: str) -> str:
    """Like parse_moment; a time alone ('17:00') means the day the event starts."""
    match = TIME_ONLY.fullmatch(text.strip())
    if not match:
        return parse_moment(text)
    if "T" not in start:
        raise Unreadable(f"'{text}' is only a time, but the start has none",
                         "write the end as TT.MM.JJJJ HH:MM, or give the start a time too", "bad-date")
    return f"{start[:10]}T{_clock(int(match[1]), int(match[2]), text)}"


def parse_day(text: str) -> str:
    """A date, TT.MM.JJJJ or JJJJ-MM-TT, for columns without a time."""
    moment = parse_moment(text)
    if "T" in moment:
        raise Unreadable(f"'{text}' has a time, but this column takes a date only", "write TT.MM.JJJJ", "bad-date")
    return moment


def like_start(moment: str, start: str) -> str:
    """A date written like the event's start: with the start's time of day, or as a date."""
    if "T" in start and "T" not in moment:
        return f"{moment}T{start[11:]}"
    return moment[:10] if "T" not in start else moment


# --- repetition and opening hours -----------------------------------------------------------

WEEKDAYS = {"MO": ("montag", "mo"), "TU": ("dienstag", "di"), "WE": ("mittwoch", "mi"), "TH": ("donnerstag", "do"),
            "FR": ("freitag", "fr"), "SA": ("samstag", "sonnabend", "sa"), "SU": ("sonntag", "so")}
WEEK = list(WEEKDAYS)
ORDINALS = {"erste": 1, "ersten": 1, "erster": 1, "zweite": 2, "zweiten": 2, "zweiter": 2, "dritte": 3,
            "dritten": 3, "dritter": 3, "vierte": 4, "vierten": 4, "vierter": 4, "letzte": -1, "letzten": -1, "letzter": -1}
FREQ_WORDS = {"täglich": "DAILY", "taeglich": "DAILY", "tag": "DAILY", "wöchentlich": "WEEKLY", "woechentlich": "WEEKLY",
              "woche": "WEEKLY", "monatlich": "MONTHLY", "monat": "MONTHLY"}
UNITS = {"tage": "DAILY", "tag": "DAILY", "wochen": "WEEKLY", "woche": "WEEKLY", "monate": "MONTHLY", "monat": "MONTHLY"}
FILLERS = {"jeden", "jede", "jeder", "alle", "am", "an", "und", "im", "des", "immer", "jeweils", "ab"}


def weekday(word: str) -> str | None:
    """The iCalendar weekday for a German day name or abbreviation: 'samstags', 'Sa', 'Sa.'."""
    word = word.lower().rstrip(".")
    for code, names in WEEKDAYS.items():
        if word in names or (word.endswith("s") and word[:-1] in names[:-1]):
            return code
    return None


def _numbered(days: list[str]) -> bool:
    """Whether a weekday carries a number ('1SA', '-1FR'), which makes the rule monthly."""
    return any(day[0] in "-12345" for day in days)


def _ordinal(token: str) -> int | None:
    """1 for '1.' or 'ersten', -1 for 'letzten', None for other words."""
    if re.fullmatch(r"[1-5]\.", token):
        return int(token[0])
    return ORDINALS.get(token)


@dataclass
class _Repeat:
    """What a German repetition phrase says, collected word by word."""

    freq: str | None = None
    interval: int = 1
    days: list[str] = field(default_factory=list)


def parse_recurrence(text: str, start: str, timezone: str) -> str:
    """An RRULE from a short German phrase ('wöchentlich samstags bis 30.06.2027') or an RRULE."""
    rule = re.sub(r"\s+", "", text).upper().removeprefix("RRULE:")
    if rule.startswith("FREQ="):
        return rule
    body, until = _split_until(text)
    repeat = _read_phrase(re.findall(r"\d+\.?|[^\W\d_]+", body.lower()))
    parts = [f"FREQ={repeat.freq}"] + ([f"INTERVAL={repeat.interval}"] if repeat.interval > 1 else [])
    parts += [f"BYDAY={','.join(repeat.days)}"] if repeat.days else []
    parts += [f"UNTIL={_until(until, start, timezone)}"] if until else []
    return ";".join(parts)


def _split_until(text: str) -> tuple[str, str | None]:
    """The phrase without its closing 'bis TT.MM.JJJJ', and that date."""
    match = re.search(r"\bbis\s+(?:zum\s+|einschließlich\s+)?(\S+)\s*$", text, re.I)
    if not match:
        return text, None
    return text[:match.start()], parse_day(match[1].rstrip(".,"))


def _read_phrase(tokens: list[str]) -> _Repeat:
    """Frequency, interval and weekdays from the words of a repetition phrase."""
    repeat, ordinal, index = _Repeat(), None, 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        following = tokens[index] if index < len(tokens) else ""
        if token.isdigit() and (following in UNITS or following.endswith(("tägig", "taegig"))):
            repeat.freq, repeat.interval = _every(int(token), following)
            index += 1
        elif _ordinal(token) is not None and following in ("woche", "monat"):
            repeat.freq, repeat.interval = UNITS[following], _ordinal(token)
            index += 1
        elif _ordinal(token) is not None:
            ordinal = _ordinal(token)
        elif token in ("vierzehntägig", "vierzehntaegig", "zweiwöchentlich", "zweiwoechentlich"):
            repeat.freq, repeat.interval = "WEEKLY", 2
        elif weekday(token):
            repeat.days.append(f"{ordinal or ''}{weekday(token)}")
            ordinal = None
        elif token in FREQ_WORDS:
            repeat.freq = repeat.freq or FREQ_WORDS[token]
        elif token not in FILLERS:
            raise Unreadable(f"'{token}' is not understood here", RECURRENCE_FORMS, "bad-recurrence")
    return _settled(repeat)


def _every(count: int, unit: str) -> tuple[str, int]:
    """'alle 2 Wochen' → WEEKLY, 2; '14-tägig' → WEEKLY, 2."""
    if unit in UNITS:
        return UNITS[unit], count
    return ("WEEKLY", count // 7) if count % 7 == 0 else ("DAILY", count)


def _settled(repeat: _Repeat) -> _Repeat:
    """The phrase's frequency made definite, or Unreadable when it says none."""
    counted = _numbered(repeat.days)
    if counted and repeat.freq not in (None, "MONTHLY"):
        raise Unreadable("a numbered weekday such as '1. Samstag' needs 'monatlich'",
                         "write e.g. 'monatlich am 1. Samstag'", "bad-recurrence")
    if repeat.freq is None and not repeat.days:
        raise Unreadable("it does not say how often", RECURRENCE_FORMS, "bad-recurrence")
    repeat.freq = repeat.freq or ("MONTHLY" if counted else "WEEKLY")
    repeat.days = list(dict.fromkeys(repeat.days))
    return repeat


def _until(day: str, start: str, timezone: str) -> str:
    """UNTIL as RFC 5545 wants it: a date for all-day events, else the day's end in UTC."""
    last = date.fromisoformat(day)
    if "T" not in start:
        return last.strftime("%Y%m%d")
    end_of_day = datetime.combine(last, time(23, 59, 59), ZoneInfo(timezone))
    return end_of_day.astimezone(utc.utc).strftime("%Y%m%dT%H%M%SZ")


HOURS = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?\s*(?:uhr\s*)?(?:-|–|—|bis)\s*(\d{1,2})(?:[:.](\d{2}))?\s*(?:uhr)?", re.I)


def parse_opening_hours(text: str, language: str) -> list[dict]:
    """Schedules from 'Di 10:00-12:00; Do 16:00-18:00': one per weekday group and time span."""
    schedules = []
    for part in (p.strip() for p in re.split(r"[;\n]+", text)):
        if part:
            schedules += _schedules_of(part, language)
    return schedules


def _schedules_of(part: str, language: str) -> list[dict]:
    """The schedules of one part such as 'Di, Do 9-12, 14-16 Uhr (nach Vereinbarung)'."""
    note = re.search(r"\(([^)]*)\)\s*$", part)
    words = part[:note.start()] if note else part
    spans = list(HOURS.finditer(words))
    if not spans:
        raise Unreadable(f"'{part}' has no times", HOURS_FORMS, "bad-hours")
    between = re.sub(r"[\s,]|und", "", "".join(words[a.end():b.start()] for a, b in zip(spans, spans[1:])))
    if between or words[spans[-1].end():].strip(" ,.;"):
        raise Unreadable(f"'{part}' is not understood", HOURS_FORMS, "bad-hours")
    days = _days(words[:spans[0].start()], part)
    rule = {"freq": "MONTHLY" if _numbered(days) else "WEEKLY", "byday": days}
    extra = {"notes": {language: note[1].strip()}} if note and note[1].strip() else {}
    return [rule | {"opens_at": _clock(int(span[1]), int(span[2] or 0), part),
                    "closes_at": _clock(int(span[3]), int(span[4] or 0), part)} | extra for span in spans]


def _days(text: str, part: str) -> list[str]:
    """Weekdays from 'Di', 'Mo-Fr', 'Di und Do', '1. Sa', 'werktags'."""
    days, ordinal, pending_range = [], None, False
    for token in re.findall(r"[1-5]\.|[^\W\d_]+\.?|[-–—]", text.lower()):
        word = token if token[0].isdigit() else token.rstrip(".")  # 'Sa.' is 'Sa', '1.' stays a number
        code = weekday(word)
        if word in ("werktags", "wochentags"):
            days += WEEK[:5]
        elif code and pending_range and days:
            days += WEEK[WEEK.index(days[-1][-2:]) + 1:WEEK.index(code) + 1]
            pending_range = False
        elif code:
            days.append(f"{ordinal or ''}{code}")
            ordinal = None
        elif word in ("-", "–", "—", "bis"):
            pending_range = True
        elif _ordinal(word) is not None:
            ordinal = _ordinal(word)
        elif word not in FILLERS:
            raise Unreadable(f"'{token}' in '{part}' is not a weekday", HOURS_FORMS, "bad-hours")
    if not days:
        raise Unreadable(f"'{part}' names no weekday", HOURS_FORMS, "bad-hours")
    return list(dict.fromkeys(days))


# --- costs, registration, links ---------------------------------------------------------------

AMOUNT = r"(\d{1,3}(?:\.\d{3})+|\d+)(?:[,.](\d{1,2}|[-–]))?"
FREE = re.compile(r"(?:kostenlos|kostenfrei|gratis|umsonst|frei|eintritt frei|free)\b", re.I)
CURRENCY = r"(?:€|eur\b|euro\b)"
MONEY = rf"(?:€\s*)?{AMOUNT}\s*{CURRENCY}?"
REDUCED = r"(?:ermäßigt|erm\.)"
PRICE = re.compile(rf"(?:€\s*)?(?<![\w.,]){AMOUNT}\s*{CURRENCY}?", re.I)
PLAIN_COST = re.compile(rf"{MONEY}(?:\s*\(\s*{REDUCED}\s*{MONEY}\s*\))?", re.I)


def _number(whole: str, cents: str | None) -> int | float:
    """An amount from '1.200' and '50' (German thousands dot, decimal comma)."""
    value = Decimal(whole.replace(".", "") + "." + (cents if cents and cents.isdigit() else "0"))
    return int(value) if value == value.to_integral_value() else float(value)


def parse_cost(text: str, language: str) -> dict:
    """{'free': …, 'amount': …, 'reduced_amount': …} from 'kostenlos', '5 €', '5 € (ermäßigt 2,50 €)'."""
    described = {"description": {language: text}}
    price = PRICE.search(text)
    if FREE.match(text) or (price and _number(price[1], price[2]) == 0):
        return {"free": True} | ({} if FREE.fullmatch(text) or PLAIN_COST.fullmatch(text) else described)
    if not price:
        raise Unreadable(f"'{text}' names no amount", COST_FORMS, "bad-cost")
    cost = {"free": False, "amount": _number(price[1], price[2]), "currency": "EUR"}
    reduced = re.search(rf"{REDUCED}\s*:?\s*(?:€\s*)?{AMOUNT}", text, re.I)
    if reduced:
        cost["reduced_amount"] = _number(reduced[1], reduced[2])
    return cost if PLAIN_COST.fullmatch(text) else cost | described


URL = re.compile(r"https?://[^\s,;]+", re.I)
BARE_URL = re.compile(r"(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/\S*)?", re.I)
EMAIL = re.compile(r"(?:mailto:)?([^@\s,;:]+@[^@\s,;]+\.[^@\s,;]+)", re.I)
YES = re.compile(r"(ja|yes|erforderlich|notwendig|nötig|pflicht|required)\b", re.I)
NO = re.compile(r"(nein|no|nicht nötig|nicht erforderlich|keine|ohne|not required)\b", re.I)


def web_address(text: str) -> str:
    """A link as the feed needs it, https:// added when only 'www.…' was written."""
    if URL.fullmatch(text):
        return text
    if BARE_URL.fullmatch(text) and "@" not in text:
        return "https://" + text
    raise Unreadable(f"'{text}' is not a web address", "write it like https://www.verein.example/angebot", "bad-url")


def email_address(text: str) -> str:
    """An email address as written, without a 'mailto:'."""
    match = EMAIL.fullmatch(text.strip())
    if not match:
        raise Unreadable(f"'{text}' is not an email address", "write it like beratung@verein.example", "bad-email")
    return match[1]


def parse_registration(text: str, language: str) -> dict:
    """{'required': …, 'url'/'email', 'deadline'} from 'ja', 'nein', 'ja, https://…', 'ja bis 01.12.2026'."""
    text = re.sub(r"^anmeldung\s*:?\s*", "", text, flags=re.I)
    url, email = URL.search(text), EMAIL.search(text)
    if not (YES.match(text) or NO.match(text) or url or email):
        raise Unreadable(f"'{text}' does not say whether to register", REGISTRATION_FORMS, "bad-registration")
    registration = {"required": not NO.match(text)}
    if url:
        registration["url"] = url[0]
    elif email:
        registration["email"] = email[1]
    deadline = re.search(r"\bbis\s+(\d{1,2}\.\d{1,2}\.\d{2,4}|\d{4}-\d{2}-\d{2})", text, re.I)
    if deadline:
        registration["deadline"] = parse_day(deadline[1])
    rest = text
    for found in (YES.match(text) or NO.match(text), url, email, deadline):
        rest = rest.replace(found[0], "") if found else rest
    if re.search(r"[^\W\d_]{3,}", rest):
        registration["description"] = {language: text}
    return registration


# --- vocabulary terms and languages ---------------------------------------------------------

@cache
def _label_words(vocabulary: str) -> dict[str, list[str]]:
    """Labels and their longer words per term, so 'Sprachkurs' can point at '… Sprachen lernen'."""
    words = {}
    for term in wegweiser_schema.vocabulary(vocabulary)["terms"]:
        labels = list(term.get("label", {}).values())
        words[term["id"]] = labels + [w for label in labels for w in re.findall(r"\w{5,}", label)]
    return words


def parse_term(text: str, vocabulary: str) -> str:
    """A term id from its id or a label in any language, regardless of case."""
    term = term_named(text, vocabulary)
    if term:
        return term
    guess = did_you_mean(text, wegweiser_schema.term_ids(vocabulary), _label_words(vocabulary))
    label = _german_label(vocabulary, guess) if guess else ""
    hint = f"did you mean '{guess}' ({label})? " if guess else ""
    raise Unreadable(f"'{text}' is not in the list of {vocabulary}",
                     hint + "use the ids or German names listed in feeds/templates/README.md", "unknown-term")


def _german_label(vocabulary: str, term_id: str) -> str:
    """The German label of a term, to show next to its id."""
    terms = wegweiser_schema.vocabulary(vocabulary)["terms"]
    return next((t["label"].get("de", term_id) for t in terms if t["id"] == term_id), term_id)


def parse_language(text: str) -> str:
    """A BCP 47 tag from a language name ('Türkisch', 'Turkish', 'Türkçe') or a tag ('tr', 'fa-AF')."""
    tag = language_tag(text)
    if tag:
        return tag
    guess = did_you_mean(text, known_language_names())
    hint = f"did you mean '{guess}'? " if guess else ""
    raise Unreadable(f"'{text}' is not a language this converter knows",
                     hint + "write the German name (Türkisch, Arabisch) or a language tag (tr, ar, fa-AF)", "unknown-language")


LIST_SEPARATORS = r"[,;/\n]"
LANGUAGE_SEPARATORS = r"[,;/\n]|\s+und\s+"  # category labels contain 'und'; language lists may too


def split_list(text: str, separators: str = LIST_SEPARATORS) -> list[str]:
    """The non-empty items of a list cell."""
    return [item.strip() for item in re.split(separators, text) if item.strip()]
