"""The regional registry: the feeds the aggregator harvests, read from a TOML file of [[source]]
tables. Every mistake in the file is reported at its line and column, all of them at once, so
the regional office can fix the whole file in one go."""
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import wegweiser_schema
from aggregator.parse import FORMATS
from aggregator.toml_places import Layout, Table, scan, syntax_problem
from feeds.problems import Problem, error
from feeds.suggest import did_you_mean, fold

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
        return urlsplit(self.url).scheme.lower() not in ("http", "https")


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
        raise RegistryError(path, [syntax_problem(str(exc), text)]) from None
    sources, problems = _read_sources(document, scan(text), path.resolve().parent)
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


# --- the document: only [[source]] tables ---------------------------------------------------

_MOVE_BELOW_HEADER = "move it below the [[source]] header of the source it belongs to"


def _read_sources(document: dict, layout: Layout, folder: Path) -> tuple[list[Source], list[Problem]]:
    """The sources of a parsed registry, and every problem found in it."""
    problems = _stray_problems(layout)
    entries = document.get("source")
    if not isinstance(entries, list) or "source" in layout.tables[0].keys:
        return [], problems
    rows = list(enumerate(zip(_source_tables(layout), entries, strict=True)))
    sources = []
    for index, (table, entry) in rows:
        source, found = _read_source(entry, table, f"/source/{index}", folder)
        problems += found
        sources += [source] if source else []
    problems += _duplicate_problems(rows, folder)
    return sources, problems


def _source_tables(layout: Layout) -> list[Table]:
    """The [[source]] tables; a [source.x] sub-table counts as key `x` of the source above it."""
    tables = []
    for table in layout.tables:
        if table.path == ("source",) and table.is_array:
            tables.append(table)
        elif table.path[:1] == ("source",) and len(table.path) > 1 and tables:
            tables[-1].keys.setdefault(table.path[1], table.place)
    return tables


def _stray_problems(layout: Layout) -> list[Problem]:
    """Keys above the first [[source]] and tables other than [[source]]."""
    return _stray_key_problems(layout.tables[0]) + _stray_table_problems(layout.tables[1:])


def _stray_key_problems(top: Table) -> list[Problem]:
    """The keys set above the first table header, where they belong to no source."""
    problems = []
    for name, place in top.keys.items():
        if name == "source":
            message, hint = "sources cannot be written as `source = …`", "start each source with a [[source]] line and put its keys on the lines below"
        elif name in KEYS:
            message, hint = f"`{name}` stands above the first [[source]] header", _MOVE_BELOW_HEADER
        else:
            message, hint = f"`{name}` belongs to no source", "the registry holds only [[source]] tables; remove the line or make it a comment with #"
        problems.append(error(_pointer(name), message, hint, "stray-key").at(place.line, place.column))
    return problems


def _stray_table_problems(tables: list[Table]) -> list[Problem]:
    """Tables other than [[source]] and the sub-tables of a source, each unknown name once."""
    problems, seen, sources_begun = [], set(), False
    for table in tables:
        top = table.path[0]
        if table.path == ("source",) and table.is_array:
            sources_begun = True
        elif top == "source" and len(table.path) > 1 and sources_begun:
            continue  # a sub-table of the source above: reported there as an unknown key
        elif top == "source" or top not in seen:
            seen.add(top)
            message, hint = _stray_table_words(table)
            problems.append(error(_pointer(top), message, hint, "stray-table").at(table.place.line, table.place.column))
    return problems


def _stray_table_words(table: Table) -> tuple[str, str]:
    """What is wrong with a table header other than [[source]], and how to mend it."""
    name = ".".join(table.path)
    shown = f"[[{name}]]" if table.is_array else f"[{name}]"
    if table.path[0] == "source" and len(table.path) > 1:
        return f"{shown} stands above the first [[source]] header", _MOVE_BELOW_HEADER
    if table.path[0] == "source":
        return f"{shown} needs double brackets", "write [[source]]: each source is one entry of a list"
    guess = did_you_mean(table.path[0], ["source"])
    return f"{shown} is not a table the registry knows", (f"did you mean [[{guess}]]? " if guess else "") + "the registry holds only [[source]] tables"


def _pointer(*parts: str) -> str:
    """A JSON pointer to the given keys, escaped as RFC 6901 asks."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# --- one source ---------------------------------------------------------------------------

def _read_source(entry: dict, table: Table, pointer: str, folder: Path) -> tuple[Source | None, list[Problem]]:
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
    problems += _missing_key_problems(entry, table, pointer)
    if problems:
        return None, problems
    return Source(values["id"], values["name"], values["url"], values["kind"], values["town"], values.get("ags"),
                  values.get("format"), values.get("interval", DEFAULT_INTERVAL), values.get("allow_private", False),
                  table.place.line), []


def _missing_key_problems(entry: dict, table: Table, pointer: str) -> list[Problem]:
    """A problem for each required key the source lacks, at its [[source]] header."""
    who = f"the source '{entry['id']}'" if isinstance(entry.get("id"), str) else "this source"
    return [error(pointer, f"{who} has no `{key}`", f"add `{key}` below the [[source]] line: {_about(key)}", "missing-key")
            .at(table.place.line, table.place.column) for key in REQUIRED_KEYS if key not in entry]


def _unknown_key(key: str, pointer: str) -> Problem:
    """A key no source has, with the closest one it may have meant."""
    guess = did_you_mean(key, KEYS)
    known = "the keys of a source are " + ", ".join(KEYS)
    hint = f"did you mean `{guess}`? {known}" if guess else f"{known}; remove the line or make it a comment with #"
    return error(pointer + _pointer(key), f"`{key}` is not a key of a source", hint, "unknown-key")


def _check_type(key: str, value) -> Problem | None:
    """A problem when the value has the wrong kind of TOML value for its key."""
    accepts, expected, hint = _TYPES.get(key, (_is_text, "text in quotes", None))
    if accepts(value):
        return None
    example = value if _is_number(value) else "…"
    hint = hint or f'write {key} = "{example}" with double quotes'
    return error("", f"`{key}` must be {expected}, not {_shown(value)}", hint, "wrong-type")


def _is_text(value) -> bool:
    """True for a TOML string."""
    return isinstance(value, str)


def _is_number(value) -> bool:
    """True for a TOML integer or float; TOML's true and false are not numbers."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES = {  # key: what it accepts, what that is called, how to write it
    "allow_private": (lambda value: isinstance(value, bool), "true or false",
                      "write allow_private = true or allow_private = false, without quotes"),
    "interval": (lambda value: _is_text(value) or (_is_number(value) and isinstance(value, int)),
                 'a duration such as "6h" or a number of seconds', 'write interval = "6h" (units: s, m, h, d)'),
}


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
        _ = parts.port  # urlsplit checks the port only when asked for it
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
    if _is_ags(value):
        return value
    digits = re.sub(r"[\s./-]", "", value)
    if _is_ags(digits):
        hint = f'write the eight digits without spaces or dots: ags = "{digits}"'
    elif _AGS.fullmatch(value):
        hint = "the first two digits name the Land, from 01 to 16; check the key in the Gemeindeverzeichnis of Destatis"
    else:
        hint = 'a municipality key (Amtlicher Gemeindeschlüssel) has exactly eight digits, e.g. "06639011"; look it up in the Gemeindeverzeichnis of Destatis'
    return error("", f"'{value}' is not a municipality key", hint, "bad-ags")


def _is_ags(text: str) -> bool:
    """True for eight digits whose first two name a Land, 01 to 16."""
    return bool(_AGS.fullmatch(text)) and "01" <= text[:2] <= "16"


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

def _duplicate_problems(rows: list[tuple[int, tuple[Table, dict]]], folder: Path) -> list[Problem]:
    """Two sources with one id, or one feed registered twice (it would be harvested twice)."""
    problems = []
    for key, identity, says, hint, code in (
            ("id", str, "both have the id '{}'", "every source needs an id of its own; change one of the two", "duplicate-id"),
            ("url", lambda url: _feed_key(url, folder), "register the same feed",
             "the feed would be harvested twice; remove one of the two sources", "duplicate-url")):
        first: dict[str, Table] = {}
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
