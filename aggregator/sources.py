"""The regional registry: the feeds the aggregator harvests, read from a TOML file of [[source]]
tables. Every mistake in the file is reported at its line and column, all of them at once, so
the regional office can fix the whole file in one go."""
import bisect
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import wegweiser_schema
from feeds.problems import Problem, error
from feeds.suggest import did_you_mean, fold

FORMATS = ("json", "ical", "rss", "html", "csv")
DEFAULT_INTERVAL = timedelta(hours=1)
MIN_INTERVAL = timedelta(minutes=5)
MAX_INTERVAL = timedelta(days=7)
REQUIRED_KEYS = ("id", "name", "url", "kind", "town")
KEYS = REQUIRED_KEYS + ("ags", "format", "interval", "allow_private")

_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_AGS = re.compile(r"[0-9]{8}")
_DURATION = re.compile(r"(?:\d+\s*[smhd]\s*)+")
_DURATION_PART = re.compile(r"(\d+)\s*([smhd])")
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_NAMES = {"d": "day", "h": "hour", "m": "minute", "s": "second"}
# A scheme is letters before a colon; "example.org:8080/feed" is a host with a port, not a scheme.
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):(?!\d)")
_LOOKS_LIKE_HOST = re.compile(r"www\.|[\w-]+(\.[\w-]+)*\.[a-zA-Z]{2,}(:\d+)?/")
_FORMAT_ALIASES = {"ics": "ical", "icalendar": "ical", "atom": "rss", "xml": "rss", "htm": "html"}


@dataclass(frozen=True)
class Source:
    """One registered feed."""

    id: str
    name: str
    url: str  # an absolute http(s) URL, or the absolute path of a bundled or local feed file
    kind: str
    town: str
    ags: str | None
    format: str | None  # None: detected from the content
    interval: timedelta
    allow_private: bool
    line: int  # the line of this source's [[source]] header in the registry file

    @property
    def is_local(self) -> bool:
        """True when the feed is a file on this machine rather than a web address."""
        return not self.url.startswith(("http://", "https://"))


class RegistryError(ValueError):
    """The registry cannot be used; .problems lists each problem with file, line and column."""

    def __init__(self, path: str | Path, problems: list[Problem]):
        self.path = str(path)
        self.problems = problems
        lines = [p.format(self.path) for p in problems]
        super().__init__("\n".join([f"{self.path}: the registry cannot be used"] + lines))


def load_registry(path: str | Path) -> list[Source]:
    """The sources of a registry file; RegistryError lists every problem, OSError if unreadable."""
    path = Path(path)
    text = _decode(path.read_bytes(), path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(path, [_syntax_problem(str(exc), text)]) from None
    sources, problems = _read_sources(document, _Scanner(text).scan(), path.resolve().parent)
    if problems:
        raise RegistryError(path, sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))
    return sources


def _decode(data: bytes, path: Path) -> str:
    """The file's text; a UTF-8 byte order mark, as some Windows editors write, is dropped."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        problem = error("", "the file is not saved as UTF-8",
                        "save it as UTF-8 (Unicode) in your editor, so that ä, ö, ü and ß are read correctly", "not-utf8")
        raise RegistryError(path, [problem.at(line, column)]) from None


# --- where things are: tomllib gives no positions, so the text is scanned for them ----------

@dataclass(frozen=True)
class _Place:
    """Where a key (or table header) and its value start, counted from 1."""

    line: int
    column: int
    value_column: int


@dataclass
class _Table:
    """A table header found in the text, with the place of each key set below it."""

    path: tuple[str, ...]  # () for the keys above the first header
    is_array: bool
    place: _Place
    keys: dict[str, _Place] = field(default_factory=dict)  # by the first part of a dotted key
    full_keys: dict[tuple[str, ...], _Place] = field(default_factory=dict)


@dataclass
class _Layout:
    """Every table header and key of a TOML text, with anything the scanner found left open."""

    tables: list[_Table]
    repeated: list[tuple[str, _Place, _Place]] = field(default_factory=list)  # key, first, second
    unclosed: tuple[int, int] | None = None  # the first string or bracket never closed


class _Scanner:
    """Finds the line and column of each table header and key in TOML text.

    Not a TOML parser: it skips comments, strings of all four kinds and values spanning several
    lines (arrays, inline tables, multi-line strings), and reads each key and header name through
    tomllib itself, so quoted and dotted names come out right. tomllib checks the syntax first;
    on broken text the scanner still finishes and says what it found left open.
    """

    def __init__(self, text: str):
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.layout = _Layout([_Table((), False, _Place(1, 1, 1))])

    def scan(self) -> _Layout:
        """Walk the statements: blank lines, comments, table headers and key = value lines."""
        pos = 0
        while (pos := self._skip_blanks(pos)) < len(self.text):
            if self.text[pos] == "#":
                pos = self._line_end(pos)
            elif self.text[pos] == "[":
                pos = self._header(pos)
            else:
                pos = self._key_value(pos)
        return self.layout

    def place(self, pos: int) -> tuple[int, int]:
        """The line and column of a position in the text."""
        line = bisect.bisect_right(self.line_starts, pos)
        return line, pos - self.line_starts[line - 1] + 1

    def _skip_blanks(self, pos: int) -> int:
        """The first position from ``pos`` that is not a space or a line break."""
        while pos < len(self.text) and self.text[pos] in " \t\r\n":
            pos += 1
        return pos

    def _line_end(self, pos: int) -> int:
        """The position after the line break that ends the line of ``pos``."""
        end = self.text.find("\n", pos)
        return len(self.text) if end < 0 else end + 1

    def _header(self, pos: int) -> int:
        """Record the table header at ``pos``: [name] or [[name]]."""
        is_array = self.text.startswith("[[", pos)
        start = pos + (2 if is_array else 1)
        close = self._find_on_line(start, "]")
        name = self.text[start:close if close >= 0 else self._line_end(start)]
        line, column = self.place(pos)
        name_column = self.place(self._skip_blanks(start))[1]
        self.layout.tables.append(_Table(_name_parts(f"[{name.strip()}]"), is_array, _Place(line, column, name_column)))
        return self._line_end(pos)

    def _key_value(self, pos: int) -> int:
        """Record the key at ``pos`` in the current table, noting a key set twice, and skip its value."""
        equals = self._find_on_line(pos, "=")
        if equals < 0:  # not a statement tomllib would accept; it has said so already
            return self._line_end(pos)
        parts = _name_parts(f"{self.text[pos:equals].strip()} = 0")
        value = equals + 1
        while value < len(self.text) and self.text[value] in " \t":
            value += 1
        line, column = self.place(pos)
        here = _Place(line, column, self.place(value)[1])
        table = self.layout.tables[-1]
        if parts in table.full_keys:
            self.layout.repeated.append((".".join(parts), table.full_keys[parts], here))
        table.full_keys.setdefault(parts, here)
        table.keys.setdefault(parts[0], here)
        return self._skip_value(value)

    def _find_on_line(self, pos: int, wanted: str) -> int:
        """The position of ``wanted`` outside strings before the line ends, or -1."""
        while pos < len(self.text) and self.text[pos] != "\n":
            if self.text[pos] == wanted:
                return pos
            pos = self._skip_string(pos) if self.text[pos] in "\"'" else pos + 1
        return -1

    def _skip_string(self, pos: int) -> int:
        """The position after the string starting at ``pos``, of any of the four kinds."""
        quote = self.text[pos]
        delimiter = quote * 3 if self.text.startswith(quote * 3, pos) else quote
        i = pos + len(delimiter)
        while i < len(self.text):
            if self.text[i] == "\\" and quote == '"':
                i += 2
            elif self.text[i] == "\n" and len(delimiter) == 1:
                break
            elif self.text.startswith(delimiter, i):
                return i + len(delimiter)
            else:
                i += 1
        self._left_open(pos)
        return i

    def _skip_value(self, pos: int) -> int:
        """The position after the line on which the value starting at ``pos`` ends."""
        openings = []
        while pos < len(self.text):
            char = self.text[pos]
            if char in "\"'":
                pos = self._skip_string(pos)
                continue
            if char in "#\n":
                pos = self._line_end(pos)
                if not openings:
                    return pos
                continue
            if char in "[{":
                openings.append(pos)
            elif char in "]}" and openings:
                openings.pop()
            pos += 1
        if openings:
            self._left_open(openings[0])
        return pos

    def _left_open(self, pos: int) -> None:
        """Remember the first string or bracket that is never closed."""
        if self.layout.unclosed is None:
            self.layout.unclosed = self.place(pos)


def _name_parts(statement: str) -> tuple[str, ...]:
    """The parts of the (quoted, dotted) name in a one-line header or ``key = 0``, read by tomllib."""
    try:
        node = tomllib.loads(statement)
    except tomllib.TOMLDecodeError:
        return (statement.strip("[] "),)
    parts = []
    while isinstance(node, dict) and node:
        name = next(iter(node))
        parts.append(name)
        node = node[name]
    return tuple(parts)


# --- TOML syntax errors in plain words ----------------------------------------------------

_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")
_UNCLOSED_TEXT_HINT = 'end the text with the quote mark it starts with, e.g. name = "Brücke e.V."'
_SYNTAX_WORDS = (
    ("Invalid value", "this value cannot be read",
     'put text in double quotes, e.g. town = "Lindenau"; write numbers and true or false without quotes'),
    ("Expected newline or end of document after a statement", "something follows the value on this line",
     'put each key = value on a line of its own; numbers with a leading zero, such as a municipality key, '
     'go in quotes: ags = "06639011"'),
    ("Illegal character '\\n'", "the text in quotes is not closed on this line", _UNCLOSED_TEXT_HINT),
    ("Unterminated string", "the text in quotes is never closed", _UNCLOSED_TEXT_HINT),
    ("Unclosed array", "a list opened with [ is never closed", "close the list with ]"),
    ("Expected ']]' at the end of an array declaration", "the [[source]] header is not closed",
     "write [[source]] with two brackets on each side"),
    ("Expected ']' at the end of a table declaration", "the table header is not closed",
     "write [[source]] with two brackets on each side"),
    ("Cannot declare", "this table is declared twice",
     "start each source with [[source]] in double brackets; a table in single brackets exists only once"),
    ("Expected '=' after a key in a key/value pair", "the key on this line has no = after it",
     'write key = value, e.g. town = "Lindenau"; keys have no spaces (allow_private, not allow private)'),
    ("Invalid statement", "this line is neither a [[source]] header nor key = value",
     'write key = value, e.g. town = "Lindenau", or start the line with # to make it a comment'),
)


def _syntax_problem(reason: str, text: str) -> Problem:
    """A tomllib error in plain words, at its line and column or at what the scanner found open."""
    match = _POSITION.search(reason)
    what = reason[:match.start()] if match else reason
    layout = _Scanner(text).scan()
    if match and match.group(1):
        line, column = int(match.group(1)), int(match.group(2))
    else:
        line, column = layout.unclosed or (text.count("\n") + 1, 1)
    if what.startswith("Cannot overwrite a value") and layout.repeated:
        name, first, second = layout.repeated[0]
        return error("", f"`{name}` is set twice in one table, at lines {first.line} and {second.line}",
                     "each key appears once per [[source]]; remove one of the two lines", "repeated-key").at(second.line, second.column)
    message, hint = next(((m, h) for start, m, h in _SYNTAX_WORDS if what.startswith(start)),
                         (what, "see https://toml.io/en/v1.0.0 for how TOML files are written"))
    return error("", f"the file is not valid TOML: {message}", hint, "toml-syntax").at(line, column)


# --- the document: only [[source]] tables ---------------------------------------------------

def _read_sources(document: dict, layout: _Layout, folder: Path) -> tuple[list[Source], list[Problem]]:
    """The sources of a parsed registry, and every problem found in it."""
    problems = _stray_problems(layout)
    entries = document.get("source")
    if not isinstance(entries, list) or "source" in layout.tables[0].keys:
        return [], problems
    rows = list(enumerate(zip(_source_tables(layout), entries)))
    sources = []
    for index, (table, entry) in rows:
        source, found = _read_source(entry, table, f"/source/{index}", folder)
        problems += found
        sources += [source] if source else []
    problems += _duplicate_problems(rows, folder)
    return sources, problems


def _source_tables(layout: _Layout) -> list[_Table]:
    """The [[source]] tables; a [source.x] sub-table counts as key `x` of the source above it."""
    tables = []
    for table in layout.tables:
        if table.path == ("source",) and table.is_array:
            tables.append(table)
        elif table.path[:1] == ("source",) and len(table.path) > 1 and tables:
            tables[-1].keys.setdefault(table.path[1], table.place)
    return tables


def _stray_problems(layout: _Layout) -> list[Problem]:
    """Keys above the first [[source]] and tables other than [[source]]."""
    problems = []
    for name, place in layout.tables[0].keys.items():
        if name == "source":
            message, hint = "sources cannot be written as `source = …`", "start each source with a [[source]] line and put its keys on the lines below"
        elif name in KEYS:
            message, hint = f"`{name}` stands above the first [[source]] header", "move it below the [[source]] header of the source it belongs to"
        else:
            message, hint = f"`{name}` belongs to no source", "the registry holds only [[source]] tables; remove the line or make it a comment with #"
        problems.append(error(_pointer(name), message, hint, "stray-key").at(place.line, place.column))
    seen, sources_begun = set(), False
    for table in layout.tables[1:]:
        top = table.path[0] if table.path else ""
        shown = f"[[{'.'.join(table.path)}]]" if table.is_array else f"[{'.'.join(table.path)}]"
        if table.path == ("source",) and table.is_array:
            sources_begun = True
            continue
        if top == "source" and len(table.path) > 1:
            if sources_begun:
                continue  # a sub-table of the source above: reported there as an unknown key
            message, hint = f"{shown} stands above the first [[source]] header", "move it below the [[source]] header of the source it belongs to"
        elif top == "source":
            message, hint = f"{shown} needs double brackets", "write [[source]]: each source is one entry of a list"
        elif top in seen:
            continue
        else:
            seen.add(top)
            guess = did_you_mean(top, ["source"])
            message = f"{shown} is not a table the registry knows"
            hint = (f"did you mean [[{guess}]]? " if guess else "") + "the registry holds only [[source]] tables"
        problems.append(error(_pointer(*table.path[:1]), message, hint, "stray-table").at(table.place.line, table.place.column))
    return problems


def _pointer(*parts: str) -> str:
    """A JSON pointer to the given keys, escaped as RFC 6901 asks."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# --- one source ---------------------------------------------------------------------------

def _read_source(entry: dict, table: _Table, pointer: str, folder: Path) -> tuple[Source | None, list[Problem]]:
    """One [[source]] table as a Source, or None and the problems that stop it."""
    problems = []
    values = {}
    for key, value in entry.items():
        place = table.keys.get(key, table.place)
        if key not in KEYS:
            problems.append(_unknown_key(key, pointer).at(place.line, place.column))
            continue
        result = _check_type(key, value) or _CHECKS[key](value, folder)
        if isinstance(result, Problem):
            problems.append(result.under(f"{pointer}/{key}").at(place.line, place.value_column))
        else:
            values[key] = result
    for key in REQUIRED_KEYS:
        if key not in entry:
            who = f"the source '{entry['id']}'" if isinstance(entry.get("id"), str) else "this source"
            problem = error(pointer, f"{who} has no `{key}`", f"add `{key}` below the [[source]] line: {_about(key)}", "missing-key")
            problems.append(problem.at(table.place.line, table.place.column))
    if problems:
        return None, problems
    return Source(values["id"], values["name"], values["url"], values["kind"], values["town"], values.get("ags"),
                  values.get("format"), values.get("interval", DEFAULT_INTERVAL), values.get("allow_private", False),
                  table.place.line), []


def _unknown_key(key: str, pointer: str) -> Problem:
    """A key no source has, with the closest one it may have meant."""
    guess = did_you_mean(key, KEYS)
    known = "the keys of a source are " + ", ".join(KEYS)
    hint = f"did you mean `{guess}`? {known}" if guess else f"{known}; remove the line or make it a comment with #"
    return error(pointer + _pointer(key), f"`{key}` is not a key of a source", hint, "unknown-key")


def _check_type(key: str, value) -> Problem | None:
    """A problem when the value has the wrong kind of TOML value for its key."""
    if key == "allow_private":
        if isinstance(value, bool):
            return None
        return error("", f"`allow_private` must be true or false, not {_shown(value)}",
                     "write allow_private = true or allow_private = false, without quotes", "wrong-type")
    if key == "interval":
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return None
        return error("", f"`interval` must be a duration such as \"6h\" or a number of seconds, not {_shown(value)}",
                     'write interval = "6h" (units: s, m, h, d)', "wrong-type")
    if isinstance(value, str):
        return None
    example = value if isinstance(value, (int, float)) and not isinstance(value, bool) else "…"
    return error("", f"`{key}` must be text in quotes, not {_shown(value)}", f'write {key} = "{example}" with double quotes', "wrong-type")


def _shown(value) -> str:
    """A TOML value described for the reader of a message."""
    if isinstance(value, bool):
        return f"the value {'true' if value else 'false'}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f'the text "{value}"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"the date {value.isoformat()}"


def _check_id(value: str, folder: Path):
    """The id, if it can name the source in web addresses and file names."""
    if _ID.fullmatch(value):
        return value
    return error("", f"'{value}' cannot be used as a source id",
                 "ids use only lower-case letters, digits, '.', '-' and '_', start with a letter or digit and have "
                 f"at most 64 characters, e.g. '{_slug(value) or 'verein-lindenau'}'", "bad-id")


def _slug(text: str) -> str:
    """An id made from a name: 'Brücke Lindenau' → 'bruecke-lindenau'."""
    text = text.casefold().translate(str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"}))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9._]+", "-", text).strip("-._")[:64].rstrip("-._")


def _check_text(key: str):
    """A check that the value of ``key`` is not empty."""
    def check(value: str, folder: Path):
        if value.strip():
            return value.strip()
        return error("", f"`{key}` is empty", f"write {_about(key)}", "empty-value")
    return check


def _check_url(value: str, folder: Path):
    """An http(s) address as written, or the absolute path of an existing local feed file."""
    if any(char.isspace() for char in value):
        return error("", f"'{value}' contains a space",
                     "remove spaces before and after the address; a space inside an address is written %20", "bad-url")
    scheme = _SCHEME.match(value)
    if scheme and scheme.group(1).lower() in ("http", "https"):
        return _check_web_address(value)
    if scheme and len(scheme.group(1)) > 1:  # one letter is a Windows drive, not a scheme
        name = scheme.group(1).lower()
        if name in ("webcal", "webcals", "feed"):
            hint = f"write https:// instead of {name}://; the aggregator fetches the same address over https"
        elif name == "file":
            hint = "write the path without file://, relative to the folder of this registry"
        else:
            hint = "use an address starting with https:// (or http://), or the path of a file relative to this registry"
        return error("", f"'{value}' uses {name}:, which the aggregator does not fetch", hint, "bad-url-scheme")
    return _check_local_path(value, folder)


def _check_web_address(value: str):
    """The address, if it has a host and a possible port."""
    parts = urlsplit(value)
    try:
        parts.port
    except ValueError:
        return error("", f"'{value}' has an impossible port number", "a port is a number from 1 to 65535, or leave it out", "bad-url")
    if not parts.hostname:
        return error("", f"'{value}' has no host name", "write the whole address, e.g. https://www.example.org/feed.json", "bad-url")
    return value


def _check_local_path(value: str, folder: Path):
    """The absolute path of a feed file, read relative to the registry's folder."""
    target = (folder / value).resolve()
    if target.is_file():
        return str(target)
    if target.is_dir():
        return error("", f"'{value}' is a folder, not a feed file", f"name the feed file inside it, e.g. {value.rstrip('/')}/feed.json", "no-such-file")
    siblings = [p.name for p in target.parent.iterdir()] if target.parent.is_dir() else []
    guess = did_you_mean(target.name, siblings)
    if guess:
        hint = f"did you mean '{guess}'? paths are read from the folder of this registry, {folder}"
    elif _LOOKS_LIKE_HOST.match(value):
        hint = f"did you mean https://{value}? web addresses start with https://"
    else:
        hint = f"paths are read from the folder of this registry, {folder}; check the spelling"
    return error("", f"there is no file '{value}'", hint, "no-such-file")


def _check_kind(value: str, folder: Path):
    """The kind, if it is a term of the organisation-kinds vocabulary."""
    if value in wegweiser_schema.term_ids("organisation-kinds"):
        return value
    guess = did_you_mean(value, wegweiser_schema.term_ids("organisation-kinds"), _kind_labels())
    return error("", f"'{value}' is not a kind of organisation the directory knows",
                 (f"did you mean '{guess}'? " if guess else "") + _kinds(), "unknown-kind")


@cache
def _kind_labels() -> dict[str, list[str]]:
    """The labels of each organisation kind in every language, for 'did you mean'."""
    return {t["id"]: list(t.get("label", {}).values()) for t in wegweiser_schema.vocabulary("organisation-kinds")["terms"]}


def _check_format(value: str, folder: Path):
    """The format, if the aggregator has a parser for it."""
    if value in FORMATS:
        return value
    guess = _FORMAT_ALIASES.get(fold(value)) or did_you_mean(value, FORMATS)
    return error("", f"'{value}' is not a format the aggregator reads",
                 (f"did you mean '{guess}'? " if guess else "") + "use one of " + ", ".join(FORMATS)
                 + ", or leave `format` out to detect it", "unknown-format")


def _check_interval(value: str | int, folder: Path):
    """The interval as a timedelta, from "30m", "6h", "1h30m", "1d" or a number of seconds."""
    if isinstance(value, str):
        text = value.strip().lower()
        if not _DURATION.fullmatch(text):
            return error("", f"'{value}' is not a duration",
                         'write a number and a unit: "90s", "30m", "6h" or "1d" (or a whole number of seconds)', "bad-interval")
        value = sum(int(number) * _SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
    if value < MIN_INTERVAL.total_seconds():
        return error("", f"an interval of {_describe(value)} is shorter than the minimum of 5 minutes",
                     'the aggregator checks a source at most every 5 minutes; write interval = "5m" or more', "interval-too-short")
    if value > MAX_INTERVAL.total_seconds():
        return error("", f"an interval of {_describe(value)} is longer than the maximum of 7 days",
                     'every source is checked at least once a week; write interval = "7d" or less', "interval-too-long")
    return timedelta(seconds=value)


def _describe(seconds: int) -> str:
    """A number of seconds in the largest unit that divides it: 120 → '2 minutes'."""
    unit = next((u for u in _SECONDS if seconds and seconds % _SECONDS[u] == 0), "s")
    count = seconds // _SECONDS[unit]
    return f"{count} {_UNIT_NAMES[unit]}{'' if count == 1 else 's'}"


def _check_ags(value: str, folder: Path):
    """The municipality key, if it has eight digits and starts with a Land's number."""
    if _AGS.fullmatch(value) and "01" <= value[:2] <= "16":
        return value
    digits = re.sub(r"[\s./-]", "", value)
    if _AGS.fullmatch(digits) and "01" <= digits[:2] <= "16":
        hint = f'write the eight digits without spaces or dots: ags = "{digits}"'
    elif _AGS.fullmatch(value):
        hint = "the first two digits name the Land, from 01 to 16; check the key in the Gemeindeverzeichnis of Destatis"
    else:
        hint = 'a municipality key (Amtlicher Gemeindeschlüssel) has exactly eight digits, e.g. "06639011"; look it up in the Gemeindeverzeichnis of Destatis'
    return error("", f"'{value}' is not a municipality key", hint, "bad-ags")


def _check_allow_private(value: bool, folder: Path):
    """Any true or false; the type check has seen to the rest."""
    return value


_CHECKS = {
    "id": _check_id, "name": _check_text("name"), "url": _check_url, "kind": _check_kind, "town": _check_text("town"),
    "ags": _check_ags, "format": _check_format, "interval": _check_interval, "allow_private": _check_allow_private,
}
_ABOUT = {
    "id": 'a short name in lower-case letters, digits and dashes, used in web addresses, e.g. id = "bruecke-lindenau"',
    "name": 'the name of the organisation as people know it, e.g. name = "Brücke e.V."',
    "url": 'the address of the feed, e.g. url = "https://www.example.org/feed.json", or the path of a file next to this registry',
    "town": 'the town or municipality where the organisation works, e.g. town = "Lindenau"',
}


def _about(key: str) -> str:
    """What a required key holds, with an example."""
    if key == "kind":
        return f'the kind of organisation, e.g. kind = "welfare-association"; {_kinds()}'
    return _ABOUT[key]


def _kinds() -> str:
    """The ids of every organisation kind, for hints."""
    return "the kinds are " + ", ".join(t["id"] for t in wegweiser_schema.vocabulary("organisation-kinds")["terms"])


# --- across sources -------------------------------------------------------------------------

def _duplicate_problems(rows: list[tuple[int, tuple[_Table, dict]]], folder: Path) -> list[Problem]:
    """Two sources with one id, or one feed registered twice (it would be harvested twice)."""
    problems = []
    for key, identity, says, hint, code in (
            ("id", str, "both have the id '{}'", "every source needs an id of its own; change one of the two", "duplicate-id"),
            ("url", lambda url: _feed_key(url, folder), "register the same feed",
             "the feed would be harvested twice; remove one of the two sources", "duplicate-url")):
        first: dict[str, _Table] = {}
        for index, (table, entry) in rows:
            value = entry.get(key)
            if not isinstance(value, str) or first.setdefault(identity(value), table) is table:
                continue
            message = f"the sources at lines {first[identity(value)].place.line} and {table.place.line} " + says.format(value)
            place = table.keys.get(key, table.place)
            problems.append(error(f"/source/{index}/{key}", message, hint, code).at(place.line, place.value_column))
    return problems


def _feed_key(url: str, folder: Path) -> str:
    """What makes two registered addresses the same feed: host, port, path and query, or the file."""
    if not _SCHEME.match(url):
        return str((folder / url).resolve())
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return url
    # http and https of one address serve the same feed, so the scheme is left out
    netloc = (parts.hostname or "") + (f":{port}" if port and port not in (80, 443) else "")
    return netloc + (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
