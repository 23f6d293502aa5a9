-- Server schema version 2 to 3 (issue 11): the review queue's candidates are read by team and
-- status from an index, and a feed page reads only the rows of records in the device's scope
-- through the scope keys (filled for the records already held by the upgrade itself, in Rust:
-- the keys are the scope module's rule), not from facts kept in memory.
CREATE INDEX records_team_status ON records(team, status);
CREATE TABLE record_scope (
    key    TEXT NOT NULL,                 -- who holds the record by itself (scope::RecordFacts::scope_keys)
    record TEXT NOT NULL,
    PRIMARY KEY (key, record)
) WITHOUT ROWID;
CREATE INDEX record_scope_record ON record_scope(record);
