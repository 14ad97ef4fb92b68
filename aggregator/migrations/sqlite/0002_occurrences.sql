-- The dates of events, expanded from their recurrence rules and overrides (aggregator/occurrences.py)
-- for a window around now, so lists by day and date filters are plain range queries.
-- Event entries stored before this migration are expanded once when the store opens: an event entry
-- whose timezone is empty has not been expanded yet.

-- Events: the IANA zone their wall-clock times are read in (theirs, else their feed's).
ALTER TABLE entries ADD COLUMN timezone TEXT;

CREATE TABLE occurrences (
    entry_id      TEXT NOT NULL REFERENCES entries(entry_id),
    start_utc     TEXT NOT NULL,        -- YYYY-MM-DDTHH:MM:SSZ (all-day: midnight in the event's zone)
    end_utc       TEXT,                 -- exclusive (all-day: midnight after the last day)
    all_day       INTEGER NOT NULL,
    local_date    TEXT NOT NULL,        -- the day it starts on in the event's zone, for lists by day
    start_local   TEXT NOT NULL,        -- as the feed writes it: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]
    status        TEXT NOT NULL,        -- scheduled | cancelled | postponed
    recurrence_id TEXT,                 -- the date of the series it stands for, empty for single events
    changes       TEXT                  -- JSON: what an override changed besides the date (title, ...)
);
CREATE INDEX occurrences_start ON occurrences(start_utc);
CREATE INDEX occurrences_entry ON occurrences(entry_id, start_utc);
