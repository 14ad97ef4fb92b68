-- Lists without a search are ordered by title: an index in that order lets a page be read
-- without sorting every entry of the kind.
CREATE INDEX entries_kind_title ON entries(kind, title, entry_id);

-- A number that every write to the store raises: what readers key their caches and ETags on, since
-- timestamps of changes need not rise (harvesters on several machines, clocks set back).
CREATE TABLE directory_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO directory_version VALUES (1, 0);
