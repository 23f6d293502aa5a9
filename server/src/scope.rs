//! Who receives what (partial replication), as the table in `docs/sync-protocol.md` says. Pure:
//! the service looks up the facts and links; this module only decides.
//!
//! The rule "in scope by itself" is also written as **scope keys**, so a store can index it: a
//! record gives the keys of everyone who holds it directly ([`RecordFacts::scope_keys`]), a
//! viewer asks for its own ([`Viewer::scope_keys`]), and the record is in the viewer's scope by
//! itself exactly when the two share a key (a test checks this against [`Viewer::holds_directly`]
//! for every kind, role, status and relation). The feed reads only the rows of records a key, a
//! link from such a record, or a holding reaches ([`FeedScope`]), not every row since the cursor.

use fieldbook_core::domain::{Reaches, RecordId, RecordKind, Role, Status};

/// The queryable facts of a record the scope decision needs (derived from its document).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFacts {
    /// Record id.
    pub id: RecordId,
    /// Kind.
    pub kind: RecordKind,
    /// Author.
    pub author: String,
    /// Team of the author when the record was last written (from the officers table).
    pub team: Option<String>,
    /// Attending officers.
    pub attending: Vec<String>,
    /// Workflow status.
    pub status: Status,
    /// Records this one refers to: (role, id).
    pub links: Vec<(String, RecordId)>,
}

impl RecordFacts {
    /// The keys of everyone who holds this record by itself (see the module header).
    pub fn scope_keys(&self) -> Vec<String> {
        let attendees = std::iter::once(&self.author).chain(self.attending.iter());
        let mut keys: Vec<String> = attendees.clone().map(|o| format!("attends:{o}")).collect();
        keys.push(format!("author:{}", self.author));
        if let Some(team) = &self.team {
            if self.status == Status::Submitted {
                keys.push(format!("submitted:{team}"));
            }
            if self.kind.profile().reaches == Reaches::DirectlyAndToTheTeamsPcsos {
                keys.push(format!("pcso-team:{team}"));
            }
        }
        if self.kind.profile().reaches == Reaches::DirectlyAndToTheTeamsPcsos {
            keys.extend(attendees.map(|o| format!("pcso-attends:{o}")));
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// What a feed page may read: the rows of records that share one of `keys`, that such a record
/// links to (or, for needs assessments, that link to such a crime, and what they link to), and
/// those `device` holds. A superset of the device's scope: the service still decides each one.
#[derive(Debug, Clone)]
pub struct FeedScope {
    /// The requesting device.
    pub device: String,
    /// The viewer's scope keys.
    pub keys: Vec<String>,
}

/// The user of the requesting device.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Viewer<'a> {
    pub officer: &'a str,
    pub role: Role,
    pub team: Option<&'a str>,
}

impl Viewer<'_> {
    fn same_team(&self, record: &RecordFacts) -> bool {
        matches!((self.team, record.team.as_deref()), (Some(a), Some(b)) if a == b)
    }

    fn attends(&self, record: &RecordFacts) -> bool {
        record.author == self.officer || record.attending.iter().any(|o| o == self.officer)
    }

    /// The keys a record in this viewer's scope by itself has (see the module header).
    pub fn scope_keys(&self) -> Vec<String> {
        let me = self.officer;
        let mut keys = match self.role {
            Role::Officer => vec![format!("attends:{me}")],
            Role::Pcso => vec![format!("pcso-attends:{me}")],
            Role::Supervisor => vec![format!("author:{me}")],
        };
        if let Some(team) = self.team {
            match self.role {
                Role::Officer => {}
                Role::Pcso => keys.push(format!("pcso-team:{team}")),
                Role::Supervisor => keys.push(format!("submitted:{team}")),
            }
        }
        keys
    }

    /// Whether the record is in scope by itself (not through a link).
    pub fn holds_directly(&self, record: &RecordFacts) -> bool {
        match self.role {
            Role::Officer => self.attends(record),
            Role::Pcso => {
                record.kind.profile().reaches == Reaches::DirectlyAndToTheTeamsPcsos
                    && (self.attends(record) || self.same_team(record))
            }
            Role::Supervisor => {
                record.author == self.officer
                    || (self.same_team(record) && record.status == Status::Submitted)
            }
        }
    }

    /// Whether a record of `kind` comes along when a record in scope links it (persons for
    /// everyone; needs assessments of a crime in scope for officers and supervisors).
    pub fn follows_links_to(&self, kind: RecordKind) -> bool {
        match kind.profile().reaches {
            Reaches::WithEveryLink => true,
            Reaches::WithItsCrime => self.role != Role::Pcso,
            Reaches::Directly | Reaches::DirectlyAndToTheTeamsPcsos => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_and_a_viewer_share_a_scope_key_exactly_when_the_viewer_holds_it_directly() {
        let kinds = RecordKind::ALL;
        let statuses = [
            Status::Draft,
            Status::Submitted,
            Status::Approved,
            Status::Returned,
        ];
        let teams = [None, Some("A"), Some("B")];
        let mut checked = 0;
        for kind in kinds {
            for status in statuses {
                for team in teams {
                    for (author, attending) in [
                        ("PC1", vec![]),
                        ("PC2", vec!["PC1".to_owned()]),
                        ("PC2", vec![]),
                    ] {
                        let record = RecordFacts {
                            id: RecordId::generate(),
                            kind,
                            author: author.into(),
                            team: team.map(Into::into),
                            attending,
                            status,
                            links: Vec::new(),
                        };
                        let keys = record.scope_keys();
                        for role in [Role::Officer, Role::Pcso, Role::Supervisor] {
                            for viewer_team in teams {
                                let viewer = Viewer {
                                    officer: "PC1",
                                    role,
                                    team: viewer_team,
                                };
                                let shared = viewer.scope_keys().iter().any(|k| keys.contains(k));
                                assert_eq!(
                                    shared,
                                    viewer.holds_directly(&record),
                                    "{record:?} for {viewer:?}"
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(checked, RecordKind::ALL.len() * 4 * 3 * 3 * 3 * 3);
    }

    fn facts(kind: RecordKind, author: &str, team: Option<&str>, status: Status) -> RecordFacts {
        RecordFacts {
            id: RecordId::generate(),
            kind,
            author: author.into(),
            team: team.map(Into::into),
            attending: vec!["PC2".into()],
            status,
            links: Vec::new(),
        }
    }

    #[test]
    fn each_role_holds_what_the_protocol_table_says() {
        let officer = Viewer {
            officer: "PC2",
            role: Role::Officer,
            team: Some("A"),
        };
        let pcso = Viewer {
            officer: "PCSO9",
            role: Role::Pcso,
            team: Some("A"),
        };
        let sup = Viewer {
            officer: "SGT1",
            role: Role::Supervisor,
            team: Some("A"),
        };
        let crime = facts(RecordKind::CrimeReport, "PC1", Some("A"), Status::Draft);
        let issue = facts(
            RecordKind::NeighbourhoodIssue,
            "PC1",
            Some("A"),
            Status::Draft,
        );
        let submitted = facts(RecordKind::CrimeReport, "PC1", Some("A"), Status::Submitted);
        let other_team = facts(RecordKind::CrimeReport, "PC1", Some("B"), Status::Submitted);
        assert!(
            officer.holds_directly(&crime),
            "an attending officer holds the crime"
        );
        assert!(
            !pcso.holds_directly(&crime),
            "a PCSO never holds a crime report"
        );
        assert!(
            pcso.holds_directly(&issue),
            "a PCSO holds the team's issues"
        );
        assert!(
            !sup.holds_directly(&crime),
            "a draft is not in the review queue"
        );
        assert!(
            sup.holds_directly(&submitted),
            "a submitted record of the team is"
        );
        assert!(
            !sup.holds_directly(&other_team),
            "another team's queue is not"
        );
    }
}
