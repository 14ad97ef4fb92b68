"""Where each table header and key stands in a TOML text, and TOML syntax errors in plain words.

tomllib gives values without positions, so the text is scanned for them: the registry can then
report a mistake at the line and column where the volunteer has to fix it."""
import bisect
import re
import tomllib
from dataclasses import dataclass, field

from feeds.problems import Problem, error


@dataclass(frozen=True)
class Place:
    """Where a key (or table header) and its value start, counted from 1."""

    line: int
    column: int
    value_column: int


@dataclass
class Table:
    """A table header found in the text, with the place of each key set below it."""

    path: tuple[str, ...]  # () for the keys above the first header
    is_array: bool
    place: Place
    keys: dict[str, Place] = field(default_factory=dict)  # by the first part of a dotted key
    full_keys: dict[tuple[str, ...], Place] = field(default_factory=dict)


@dataclass
class Layout:
    """Every table header and key of a TOML text, with anything the scanner found left open."""

    tables: list[Table]
    repeated: list[tuple[str, Place, Place]] = field(default_factory=list)  # key, first, second
    unclosed: tuple[int, int] | None = None  # the first string or bracket never closed


def scan(text: str) -> Layout:
    """The place of every table header and key in ``text``; finishes on broken text too."""
    return _Scanner(text).scan()


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
        self.layout = Layout([Table((), False, Place(1, 1, 1))])

    def scan(self) -> Layout:
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
        self.layout.tables.append(Table(_name_parts(f"[{name.strip()}]"), is_array, Place(line, column, name_column)))
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
        here = Place(line, column, self.place(value)[1])
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
# The hints speak of the registry's [[source]] tables and keys, the one TOML file people write here.
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


def syntax_problem(reason: str, text: str) -> Problem:
    """A tomllib error in plain words, at its line and column or at what the scanner found open."""
    match = _POSITION.search(reason)
    what = reason[:match.start()] if match else reason
    layout = scan(text)
    if what.startswith("Cannot overwrite a value") and layout.repeated:
        return _repeated_key_problem(*layout.repeated[0])
    if match and match.group(1):
        line, column = int(match.group(1)), int(match.group(2))
    else:
        line, column = layout.unclosed or (text.count("\n") + 1, 1)
    message, hint = next(((m, h) for start, m, h in _SYNTAX_WORDS if what.startswith(start)),
                         (what, "see https://toml.io/en/v1.0.0 for how TOML files are written"))
    return error("", f"the file is not valid TOML: {message}", hint, "toml-syntax").at(line, column)


def _repeated_key_problem(name: str, first: Place, second: Place) -> Problem:
    """A key set twice in one table, at the second time it is set."""
    return error("", f"`{name}` is set twice in one table, at lines {first.line} and {second.line}",
                 "each key appears once per [[source]]; remove one of the two lines", "repeated-key").at(second.line, second.column)
