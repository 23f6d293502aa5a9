//! Policy: which role may write which fields of which record kind in which workflow state.
//!
//! Pure and data-driven. The server runs [`check_change`] on every pushed change (as of the
//! change's dependencies) and the device runs it before it saves, so both refuse the same things.
//! Who may do what is the table [`MATRIX`], not a chain of `if`s: [`check_change`] sorts each
//! changed field into a [`FieldClass`] (table [`FIELD_CLASSES`]), turns it into an [`Action`],
//! and looks the action up in the matrix; the first matching row decides. A row that allows may
//! name [`Guard`]s, conditions on the change itself (a reason given, heads pinned, grounds
//! specific, the same team) that must also hold. No row matching means refused.
//!
//! This module does no I/O and never reads a clock; messages never quote the record's content.
//!
//! The matrix (rendered from [`MATRIX`] by [`matrix_markdown`]; a test keeps the two equal):
//!
//! | role | kind | state | action | writer is | effect | guards | rule |
//! |---|---|---|---|---|---|---|---|
//! | any | any | new | create | attending, stranger | deny | - | policy-not-author |
//! | pcso | stop-search | new | create | any | deny | - | policy-pcso-stop-search |
//! | pcso | issue, person | new | create | author | allow | - | policy-create |
//! | pcso | any | new | create | any | deny | - | policy-pcso-create |
//! | officer, supervisor | any | new | create | author | allow | - | policy-create |
//! | any | any | approved | edit | any | deny | - | policy-approved-locked |
//! | any | any | submitted | edit | any | deny | - | policy-submitted-locked |
//! | any | any | draft, returned | edit | author, attending | allow | - | policy-edit |
//! | any | person | draft, returned | edit | stranger | allow | - | policy-edit |
//! | any | any | any | edit | any | deny | - | policy-not-author |
//! | any | any | draft, returned | submitted | author, attending | allow | - | policy-submit |
//! | any | any | draft, returned | submitted | any | deny | - | policy-not-author |
//! | officer, pcso | any | any | approved, returned | any | deny | - | policy-supervisor-only |
//! | supervisor | any | submitted | approved, returned | author | deny | - | policy-self-approval |
//! | supervisor | any | submitted | approved | attending, stranger | allow | same-team, heads, grounds | policy-approve |
//! | supervisor | any | submitted | returned | attending, stranger | allow | same-team, return-reason | policy-return |
//! | any | any | approved | reopened | author | allow | reopen-reason | policy-reopen |
//! | supervisor | any | approved | reopened | any | allow | same-team, reopen-reason | policy-reopen |
//! | any | any | approved | reopened | any | deny | - | policy-not-author |
//! | any | any | any | any | any | deny | - | policy-workflow-transition |
//!
//! Outside the matrix, always refused: changing an immutable field (`meta.id`, `meta.kind`,
//! `meta.author`, `meta.created_at`: `policy-immutable-field`); writing a server-owned field
//! (`meta.server_received_at`, and a stop-search's `receipt_reference` after creation:
//! `policy-server-field`); a workflow event whose `by` or `role` is not the writer's, or any
//! event in a record being created (`policy-workflow-forged`); a workflow list that is not the
//! old list with events appended (`policy-workflow-rewritten`); more than one new event in one
//! change (`policy-workflow-one-event`).

use serde_json::Value;

use crate::domain::{OfficerId, Record, RecordKind, Role, Status, WorkflowAction};
use crate::refdata::{self, ReferenceData, SearchPowerRequires};
use crate::rules;

use super::status;

/// The user behind a change, as the server knows them from the device's enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    /// Collar number.
    pub officer: OfficerId,
    /// Role.
    pub role: Role,
    /// Team (a supervisor reviews their team's records); `None` when not known.
    pub team: Option<String>,
}

/// One refused part of a change: which field, which rule, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Violation {
    /// Field path, as [`changed_fields`] names it (e.g. `grounds`, `meta.workflow`).
    pub field: String,
    /// Stable rule id, e.g. `policy-self-approval`.
    pub rule: String,
    /// A sentence saying why and what to do. No personal data.
    pub message: String,
}

/// What a changed field is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldClass {
    /// Set at creation, never changed.
    Immutable,
    /// Written only by the sync server (or, for a receipt reference, assigned at creation).
    ServerOwned,
    /// The append-only workflow history.
    Workflow,
    /// What the record says: everything else.
    Content,
}

/// Fields that are not content: `(kind or any, path, class)`. A path covers its sub-paths.
pub const FIELD_CLASSES: &[(Option<RecordKind>, &str, FieldClass)] = &[
    (None, "meta.id", FieldClass::Immutable),
    (None, "meta.kind", FieldClass::Immutable),
    (None, "meta.author", FieldClass::Immutable),
    (None, "meta.created_at", FieldClass::Immutable),
    (None, "meta.server_received_at", FieldClass::ServerOwned),
    (None, "meta.workflow", FieldClass::Workflow),
    (
        Some(RecordKind::StopSearch),
        "receipt_reference",
        FieldClass::ServerOwned,
    ),
];

/// What a change does, as the matrix sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Creates the record.
    Create,
    /// Changes content.
    Edit,
    /// Appends a workflow event.
    Append(WorkflowAction),
}

/// How the writer stands to the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The writer is its author.
    Author,
    /// The writer is one of its attending officers (as the record was before the change).
    Attending,
    /// Neither.
    Stranger,
}

/// Whether a matching row allows or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Allowed, if every guard of the row holds.
    Allow,
    /// Refused with the row's rule id.
    Deny,
}

/// A condition on the change itself that an allowing row may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// A supervisor acts only on their team's records: both teams known and equal (a record
    /// whose author has no known team, or a supervisor with none, is refused).
    SameTeam,
    /// An approval names the heads it approves.
    Heads,
    /// A stop-search under a power that needs grounds is approved only with specific grounds.
    SpecificGrounds,
    /// A return says why.
    ReturnReason,
    /// A re-opening says why.
    ReopenReason,
}

/// One row of the policy matrix. Empty lists match anything.
#[derive(Debug, Clone, Copy)]
pub struct PolicyRule {
    /// Roles the row applies to.
    pub roles: &'static [Role],
    /// Record kinds the row applies to.
    pub kinds: &'static [RecordKind],
    /// Workflow states (before the change) the row applies to; ignored for [`Action::Create`].
    pub states: &'static [Status],
    /// Actions the row applies to (never empty).
    pub actions: &'static [Action],
    /// How the writer must stand to the record.
    pub relations: &'static [Relation],
    /// Allow or deny.
    pub effect: Effect,
    /// Conditions an allowing row also requires.
    pub guards: &'static [Guard],
    /// Stable rule id, reported when the row refuses.
    pub rule: &'static str,
    /// Why, for the officer; reported when the row refuses.
    pub message: &'static str,
}

const ANY_ROLE: &[Role] = &[];
const ANY_KIND: &[RecordKind] = &[];
const ANY_STATE: &[Status] = &[];
const ANYONE: &[Relation] = &[];
const EDITABLE: &[Status] = &[Status::Draft, Status::Returned];
const OWNERS: &[Relation] = &[Relation::Author, Relation::Attending];
const NOT_AUTHOR: &[Relation] = &[Relation::Attending, Relation::Stranger];
const CREATE: &[Action] = &[Action::Create];
const EDIT: &[Action] = &[Action::Edit];
const SUBMIT: &[Action] = &[Action::Append(WorkflowAction::Submitted)];
const APPROVE: &[Action] = &[Action::Append(WorkflowAction::Approved)];
const RETURN: &[Action] = &[Action::Append(WorkflowAction::Returned)];
const REVIEW: &[Action] = &[
    Action::Append(WorkflowAction::Approved),
    Action::Append(WorkflowAction::Returned),
];
const REOPEN: &[Action] = &[Action::Append(WorkflowAction::Reopened)];
const ANY_EVENT: &[Action] = &[
    Action::Append(WorkflowAction::Submitted),
    Action::Append(WorkflowAction::Returned),
    Action::Append(WorkflowAction::Approved),
    Action::Append(WorkflowAction::Reopened),
];
const NO_GUARD: &[Guard] = &[];

#[expect(
    clippy::too_many_arguments,
    reason = "one argument per matrix column, so each row reads as a table row"
)]
const fn row(
    roles: &'static [Role],
    kinds: &'static [RecordKind],
    states: &'static [Status],
    actions: &'static [Action],
    relations: &'static [Relation],
    effect: Effect,
    guards: &'static [Guard],
    rule: &'static str,
    message: &'static str,
) -> PolicyRule {
    PolicyRule {
        roles,
        kinds,
        states,
        actions,
        relations,
        effect,
        guards,
        rule,
        message,
    }
}

/// The policy matrix, policy version 2026.1. The first row that matches a change decides.
pub const MATRIX: &[PolicyRule] = &[
    // Creating.
    row(
        ANY_ROLE,
        ANY_KIND,
        ANY_STATE,
        CREATE,
        NOT_AUTHOR,
        Effect::Deny,
        NO_GUARD,
        "policy-not-author",
        "a record is created by its author: the device's officer must be the author",
    ),
    row(
        &[Role::Pcso],
        &[RecordKind::StopSearch],
        ANY_STATE,
        CREATE,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-pcso-stop-search",
        "PCSOs do not carry out stop and search (PACE Code A): ask a warranted officer to record it",
    ),
    row(
        &[Role::Pcso],
        &[RecordKind::NeighbourhoodIssue, RecordKind::Person],
        ANY_STATE,
        CREATE,
        &[Relation::Author],
        Effect::Allow,
        NO_GUARD,
        "policy-create",
        "",
    ),
    row(
        &[Role::Pcso],
        ANY_KIND,
        ANY_STATE,
        CREATE,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-pcso-create",
        "PCSOs create neighbourhood issues and person records: ask an officer to record this",
    ),
    row(
        &[Role::Officer, Role::Supervisor],
        ANY_KIND,
        ANY_STATE,
        CREATE,
        &[Relation::Author],
        Effect::Allow,
        NO_GUARD,
        "policy-create",
        "",
    ),
    // Editing content.
    row(
        ANY_ROLE,
        ANY_KIND,
        &[Status::Approved],
        EDIT,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-approved-locked",
        "an approved record is not edited: re-open it first (with a reason); it then goes back to review",
    ),
    row(
        ANY_ROLE,
        ANY_KIND,
        &[Status::Submitted],
        EDIT,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-submitted-locked",
        "a submitted record waits for a supervisor: it is edited again only if it is returned",
    ),
    row(
        ANY_ROLE,
        ANY_KIND,
        EDITABLE,
        EDIT,
        OWNERS,
        Effect::Allow,
        NO_GUARD,
        "policy-edit",
        "",
    ),
    row(
        ANY_ROLE,
        &[RecordKind::Person],
        EDITABLE,
        EDIT,
        &[Relation::Stranger],
        Effect::Allow,
        NO_GUARD,
        "policy-edit",
        "",
    ),
    row(
        ANY_ROLE,
        ANY_KIND,
        ANY_STATE,
        EDIT,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-not-author",
        "only its author or an attending officer edits this record",
    ),
    // Submitting.
    row(
        ANY_ROLE,
        ANY_KIND,
        EDITABLE,
        SUBMIT,
        OWNERS,
        Effect::Allow,
        NO_GUARD,
        "policy-submit",
        "",
    ),
    row(
        ANY_ROLE,
        ANY_KIND,
        EDITABLE,
        SUBMIT,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-not-author",
        "only its author or an attending officer submits this record",
    ),
    // Reviewing.
    row(
        &[Role::Officer, Role::Pcso],
        ANY_KIND,
        ANY_STATE,
        REVIEW,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-supervisor-only",
        "only a supervisor approves or returns records",
    ),
    row(
        &[Role::Supervisor],
        ANY_KIND,
        &[Status::Submitted],
        REVIEW,
        &[Relation::Author],
        Effect::Deny,
        NO_GUARD,
        "policy-self-approval",
        "a supervisor never approves or returns their own record: ask another supervisor",
    ),
    row(
        &[Role::Supervisor],
        ANY_KIND,
        &[Status::Submitted],
        APPROVE,
        NOT_AUTHOR,
        Effect::Allow,
        &[Guard::SameTeam, Guard::Heads, Guard::SpecificGrounds],
        "policy-approve",
        "",
    ),
    row(
        &[Role::Supervisor],
        ANY_KIND,
        &[Status::Submitted],
        RETURN,
        NOT_AUTHOR,
        Effect::Allow,
        &[Guard::SameTeam, Guard::ReturnReason],
        "policy-return",
        "",
    ),
    // Re-opening.
    row(
        ANY_ROLE,
        ANY_KIND,
        &[Status::Approved],
        REOPEN,
        &[Relation::Author],
        Effect::Allow,
        &[Guard::ReopenReason],
        "policy-reopen",
        "",
    ),
    row(
        &[Role::Supervisor],
        ANY_KIND,
        &[Status::Approved],
        REOPEN,
        ANYONE,
        Effect::Allow,
        &[Guard::SameTeam, Guard::ReopenReason],
        "policy-reopen",
        "",
    ),
    row(
        ANY_ROLE,
        ANY_KIND,
        &[Status::Approved],
        REOPEN,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-not-author",
        "only its author or a supervisor re-opens an approved record",
    ),
    // Anything else is a move the workflow does not have.
    row(
        ANY_ROLE,
        ANY_KIND,
        ANY_STATE,
        ANY_EVENT,
        ANYONE,
        Effect::Deny,
        NO_GUARD,
        "policy-workflow-transition",
        "the workflow has no such step from this state: draft and returned records are submitted, submitted ones approved or returned, approved ones re-opened",
    ),
];

impl PolicyRule {
    fn matches(
        &self,
        role: Role,
        kind: RecordKind,
        state: Option<Status>,
        action: Action,
        relation: Relation,
    ) -> bool {
        fn any_or<T: PartialEq>(list: &[T], value: &T) -> bool {
            list.is_empty() || list.contains(value)
        }
        any_or(self.roles, &role)
            && any_or(self.kinds, &kind)
            && state.is_none_or(|s| any_or(self.states, &s))
            && self.actions.contains(&action)
            && any_or(self.relations, &relation)
    }
}

impl Guard {
    /// The rule id reported when the guard does not hold.
    pub fn rule(self) -> &'static str {
        match self {
            Guard::SameTeam => "policy-other-team",
            Guard::Heads => "policy-approval-heads",
            Guard::SpecificGrounds => "policy-boilerplate-approval",
            Guard::ReturnReason => "policy-return-reason",
            Guard::ReopenReason => "policy-reopen-reason",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Guard::SameTeam => "same-team",
            Guard::Heads => "heads",
            Guard::SpecificGrounds => "grounds",
            Guard::ReturnReason => "return-reason",
            Guard::ReopenReason => "reopen-reason",
        }
    }
}

/// Whether `role` may create a record of `kind` (as its author): the matrix's creation rows, the
/// same ones [`check_change`] applies to a pushed change that creates a record. `None` when
/// allowed; else the refusing rule.
pub fn check_creation_by(role: Role, kind: RecordKind) -> Option<Violation> {
    let row = lookup(role, kind, None, Action::Create, Relation::Author);
    match row {
        Some(row) if row.effect == Effect::Allow => None,
        Some(row) => Some(violation("meta.kind", row.rule, row.message)),
        None => Some(violation(
            "meta.kind",
            "policy-no-rule",
            "no policy rule allows this change",
        )),
    }
}

/// Whether `officer`, in `role`, may edit the content of `record` as it stands: the matrix's
/// edit rows, the same ones [`check_change`] applies to a pushed change of a content field, so
/// a device refuses exactly the edits the server would. `None` when allowed; else the refusing
/// rule (`policy-submitted-locked`, `policy-approved-locked`, `policy-not-author`).
pub fn check_edit_by(role: Role, officer: &OfficerId, record: &Record) -> Option<Violation> {
    let state = status(&record.meta().workflow);
    let relation = relation_of(record, officer);
    match lookup(role, record.kind(), Some(state), Action::Edit, relation) {
        // The edit rows carry no guards.
        Some(row) if row.effect == Effect::Allow => None,
        Some(row) => Some(violation("meta.workflow", row.rule, row.message)),
        None => Some(violation(
            "meta.workflow",
            "policy-no-rule",
            "no policy rule allows this change",
        )),
    }
}

/// How `officer` stands to `record`.
fn relation_of(record: &Record, officer: &OfficerId) -> Relation {
    if record.meta().author == *officer {
        Relation::Author
    } else if record.attending_officers().contains(officer) {
        Relation::Attending
    } else {
        Relation::Stranger
    }
}

/// The first row of the matrix that matches.
fn lookup(
    role: Role,
    kind: RecordKind,
    state: Option<Status>,
    action: Action,
    relation: Relation,
) -> Option<&'static PolicyRule> {
    MATRIX
        .iter()
        .find(|r| r.matches(role, kind, state, action, relation))
}

/// Checks one change: `before` is the record as its author could see it (None for a change that
/// creates the record), `after` is the record with the change applied; returns every violation
/// (empty = allowed). `author_team` is the team of the record's author, when known.
pub fn check_change(
    before: Option<&Record>,
    after: &Record,
    writer: &Writer,
    author_team: Option<&str>,
) -> Vec<Violation> {
    let ctx = Context {
        before,
        after,
        writer,
        author_team,
        reference: refdata::current(),
    };
    let mut out = Vec::new();
    match before {
        None => check_creation(&ctx, &mut out),
        Some(before) => check_update(&ctx, before, &mut out),
    }
    out
}

/// The field paths that differ between two records (a JSON diff of [`Record::to_json`]): objects
/// are compared key by key (`location.lat`), lists and scalars whole (`victims`,
/// `meta.workflow`). A field that appears or disappears with no sub-field is named itself
/// (`location`). Sorted; with `before` = None, every field of `after`.
pub fn changed_fields(before: Option<&Record>, after: &Record) -> Vec<String> {
    let old = before.map_or(Value::Null, Record::to_json);
    let mut paths = Vec::new();
    diff(&old, &after.to_json(), "", &mut paths);
    paths.sort();
    paths
}

/// The matrix as a markdown table (the one in this module's documentation).
pub fn matrix_markdown() -> String {
    fn list<T>(items: &[T], name: impl Fn(&T) -> &'static str) -> String {
        if items.is_empty() {
            "any".to_owned()
        } else {
            items.iter().map(name).collect::<Vec<_>>().join(", ")
        }
    }
    let mut out = String::from(
        "| role | kind | state | action | writer is | effect | guards | rule |\n|---|---|---|---|---|---|---|---|\n",
    );
    for r in MATRIX {
        let state = if r.actions == CREATE {
            "new".to_owned()
        } else {
            list(r.states, |s| s.as_str())
        };
        let action = if r.actions == ANY_EVENT {
            "any".to_owned()
        } else {
            list(r.actions, |a| match a {
                Action::Create => "create",
                Action::Edit => "edit",
                Action::Append(WorkflowAction::Submitted) => "submitted",
                Action::Append(WorkflowAction::Returned) => "returned",
                Action::Append(WorkflowAction::Approved) => "approved",
                Action::Append(WorkflowAction::Reopened) => "reopened",
            })
        };
        let guards = if r.guards.is_empty() {
            "-".to_owned()
        } else {
            list(r.guards, |g| g.name())
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            list(r.roles, |role| role.as_str()),
            list(r.kinds, |k| k.as_str()),
            state,
            action,
            list(r.relations, |relation| match relation {
                Relation::Author => "author",
                Relation::Attending => "attending",
                Relation::Stranger => "stranger",
            }),
            match r.effect {
                Effect::Allow => "allow",
                Effect::Deny => "deny",
            },
            guards,
            r.rule,
        ));
    }
    out
}

/// The class of a changed field of a record of `kind`.
pub fn field_class(kind: RecordKind, path: &str) -> FieldClass {
    FIELD_CLASSES
        .iter()
        .find(|(k, prefix, _)| {
            k.is_none_or(|k| k == kind)
                && (path == *prefix
                    || path
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.')))
        })
        .map_or(FieldClass::Content, |(_, _, class)| *class)
}

struct Context<'a> {
    before: Option<&'a Record>,
    after: &'a Record,
    writer: &'a Writer,
    author_team: Option<&'a str>,
    reference: &'a ReferenceData,
}

impl Context<'_> {
    fn relation(&self) -> Relation {
        relation_of(self.before.unwrap_or(self.after), &self.writer.officer)
    }

    /// Looks the action up in the matrix and reports a refusal against `field`.
    fn decide(&self, action: Action, field: &str, out: &mut Vec<Violation>) {
        let state = self.before.map(|b| status(&b.meta().workflow));
        // What the record is, not what a change claims it has become (that is refused anyway).
        let kind = self.before.unwrap_or(self.after).kind();
        let relation = self.relation();
        let Some(row) = lookup(self.writer.role, kind, state, action, relation) else {
            // Every action has a catch-all row; this is only reached if the table loses one.
            out.push(violation(
                field,
                "policy-no-rule",
                "no policy rule allows this change",
            ));
            return;
        };
        match row.effect {
            Effect::Deny => out.push(violation(field, row.rule, row.message)),
            Effect::Allow => {
                for guard in row.guards {
                    if let Some(message) = self.guard_fails(*guard) {
                        out.push(violation(field, guard.rule(), message));
                    }
                }
            }
        }
    }

    /// Why `guard` does not hold for the event this change appends, or None when it holds.
    fn guard_fails(&self, guard: Guard) -> Option<&'static str> {
        let event = self.after.meta().workflow.last();
        let reason_given = event
            .and_then(|e| e.reason.as_deref())
            .is_some_and(|r| !r.trim().is_empty());
        match guard {
            Guard::SameTeam => match (self.author_team, self.writer.team.as_deref()) {
                (Some(author), Some(writer)) if author == writer => None,
                (None, _) => Some(
                    "the author's team is not known (they had none when the record was last written), so no supervisor may review it: an administrator gives them one at the server, and the record takes it with its author's next change",
                ),
                (_, None) => Some(
                    "you are enrolled without a team, so you review no one's records: ask an administrator to set your team",
                ),
                _ => Some("a supervisor reviews and re-opens only their own team's records"),
            },
            Guard::Heads => event
                .is_none_or(|e| e.heads.is_empty())
                .then_some("an approval names the document heads it approves"),
            Guard::SpecificGrounds => (!grounds_fit_for_approval(self.after, self.reference))
                .then_some(
                    "the grounds are empty or boilerplate: return the search to its author to say what was seen or heard",
                ),
            Guard::ReturnReason => (!reason_given)
                .then_some("say why the record is returned: what the author must change"),
            Guard::ReopenReason => (!reason_given).then_some("say why the record is re-opened"),
        }
    }
}

/// True unless the record is a stop-search whose power needs grounds (or is unknown) and whose
/// grounds are missing or not specific.
fn grounds_fit_for_approval(record: &Record, reference: &ReferenceData) -> bool {
    let Record::StopSearch(s) = record else {
        return true;
    };
    let needs_grounds = s
        .legislation
        .as_deref()
        .and_then(|label| reference.power(label))
        .is_none_or(|p| p.requires == SearchPowerRequires::Grounds);
    !needs_grounds
        || s.grounds
            .as_deref()
            .is_some_and(|g| rules::grounds_are_specific(g, reference))
}

fn check_creation(ctx: &Context<'_>, out: &mut Vec<Violation>) {
    let meta = ctx.after.meta();
    ctx.decide(Action::Create, "meta.author", out);
    if !meta.workflow.is_empty() {
        out.push(violation(
            "meta.workflow",
            "policy-workflow-forged",
            "a new record has no workflow history: create it as a draft, then submit it",
        ));
    }
    if meta.server_received_at.is_some() {
        out.push(server_field("meta.server_received_at"));
    }
}

fn check_update(ctx: &Context<'_>, before: &Record, out: &mut Vec<Violation>) {
    let kind = before.kind();
    for path in changed_fields(Some(before), ctx.after) {
        match field_class(kind, &path) {
            FieldClass::Immutable => out.push(violation(
                &path,
                "policy-immutable-field",
                "this field is set when the record is created and never changes",
            )),
            FieldClass::ServerOwned => out.push(server_field(&path)),
            FieldClass::Workflow => check_workflow(ctx, before, out),
            FieldClass::Content => ctx.decide(Action::Edit, &path, out),
        }
    }
}

fn check_workflow(ctx: &Context<'_>, before: &Record, out: &mut Vec<Violation>) {
    const FIELD: &str = "meta.workflow";
    let old = &before.meta().workflow;
    let new = &ctx.after.meta().workflow;
    if !new.starts_with(old) {
        out.push(violation(
            FIELD,
            "policy-workflow-rewritten",
            "workflow history is append-only: earlier events are never changed or removed",
        ));
        return;
    }
    let appended = &new[old.len()..];
    if appended.len() > 1 {
        out.push(violation(
            FIELD,
            "policy-workflow-one-event",
            "one change records one workflow step: submit, return, approve or re-open separately",
        ));
        return;
    }
    let Some(event) = appended.first() else {
        return;
    };
    if event.by != ctx.writer.officer || event.role != ctx.writer.role {
        out.push(violation(
            FIELD,
            "policy-workflow-forged",
            "a workflow event is recorded only by and in the role of the officer whose device makes it",
        ));
        return;
    }
    ctx.decide(Action::Append(event.action), FIELD, out);
}

fn server_field(field: &str) -> Violation {
    violation(
        field,
        "policy-server-field",
        "this field is written by the server only: leave it as it is",
    )
}

fn violation(field: &str, rule: &str, message: &str) -> Violation {
    Violation {
        field: field.to_owned(),
        rule: rule.to_owned(),
        message: message.to_owned(),
    }
}

/// Appends to `out` the paths under `path` where `old` and `new` differ.
fn diff(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    let (old_map, new_map) = match (old, new) {
        (Value::Object(a), Value::Object(b)) => (Some(a), Some(b)),
        (Value::Object(a), Value::Null) => (Some(a), None),
        (Value::Null, Value::Object(b)) => (None, Some(b)),
        _ => {
            if old != new {
                out.push(path.to_owned());
            }
            return;
        }
    };
    let keys: std::collections::BTreeSet<&String> = old_map
        .into_iter()
        .chain(new_map)
        .flat_map(|m| m.keys())
        .collect();
    let found = out.len();
    for key in keys {
        let a = old_map.and_then(|m| m.get(key)).unwrap_or(&Value::Null);
        let b = new_map.and_then(|m| m.get(key)).unwrap_or(&Value::Null);
        diff(a, b, &join(key), out);
    }
    // An object that appeared or went with nothing in it is still a change.
    if out.len() == found && old != new && !path.is_empty() {
        out.push(path.to_owned());
    }
}

#[cfg(test)]
mod tests;
