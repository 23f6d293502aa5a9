//! Workflow: Draft → Submitted → (Returned → Submitted) → Approved, and who may do what.
//!
//! Pure functions. Status is never stored as a register: it is derived at read time from the
//! record's append-only list of [`WorkflowEvent`]s, so concurrent actions stay visible in history.
//! The server applies the same functions when it checks pushed changes (a later issue), so a
//! record means the same thing on the phone and at the force.

use crate::domain::{
    OfficerId, Record, RecordKind, RecordMeta, Role, Status, Timestamp, WorkflowAction,
    WorkflowEvent,
};
use crate::error::Error;
use crate::rules::{self, Finding};

pub mod policy;

/// The enrolled user of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Collar number.
    pub officer: OfficerId,
    /// Role.
    pub role: Role,
}

/// The status the event list amounts to.
pub fn status(events: &[WorkflowEvent]) -> Status {
    events.iter().fold(Status::Draft, |_, e| match e.action {
        WorkflowAction::Submitted => Status::Submitted,
        WorkflowAction::Returned => Status::Returned,
        WorkflowAction::Approved => Status::Approved,
        WorkflowAction::Reopened => Status::Draft,
    })
}

/// Whether `user` may create a record of `kind`: the policy matrix's creation rows
/// ([`policy::check_creation_by`]), the same table the server checks a pushed record against,
/// so the device refuses exactly what the server would. Refused: [`Error::Forbidden`] naming
/// the policy rule.
pub fn may_create(user: &User, kind: RecordKind) -> Result<(), Error> {
    match policy::check_creation_by(user.role, kind) {
        None => Ok(()),
        Some(v) => Err(Error::Forbidden(format!("{} [{}]", v.message, v.rule))),
    }
}

/// Whether `user` may edit a record in its current state: the policy matrix's edit rows
/// ([`policy::check_edit_by`]), the same table the server checks a pushed edit against (its
/// author or an attending officer while it is a draft or returned; anyone for a person's
/// details). A submitted or approved record is [`Error::NotEditable`]; anyone else's is
/// [`Error::Forbidden`], naming the policy rule.
pub fn may_edit(user: &User, record: &Record) -> Result<(), Error> {
    let Some(v) = policy::check_edit_by(user.role, &user.officer, record) else {
        return Ok(());
    };
    let meta = record.meta();
    match status(&meta.workflow) {
        status @ (Status::Submitted | Status::Approved) => Err(Error::NotEditable {
            id: meta.id,
            status,
            message: v.message,
        }),
        Status::Draft | Status::Returned => {
            Err(Error::Forbidden(format!("{} [{}]", v.message, v.rule)))
        }
    }
}

/// Submits: refuses with every error finding; otherwise appends a `submitted` event.
pub fn submit(
    record: &mut Record,
    user: &User,
    findings: &[Finding],
    at: Timestamp,
) -> Result<(), Error> {
    may_edit(user, record)?;
    if record.meta().author != user.officer {
        return Err(Error::Forbidden("only the author submits a record".into()));
    }
    if !rules::passes(findings) {
        return Err(Error::Refused {
            findings: findings
                .iter()
                .filter(|f| f.severity == rules::Severity::Error)
                .cloned()
                .collect(),
        });
    }
    append(
        record,
        user,
        WorkflowAction::Submitted,
        at,
        None,
        Vec::new(),
    );
    Ok(())
}

/// Returns a submitted record to its author with a reason (supervisors only, never their own).
pub fn return_to_author(
    record: &mut Record,
    user: &User,
    reason: &str,
    at: Timestamp,
) -> Result<(), Error> {
    supervisor_action(record.meta(), user)?;
    if reason.trim().len() < 10 {
        return Err(Error::invalid(
            "reason",
            "return-reason",
            "say what the author must change (at least 10 characters)",
        ));
    }
    append(
        record,
        user,
        WorkflowAction::Returned,
        at,
        Some(reason.trim().to_owned()),
        Vec::new(),
    );
    Ok(())
}

/// Approves a submitted record at `heads` (supervisors only, never their own).
pub fn approve(
    record: &mut Record,
    user: &User,
    findings: &[Finding],
    heads: Vec<String>,
    at: Timestamp,
) -> Result<(), Error> {
    supervisor_action(record.meta(), user)?;
    if !rules::passes(findings) {
        return Err(Error::Refused {
            findings: findings.to_vec(),
        });
    }
    append(record, user, WorkflowAction::Approved, at, None, heads);
    Ok(())
}

/// Re-opens an approved record for editing, with a reason; it goes back to review when submitted.
pub fn reopen(record: &mut Record, user: &User, reason: &str, at: Timestamp) -> Result<(), Error> {
    let meta = record.meta();
    if status(&meta.workflow) != Status::Approved {
        return Err(Error::NotEditable {
            id: meta.id,
            status: status(&meta.workflow),
            message: "only an approved record is re-opened".into(),
        });
    }
    if meta.author != user.officer && user.role != Role::Supervisor {
        return Err(Error::Forbidden(
            "only its author or a supervisor re-opens a record".into(),
        ));
    }
    if reason.trim().is_empty() {
        return Err(Error::invalid(
            "reason",
            "reopen-reason",
            "say why the record is re-opened",
        ));
    }
    append(
        record,
        user,
        WorkflowAction::Reopened,
        at,
        Some(reason.trim().to_owned()),
        Vec::new(),
    );
    Ok(())
}

/// Appends one event to the record's workflow history (never rewritten).
fn append(
    record: &mut Record,
    user: &User,
    action: WorkflowAction,
    at: Timestamp,
    reason: Option<String>,
    heads: Vec<String>,
) {
    record.meta_mut().workflow.push(WorkflowEvent {
        action,
        by: user.officer.clone(),
        role: user.role,
        at,
        reason,
        heads,
    });
}

fn supervisor_action(meta: &RecordMeta, user: &User) -> Result<(), Error> {
    if user.role != Role::Supervisor {
        return Err(Error::Forbidden(
            "only a supervisor approves or returns records".into(),
        ));
    }
    if meta.author == user.officer {
        return Err(Error::Forbidden(
            "a supervisor never approves or returns their own record".into(),
        ));
    }
    let status = status(&meta.workflow);
    if status != Status::Submitted {
        return Err(Error::NotEditable {
            id: meta.id,
            status,
            message: "only a submitted record is approved or returned".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RecordId;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid")
    }

    fn user(id: &str, role: Role) -> User {
        User {
            officer: OfficerId::new(id).expect("valid"),
            role,
        }
    }

    fn draft(author: &User) -> Record {
        Record::new(
            RecordKind::NeighbourhoodIssue,
            RecordId::generate(),
            author.officer.clone(),
            t(0),
        )
    }

    #[test]
    fn status_follows_the_event_list_through_every_transition() {
        let pc = user("PC1", Role::Officer);
        let ps = user("PS1", Role::Supervisor);
        let mut r = draft(&pc);
        let s = |r: &Record| status(&r.meta().workflow);
        assert_eq!(s(&r), Status::Draft);
        submit(&mut r, &pc, &[], t(1)).expect("submits");
        assert_eq!(s(&r), Status::Submitted);
        return_to_author(&mut r, &ps, "add the time of the call", t(2)).expect("returns");
        assert_eq!(s(&r), Status::Returned);
        submit(&mut r, &pc, &[], t(3)).expect("resubmits");
        approve(&mut r, &ps, &[], vec!["ab".into()], t(4)).expect("approves");
        assert_eq!(s(&r), Status::Approved);
        reopen(&mut r, &pc, "new witness came forward", t(5)).expect("reopens");
        assert_eq!(s(&r), Status::Draft);
        assert_eq!(r.meta().workflow.len(), 5, "history is append-only");
    }

    #[test]
    fn a_submitted_record_cannot_be_edited_by_its_author_until_returned() {
        let pc = user("PC1", Role::Officer);
        let mut r = draft(&pc);
        submit(&mut r, &pc, &[], t(1)).expect("submits");
        assert!(matches!(may_edit(&pc, &r), Err(Error::NotEditable { .. })));
        return_to_author(
            &mut r,
            &user("PS1", Role::Supervisor),
            "needs the location",
            t(2),
        )
        .expect("returns");
        assert!(may_edit(&pc, &r).is_ok());
    }

    #[test]
    fn only_supervisors_approve_and_never_their_own_records() {
        let ps = user("PS1", Role::Supervisor);
        let mut own = draft(&ps);
        submit(&mut own, &ps, &[], t(1)).expect("submits");
        assert!(matches!(
            approve(&mut own, &ps, &[], vec![], t(2)),
            Err(Error::Forbidden(_))
        ));
        let pc = user("PC1", Role::Officer);
        let mut r = draft(&pc);
        submit(&mut r, &pc, &[], t(1)).expect("submits");
        assert!(matches!(
            approve(&mut r, &user("PC2", Role::Officer), &[], vec![], t(2)),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn an_attending_officer_may_add_to_a_draft_and_nobody_else_may() {
        let pc = user("PC1", Role::Officer);
        let mut r = Record::new(
            RecordKind::CrimeReport,
            RecordId::generate(),
            pc.officer.clone(),
            t(0),
        );
        let colleague = user("PC2", Role::Officer);
        assert!(matches!(may_edit(&colleague, &r), Err(Error::Forbidden(_))));
        if let Record::Crime(c) = &mut r {
            c.attending_officers.push(colleague.officer.clone());
        }
        assert!(may_edit(&colleague, &r).is_ok());
        assert!(matches!(
            may_edit(&user("PC3", Role::Officer), &r),
            Err(Error::Forbidden(_))
        ));
    }

    #[test]
    fn pcsos_create_only_issues_and_people_and_the_refusal_names_the_policy_rule() {
        let pcso = user("PCSO7", Role::Pcso);
        let refused = |kind| match may_create(&pcso, kind) {
            Err(Error::Forbidden(message)) => message,
            other => panic!("{kind}: expected Forbidden, got {other:?}"),
        };
        assert!(refused(RecordKind::StopSearch).ends_with("[policy-pcso-stop-search]"));
        assert!(refused(RecordKind::CrimeReport).ends_with("[policy-pcso-create]"));
        assert!(refused(RecordKind::VictimNeedsAssessment).ends_with("[policy-pcso-create]"));
        assert!(may_create(&pcso, RecordKind::NeighbourhoodIssue).is_ok());
        assert!(may_create(&pcso, RecordKind::Person).is_ok());
        for role in [Role::Officer, Role::Supervisor] {
            for kind in RecordKind::ALL {
                assert!(may_create(&user("PC1", role), kind).is_ok(), "{kind}");
            }
        }
    }

    #[test]
    fn submission_with_error_findings_is_refused_with_all_of_them() {
        let pc = user("PC1", Role::Officer);
        let mut r = draft(&pc);
        let finding = |rule: &str| Finding {
            field: "x".into(),
            rule: rule.into(),
            message: "m".into(),
            severity: rules::Severity::Error,
        };
        let err = submit(&mut r, &pc, &[finding("a"), finding("b")], t(1)).expect_err("refused");
        match err {
            Error::Refused { findings } => assert_eq!(findings.len(), 2),
            other => panic!("expected Refused, got {other}"),
        }
        assert_eq!(status(&r.meta().workflow), Status::Draft);
    }
}
