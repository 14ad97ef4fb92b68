"""Turn a spreadsheet kept by volunteers (CSV saved from Excel or LibreOffice) into a feed.

One row is one offer (Angebot) or one event (Termin). Column names are German, English names
are accepted too; every column is described in feeds/templates/README.md. Each problem names
the spreadsheet row and column of the cell to fix and the JSON pointer of the value in the feed.
"""
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date

import langcodes

from feeds.feed import Feed, event, now_timestamp, offer
from feeds.problems import Problem, Severity
from feeds.sheet_cells import (LANGUAGE_SEPARATORS, LIST_SEPARATORS, WEEK, Unreadable, email_address, like_start,
                               parse_cost, parse_day, parse_end, parse_language, parse_moment, parse_opening_hours,
                               parse_recurrence, parse_registration, parse_term, split_list, web_address)
from feeds.suggest import did_you_mean, fold
from feeds.validate import check_document

# German column name → English alias. Text columns also come per language: titel_tr, title_ar.
COLUMNS = {
    "id": "id", "typ": "type", "titel": "title", "beschreibung": "description",
    "kategorien": "categories", "zielgruppen": "target_groups", "sprachen": "languages",
    "beginn": "start", "ende": "end", "wiederholung": "recurrence", "entfaellt_am": "cancelled_on",
    "ort_name": "place_name", "strasse": "street", "plz": "postal_code", "ort": "city",
    "online_url": "online_url", "barrierefreiheit": "accessibility", "sprechzeiten": "opening_hours",
    "kontakt_name": "contact_name", "kontakt_telefon": "contact_phone", "kontakt_email": "contact_email",
    "kontakt_sprachen": "contact_languages", "kosten": "cost", "anmeldung": "registration",
    "link": "url", "status": "status", "zuletzt_geprueft": "last_verified",
}
TEXT_COLUMNS = ("titel", "beschreibung")
ALIASES = {english: german for german, english in COLUMNS.items()} | {"kontakt_e_mail": "kontakt_email"}
REQUIRED_COLUMNS = ("id", "typ", "titel", "kategorien")

KINDS = {"angebot": "offer", "offer": "offer", "termin": "event", "veranstaltung": "event", "event": "event"}
OFFER_STATUS = {"aktiv": "active", "pausiert": "paused", "beendet": "ended"}
EVENT_STATUS = {"findet statt": "scheduled", "geplant": "scheduled", "abgesagt": "cancelled", "fällt aus": "cancelled",
                "verschoben": "postponed"}
NOT_FOR_OFFERS = ("wiederholung", "entfaellt_am")
NOT_FOR_EVENTS = ("sprechzeiten", "kontakt_name", "kontakt_telefon", "kontakt_email", "kontakt_sprachen", "zuletzt_geprueft")


@dataclass
class ConvertResult:
    """The feed made from a spreadsheet, what was wrong in it, and how its bytes were read."""

    feed: Feed
    problems: list[Problem]
    encoding: str

    @property
    def errors(self) -> list[Problem]:
        """The problems that are errors, not warnings."""
        return [p for p in self.problems if p.is_error]


def publisher_from_options(id: str, name: str, kind: str, town: str, *, ags: str = "",
                           license: str = "dl-de/by-2-0", language: str = "de") -> dict:
    """The feed's publisher object from the plain values a command line gives."""
    place = {"name": town, "ags": ags} if ags else {"name": town}
    return {"id": id, "name": {language: name}, "kind": kind, "town": place, "license": license}


# --- reading the file -------------------------------------------------------------------

def decode(data: bytes, filename: str) -> tuple[str, str]:
    """The text and the encoding it was read with: UTF-8 (with or without BOM), else Windows-1252."""
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xls", ".ods")):
        raise Unreadable("this is a workbook, not a CSV file",
                         "in Excel or LibreOffice choose 'Save as' and the type 'CSV UTF-8' or 'CSV (semicolon delimited)'",
                         "not-csv")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable("the file is saved as 'Unicode text' (UTF-16)",
                         "save it again as 'CSV UTF-8 (comma delimited)' or 'CSV (semicolon delimited)'", "encoding")
    for encoding in ("utf-8", "cp1252"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return (text[1:], "utf-8-sig") if text.startswith("\ufeff") else (text, encoding)
    raise Unreadable("the file is neither UTF-8 nor Windows-1252 text",
                     "save it again as 'CSV UTF-8 (comma delimited)'", "encoding")


def sheet_rows(text: str) -> list[list[str]]:
    """The rows of the sheet, the header first; one entry per spreadsheet row, empty ones included."""
    first_line, _, rest = text.partition("\n")
    hint = re.fullmatch(r"sep=([;,])\r?", first_line)
    if hint:  # Excel's own delimiter line, which Excel hides when it opens the file
        text, delimiter = rest, hint[1]
    else:
        delimiter = _delimiter(text)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _delimiter(text: str) -> str:
    """';' or ',' as csv.Sniffer sees it; the header row decides when the sniffer cannot
    (rows of different lengths) or picks a character the header does not use."""
    header = text.partition("\n")[0]
    by_header = ";" if header.count(";") >= header.count(",") else ","
    try:
        sniffed = csv.Sniffer().sniff(text[:65536], delimiters=";,").delimiter
    except csv.Error:
        return by_header
    return sniffed if sniffed in header else by_header


# --- the header ---------------------------------------------------------------------------

@dataclass
class Header:
    """Which column holds what: keys like 'kategorien' or 'titel@tr', 1-based columns."""

    columns: dict[str, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def report(self, severity: Severity, column: int, message: str, hint: str, code: str) -> None:
        """A problem with the header row itself."""
        self.problems.append(Problem(severity, "", message, hint, code, 1, column))


def _spelled_out(text: str) -> str:
    """Lower case with umlauts spelled out: 'Größe' becomes 'groesse'."""
    lowered = text.lower()
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        lowered = lowered.replace(umlaut, spelled)
    return lowered


def _normal_name(text: str) -> str:
    """A header cell as a column name: lower case, umlauts spelled out, '_' for spaces."""
    return re.sub(r"[\s\-]+", "_", _spelled_out(text.strip()))


def column_key(name: str, default_language: str) -> str | None:
    """The key a header cell stands for, or None when it names no known column."""
    normal = _normal_name(name)
    german = ALIASES.get(normal, normal)
    if german in TEXT_COLUMNS:
        return f"{german}@{default_language}"
    if german in COLUMNS:
        return german
    base, _, tag = normal.partition("_")
    base = ALIASES.get(base, base)
    tag = tag.replace("_", "-")
    if base in TEXT_COLUMNS and langcodes.tag_is_valid(tag):
        return f"{base}@{langcodes.standardize_tag(tag)}"
    return None


def read_header(cells: list[str], default_language: str) -> Header:
    """Map header cells to columns; unknown, repeated and missing columns are problems."""
    header = Header()
    for column, name in enumerate(cells, start=1):
        if not name.strip():
            continue
        header.names[column] = name.strip()
        key = column_key(name, default_language)
        if key is None:
            guess = did_you_mean(name, list(COLUMNS) + list(ALIASES))
            hint = f"did you mean '{ALIASES.get(guess, guess)}'? " if guess else ""
            header.report("warning", column, f"the column '{name.strip()}' is not known; its cells were left out",
                          hint + "see feeds/templates/README.md for the columns", "unknown-column")
        elif key in header.columns:
            header.report("error", column, f"the column '{name.strip()}' appears twice; this one was left out",
                          f"keep only column {header.columns[key]}, or give a language: titel_tr, titel_ar", "duplicate-column")
        else:
            header.columns[key] = column
    for required in REQUIRED_COLUMNS:
        if not any(key.partition("@")[0] == required for key in header.columns):
            header.report("error", len(cells) + 1, f"the column '{required}' is missing",
                          f"add a column named '{required}' to the first row; nothing was converted", "missing-column")
    return header


# --- one row ---------------------------------------------------------------------------------

@dataclass
class Row:
    """One spreadsheet row being turned into a record, with the problems and the cell of each value."""

    line: int
    cells: dict[str, str]
    header: Header
    language: str
    problems: list[Problem] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)  # pointer in the record → column

    def text(self, key: str) -> str:
        """The cell of column ``key``, stripped; empty when the sheet has no such column."""
        return self.cells.get(key, "")

    def column(self, key: str) -> int | None:
        """The 1-based column of ``key``, or None when the sheet has no such column."""
        return self.header.columns.get(key)

    def report(self, severity: Severity, key: str, pointer: str, message: str, hint: str = "", code: str = "") -> None:
        """A problem at this row's cell of ``key``, its message led by the column's name."""
        column = self.column(key)
        name = self.header.names.get(column, key.partition("@")[0])
        self.problems.append(Problem(severity, pointer, f"{name}: {message}", hint, code, self.line, column or 1))

    def read(self, key: str, pointer: str, parse, *args):
        """The parsed cell, or None when it is empty or cannot be read (then with an error)."""
        value = self._parsed(key, pointer, parse, self.text(key), *args) if self.text(key) else None
        if value is not None:
            self.sources[pointer] = self.column(key)
        return value

    def read_list(self, key: str, pointer: str, parse, *args, separators: str = LIST_SEPARATORS) -> list | None:
        """Each comma-separated item parsed; unreadable items are reported and left out."""
        parsed = (self._parsed(key, pointer, parse, item, *args) for item in split_list(self.text(key), separators))
        values = [value for value in parsed if value is not None]
        if values:
            self.sources[pointer] = self.column(key)
        return list(dict.fromkeys(values)) or None

    def _parsed(self, key: str, pointer: str, parse, text: str, *args):
        """``parse(text, *args)``, or None after reporting at the cell of ``key`` why it cannot be read."""
        try:
            return parse(text, *args)
        except Unreadable as exc:
            self.report("error", key, pointer, exc.message, exc.hint, exc.code)
            return None

    def left_out(self, key: str, needs: str) -> None:
        """Say that the row is not in the feed because ``key`` gave nothing usable."""
        column = self.column(key)
        if column is None:
            self.report("error", key, "", f"the column is missing; the row was left out ({needs})", "", "missing-column")
            return
        for index in range(len(self.problems) - 1, -1, -1):
            if self.problems[index].column == column and self.problems[index].is_error:
                found = self.problems[index]
                self.problems[index] = replace(found, message=f"{found.message}; the row was left out ({needs})")
                return
        self.report("error", key, "", f"the cell is empty; the row was left out ({needs})", "", "missing-cell")


@dataclass(frozen=True)
class Origin:
    """Where a record of the feed came from: its spreadsheet row and the column of each value."""

    line: int
    columns: dict[str, int]
    names: dict[int, str]

    def place(self, problem: Problem, relative: str) -> Problem:
        """The problem at the row and at the column of the value it names (or the record's id)."""
        pointer = relative
        while pointer and pointer not in self.columns:
            pointer = pointer.rsplit("/", 1)[0]
        column = self.columns.get(pointer) or self.columns.get("") or 1
        name = self.names.get(column)
        message = f"{name}: {problem.message}" if name else problem.message
        return replace(problem, line=self.line, column=column, message=message)


def _texts(row: Row, base: str, pointer: str) -> dict | None:
    """The text of every language column of ``base`` (titel, beschreibung) that is filled in."""
    text = {}
    for key, column in row.header.columns.items():
        if key.startswith(base + "@") and row.text(key):
            tag = key.partition("@")[2]
            text[tag] = row.text(key)
            row.sources[f"{pointer}/{tag}"] = column
    if text:
        row.sources[pointer] = row.column(f"{base}@{row.language}") or row.sources[f"{pointer}/{next(iter(text))}"]
    return text or None


def _title_key(row: Row) -> str:
    """The title column problems about a missing title point at."""
    default = f"titel@{row.language}"
    return default if row.column(default) else next(k for k in row.header.columns if k.startswith("titel@"))


def _slug(text: str) -> str:
    """An id made from text: lower case, umlauts spelled out, '-' between words."""
    plain = unicodedata.normalize("NFKD", _spelled_out(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60].strip("-")


def _record_id(row: Row, title: dict) -> str | None:
    """The row's id; made from the title, with a warning, when it is empty or not a valid id."""
    written = row.text("id")
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}", written):
        return written
    made = _slug(written or next(iter(title.values())))
    if not made:
        row.report("error", "id", "", "the id is empty and cannot be made from the title; the row was left out",
                   "write a short id of letters and digits, such as sprachcafe-2026", "missing-cell")
        return None
    if written:
        row.report("warning", "id", "/id", f"'{written}' is not a valid id; '{made}' was used",
                   "ids may contain only letters, digits and . _ - : ~ (no spaces or umlauts)", "changed-id")
    else:
        row.report("warning", "id", "/id", f"the id is empty; '{made}' was made from the title",
                   "write it into the id column: the id must stay the same when the title changes", "made-id")
    return made


def _location(row: Row, for_event: bool) -> list[dict]:
    """The row's place (address) and online meeting, as the feed's locations."""
    def at(index: int) -> str:
        """The pointer of location ``index``: an event has one location, an offer a list."""
        return "/location" if for_event else f"/locations/{index}"

    name = {row.language: row.text("ort_name")} if row.text("ort_name") else None
    access = {row.language: row.text("barrierefreiheit")} if row.text("barrierefreiheit") else None
    physical = _address(row, f"{at(0)}/address")
    online = row.read("online_url", f"{at(1 if physical else 0)}/url", web_address)
    row.sources |= {f"{at(0)}/name": row.column("ort_name"), f"{at(0)}/accessibility": row.column("barrierefreiheit")}
    row.sources.setdefault(at(0), row.column("online_url"))
    places = []
    if physical:
        places.append({"location_type": "physical"} | ({"name": name} if name else {}) | {"address": physical}
                      | ({"accessibility": access} if access else {}))
    if online and not (for_event and physical):
        places.append({"location_type": "virtual"} | ({"name": name} if name and not physical else {}) | {"url": online})
    elif online:
        row.report("warning", "online_url", "", "an event has one place: the address was used and the online link left out",
                   "put the link into 'link' or the description, or make two rows", "one-place")
    if name and not places:
        row.report("warning", "ort_name", "", "a place needs an address (strasse, plz, ort) or an online_url; it was left out",
                   code="place-without-address")
    if access and not physical:
        row.report("warning", "barrierefreiheit", "", "accessibility describes a place with an address; it was left out",
                   code="place-without-address")
    return places


def _address(row: Row, pointer: str) -> dict | None:
    """The postal address from strasse, plz and ort; None when any is missing."""
    keys = {"strasse": "address_1", "plz": "postal_code", "ort": "city"}
    if not any(row.text(k) for k in keys):
        return None
    missing = [k for k in keys if not row.text(k)]
    for key in missing:
        row.report("error", key, "", "the cell is empty; an address needs strasse, plz and ort, so the place was left out",
                   code="incomplete-address")
    if missing:
        return None
    postal_code = row.text("plz")
    if re.fullmatch(r"\d{4}", postal_code):  # the spreadsheet read 01067 as a number
        row.report("warning", "plz", f"{pointer}/postal_code", f"'{postal_code}' has four digits; '0{postal_code}' was used",
                   "format the plz column as text so the leading zero stays", "short-postal-code")
        postal_code = "0" + postal_code
    for key, name in keys.items():
        row.sources[f"{pointer}/{name}"] = row.column(key)
    row.sources[pointer] = row.sources[pointer.rsplit("/", 1)[0]] = row.column("strasse")
    return {"address_1": row.text("strasse"), "postal_code": postal_code, "city": row.text("ort")}


def _contact(row: Row) -> dict | None:
    """The offer's contact person; None without phone or email."""
    contact = {"name": row.text("kontakt_name")} if row.text("kontakt_name") else {}
    phone = row.text("kontakt_telefon")
    email = row.read("kontakt_email", "/contacts/0/email", email_address)
    languages = row.read_list("kontakt_sprachen", "/contacts/0/languages", parse_language,
                              separators=LANGUAGE_SEPARATORS)
    contact |= ({"phone": phone} if phone else {}) | ({"email": email} if email else {})
    if not (phone or email):
        if contact or languages:
            row.report("error", "kontakt_name" if contact else "kontakt_sprachen", "",
                       "a contact needs kontakt_telefon or kontakt_email; the contact was left out", code="incomplete-contact")
        return None
    for key, name in (("kontakt_name", "name"), ("kontakt_telefon", "phone")):
        if row.text(key):
            row.sources[f"/contacts/0/{name}"] = row.column(key)
    row.sources["/contacts/0"] = row.column("kontakt_name" if "name" in contact else ("kontakt_telefon" if phone else "kontakt_email"))
    return contact | ({"languages": languages} if languages else {})


def _status_names(status_words: dict[str, str]) -> dict[str, str]:
    """German status words and the feed's English values, folded, to the feed's value."""
    return {fold(word): value for word, value in status_words.items()} | {value: value for value in status_words.values()}


def _shared_fields(row: Row, status_words: dict[str, str]) -> dict:
    """The fields offers and events have in common, in the order the feed shows them."""
    fields = {"title": _texts(row, "titel", "/title"), "description": _texts(row, "beschreibung", "/description")}
    if row.text("status"):
        status = _status_names(status_words).get(fold(row.text("status")))
        if status:
            fields["status"] = status
            row.sources["/status"] = row.column("status")
        else:
            guess = did_you_mean(row.text("status"), status_words)
            row.report("error", "status", "/status", f"'{row.text('status')}' is not a status",
                       (f"did you mean '{guess}'? " if guess else "") + "use one of: " + ", ".join(status_words),
                       "unknown-status")
    return fields


def _listed_fields(row: Row) -> dict:
    """Categories, target groups and languages: comma-separated cells."""
    return {
        "categories": row.read_list("kategorien", "/categories", parse_term, "categories"),
        "target_groups": row.read_list("zielgruppen", "/target_groups", parse_term, "target-groups"),
        "languages": row.read_list("sprachen", "/languages", parse_language, separators=LANGUAGE_SEPARATORS),
    }


def _closing_fields(row: Row) -> dict:
    """Cost, registration and link, which offers and events share."""
    return {
        "cost": row.read("kosten", "/cost", parse_cost, row.language),
        "registration": row.read("anmeldung", "/registration", parse_registration, row.language),
        "url": row.read("link", "/url", web_address),
    }


def offer_fields(row: Row) -> dict:
    """An offer's fields from its row; beginn and ende give the dates it is valid."""
    fields = _shared_fields(row, OFFER_STATUS)
    fields.setdefault("status", "active")
    fields |= _listed_fields(row)
    locations = _location(row, for_event=False)
    fields["locations"] = locations or None
    contact = _contact(row)
    fields["contacts"] = [contact] if contact else None
    fields["schedules"] = row.read("sprechzeiten", "/schedules", parse_opening_hours, row.language)
    fields |= _closing_fields(row)
    fields["valid_from"] = row.read("beginn", "/valid_from", parse_day)
    fields["valid_to"] = row.read("ende", "/valid_to", parse_day)
    fields["last_verified"] = row.read("zuletzt_geprueft", "/last_verified", parse_day)
    return fields


def event_fields(row: Row, timezone: str) -> dict:
    """An event's fields from its row."""
    fields = _shared_fields(row, EVENT_STATUS)
    start = row.read("beginn", "/start", parse_moment)
    fields["start"] = start
    fields["end"] = row.read("ende", "/end", parse_end, start) if start else None
    fields["recurrence"] = _recurrence(row, start, timezone) if start else None
    places = _location(row, for_event=True)
    fields["location"] = places[0] if places else None
    fields |= _listed_fields(row) | _closing_fields(row)
    return fields


def _recurrence(row: Row, start: str, timezone: str) -> dict | None:
    """The event's repetition rule and the dates it does not take place."""
    rule = row.read("wiederholung", "/recurrence/rrule", parse_recurrence, start, timezone)
    if not rule:
        if row.text("entfaellt_am"):
            row.report("warning", "entfaellt_am", "", "only a repeating event has dates that are left out; this cell was ignored",
                       "fill in wiederholung, or delete the cell", "not-applicable")
        return None
    row.sources["/recurrence"] = row.column("wiederholung")
    _check_first_day(row, rule, start)
    cancelled = row.read_list("entfaellt_am", "/recurrence/exdate", parse_moment)
    return {"rrule": rule} | ({"exdate": [like_start(day, start) for day in cancelled]} if cancelled else {})


def _check_first_day(row: Row, rule: str, start: str) -> None:
    """Warn when a weekly event starts on a day its rule does not name: that date is then extra."""
    days = dict(p.split("=", 1) for p in rule.split(";") if "=" in p).get("BYDAY", "")
    first = WEEK[date.fromisoformat(start[:10]).weekday()]
    if "FREQ=WEEKLY" in rule and days and re.fullmatch(r"[A-Z,]+", days) and first not in days.split(","):
        row.report("warning", "wiederholung", "/recurrence/rrule",
                   f"the event starts on {first} but repeats on {days}; the first date is an extra one",
                   "let beginn be the first real date", "start-off-rule")


# --- the whole sheet --------------------------------------------------------------------------

@dataclass
class _Sheet:
    """The conversion in progress: the feed, its problems, and the origin of each record."""

    feed: Feed
    header: Header
    updated: str
    problems: list[Problem] = field(default_factory=list)
    origins: dict[str, Origin] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)  # record id → row it came from


REQUIRED = {"offer": ("title", "categories"), "event": ("title", "start", "categories")}
NEEDS = {"title": ("titel", "every row needs a title"), "categories": ("kategorien", "every row needs a category"),
         "start": ("beginn", "an event needs a start")}


def convert_row(sheet: _Sheet, line: int, cells: list[str]) -> None:
    """Turn one spreadsheet row into an offer or event in the feed, or say why it was left out."""
    values = {key: cells[col - 1].strip() for key, col in sheet.header.columns.items() if col <= len(cells)}
    row = Row(line, values, sheet.header, sheet.feed.default_language)
    _report_stray_cells(row, cells)
    kind = KINDS.get(fold(row.text("typ")))
    if kind is None:
        row.report("error", "typ", "", f"'{row.text('typ')}' is not a type; the row was left out" if row.text("typ")
                   else "the cell is empty; the row was left out", "write Angebot (ongoing offer) or Termin (event with a date)",
                   "unknown-type")
        return _skip(sheet, row)
    fields = offer_fields(row) if kind == "offer" else event_fields(row, sheet.feed.timezone)
    _report_unused(row, NOT_FOR_OFFERS if kind == "offer" else NOT_FOR_EVENTS, kind)
    missing = [name for name in REQUIRED[kind] if not fields.get(name)]
    for name in missing:
        key, needs = NEEDS[name]
        row.left_out(_title_key(row) if name == "title" else key, needs)
    record_id = None if missing else _record_id(row, fields["title"])
    if record_id in sheet.ids:
        row.report("error", "id", "", f"the id '{record_id}' is already used in row {sheet.ids[record_id]}; the row was left out",
                   "every row needs its own id", "duplicate-id")
        record_id = None
    if record_id is None:
        return _skip(sheet, row)
    build = offer if kind == "offer" else event
    fields = {name: value for name, value in fields.items() if value is not None}
    sheet.feed.add(kind, build(record_id, updated=sheet.updated, **fields))
    _keep(sheet, row, kind, record_id)


def _keep(sheet: _Sheet, row: Row, kind: str, record_id: str) -> None:
    """Note where the record just added came from, and place its row's problems under it."""
    plural = "offers" if kind == "offer" else "events"
    prefix = f"/{plural}/{len(getattr(sheet.feed, plural)) - 1}"
    row.sources[""] = row.column("id") or 1
    columns = {pointer: column for pointer, column in row.sources.items() if column}
    sheet.origins[prefix] = Origin(row.line, columns, sheet.header.names)
    sheet.ids[record_id] = row.line
    sheet.problems += [p.under(prefix) for p in row.problems]


def _skip(sheet: _Sheet, row: Row) -> None:
    """Keep the problems of a row that is not in the feed; they point at no value."""
    sheet.problems += [replace(p, pointer="") for p in row.problems]


def _report_stray_cells(row: Row, cells: list[str]) -> None:
    """Warn about filled cells in columns that have no name."""
    for column, text in enumerate(cells, start=1):
        if text.strip() and column not in row.header.names:
            row.problems.append(Problem("warning", "", "this cell has no column name in the first row; it was left out",
                                        "add a column name, or delete the cell", "cell-without-column", row.line, column))


def _report_unused(row: Row, keys: tuple[str, ...], kind: str) -> None:
    """Warn about filled cells that the row's kind of record has no field for."""
    label = "an Angebot (offer)" if kind == "offer" else "a Termin (event)"
    for key in keys:
        if row.text(key):
            row.report("warning", key, "", f"{label} has no such field; this cell was left out", "", "not-applicable")


def place_in_sheet(problems: list[Problem], origins: dict[str, Origin]) -> list[Problem]:
    """Give validator problems about records the row and column of the cell they came from."""
    placed = []
    for problem in problems:
        match = re.match(r"(/(?:offers|events)/\d+)(/.*)?$", problem.pointer)
        origin = origins.get(match[1]) if match else None
        placed.append(origin.place(problem, match[2] or "") if origin else problem)
    return placed


def convert_csv(data: bytes, *, publisher: dict, default_language: str = "de", timezone: str = "Europe/Berlin",
                filename: str = "sheet.csv", updated: str | None = None) -> ConvertResult:
    """Convert a spreadsheet saved as CSV into a feed of its offers and events, with every problem
    placed at its spreadsheet row and column. ``updated`` (RFC 3339) stamps the feed and its
    records; it defaults to now."""
    feed = Feed.new(publisher, default_language, timezone)
    stamp = updated or now_timestamp()
    feed.document["updated"] = stamp
    try:
        text, encoding = decode(data, filename)
    except Unreadable as exc:
        return ConvertResult(feed, [Problem("error", "", exc.message, exc.hint, exc.code, 1, 1)], "")
    rows = sheet_rows(text)
    if not rows or not any(cell.strip() for cell in rows[0]):
        hint = "the first row names the columns; start from feeds/templates/angebote-und-termine.csv"
        return ConvertResult(feed, [Problem("error", "", "the first row is empty", hint, "missing-header", 1, 1)], encoding)
    header = read_header(rows[0], default_language)
    sheet = _Sheet(feed, header, stamp, list(header.problems))
    if not any(p.code == "missing-column" for p in header.problems):
        for line, cells in enumerate(rows[1:], start=2):
            if any(cell.strip() for cell in cells):
                convert_row(sheet, line, cells)
    problems = sheet.problems + place_in_sheet(check_document(feed.document), sheet.origins)
    return ConvertResult(feed, sorted(problems, key=lambda p: (p.line or 0, p.column or 0)), encoding)
