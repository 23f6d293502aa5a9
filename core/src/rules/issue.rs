//! Neighbourhood issue rules (anti-social behaviour, National Standard for Incident Recording):
//! type and qualifier from reference data, where, who reported it, THRIVE when vulnerable.
//! An issue that turned out to be a crime simply links to the crime report.

use super::{Findings, RuleContext, thrive_complete};
use crate::domain::NeighbourhoodIssue;
use crate::refdata::ReferenceData;

pub(super) fn check(
    i: &NeighbourhoodIssue,
    _ctx: &RuleContext,
    reference: &ReferenceData,
    out: &mut Findings,
) {
    match i.asb_type.as_deref() {
        None => out.error(
            "asb_type",
            "issue-asb-type-required",
            "Record the type of anti-social behaviour.",
        ),
        Some(code) if reference.asb_type(code).is_none() => out.error(
            "asb_type",
            "issue-asb-type-known",
            "The ASB type is not one of the national types: choose it from the list.",
        ),
        Some(_) => {}
    }
    match i.qualifier.as_deref() {
        None => out.error(
            "qualifier",
            "issue-qualifier-required",
            "Record whether the behaviour is personal, nuisance or environmental.",
        ),
        Some(q) if !reference.is_asb_qualifier(q) => out.error(
            "qualifier",
            "issue-qualifier-known",
            "The qualifier must be personal, nuisance or environmental.",
        ),
        Some(_) => {}
    }
    if !i.location.as_ref().is_some_and(|l| l.is_given()) {
        out.error(
            "location",
            "issue-location-required",
            "Record where it happened: a GPS fix or a description of the place.",
        );
    }
    if i.reported_at.is_none() {
        out.error(
            "reported_at",
            "issue-reported-at-required",
            "Record when it was reported.",
        );
    }
    if i.reporter_id.is_none() && !i.anonymous_reporter {
        out.error(
            "reporter_id",
            "issue-reporter-required",
            "Link the person who reported it, or mark the reporter as anonymous.",
        );
    }
    if i.flags.vulnerable && !thrive_complete(i.thrive.as_ref()) {
        out.error(
            "thrive",
            "issue-thrive-required",
            "A vulnerable reporter or victim needs a THRIVE risk assessment: complete threat, harm, risk, investigation, vulnerability, engagement and the advice given.",
        );
    }
}
