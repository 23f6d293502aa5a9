//! Data-driven tables: each case names, in a sentence, a change and the rule ids it must break
//! (none = allowed).

use super::*;
use crate::domain::{Location, RecordId, Timestamp, WorkflowEvent};

const SPECIFIC_GROUNDS: &str = "Smelled strong cannabis from the open car window; saw him pass a small bag to the passenger and put it in his sock";
const DRUGS_POWER: &str = "Misuse of Drugs Act 1971 (section 23)";
const SECTION_60: &str = "Criminal Justice and Public Order Act 1994 (section 60)";
const TEAM: &str = "A";

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_790_000_000_000 + ms).expect("valid")
}

fn officer(id: &str) -> OfficerId {
    OfficerId::new(id).expect("valid")
}

/// PS* are supervisors, PCSO* PCSOs, anyone else an officer; PS2 is on another team.
fn writer(id: &str) -> Writer {
    let role = if id.starts_with("PCSO") {
        Role::Pcso
    } else if id.starts_with("PS") {
        Role::Supervisor
    } else {
        Role::Officer
    };
    Writer {
        officer: officer(id),
        role,
        team: Some(if id == "PS2" { "B" } else { TEAM }.to_owned()),
    }
}

/// Appends an event as `by` in their role (as [`writer`] gives it).
fn push(r: &mut Record, action: WorkflowAction, by: &str, reason: Option<&str>, heads: &[&str]) {
    let w = writer(by);
    push_as(r, action, by, w.role, reason, heads);
}

fn push_as(
    r: &mut Record,
    action: WorkflowAction,
    by: &str,
    role: Role,
    reason: Option<&str>,
    heads: &[&str],
) {
    let at = t(r.meta().workflow.len() as i64 + 1);
    r.meta_mut().workflow.push(WorkflowEvent {
        action,
        by: officer(by),
        role,
        at,
        reason: reason.map(str::to_owned),
        heads: heads.iter().map(|h| (*h).to_owned()).collect(),
    });
}

/// A record of `kind` by `author` (PC2 attends crimes and issues; stop-searches are under a
/// drugs power with specific grounds), `prepare`d, then moved to `state` by PS1's review
/// (PS3's when PS1 is the author).
fn record(kind: RecordKind, author: &str, prepare: fn(&mut Record), state: Status) -> Record {
    let mut r = Record::new(kind, RecordId::generate(), officer(author), t(0));
    match &mut r {
        Record::Crime(c) => c.attending_officers.push(officer("PC2")),
        Record::Issue(i) => i.attending_officers.push(officer("PC2")),
        Record::StopSearch(s) => {
            s.legislation = Some(DRUGS_POWER.into());
            s.grounds = Some(SPECIFIC_GROUNDS.into());
        }
        Record::Vna(_) | Record::Person(_) => {}
    }
    prepare(&mut r);
    let reviewer = if author == "PS1" { "PS3" } else { "PS1" };
    if state != Status::Draft {
        push(&mut r, WorkflowAction::Submitted, author, None, &[]);
    }
    match state {
        Status::Draft | Status::Submitted => {}
        Status::Returned => push(
            &mut r,
            WorkflowAction::Returned,
            reviewer,
            Some("add the time of the call"),
            &[],
        ),
        Status::Approved => push(&mut r, WorkflowAction::Approved, reviewer, None, &["ab12"]),
    }
    r
}

fn rules_of(violations: &[Violation]) -> Vec<&str> {
    violations.iter().map(|v| v.rule.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Creation
// ---------------------------------------------------------------------------------------------

struct Creation {
    name: &'static str,
    kind: RecordKind,
    writer: &'static str,
    author: &'static str,
    change: fn(&mut Record),
    expect: &'static [&'static str],
}

fn as_created(_: &mut Record) {}

const CREATIONS: &[Creation] = &[
    Creation {
        name: "an officer creates a crime report they author",
        kind: RecordKind::CrimeReport,
        writer: "PC1",
        author: "PC1",
        change: as_created,
        expect: &[],
    },
    Creation {
        name: "an officer creates a stop-search they author",
        kind: RecordKind::StopSearch,
        writer: "PC1",
        author: "PC1",
        change: as_created,
        expect: &[],
    },
    Creation {
        name: "a supervisor creates a crime report they author",
        kind: RecordKind::CrimeReport,
        writer: "PS1",
        author: "PS1",
        change: as_created,
        expect: &[],
    },
    Creation {
        name: "a PCSO creates a neighbourhood issue",
        kind: RecordKind::NeighbourhoodIssue,
        writer: "PCSO7",
        author: "PCSO7",
        change: as_created,
        expect: &[],
    },
    Creation {
        name: "a PCSO creates a person record",
        kind: RecordKind::Person,
        writer: "PCSO7",
        author: "PCSO7",
        change: as_created,
        expect: &[],
    },
    Creation {
        name: "a PCSO creating a stop-search is refused",
        kind: RecordKind::StopSearch,
        writer: "PCSO7",
        author: "PCSO7",
        change: as_created,
        expect: &["policy-pcso-stop-search"],
    },
    Creation {
        name: "a PCSO creating a crime report is refused",
        kind: RecordKind::CrimeReport,
        writer: "PCSO7",
        author: "PCSO7",
        change: as_created,
        expect: &["policy-pcso-create"],
    },
    Creation {
        name: "a PCSO creating a victim needs assessment is refused",
        kind: RecordKind::VictimNeedsAssessment,
        writer: "PCSO7",
        author: "PCSO7",
        change: as_created,
        expect: &["policy-pcso-create"],
    },
    Creation {
        name: "creating a record in another officer's name is refused",
        kind: RecordKind::CrimeReport,
        writer: "PC3",
        author: "PC1",
        change: as_created,
        expect: &["policy-not-author"],
    },
    Creation {
        name: "creating a record in another officer's name while attending it is refused",
        kind: RecordKind::CrimeReport,
        writer: "PC3",
        author: "PC1",
        change: |r| {
            if let Record::Crime(c) = r {
                c.attending_officers.push(officer("PC3"));
            }
        },
        expect: &["policy-not-author"],
    },
    Creation {
        name: "creating a record with a pre-filled approved event is refused",
        kind: RecordKind::CrimeReport,
        writer: "PC1",
        author: "PC1",
        change: |r| push(r, WorkflowAction::Approved, "PS1", None, &["ab12"]),
        expect: &["policy-workflow-forged"],
    },
    Creation {
        name: "creating a record already submitted is refused",
        kind: RecordKind::NeighbourhoodIssue,
        writer: "PC1",
        author: "PC1",
        change: |r| push(r, WorkflowAction::Submitted, "PC1", None, &[]),
        expect: &["policy-workflow-forged"],
    },
    Creation {
        name: "creating a record with a server receipt time is refused",
        kind: RecordKind::CrimeReport,
        writer: "PC1",
        author: "PC1",
        change: |r| r.meta_mut().server_received_at = Some(t(5)),
        expect: &["policy-server-field"],
    },
];

#[test]
fn creations_are_allowed_or_refused_as_the_table_says() {
    for case in CREATIONS {
        let mut after = Record::new(case.kind, RecordId::generate(), officer(case.author), t(0));
        (case.change)(&mut after);
        let got = check_change(None, &after, &writer(case.writer), Some(TEAM));
        assert_eq!(rules_of(&got), case.expect, "{}: {got:?}", case.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Changes to an existing record
// ---------------------------------------------------------------------------------------------

struct Update {
    name: &'static str,
    kind: RecordKind,
    author: &'static str,
    /// Applied to the record before it is moved to `state`.
    prepare: fn(&mut Record),
    state: Status,
    writer: &'static str,
    change: fn(&mut Record),
    expect: &'static [&'static str],
}

fn keep(_: &mut Record) {}

fn edit_narrative(r: &mut Record) {
    match r {
        Record::Crime(c) => c.narrative.push_str(" The victim was seen by paramedics."),
        Record::Issue(i) => i.narrative.push_str(" Bins set alight again."),
        Record::Person(p) => p.description = Some("tall, green jacket".into()),
        Record::StopSearch(s) => s.outcome = Some("Arrest".into()),
        Record::Vna(v) => v.acknowledgement_given = true,
    }
}

fn grounds(r: &mut Record, text: Option<&str>) {
    if let Record::StopSearch(s) = r {
        s.grounds = text.map(str::to_owned);
    }
}

fn approve_as_ps1(r: &mut Record) {
    push(r, WorkflowAction::Approved, "PS1", None, &["ab12"]);
}

const UPDATES: &[Update] = &[
    // Editing content.
    Update {
        name: "the author edits their draft",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: edit_narrative,
        expect: &[],
    },
    Update {
        name: "an attending officer edits a draft",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC2",
        change: edit_narrative,
        expect: &[],
    },
    Update {
        name: "a stranger editing a draft is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC3",
        change: edit_narrative,
        expect: &["policy-not-author"],
    },
    Update {
        name: "a stranger adding themselves as an attending officer is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC3",
        change: |r| {
            if let Record::Crime(c) = r {
                c.attending_officers.push(officer("PC3"));
                c.narrative.push_str(" More.");
            }
        },
        expect: &["policy-not-author", "policy-not-author"],
    },
    Update {
        name: "a supervisor editing another officer's draft is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PS1",
        change: edit_narrative,
        expect: &["policy-not-author"],
    },
    Update {
        name: "any officer rectifies a person's details",
        kind: RecordKind::Person,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC3",
        change: edit_narrative,
        expect: &[],
    },
    Update {
        name: "a PCSO edits their own neighbourhood issue",
        kind: RecordKind::NeighbourhoodIssue,
        author: "PCSO7",
        prepare: keep,
        state: Status::Draft,
        writer: "PCSO7",
        change: edit_narrative,
        expect: &[],
    },
    Update {
        name: "the author edits a returned record",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Returned,
        writer: "PC1",
        change: edit_narrative,
        expect: &[],
    },
    Update {
        name: "the author editing a submitted record is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PC1",
        change: edit_narrative,
        expect: &["policy-submitted-locked"],
    },
    Update {
        name: "a supervisor editing a submitted record's content is refused",
        kind: RecordKind::StopSearch,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: |r| grounds(r, Some("Saw him hand over a wrap of white powder for cash")),
        expect: &["policy-submitted-locked"],
    },
    Update {
        name: "a supervisor approving and editing in one change is refused for the edit",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: |r| {
            edit_narrative(r);
            approve_as_ps1(r);
        },
        expect: &["policy-submitted-locked"],
    },
    Update {
        name: "editing an approved record without re-opening it is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PC1",
        change: edit_narrative,
        expect: &["policy-approved-locked"],
    },
    Update {
        name: "a supervisor editing an approved record is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PS1",
        change: edit_narrative,
        expect: &["policy-approved-locked"],
    },
    Update {
        name: "re-opening and editing in one change is refused for the edit",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PC1",
        change: |r| {
            push(r, WorkflowAction::Reopened, "PC1", Some("new witness"), &[]);
            edit_narrative(r);
        },
        expect: &["policy-approved-locked"],
    },
    // Submitting.
    Update {
        name: "the author submits their draft",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: |r| push(r, WorkflowAction::Submitted, "PC1", None, &[]),
        expect: &[],
    },
    Update {
        name: "the author edits and submits a returned record in one change",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Returned,
        writer: "PC1",
        change: |r| {
            edit_narrative(r);
            push(r, WorkflowAction::Submitted, "PC1", None, &[]);
        },
        expect: &[],
    },
    Update {
        name: "an attending officer submits a draft",
        kind: RecordKind::NeighbourhoodIssue,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC2",
        change: |r| push(r, WorkflowAction::Submitted, "PC2", None, &[]),
        expect: &[],
    },
    Update {
        name: "a stranger submitting a draft is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC3",
        change: |r| push(r, WorkflowAction::Submitted, "PC3", None, &[]),
        expect: &["policy-not-author"],
    },
    Update {
        name: "submitting a record that is already submitted is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PC1",
        change: |r| push(r, WorkflowAction::Submitted, "PC1", None, &[]),
        expect: &["policy-workflow-transition"],
    },
    // Reviewing.
    Update {
        name: "a supervisor approves another officer's submitted record at its heads",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &[],
    },
    Update {
        name: "self-approval is refused",
        kind: RecordKind::CrimeReport,
        author: "PS1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &["policy-self-approval"],
    },
    Update {
        name: "a supervisor returning their own record is refused",
        kind: RecordKind::CrimeReport,
        author: "PS1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: |r| push(r, WorkflowAction::Returned, "PS1", Some("self review"), &[]),
        expect: &["policy-self-approval"],
    },
    Update {
        name: "an officer appending approved is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PC2",
        change: |r| push(r, WorkflowAction::Approved, "PC2", None, &["ab12"]),
        expect: &["policy-supervisor-only"],
    },
    Update {
        name: "the author approving their own record as an officer is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PC1",
        change: |r| push(r, WorkflowAction::Approved, "PC1", None, &["ab12"]),
        expect: &["policy-supervisor-only"],
    },
    Update {
        name: "a PCSO returning a record is refused",
        kind: RecordKind::NeighbourhoodIssue,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PCSO7",
        change: |r| {
            push(
                r,
                WorkflowAction::Returned,
                "PCSO7",
                Some("needs more"),
                &[],
            )
        },
        expect: &["policy-supervisor-only"],
    },
    Update {
        name: "approving a draft is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &["policy-workflow-transition"],
    },
    Update {
        name: "approving without heads is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: |r| push(r, WorkflowAction::Approved, "PS1", None, &[]),
        expect: &["policy-approval-heads"],
    },
    Update {
        name: "a supervisor of another team approving is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS2",
        change: |r| push(r, WorkflowAction::Approved, "PS2", None, &["ab12"]),
        expect: &["policy-other-team"],
    },
    Update {
        name: "a supervisor returns a record with a reason",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: |r| {
            push(
                r,
                WorkflowAction::Returned,
                "PS1",
                Some("add the time of the call"),
                &[],
            );
        },
        expect: &[],
    },
    Update {
        name: "returned without a reason is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: |r| push(r, WorkflowAction::Returned, "PS1", None, &[]),
        expect: &["policy-return-reason"],
    },
    Update {
        name: "returned with a blank reason is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: |r| push(r, WorkflowAction::Returned, "PS1", Some("   "), &[]),
        expect: &["policy-return-reason"],
    },
    // Stop-search grounds at approval.
    Update {
        name: "approving a stop-search with specific grounds is allowed",
        kind: RecordKind::StopSearch,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &[],
    },
    Update {
        name: "approving a stop-search with boilerplate grounds is refused",
        kind: RecordKind::StopSearch,
        author: "PC1",
        prepare: |r| grounds(r, Some("acting suspiciously in a high crime area")),
        state: Status::Submitted,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &["policy-boilerplate-approval"],
    },
    Update {
        name: "approving a stop-search with empty grounds is refused",
        kind: RecordKind::StopSearch,
        author: "PC1",
        prepare: |r| grounds(r, Some("  ")),
        state: Status::Submitted,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &["policy-boilerplate-approval"],
    },
    Update {
        name: "approving a stop-search with no power and no grounds is refused",
        kind: RecordKind::StopSearch,
        author: "PC1",
        prepare: |r| {
            grounds(r, None);
            if let Record::StopSearch(s) = r {
                s.legislation = None;
            }
        },
        state: Status::Submitted,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &["policy-boilerplate-approval"],
    },
    Update {
        name: "approving a section 60 search, which needs an authorisation not grounds, is allowed",
        kind: RecordKind::StopSearch,
        author: "PC1",
        prepare: |r| {
            grounds(r, None);
            if let Record::StopSearch(s) = r {
                s.legislation = Some(SECTION_60.into());
                s.authorisation_ref = Some("AUTH-2026-11-22-01".into());
            }
        },
        state: Status::Submitted,
        writer: "PS1",
        change: approve_as_ps1,
        expect: &[],
    },
    // Re-opening.
    Update {
        name: "the author re-opens an approved record with a reason",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PC1",
        change: |r| push(r, WorkflowAction::Reopened, "PC1", Some("new witness"), &[]),
        expect: &[],
    },
    Update {
        name: "a supervisor re-opens an approved record with a reason",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PS1",
        change: |r| {
            push(
                r,
                WorkflowAction::Reopened,
                "PS1",
                Some("wrong outcome"),
                &[],
            )
        },
        expect: &[],
    },
    Update {
        name: "a stranger re-opening an approved record is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PC3",
        change: |r| push(r, WorkflowAction::Reopened, "PC3", Some("curious"), &[]),
        expect: &["policy-not-author"],
    },
    Update {
        name: "re-opening without a reason is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PC1",
        change: |r| push(r, WorkflowAction::Reopened, "PC1", None, &[]),
        expect: &["policy-reopen-reason"],
    },
    Update {
        name: "re-opening a draft is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: |r| push(r, WorkflowAction::Reopened, "PC1", Some("why not"), &[]),
        expect: &["policy-workflow-transition"],
    },
    // Forged and rewritten history.
    Update {
        name: "a workflow event forged as by another officer is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PC3",
        change: approve_as_ps1,
        expect: &["policy-workflow-forged"],
    },
    Update {
        name: "a workflow event claiming a role the writer does not hold is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PC2",
        change: |r| {
            push_as(
                r,
                WorkflowAction::Approved,
                "PC2",
                Role::Supervisor,
                None,
                &["ab12"],
            );
        },
        expect: &["policy-workflow-forged"],
    },
    Update {
        name: "removing a workflow event is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Submitted,
        writer: "PC1",
        change: |r| {
            r.meta_mut().workflow.pop();
        },
        expect: &["policy-workflow-rewritten"],
    },
    Update {
        name: "changing an earlier workflow event is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Returned,
        writer: "PC1",
        change: |r| r.meta_mut().workflow[1].reason = Some("never mind".into()),
        expect: &["policy-workflow-rewritten"],
    },
    Update {
        name: "two workflow events in one change are refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: |r| {
            push(r, WorkflowAction::Submitted, "PC1", None, &[]);
            push(r, WorkflowAction::Submitted, "PC1", None, &[]);
        },
        expect: &["policy-workflow-one-event"],
    },
    // Server-owned and immutable fields.
    Update {
        name: "writing the server receipt time is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: |r| r.meta_mut().server_received_at = Some(t(9)),
        expect: &["policy-server-field"],
    },
    Update {
        name: "changing a stop-search receipt reference is refused",
        kind: RecordKind::StopSearch,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: |r| {
            if let Record::StopSearch(s) = r {
                s.receipt_reference = "SS-20261122-00000000".into();
            }
        },
        expect: &["policy-server-field"],
    },
    Update {
        name: "changing the author is refused",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: |r| r.meta_mut().author = officer("PC3"),
        expect: &["policy-immutable-field"],
    },
    Update {
        name: "changing the creation time is refused",
        kind: RecordKind::NeighbourhoodIssue,
        author: "PC1",
        prepare: keep,
        state: Status::Draft,
        writer: "PC1",
        change: |r| r.meta_mut().created_at = t(-60_000),
        expect: &["policy-immutable-field"],
    },
    Update {
        name: "a change that changes nothing is allowed, even from a stranger",
        kind: RecordKind::CrimeReport,
        author: "PC1",
        prepare: keep,
        state: Status::Approved,
        writer: "PC3",
        change: keep,
        expect: &[],
    },
];

#[test]
fn changes_are_allowed_or_refused_as_the_table_says() {
    for case in UPDATES {
        let before = record(case.kind, case.author, case.prepare, case.state);
        let mut after = before.clone();
        (case.change)(&mut after);
        let got = check_change(Some(&before), &after, &writer(case.writer), Some(TEAM));
        assert_eq!(rules_of(&got), case.expect, "{}: {got:?}", case.name);
    }
}

#[test]
fn re_opening_then_editing_is_allowed_and_the_record_goes_back_to_review() {
    let pc = writer("PC1");
    let approved = record(RecordKind::CrimeReport, "PC1", keep, Status::Approved);
    let mut reopened = approved.clone();
    push(
        &mut reopened,
        WorkflowAction::Reopened,
        "PC1",
        Some("new witness"),
        &[],
    );
    assert_eq!(
        check_change(Some(&approved), &reopened, &pc, Some(TEAM)),
        []
    );
    let mut edited = reopened.clone();
    edit_narrative(&mut edited);
    assert_eq!(check_change(Some(&reopened), &edited, &pc, Some(TEAM)), []);
    let mut resubmitted = edited.clone();
    push(
        &mut resubmitted,
        WorkflowAction::Submitted,
        "PC1",
        None,
        &[],
    );
    assert_eq!(
        check_change(Some(&edited), &resubmitted, &pc, Some(TEAM)),
        []
    );
    assert_eq!(status(&resubmitted.meta().workflow), Status::Submitted);
}

#[test]
fn no_supervisor_approves_returns_or_reopens_a_record_whose_authors_team_is_unknown() {
    let submitted = record(RecordKind::CrimeReport, "PC1", keep, Status::Submitted);
    let mut approved = submitted.clone();
    push(
        &mut approved,
        WorkflowAction::Approved,
        "PS1",
        None,
        &["ab12"],
    );
    let mut returned = submitted.clone();
    push(
        &mut returned,
        WorkflowAction::Returned,
        "PS1",
        Some("say more"),
        &[],
    );
    let approved_before = record(RecordKind::CrimeReport, "PC1", keep, Status::Approved);
    let mut reopened = approved_before.clone();
    push(
        &mut reopened,
        WorkflowAction::Reopened,
        "PS1",
        Some("a new witness"),
        &[],
    );
    for (before, after) in [
        (&submitted, &approved),
        (&submitted, &returned),
        (&approved_before, &reopened),
    ] {
        let got = check_change(Some(before), after, &writer("PS1"), None);
        assert_eq!(
            got.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(),
            ["policy-other-team"],
            "{got:?}"
        );
        assert!(
            got[0].message.contains("author's team is not known"),
            "{got:?}"
        );
        // The same step with the author's team known and the supervisor's is allowed.
        assert_eq!(
            check_change(Some(before), after, &writer("PS1"), Some(TEAM)),
            []
        );
    }
}

#[test]
fn a_supervisor_enrolled_without_a_team_reviews_no_ones_records() {
    let before = record(RecordKind::CrimeReport, "PC1", keep, Status::Submitted);
    let mut after = before.clone();
    push(&mut after, WorkflowAction::Approved, "PS1", None, &["ab12"]);
    let no_team = Writer {
        team: None,
        ..writer("PS1")
    };
    let got = check_change(Some(&before), &after, &no_team, Some(TEAM));
    assert_eq!(
        got.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(),
        ["policy-other-team"]
    );
    assert!(got[0].message.contains("without a team"), "{got:?}");
    assert_eq!(
        check_change(Some(&before), &after, &no_team, None)
            .iter()
            .map(|v| v.rule.as_str())
            .collect::<Vec<_>>(),
        ["policy-other-team"]
    );
}

#[test]
fn an_author_reopens_their_own_record_whatever_the_teams() {
    let before = record(RecordKind::CrimeReport, "PC1", keep, Status::Approved);
    let mut after = before.clone();
    push(
        &mut after,
        WorkflowAction::Reopened,
        "PC1",
        Some("a new witness"),
        &[],
    );
    let no_team = Writer {
        team: None,
        ..writer("PC1")
    };
    assert_eq!(check_change(Some(&before), &after, &no_team, None), []);
}

#[test]
fn every_violation_names_a_field_and_says_what_to_do() {
    let before = record(RecordKind::CrimeReport, "PC1", keep, Status::Approved);
    let mut after = before.clone();
    edit_narrative(&mut after);
    after.meta_mut().server_received_at = Some(t(9));
    let got = check_change(Some(&before), &after, &writer("PC3"), Some(TEAM));
    assert_eq!(
        got.iter()
            .map(|v| (v.field.as_str(), v.rule.as_str()))
            .collect::<Vec<_>>(),
        [
            ("meta.server_received_at", "policy-server-field"),
            ("narrative", "policy-approved-locked"),
        ]
    );
    assert!(got.iter().all(|v| !v.message.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// changed_fields
// ---------------------------------------------------------------------------------------------

struct Diff {
    name: &'static str,
    kind: RecordKind,
    prepare: fn(&mut Record),
    change: fn(&mut Record),
    expect: &'static [&'static str],
}

fn located(r: &mut Record) {
    if let Record::Crime(c) = r {
        c.location = Some(Location {
            lat: Some(51.5),
            lon: Some(-0.12),
            ..Location::default()
        });
    }
}

const DIFFS: &[Diff] = &[
    Diff {
        name: "an unchanged record has no changed fields",
        kind: RecordKind::CrimeReport,
        prepare: located,
        change: keep,
        expect: &[],
    },
    Diff {
        name: "setting grounds names grounds",
        kind: RecordKind::StopSearch,
        prepare: keep,
        change: |r| grounds(r, Some("Saw him hand over a wrap for cash")),
        expect: &["grounds"],
    },
    Diff {
        name: "moving a location names the coordinate that moved",
        kind: RecordKind::CrimeReport,
        prepare: located,
        change: |r| {
            if let Record::Crime(c) = r
                && let Some(l) = &mut c.location
            {
                l.lat = Some(51.6);
            }
        },
        expect: &["location.lat"],
    },
    Diff {
        name: "adding a description to a location names the new sub-field",
        kind: RecordKind::CrimeReport,
        prepare: located,
        change: |r| {
            if let Record::Crime(c) = r
                && let Some(l) = &mut c.location
            {
                l.description = Some("outside the library".into());
            }
        },
        expect: &["location.description"],
    },
    Diff {
        name: "an empty location appearing names the location",
        kind: RecordKind::CrimeReport,
        prepare: keep,
        change: |r| {
            if let Record::Crime(c) = r {
                c.location = Some(Location::default());
            }
        },
        expect: &["location"],
    },
    Diff {
        name: "a location set from nothing names each of its sub-fields",
        kind: RecordKind::CrimeReport,
        prepare: keep,
        change: located,
        expect: &["location.lat", "location.lon"],
    },
    Diff {
        name: "linking a victim names the list as a whole",
        kind: RecordKind::CrimeReport,
        prepare: keep,
        change: |r| {
            if let Record::Crime(c) = r {
                c.victims.push(RecordId::generate());
            }
        },
        expect: &["victims"],
    },
    Diff {
        name: "a workflow event names meta.workflow",
        kind: RecordKind::CrimeReport,
        prepare: keep,
        change: |r| push(r, WorkflowAction::Submitted, "PC1", None, &[]),
        expect: &["meta.workflow"],
    },
    Diff {
        name: "two changes are named in order",
        kind: RecordKind::StopSearch,
        prepare: keep,
        change: |r| {
            grounds(r, None);
            r.meta_mut().server_received_at = Some(t(3));
        },
        expect: &["grounds", "meta.server_received_at"],
    },
];

#[test]
fn changed_fields_name_what_differs_as_the_table_says() {
    for case in DIFFS {
        let before = record(case.kind, "PC1", case.prepare, Status::Draft);
        let mut after = before.clone();
        (case.change)(&mut after);
        assert_eq!(
            changed_fields(Some(&before), &after),
            case.expect,
            "{}",
            case.name
        );
    }
}

#[test]
fn a_created_record_has_every_field_changed() {
    let after = Record::new(
        RecordKind::NeighbourhoodIssue,
        RecordId::generate(),
        officer("PCSO7"),
        t(0),
    );
    let fields = changed_fields(None, &after);
    for expected in [
        "meta.id",
        "meta.kind",
        "meta.author",
        "meta.created_at",
        "meta.workflow",
        "reported_at",
        "narrative",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected}: {fields:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The matrix itself
// ---------------------------------------------------------------------------------------------

#[test]
fn the_matrix_in_the_module_documentation_is_the_matrix_the_checker_uses() {
    let source = include_str!("../policy.rs");
    let documented: String = source
        .lines()
        .filter_map(|l| l.strip_prefix("//! |"))
        .map(|l| format!("|{l}\n"))
        .collect();
    assert_eq!(documented, matrix_markdown());
}

#[test]
fn every_action_reaches_a_row_for_every_role_kind_state_and_relation() {
    let states = [
        Status::Draft,
        Status::Submitted,
        Status::Returned,
        Status::Approved,
    ];
    let roles = [Role::Officer, Role::Pcso, Role::Supervisor];
    let relations = [Relation::Author, Relation::Attending, Relation::Stranger];
    let mut actions = vec![Action::Create, Action::Edit];
    actions.extend(ANY_EVENT);
    for role in roles {
        for kind in RecordKind::ALL {
            for relation in relations {
                for action in &actions {
                    for state in states {
                        let state = (*action != Action::Create).then_some(state);
                        assert!(
                            MATRIX
                                .iter()
                                .any(|r| r.matches(role, kind, state, *action, relation)),
                            "no row for {role:?} {kind:?} {state:?} {action:?} {relation:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn field_classes_cover_sub_paths_but_not_look_alike_names() {
    let cases = [
        (
            RecordKind::CrimeReport,
            "meta.workflow",
            FieldClass::Workflow,
        ),
        (RecordKind::CrimeReport, "meta.id", FieldClass::Immutable),
        (
            RecordKind::StopSearch,
            "receipt_reference",
            FieldClass::ServerOwned,
        ),
        (
            RecordKind::CrimeReport,
            "receipt_reference",
            FieldClass::Content,
        ),
        (
            RecordKind::CrimeReport,
            "meta.identity",
            FieldClass::Content,
        ),
        (RecordKind::CrimeReport, "location.lat", FieldClass::Content),
    ];
    for (kind, path, class) in cases {
        assert_eq!(field_class(kind, path), class, "{kind} {path}");
    }
}

#[test]
fn the_policy_and_the_devices_may_edit_agree_on_who_edits_content() {
    let people = ["PC1", "PC2", "PC3", "PS1", "PCSO7"];
    let states = [
        Status::Draft,
        Status::Submitted,
        Status::Returned,
        Status::Approved,
    ];
    for kind in RecordKind::ALL {
        for state in states {
            let before = record(kind, "PC1", keep, state);
            let mut after = before.clone();
            edit_narrative(&mut after);
            for id in people {
                let w = writer(id);
                let user = super::super::User {
                    officer: w.officer.clone(),
                    role: w.role,
                };
                let device = super::super::may_edit(&user, &before).is_ok();
                let server = check_change(Some(&before), &after, &w, Some(TEAM)).is_empty();
                assert_eq!(device, server, "{kind} {state} edited by {id}");
            }
        }
    }
}

#[test]
fn the_policy_and_the_devices_may_create_agree_on_who_creates_what() {
    for kind in RecordKind::ALL {
        for id in ["PC1", "PS1", "PCSO7"] {
            let w = writer(id);
            let user = super::super::User {
                officer: w.officer.clone(),
                role: w.role,
            };
            let device = super::super::may_create(&user, kind).is_ok();
            let created = Record::new(kind, RecordId::generate(), w.officer.clone(), t(0));
            let server = check_change(None, &created, &w, Some(TEAM)).is_empty();
            assert_eq!(device, server, "{kind} created by {id}");
        }
    }
}

#[test]
fn a_kind_is_shared_exactly_when_the_policy_lets_any_officer_edit_it() {
    for kind in RecordKind::ALL {
        let draft = record(kind, "PC1", keep, Status::Draft);
        let stranger = writer("PC9");
        let allowed = check_edit_by(stranger.role, &stranger.officer, &draft).is_none();
        assert_eq!(allowed, kind.profile().shared, "{kind}");
    }
}

#[test]
fn the_edit_check_refuses_what_a_pushed_edit_is_refused_for_with_the_same_rule() {
    for kind in RecordKind::ALL {
        for state in [
            Status::Draft,
            Status::Submitted,
            Status::Returned,
            Status::Approved,
        ] {
            let before = record(kind, "PC1", keep, state);
            let mut after = before.clone();
            edit_narrative(&mut after);
            for id in ["PC1", "PC2", "PS1", "PCSO7"] {
                let w = writer(id);
                let device = check_edit_by(w.role, &w.officer, &before).map(|v| v.rule);
                let server = check_change(Some(&before), &after, &w, Some(TEAM))
                    .into_iter()
                    .next()
                    .map(|v| v.rule);
                assert_eq!(device, server, "{kind} {state} edited by {id}");
            }
        }
    }
}
