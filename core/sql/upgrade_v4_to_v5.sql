-- Schema version 4 -> 5: feed entries held back. Runs inside the upgrade transaction;
-- `user_version` is set by the caller.

-- Feed entries the device could not apply, kept aside as received: changes that do not
-- decode or apply, a snapshot that does not load, a result that is not a record of its kind or
-- breaks the size limits. The page's other entries were applied as usual and the record kept as
-- it was stored. No foreign key: the record may not be on this device.
CREATE TABLE held_back (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,          -- never reused
    record_id TEXT NOT NULL,                              -- the record, hyphenated UUID
    kind      TEXT NOT NULL,                              -- RecordKind::as_str, as the entry says
    entry     BLOB NOT NULL,                              -- the feed entry as received (CBOR)
    reason    TEXT NOT NULL,                              -- why, a stable code (sync::held_back)
    at        INTEGER NOT NULL                            -- ms, device clock, when kept
);

CREATE INDEX held_back_by_record ON held_back (record_id);
