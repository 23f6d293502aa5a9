-- FROZEN: the schema a version-1 Fieldbook store had, plus a few rows of made-up data.
-- Never edit this file: it stands for stores already on officers' devices. The migration test
-- creates an encrypted database from it, opens it with `Store::open`, and checks that the result
-- equals a freshly created store and that the rows survived.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

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
    doc_bytes       INTEGER NOT NULL DEFAULT 0            -- their total length
) WITHOUT ROWID;

CREATE INDEX records_by_time ON records (coalesce(event_at, created_at));
CREATE INDEX records_by_kind_time ON records (kind, coalesce(event_at, created_at));
CREATE INDEX records_by_author_status ON records (author, status, updated_at);
CREATE INDEX records_decision_due ON records (decision_due_at)
    WHERE decision_due_at IS NOT NULL;

CREATE TABLE chunks (
    record_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    PRIMARY KEY (record_id, seq)
);

CREATE TABLE links (
    from_id TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    to_id   TEXT NOT NULL,
    PRIMARY KEY (from_id, role, to_id)
) WITHOUT ROWID;

CREATE INDEX links_by_target ON links (to_id, role);

-- Made-up rows: a crime report stored as two chunks, and a needs assessment linked to it.
INSERT INTO meta (key, value) VALUES ('officer', 'PC1234');

INSERT INTO records (id, kind, status, author, created_at, updated_at, event_at, decision_due_at,
                     receipt_needed, classification, lat, lon, flags, heads, chunk_count, doc_bytes)
VALUES
    ('0192f3c4-0000-7000-8000-000000000001', 'crime', 'draft', 'PC1234',
     1700000000000, 1700000060000, 1700000000000, 1700086400000,
     0, '8N', 51.5, -0.12, 'domestic_abuse', zeroblob(32), 2, 6),
    ('0192f3c4-0000-7000-8000-000000000002', 'vna', 'submitted', 'PC1234',
     1700000100000, 1700000200000, 1700000100000, NULL,
     0, NULL, NULL, NULL, '', zeroblob(64), 1, 2);

INSERT INTO chunks (record_id, seq, bytes) VALUES
    ('0192f3c4-0000-7000-8000-000000000001', 0, X'010203'),
    ('0192f3c4-0000-7000-8000-000000000001', 1, X'040506'),
    ('0192f3c4-0000-7000-8000-000000000002', 0, X'0a0b');

INSERT INTO links (from_id, role, to_id) VALUES
    ('0192f3c4-0000-7000-8000-000000000002', 'crime', '0192f3c4-0000-7000-8000-000000000001');

PRAGMA user_version = 1;
