//! Victim needs assessment rules (Victims' Code): enhanced rights the crime or the victim's age
//! imply, explicit consent for referral, safe contact for domestic abuse, the statement and the
//! written acknowledgement.

use super::{Findings, RuleContext, blank};
use crate::domain::{CrimeReport, ReferralDecision, Timestamp, VictimNeedsAssessment};
use crate::refdata::ReferenceData;

/// Enhanced-rights codes the rules derive from a crime or a victim's age. The consistency test
/// in `rules::tests` proves each exists in the reference data.
pub(super) const DOMESTIC_ABUSE: &str = "domestic-abuse";
pub(super) const HATE_CRIME: &str = "hate-crime";
pub(super) const SEXUAL_OFFENCE: &str = "sexual-offence";
pub(super) const PERSISTENTLY_TARGETED: &str = "persistently-targeted";
pub(super) const UNDER_18: &str = "under-18";

/// The enhanced-rights categories the crime, and the victim's age at the time of it, imply.
fn implied_categories(
    v: &VictimNeedsAssessment,
    crime: &CrimeReport,
    ctx: &RuleContext,
    reference: &ReferenceData,
) -> Vec<&'static str> {
    let mut implied = Vec::new();
    if crime.flags.domestic_abuse {
        implied.push(DOMESTIC_ABUSE);
    }
    if crime.flags.hate_crime {
        implied.push(HATE_CRIME);
    }
    if is_sexual_offence(crime, reference) {
        implied.push(SEXUAL_OFFENCE);
    }
    if crime.flags.repeat_victim {
        implied.push(PERSISTENTLY_TARGETED);
    }
    // The Victims' Code asks whether the victim was under 18 at the time of the offence.
    let at: Timestamp = crime
        .occurred_from
        .or(crime.reported_at)
        .or(v.assessed_at)
        .unwrap_or(ctx.now);
    let age = v
        .victim_id
        .and_then(|id| ctx.person(id))
        .and_then(|p| p.age_on(at));
    if age.is_some_and(|a| a < 18) {
        implied.push(UNDER_18);
    }
    implied
}

fn is_sexual_offence(crime: &CrimeReport, reference: &ReferenceData) -> bool {
    crime
        .classification
        .as_ref()
        .and_then(|c| reference.offence(&c.offence.code))
        .is_some_and(|o| o.sexual_offence)
}

pub(super) fn check(
    v: &VictimNeedsAssessment,
    ctx: &RuleContext,
    reference: &ReferenceData,
    out: &mut Findings,
) {
    // The crime this assessment belongs to, if the caller supplied the right one.
    let crime = match v.crime_id {
        None => {
            out.error(
                "crime_id",
                "vna-crime-required",
                "Link the assessment to the crime it belongs to.",
            );
            None
        }
        Some(id) => {
            let crime = ctx.crime.as_ref().filter(|c| c.meta.id == id);
            if crime.is_none() {
                out.error(
                    "crime_id",
                    "vna-crime-available",
                    "The linked crime is not on this device, so the rights it implies cannot be checked: sync and submit again.",
                );
            }
            crime
        }
    };
    match v.victim_id {
        None => out.error(
            "victim_id",
            "vna-victim-required",
            "Link the assessment to the victim it is for.",
        ),
        Some(id) => {
            if crime.is_some_and(|c| !c.victims.contains(&id)) {
                out.error(
                    "victim_id",
                    "vna-victim-listed",
                    "The person is not a victim on the linked crime: add them as a victim there or link the right person.",
                );
            }
        }
    }
    if v.assessed_at.is_none() {
        out.error(
            "assessed_at",
            "vna-assessed-at-required",
            "Record when the assessment was made.",
        );
    }

    // Enhanced rights: known codes, implied ones present or overridden with a reason.
    for (i, code) in v.enhanced_rights.iter().enumerate() {
        if reference.enhanced_right(code).is_none() {
            out.error(
                format!("enhanced_rights[{i}]"),
                "vna-enhanced-rights-known",
                "This is not an enhanced-rights category: choose it from the list.",
            );
        }
    }
    for (i, o) in v.enhanced_rights_overrides.iter().enumerate() {
        if reference.enhanced_right(&o.category).is_none() {
            out.error(
                format!("enhanced_rights_overrides[{i}].category"),
                "vna-enhanced-rights-known",
                "The overridden category is not an enhanced-rights category: choose it from the list.",
            );
        }
    }
    if let Some(crime) = crime {
        for code in implied_categories(v, crime, ctx, reference) {
            let present = v.enhanced_rights.iter().any(|c| c == code);
            let overridden = v
                .enhanced_rights_overrides
                .iter()
                .any(|o| o.category == code && !o.reason.trim().is_empty());
            if !present && !overridden {
                let label = reference
                    .enhanced_right(code)
                    .map_or(code, |r| r.label.as_str());
                out.error(
                    "enhanced_rights",
                    "vna-enhanced-rights-implied",
                    format!(
                        "The crime or the victim's age implies the enhanced-rights category '{label}' ({code}): add it, or record an override with a reason."
                    ),
                );
            }
        }
    }

    // Referral: explicit consent where the Victims' Code requires it.
    match &v.referral {
        None => out.error(
            "referral",
            "vna-referral-required",
            "Record the referral decision: referred, opted out, or no consent.",
        ),
        Some(r) => {
            if r.decision == ReferralDecision::Referred {
                let consent_needed = crime
                    .is_some_and(|c| c.flags.domestic_abuse || is_sexual_offence(c, reference))
                    || v.enhanced_rights.iter().any(|code| {
                        reference
                            .enhanced_right(code)
                            .is_some_and(|e| e.referral_needs_explicit_consent)
                    });
                if consent_needed && r.explicit_consent != Some(true) {
                    out.error(
                        "referral.explicit_consent",
                        "vna-referral-consent",
                        "Referral for sexual offences, domestic abuse and bereaved relatives needs the victim's explicit consent: record it, or record the decision as no consent.",
                    );
                }
                if r.referred_at.is_none() {
                    out.error(
                        "referral.referred_at",
                        "vna-referred-at-required",
                        "Record when the referral was sent.",
                    );
                }
            }
        }
    }

    // Contact: never an automatic message to a possibly shared phone in domestic abuse.
    match &v.contact {
        None => out.error(
            "contact",
            "vna-contact-required",
            "Record how the victim wants to be contacted.",
        ),
        Some(c) => {
            if crime.is_some_and(|c| c.flags.domestic_abuse) {
                if c.automatic_messages {
                    out.error(
                        "contact.automatic_messages",
                        "vna-safe-contact",
                        "Domestic abuse: turn off automatic messages, the phone may be shared with the suspect.",
                    );
                }
                if blank(c.safe_contact_method.as_deref()) {
                    out.error(
                        "contact.safe_contact_method",
                        "vna-safe-contact",
                        "Domestic abuse: record a safe way to contact the victim.",
                    );
                }
            }
        }
    }
    if v.vps.is_none() {
        out.error(
            "vps",
            "vna-vps-required",
            "Record whether a Victim Personal Statement was offered, declined or made.",
        );
    }
    if !v.acknowledgement_given {
        out.error(
            "acknowledgement_given",
            "vna-acknowledgement",
            "Give the victim the written acknowledgement (crime reference, basic details, officer contact) and record it.",
        );
    }
}
