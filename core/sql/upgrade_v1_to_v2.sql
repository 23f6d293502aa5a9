-- Schema version 1 -> 2. Runs inside the upgrade transaction; `user_version` is set by the caller.

-- Conflict count in the projection (v1 had no conflict reporting).
ALTER TABLE records ADD COLUMN conflicts INTEGER NOT NULL DEFAULT 0;

-- Receipts queue got slow on large stores: partial index.
CREATE INDEX records_receipt_needed ON records (coalesce(event_at, created_at))
    WHERE receipt_needed = 1;

-- Data Protection Act 2018 Part 3 access log.
CREATE TABLE access_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,                           -- ms since epoch
    officer   TEXT NOT NULL,
    record_id TEXT NOT NULL,
    action    TEXT NOT NULL,                              -- view, create, alter, export...
    purpose   TEXT NOT NULL
);

CREATE INDEX access_log_by_record ON access_log (record_id, at);
