-- Server schema version 2 to 3 (issue 11): the review queue's candidates are read by team and
-- status from an index, not from facts kept in memory.
CREATE INDEX records_team_status ON records(team, status);
