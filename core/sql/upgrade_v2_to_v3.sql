-- Schema version 2 -> 3: sync. Runs inside the upgrade transaction; `user_version` is set by the
-- caller.

-- What the device last learned the server holds for each record (NULL: never pushed), and a
-- refusal by the server the officer must see ("needs attention"; the record is never dropped).
ALTER TABLE records ADD COLUMN server_heads BLOB
    CHECK (server_heads IS NULL OR length(server_heads) % 32 = 0);
ALTER TABLE records ADD COLUMN attention_rule TEXT;
ALTER TABLE records ADD COLUMN attention_message TEXT;
ALTER TABLE records ADD COLUMN attention_field TEXT;

-- The outbox: records holding changes the server has not acknowledged. Few rows: partial index.
CREATE INDEX records_unsynced ON records (id) WHERE server_heads IS NOT heads;
-- Records the server refused.
CREATE INDEX records_attention ON records (id) WHERE attention_rule IS NOT NULL;

-- Server receipt time of each change (device clocks lie; this does not).
CREATE TABLE receipts (
    hash        BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    record_id   TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL                          -- ms since epoch, server clock
) WITHOUT ROWID;

CREATE INDEX receipts_by_record ON receipts (record_id, received_at);
