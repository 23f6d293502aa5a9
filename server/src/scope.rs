//! Who receives what (partial replication), as the table in `docs/sync-protocol.md` says. Pure:
//! the service looks up the facts and links; this module only decides.

use crate::store::RecordFacts;
use fieldbook_core::domain::{Reaches, RecordKind, Role, Status};

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
    use fieldbook_core::domain::RecordId;

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
