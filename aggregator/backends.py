"""The two databases the store runs on, and the little that differs between them.

The store writes its SQL once, with ``?`` placeholders and the syntax both understand (``INSERT …
ON CONFLICT``, ``WITH … AS MATERIALIZED``); a backend connects, opens transactions, translates
placeholders, and supplies what has no common syntax: full-text search, reading a value out of an
entry's JSON, and the order rows were written in.

SQLite (one file, WAL) is the embedded default. PostgreSQL is for a directory shared by several
harvester processes and web workers: writes to the directory take one advisory lock, as SQLite's
single writer does, so two harvests never merge into the same entry from different snapshots;
reads run in a snapshot of their own and never wait for a write.
"""
import sqlite3
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

# Any error a database driver raises: the CLI and the web app report these as "database unusable".
DATABASE_ERRORS = (sqlite3.Error, psycopg.Error)

# The keys of the advisory locks (PostgreSQL) every write to the directory holds, and a process
# applying migrations; numbers no other application on the same database uses.
WRITE_LOCK = 0x57656777      # "Wegw"
MIGRATION_LOCK = 0x57654D69  # "WeMi"


@dataclass(frozen=True)
class TextQuery:
    """SQL fragments for a search: a condition per folded word, and the ranking of the matches."""

    condition: str          # on entries ``e``: true when the entry's search text holds the word
    condition_args: list
    rank_join: str          # joins what ``rank`` reads
    rank_join_args: list
    rank: str               # lower is more relevant
    rank_args: list


class SQLite:
    """The directory in one SQLite file."""

    name = "sqlite"
    row_order = "rowid"
    skip_locked = ""        # BEGIN IMMEDIATE already gives one writer at a time
    lock_row = ""
    disconnects = ()        # a file does not go away between statements

    def __init__(self, path: str):
        self.path = path

    def describe(self) -> str:
        return self.path

    def connect(self):
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON", "busy_timeout = 30000"):
            db.execute(f"PRAGMA {pragma}")
        return db

    def is_broken(self, db) -> bool:
        return False

    def begin_write(self, db, *, exclusive: bool) -> None:
        db.execute("BEGIN IMMEDIATE")

    def begin_read(self, db) -> None:
        db.execute("BEGIN")  # in WAL mode, one snapshot until COMMIT

    def lock_migrations(self, db) -> None:
        """BEGIN IMMEDIATE has already made this process the only writer."""

    def analyze(self, db) -> None:
        """Refresh the planner's statistics from a sample of each index (quick on any size)."""
        db.execute("PRAGMA analysis_limit = 1000")
        db.execute("ANALYZE")

    def sql(self, statement: str) -> str:
        return statement

    def migrations(self) -> list:
        return _scripts("sqlite")

    def run_script(self, db, script: str) -> None:
        for statement in _statements(script):
            db.execute(statement)

    def json_text(self, column: str, key: str) -> str:
        """A string value of the JSON object in ``column``."""
        return f"json_extract({column}, '$.{key}')"

    def json_document(self, column: str, key: str) -> str:
        """A value of the JSON object in ``column`` as JSON text."""
        return f"json_extract({column}, '$.{key}')"

    def text_query(self, words: list[str]) -> TextQuery:
        """Every folded word must occur: three letters or more anywhere in a word (trigrams), shorter
        ones as the start of a word; ranked by bm25 over whole words, any of them."""
        clauses, args = [], []
        for word in words:
            phrase = '"' + word.replace('"', '""') + '"'
            table = "search_trigrams" if len(word) >= 3 else "search_words"
            clauses.append(f"e.num IN (SELECT rowid FROM {table} WHERE {table} MATCH ?)")
            args.append(phrase if len(word) >= 3 else phrase + "*")
        terms = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        return TextQuery(" AND ".join(clauses), args,
                         "LEFT JOIN (SELECT rowid AS num, bm25(search_words) AS score FROM search_words "
                         "WHERE search_words MATCH ?) r ON r.num = e.num", [terms], "coalesce(r.score, 0)", [])

    def index_text(self, db, num: int, text: str) -> None:
        db.execute("INSERT INTO search_words (rowid, text) VALUES (?, ?)", (num, text))
        db.execute("INSERT INTO search_trigrams (rowid, text) VALUES (?, ?)", (num, text))

    def clear_text(self, db, num: int) -> None:
        for table in ("search_words", "search_trigrams"):
            db.execute(f"DELETE FROM {table} WHERE rowid = ?", (num,))


class PostgreSQL:
    """The directory in a PostgreSQL database (``postgresql://user:password@host:port/name``)."""

    name = "postgresql"
    row_order = "id"
    skip_locked = "FOR UPDATE SKIP LOCKED"
    lock_row = "FOR UPDATE"
    disconnects = (psycopg.OperationalError, psycopg.InterfaceError)

    def __init__(self, url: str):
        self.url = url

    def describe(self) -> str:
        """The URL without its password, for messages."""
        parts = urlsplit(self.url)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        user = f"{parts.username}@" if parts.username else ""
        return f"{parts.scheme}://{user}{host}{port}{parts.path}"

    def connect(self):
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10, application_name="wegweiser")

    def is_broken(self, db) -> bool:
        return db.closed or db.broken

    def begin_write(self, db, *, exclusive: bool) -> None:
        db.execute("BEGIN")
        if exclusive:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    def begin_read(self, db) -> None:
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def lock_migrations(self, db) -> None:
        """Two processes starting at once must not both apply a migration."""
        db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))

    def analyze(self, db) -> None:
        """Refresh the planner's statistics of the tables searches read (from a sample of rows)."""
        db.execute("ANALYZE entries, facets, occurrences, search, records, merge_keys")

    def sql(self, statement: str) -> str:
        return _placeholders(statement)

    def migrations(self) -> list:
        return _scripts("postgresql")

    def run_script(self, db, script: str) -> None:
        db.execute(script)

    def json_text(self, column: str, key: str) -> str:
        return f"({column}::jsonb ->> '{key}')"

    def json_document(self, column: str, key: str) -> str:
        return f"({column}::jsonb -> '{key}')::text"

    def text_query(self, words: list[str]) -> TextQuery:
        """Every folded word must occur: three letters or more inside any word (pg_trgm) or as a
        word of the same German stem, shorter ones as the start of a word; ranked by ts_rank over
        German stems and whole words, any of them."""
        clauses, args = [], []
        for word in words:
            if len(word) >= 3:
                clauses.append("e.num IN (SELECT num FROM search WHERE text LIKE ? OR words @@ plainto_tsquery('german', ?))")
                args += ["%" + _like_escaped(word) + "%", word]
            else:
                clauses.append("e.num IN (SELECT num FROM search WHERE words @@ to_tsquery('simple', ?))")
                args.append(_prefix_lexeme(word))
        query = " || ".join("plainto_tsquery('german', ?) || plainto_tsquery('simple', ?)" for _ in words)
        return TextQuery(" AND ".join(clauses), args, "LEFT JOIN search r ON r.num = e.num", [],
                         f"coalesce(-ts_rank(r.words, {query}), 0)", [w for word in words for w in (word, word)])

    def index_text(self, db, num: int, text: str) -> None:
        db.execute("INSERT INTO search (num, text) VALUES (%s, %s)", (num, text))

    def clear_text(self, db, num: int) -> None:
        db.execute("DELETE FROM search WHERE num = %s", (num,))


def backend_for(url: str | Path):
    """The backend a database URL names: ``sqlite:///path``, a plain path, or ``postgresql://…``."""
    url = str(url)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgreSQL(url)
    if url.startswith("sqlite:///"):
        return SQLite(url.removeprefix("sqlite:///"))
    if "://" in url:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:///path/to/directory.sqlite "
                         "or postgresql://user:password@host:port/database")
    return SQLite(url)


def shown_url(url: str) -> str:
    """A database URL fit for messages and logs: a PostgreSQL URL without its password."""
    try:
        return backend_for(url).describe()
    except ValueError:
        return url


@lru_cache(maxsize=1024)
def _placeholders(statement: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled); no statement of the store
    has a ``?`` inside a string."""
    return statement.replace("%", "%%").replace("?", "%s")


def _like_escaped(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _prefix_lexeme(word: str) -> str:
    """A tsquery matching words that start with ``word``, whatever characters it holds."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "':*"


def _scripts(folder: str) -> list:
    """The numbered migration scripts of a backend, in order."""
    return sorted(files("aggregator").joinpath("migrations", folder).iterdir(), key=lambda p: p.name)


def _statements(script: str) -> list[str]:
    """The statements of a migration script (no semicolons inside our statements' strings)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
