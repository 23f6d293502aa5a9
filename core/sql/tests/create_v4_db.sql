-- Frozen: the device store as schema version 4 created it, with a few made-up rows. Never edit:
-- the v4 -> v5 upgrade test runs this, upgrades it and compares the result with a fresh store.

-- Small settings of this device (enrolled officer, sync cursor...). Never personal data.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per record: the projection of its document that screens and queues query, its heads
-- and the size of its stored chunks. Derived from the document; rebuilt after every change.
-- Small rows keyed by a text id: WITHOUT ROWID spares a separate primary-key index.
CREATE TABLE records (
    id              TEXT PRIMARY KEY NOT NULL,            -- record id, hyphenated UUID
    kind            TEXT NOT NULL,                        -- RecordKind::as_str
    status          TEXT NOT NULL,                        -- Status::as_str
    author          TEXT NOT NULL,                        -- officer id (collar number)
    created_at      INTEGER NOT NULL,                     -- ms since epoch, device clock
    updated_at      INTEGER NOT NULL,                     -- ms, last local change or merge
    event_at        INTEGER,                              -- ms, the record's main time
    decision_due_at INTEGER,                              -- ms, crime recording decision due
    receipt_needed  INTEGER NOT NULL DEFAULT 0 CHECK (receipt_needed IN (0, 1)),
    classification  TEXT,                                 -- offence code, ASB type or power
    lat             REAL,
    lon             REAL,
    flags           TEXT NOT NULL DEFAULT '',             -- comma separated
    heads           BLOB NOT NULL CHECK (length(heads) % 32 = 0), -- 32-byte change hashes
    chunk_count     INTEGER NOT NULL DEFAULT 0,           -- rows in `chunks` for this record
    doc_bytes       INTEGER NOT NULL DEFAULT 0,           -- their total length
    conflicts       INTEGER NOT NULL DEFAULT 0,           -- v2: legal-field conflicts to resolve
    -- v3: what the device last learned the server holds (NULL: never pushed).
    server_heads    BLOB CHECK (server_heads IS NULL OR length(server_heads) % 32 = 0),
    attention_rule    TEXT,                               -- v3: the server refused the record
    attention_message TEXT,                               -- v3: why, and what to do
    attention_field   TEXT                                -- v3: the field to blame, if one
) WITHOUT ROWID;

-- "All records, newest first" and the time-range filter: the list order is
-- coalesce(event_at, created_at) descending.
CREATE INDEX records_by_time ON records (coalesce(event_at, created_at));
-- The same list for one kind (the common screen filter).
CREATE INDEX records_by_kind_time ON records (kind, coalesce(event_at, created_at));
-- "My drafts", newest updated first; also serves author (+ status) filters.
CREATE INDEX records_by_author_status ON records (author, status, updated_at);
-- Crime reports waiting for a recording decision, oldest due first. Few rows: partial index.
CREATE INDEX records_decision_due ON records (decision_due_at)
    WHERE decision_due_at IS NOT NULL;
-- v2: stop-searches that still need a receipt. Few rows: partial index.
CREATE INDEX records_receipt_needed ON records (coalesce(event_at, created_at))
    WHERE receipt_needed = 1;

-- v3: the outbox, records holding changes the server has not acknowledged. Few rows: partial.
CREATE INDEX records_unsynced ON records (id) WHERE server_heads IS NOT heads;
-- v3: records the server refused ("needs attention").
CREATE INDEX records_attention ON records (id) WHERE attention_rule IS NOT NULL;

-- The document of each record as automerge save chunks, concatenated in `seq` order on load.
-- Chunks can be large (a whole document after compaction), so this keeps its rowid.
CREATE TABLE chunks (
    record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    PRIMARY KEY (record_id, seq)
);

-- What each record refers to: (role, id), e.g. ('victim', person), ('crime', crime). The target
-- need not be on this device, so `to_id` has no foreign key.
CREATE TABLE links (
    from_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    to_id   TEXT NOT NULL,
    PRIMARY KEY (from_id, role, to_id)
) WITHOUT ROWID;

-- "Which records point at this one in this role" (needs assessments of a crime...).
CREATE INDEX links_by_target ON links (to_id, role);

-- v2: Data Protection Act 2018 Part 3 log of who viewed, created, altered or exported a record
-- and why. Kept when a record is purged, so no foreign key to `records`.
CREATE TABLE access_log (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,                           -- ms since epoch
    officer   TEXT NOT NULL,
    record_id TEXT NOT NULL,
    action    TEXT NOT NULL,                              -- view, create, alter, export...
    purpose   TEXT NOT NULL
);

CREATE INDEX access_log_by_record ON access_log (record_id, at);

-- v3: server receipt time of each change (device clocks lie; this does not). Goes with its record.
CREATE TABLE receipts (
    hash        BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
    record_id   TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    received_at INTEGER NOT NULL                          -- ms since epoch, server clock
) WITHOUT ROWID;

CREATE INDEX receipts_by_record ON receipts (record_id, received_at);

-- v4: what the server refused, kept for the officer: the whole refused document (the live record
-- was rebuilt from the server's version, or removed if the server never held it), why, and the
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

-- Made-up rows: a crime report the server acknowledged, a stop-search it refused (needs
-- attention, still in the outbox), a receipt, an access-log entry and a quarantined refusal.
INSERT INTO meta (key, value) VALUES ('officer', 'PC1234'), ('sync.cursor', '7');

INSERT INTO records (id, kind, status, author, created_at, updated_at, event_at, decision_due_at,
                     receipt_needed, classification, lat, lon, flags, heads, chunk_count, doc_bytes,
                     conflicts, server_heads, attention_rule, attention_message, attention_field)
VALUES
    ('0192f3c4-0000-7000-8000-000000000001', 'crime', 'draft', 'PC1234',
     1700000000000, 1700000060000, 1700000000000, 1700086400000,
     0, '8N', 51.5, -0.12, 'domestic_abuse', zeroblob(32), 2, 6, 0, zeroblob(32),
     NULL, NULL, NULL),
    ('0192f3c4-0000-7000-8000-000000000003', 'stop-search', 'draft', 'PC1234',
     1700000100000, 1700000200000, 1700000100000, NULL,
     1, NULL, NULL, NULL, '', zeroblob(32), 1, 2, 0, NULL,
     'policy-approved-locked', 'an approved record is not edited', 'grounds');

INSERT INTO chunks (record_id, seq, bytes) VALUES
    ('0192f3c4-0000-7000-8000-000000000001', 0, X'010203'),
    ('0192f3c4-0000-7000-8000-000000000001', 1, X'040506'),
    ('0192f3c4-0000-7000-8000-000000000003', 0, X'0a0b');

INSERT INTO receipts (hash, record_id, received_at) VALUES
    (zeroblob(32), '0192f3c4-0000-7000-8000-000000000001', 1700000070000);

INSERT INTO access_log (at, officer, record_id, action, purpose) VALUES
    (1700000300000, 'PC1234', '0192f3c4-0000-7000-8000-000000000001', 'view', 'shown on device');

INSERT INTO quarantine (record_id, kind, rule, message, field, change, at, removed, document,
                        refused) VALUES
    ('0192f3c4-0000-7000-8000-000000000001', 'crime', 'policy-submitted-locked',
     'a submitted record is not edited', 'narrative', NULL, 1700000400000, 0, X'0c0d',
     '[{"field":"narrative","old":"a","new":"b"}]');

PRAGMA user_version = 4;
