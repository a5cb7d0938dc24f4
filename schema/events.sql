-- The raw events, in the importer's merged order: created only by `spool import --raw-events`
-- (ImportOptions.rawEvents). Loaded after schema/tables.sql. Large: one row per event.
CREATE TABLE events (
    ts_ns      INTEGER NOT NULL,  -- event time, ns since trace start
    kind       INTEGER NOT NULL,  -- event_kinds.code
    owner_kind INTEGER NOT NULL,  -- owner_kinds.code of the batch that held it: 0 P, 1 M
    owner_id   INTEGER NOT NULL,  -- P or M id of that batch
    a0         INTEGER,           -- first argument in wire order (event_kinds has the names); NULL if the kind has fewer
    a1         INTEGER,           -- second argument; NULL if the kind has fewer
    a2         INTEGER            -- third argument; NULL if the kind has fewer
);
