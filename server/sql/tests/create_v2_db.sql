-- The server schema at version 2 (issue 9), frozen for the migration test.
CREATE TABLE officers (
    id    TEXT PRIMARY KEY,
    name  TEXT NOT NULL,
    role  TEXT NOT NULL,
    team  TEXT
) WITHOUT ROWID;
CREATE TABLE enrolment_codes (
    hash       BLOB PRIMARY KEY,          -- SHA-256 of the code; the code itself is never stored
    officer    TEXT NOT NULL REFERENCES officers(id),
    expires_at INTEGER NOT NULL,          -- ms since epoch
    used       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    officer    TEXT NOT NULL REFERENCES officers(id),
    label      TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,      -- SHA-256 of the bearer token
    created_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    replaced_by TEXT                      -- the device row that took over its actors
) WITHOUT ROWID;
CREATE TABLE actors (
    actor  TEXT PRIMARY KEY,              -- automerge actor id, lower-case hex
    device TEXT NOT NULL REFERENCES devices(id)
) WITHOUT ROWID;
CREATE INDEX actors_device ON actors(device);
CREATE TABLE records (
    id                     TEXT PRIMARY KEY,
    kind                   TEXT NOT NULL,
    author                 TEXT NOT NULL,
    team                   TEXT,          -- the author's team when last written
    attending              TEXT NOT NULL, -- JSON array of officer ids
    status                 TEXT NOT NULL,
    links                  TEXT NOT NULL, -- JSON array of [role, record id]
    heads                  BLOB NOT NULL, -- concatenated 32-byte hashes
    snapshot               BLOB NOT NULL, -- Automerge::save at snapshot_seq
    snapshot_seq           INTEGER NOT NULL,
    last_seq               INTEGER NOT NULL,
    changes_since_snapshot INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE record_links (
    from_id TEXT NOT NULL,
    role    TEXT NOT NULL,
    to_id   TEXT NOT NULL,
    PRIMARY KEY (from_id, role, to_id)
) WITHOUT ROWID;
CREATE INDEX record_links_to ON record_links(to_id);
CREATE TABLE changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- feed position, never reused
    hash        BLOB NOT NULL UNIQUE,
    record      TEXT NOT NULL,
    device      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    received_at INTEGER NOT NULL,                  -- server clock, ms
    heads_after BLOB NOT NULL
);
CREATE INDEX changes_record ON changes(record, seq);
CREATE TABLE device_records (
    device       TEXT NOT NULL,
    record       TEXT NOT NULL,
    held         INTEGER NOT NULL,
    as_of_cursor INTEGER NOT NULL,
    prev_held    INTEGER NOT NULL,
    through_seq  INTEGER NOT NULL,
    PRIMARY KEY (device, record)
) WITHOUT ROWID;
CREATE TABLE officer_audit (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    officer TEXT NOT NULL,
    action  TEXT NOT NULL,                -- created | changed
    field   TEXT NOT NULL,                -- name | role | team
    old     TEXT,                         -- NULL: none, or a new officer
    new     TEXT,                         -- NULL: no team
    by      TEXT NOT NULL,                -- the administrator's OS user name, or 'admin'
    at      INTEGER NOT NULL              -- ms since epoch
);
CREATE INDEX officer_audit_officer ON officer_audit(officer, seq);
CREATE TRIGGER officer_audit_no_update BEFORE UPDATE ON officer_audit
BEGIN SELECT RAISE(ABORT, 'the officer audit is append-only'); END;
CREATE TRIGGER officer_audit_no_delete BEFORE DELETE ON officer_audit
BEGIN SELECT RAISE(ABORT, 'the officer audit is append-only'); END;
PRAGMA user_version = 2;
