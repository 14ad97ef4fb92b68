-- The regional directory: sources with their harvest state, the records each source published,
-- the directory entries records are merged into, and what was rejected.

CREATE TABLE sources (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    url               TEXT NOT NULL,
    kind              TEXT NOT NULL,
    town              TEXT NOT NULL,
    ags               TEXT,
    etag              TEXT,
    last_modified     TEXT,
    body_hash         TEXT,
    last_attempt      TEXT,
    last_success      TEXT,
    status            TEXT NOT NULL DEFAULT 'new',    -- new | ok | unchanged | failed
    http_status       INTEGER,
    bytes             INTEGER,
    duration_ms       INTEGER,
    accepted          INTEGER NOT NULL DEFAULT 0,
    rejected          INTEGER NOT NULL DEFAULT 0,
    withdrawn         INTEGER NOT NULL DEFAULT 0,
    failures_in_row   INTEGER NOT NULL DEFAULT 0,
    failure_class     TEXT,
    last_error        TEXT,
    next_check        TEXT,
    shrink_held_since TEXT,       -- set while withdrawals are held because the feed shrank suddenly
    shrink_confirmations INTEGER NOT NULL DEFAULT 0,
    notice            TEXT        -- something the regional office should know, in words
);

-- Which source first published a publisher id: its records are the originals, others are copies.
CREATE TABLE publishers (
    publisher_id TEXT PRIMARY KEY,
    source_id    TEXT NOT NULL REFERENCES sources(id)
);

CREATE TABLE entries (
    num           INTEGER PRIMARY KEY,  -- the row's number, keying its search rows
    entry_id      TEXT NOT NULL UNIQUE, -- stable: never changes once given, whatever merges later
    kind          TEXT NOT NULL,        -- organisation | offer | event
    uid           TEXT NOT NULL,        -- the iCalendar UID subscribers know it by
    canonical     TEXT,                 -- records.key of the record whose content is shown
    data          TEXT,                 -- that record's JSON, with provenance of every source
    content_hash  TEXT,
    sequence      INTEGER NOT NULL DEFAULT 0,
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL,        -- last change of content or sources
    withdrawn_at  TEXT,
    title         TEXT,                 -- in the entry's default language, for sorting
    town          TEXT,
    starts        TEXT,                 -- events: first start, UTC
    ends          TEXT
);
CREATE INDEX entries_kind ON entries(kind, withdrawn_at);
CREATE INDEX entries_updated ON entries(updated);

CREATE TABLE records (
    key           TEXT PRIMARY KEY,     -- source id + ' ' + global id
    source_id     TEXT NOT NULL REFERENCES sources(id),
    global_id     TEXT NOT NULL,        -- publisher id + '/' + local id (of the original publisher)
    publisher_id  TEXT NOT NULL,        -- the publisher part of global_id
    kind          TEXT NOT NULL,
    entry_id      TEXT NOT NULL REFERENCES entries(entry_id),
    data          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    record_updated TEXT,
    feed_url      TEXT NOT NULL,
    first_seen    TEXT NOT NULL,
    fetched_at    TEXT NOT NULL,
    withdrawn_at  TEXT
);
CREATE INDEX records_source ON records(source_id, withdrawn_at);
CREATE INDEX records_global ON records(global_id);
CREATE INDEX records_entry ON records(entry_id);

-- Candidate keys for recognising one event announced by two publishers (see aggregator/merge.py).
CREATE TABLE merge_keys (
    key       TEXT NOT NULL,
    entry_id  TEXT NOT NULL REFERENCES entries(entry_id),
    PRIMARY KEY (key, entry_id)
);
CREATE INDEX merge_keys_entry ON merge_keys(entry_id);

CREATE TABLE facets (
    entry_id  TEXT NOT NULL REFERENCES entries(entry_id),
    facet     TEXT NOT NULL,            -- category | target_group | language | town | organisation | provider_kind
    value     TEXT NOT NULL,
    PRIMARY KEY (entry_id, facet, value)
);
CREATE INDEX facets_value ON facets(facet, value);

CREATE TABLE rejections (
    source_id TEXT NOT NULL REFERENCES sources(id),
    position  TEXT NOT NULL,            -- JSON pointer or line of the record in the source
    local_id  TEXT,
    problems  TEXT NOT NULL,            -- JSON list of {severity, pointer, message, hint, code, line}
    seen_at   TEXT NOT NULL
);
CREATE INDEX rejections_source ON rejections(source_id);

CREATE TABLE posts (
    source_id TEXT NOT NULL REFERENCES sources(id),
    id        TEXT NOT NULL,
    title     TEXT NOT NULL,
    url       TEXT,
    published TEXT,
    summary   TEXT,
    PRIMARY KEY (source_id, id)
);

CREATE TABLE harvest_log (
    source_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    status      TEXT NOT NULL,
    http_status INTEGER,
    new         INTEGER, updated INTEGER, withdrawn INTEGER, rejected INTEGER,
    failure_class TEXT,
    message     TEXT
);
CREATE INDEX harvest_log_source ON harvest_log(source_id, at);

-- Full-text search over every language of an entry's texts, folded (lower case, no accents,
-- ß → ss, ı → i): words for ranking, trigrams for parts of German compounds. The rowid of a
-- search row is the entry's num, so replacing an entry's row is a lookup, not a scan.
CREATE VIRTUAL TABLE search_words USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE VIRTUAL TABLE search_trigrams USING fts5(text, tokenize = 'trigram');
