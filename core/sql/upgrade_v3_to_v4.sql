-- Schema version 3 -> 4: quarantine. Runs inside the upgrade transaction; `user_version` is set by
-- the caller.

-- What the server refused, kept for the officer: the whole refused document (the live record was
-- rebuilt from the server's version, or removed if the server never held it), why, and the
-- fields the live record does not hold. No foreign key: the record may be gone from `records`.
CREATE TABLE quarantine (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,          -- shown to the officer; never reused
    record_id TEXT NOT NULL,                              -- the record, hyphenated UUID
    kind      TEXT NOT NULL,                              -- RecordKind::as_str
    rule      TEXT NOT NULL,                              -- the server's rule id
    message   TEXT NOT NULL,                              -- why, and what to do
    field     TEXT,                                       -- the field to blame, if one
    change    BLOB CHECK (change IS NULL OR length(change) = 32), -- the first refused change
    at        INTEGER NOT NULL,                           -- ms, device clock, when kept
    removed   INTEGER NOT NULL CHECK (removed IN (0, 1)), -- 1: the server never held the record
    document  BLOB NOT NULL,                              -- Automerge::save of the refused state
    refused   TEXT NOT NULL                               -- JSON [{field, old, new}]: old = live
);

CREATE INDEX quarantine_by_record ON quarantine (record_id);
