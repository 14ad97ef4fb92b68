-- Several harvester processes may share one directory: each source due for a harvest is leased by
-- one of them until lease_until; a process that dies leaves its leases to expire and be taken over.
ALTER TABLE sources ADD COLUMN leased_by TEXT;
ALTER TABLE sources ADD COLUMN lease_until TEXT;

-- Jobs that one harvester process of all runs once a day: the day it last ran.
CREATE TABLE daily_jobs (
    name     TEXT PRIMARY KEY,
    last_day TEXT NOT NULL
);

-- Which harvester process (host:pid:tag) made each entry of the log.
ALTER TABLE harvest_log ADD COLUMN harvester TEXT;
