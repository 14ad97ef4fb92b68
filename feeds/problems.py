"""Problems found in a feed: values that carry where they are and how to fix them."""
from dataclasses import dataclass, replace
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a feed, located by JSON pointer and, once known, by line and column."""

    severity: Severity
    pointer: str
    message: str
    hint: str = ""
    code: str = ""
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def at(self, line: int | None, column: int | None) -> "Problem":
        """The same problem, placed at a line and column of the source file."""
        return replace(self, line=line, column=column)

    def under(self, prefix: str) -> "Problem":
        """The same problem with its pointer moved below ``prefix`` (a record checked on its own)."""
        return replace(self, pointer=prefix + self.pointer)

    def format(self, filename: str) -> str:
        """Render as ``FILE:LINE:COL: severity: /pointer: message (hint)``, like a compiler."""
        place = f"{filename}:{self.line or 1}:{self.column or 1}"
        text = f"{place}: {self.severity}: {self.pointer or '/'}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def as_json(self, filename: str) -> dict:
        """The machine-readable form printed by ``wegweiser validate --json``."""
        return {
            "file": filename,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "pointer": self.pointer,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
        }


def error(pointer: str, message: str, hint: str = "", code: str = "") -> Problem:
    return Problem("error", pointer, message, hint, code)


def warning(pointer: str, message: str, hint: str = "", code: str = "") -> Problem:
    return Problem("warning", pointer, message, hint, code)


def in_sentence(text: str) -> str:
    """Text to go inside a message or hint: lower case first (acronyms such as UNTIL or ISO stay), no
    final period; schema descriptions and library messages are written as sentences."""
    first_word = text.split(" ", 1)[0]
    lowered = text if len(first_word) > 1 and first_word.isupper() else text[:1].lower() + text[1:]
    return lowered.removesuffix(".")
