-- Server schema version 1 to 2 (issue 9): the officer audit, and devices replaced by a
-- re-enrolment of the same install.
ALTER TABLE devices ADD COLUMN replaced_by TEXT;  -- the device row that took over its actors
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
