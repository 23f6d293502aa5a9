//! Stop-and-search rules (PACE Code A, Best Use of Stop and Search): what must be recorded, the
//! power → object → grounds-or-authorisation matrix from reference data, and specific grounds.

use super::{Findings, RuleContext, blank};
use crate::domain::{Role, StopSearch};
use crate::refdata::{ReferenceData, SearchPowerRequires};

/// True when stop-search grounds say something specific about this encounter.
///
/// The text is lower-cased and split into words; the boilerplate phrases of the reference data
/// ("acting suspiciously", "high crime area", "known to police"...) and its stop words ("the",
/// "in"...) are removed; what is left must hold at least `min_specific_words` (6 in 2026.1)
/// *distinct* words. Six is about the least that can say what was seen or heard, of what object,
/// linking this person to it ("saw him pass a small bag"): every stock phrase in the list scores
/// zero, and repeating a word does not help. Used by submission and by supervisor approval.
pub fn grounds_are_specific(grounds: &str, reference: &ReferenceData) -> bool {
    specific_word_count(grounds, reference) >= reference.grounds.min_specific_words
}

/// Distinct words left once boilerplate phrases and stop words are removed.
fn specific_word_count(grounds: &str, reference: &ReferenceData) -> usize {
    let words = words_of(grounds);
    let phrases: Vec<Vec<String>> = reference
        .grounds
        .boilerplate
        .iter()
        .map(|p| words_of(p))
        .filter(|p| !p.is_empty())
        .collect();
    let mut kept = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < words.len() {
        if let Some(phrase) = phrases.iter().find(|p| words[i..].starts_with(p)) {
            i += phrase.len();
            continue;
        }
        let word = &words[i];
        if !reference.grounds.stop_words.iter().any(|s| s == word) {
            kept.insert(word.as_str());
        }
        i += 1;
    }
    kept.len()
}

/// Lower-case words of letters and digits (apostrophes kept inside words).
fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(super) fn check(
    s: &StopSearch,
    ctx: &RuleContext,
    reference: &ReferenceData,
    out: &mut Findings,
) {
    if ctx.role == Role::Pcso {
        out.error(
            "meta.author",
            "ss-role-pcso",
            "PCSOs do not carry out stop and search: ask a warranted officer to record the search.",
        );
    }

    // When and where.
    if s.detained_at.is_none() {
        out.error(
            "detained_at",
            "ss-detained-at-required",
            "Record when the person was detained.",
        );
    }
    if let (Some(detained), Some(searched)) = (s.detained_at, s.searched_at)
        && searched < detained
    {
        out.error(
            "searched_at",
            "ss-search-time-order",
            "The search cannot be before the detention: correct the search or detention time.",
        );
    }
    if !s.location.as_ref().is_some_and(|l| l.is_given()) {
        out.error(
            "location",
            "ss-location-required",
            "Record where the person was detained: a GPS fix or a description of the place.",
        );
    }

    // The search type.
    match s.search_type.as_deref() {
        None => out.error(
            "type",
            "ss-type-required",
            "Record the type of search: person, vehicle, or person and vehicle.",
        ),
        Some(t) => match reference.search_type(t) {
            None => out.error(
                "type",
                "ss-type-known",
                "The search type is not one of the police.uk types: choose it from the list.",
            ),
            Some(t) if t.vehicle && blank(s.vehicle_registration.as_deref()) => out.error(
                "vehicle_registration",
                "ss-vehicle-registration-required",
                "A vehicle was searched: record its registration.",
            ),
            Some(_) => {}
        },
    }

    // Power, object of search, grounds or authorisation.
    let power = match s.legislation.as_deref() {
        None => {
            out.error(
                "legislation",
                "ss-legislation-required",
                "Record the power used for the search.",
            );
            None
        }
        Some(label) => {
            let power = reference.power(label);
            if power.is_none() {
                out.error(
                    "legislation",
                    "ss-legislation-known",
                    "The power is not one of the police.uk powers: choose it from the list.",
                );
            }
            power
        }
    };
    match s.object_of_search.as_deref() {
        None => out.error(
            "object_of_search",
            "ss-object-required",
            "Record what the search was for.",
        ),
        Some(object) if !reference.is_object_of_search(object) => out.error(
            "object_of_search",
            "ss-object-known",
            "The object of search is not one of the police.uk objects: choose it from the list.",
        ),
        Some(object) => {
            if let Some(power) = power.filter(|p| !p.permits(object)) {
                out.error(
                    "object_of_search",
                    "ss-object-permitted",
                    format!(
                        "{} does not permit a search for this object: it permits {}. Correct the power or the object.",
                        power.label,
                        power.objects.join(", ")
                    ),
                );
            }
        }
    }
    match power.map(|p| p.requires) {
        Some(SearchPowerRequires::Grounds) => match s.grounds.as_deref() {
            g if blank(g) => out.error(
                "grounds",
                "ss-grounds-required",
                "This power needs reasonable grounds for suspicion: write what you saw or heard that led to the search.",
            ),
            Some(g) if !grounds_are_specific(g, reference) => out.error(
                "grounds",
                "ss-grounds-specific",
                format!(
                    "The grounds are too general: stock phrases such as 'acting suspiciously' or 'high crime area' are not grounds. Say what you saw or heard, about what object, linking this person to it (at least {} specific words).",
                    reference.grounds.min_specific_words
                ),
            ),
            _ => {}
        },
        Some(SearchPowerRequires::Authorisation) if blank(s.authorisation_ref.as_deref()) => out
            .error(
                "authorisation_ref",
                "ss-authorisation-required",
                "This power needs a senior officer's authorisation: record the authorisation reference.",
            ),
        _ => {}
    }

    // Outcome.
    match s.outcome.as_deref() {
        None => out.error(
            "outcome",
            "ss-outcome-required",
            "Record the outcome of the search.",
        ),
        Some(label) => match reference.search_outcome(label) {
            None => out.error(
                "outcome",
                "ss-outcome-known",
                "The outcome is not one of the police.uk outcomes: choose it from the list.",
            ),
            Some(o) if !o.no_further_action && s.outcome_linked_to_object_of_search.is_none() => {
                out.error(
                    "outcome_linked_to_object_of_search",
                    "ss-outcome-linked-required",
                    "Record whether the outcome was linked to the object of search.",
                )
            }
            Some(_) => {}
        },
    }
    if s.removal_of_more_than_outer_clothing.is_none() {
        out.error(
            "removal_of_more_than_outer_clothing",
            "ss-clothing-removal-required",
            "Record whether more than outer clothing was removed.",
        );
    }
    match s.injury_or_damage {
        None => out.error(
            "injury_or_damage",
            "ss-injury-required",
            "Record whether the search caused any injury or damage.",
        ),
        Some(true) if blank(s.injury_or_damage_details.as_deref()) => out.error(
            "injury_or_damage_details",
            "ss-injury-details-required",
            "Injury or damage was recorded: describe it.",
        ),
        Some(_) => {}
    }

    // The person: ethnicity, gender, age.
    match s.self_defined_ethnicity.as_deref() {
        None => out.error(
            "self_defined_ethnicity",
            "ss-self-defined-ethnicity-required",
            "Ask the person to define their ethnicity; record 'Other ethnic group - Not stated' if they decline.",
        ),
        Some(label) if reference.self_defined_ethnicity(label).is_none() => out.error(
            "self_defined_ethnicity",
            "ss-self-defined-ethnicity-known",
            "The self-defined ethnicity is not one of the census categories: choose it from the list.",
        ),
        Some(_) => {}
    }
    match s.officer_defined_ethnicity.as_deref() {
        None => out.error(
            "officer_defined_ethnicity",
            "ss-officer-defined-ethnicity-required",
            "Record the officer-defined ethnicity.",
        ),
        Some(label) if !reference.is_officer_defined_ethnicity(label) => out.error(
            "officer_defined_ethnicity",
            "ss-officer-defined-ethnicity-known",
            "The officer-defined ethnicity is not one of White, Black, Asian, Mixed or Other: choose it from the list.",
        ),
        Some(_) => {}
    }
    match s.gender.as_deref() {
        None => out.error(
            "gender",
            "ss-gender-required",
            "Record the person's gender.",
        ),
        Some(label) if !reference.is_gender(label) => out.error(
            "gender",
            "ss-gender-known",
            "The gender is not one of Male, Female or Other: choose it from the list.",
        ),
        Some(_) => {}
    }
    match s.age {
        None => out.error(
            "age",
            "ss-age-required",
            "Record the person's age, or your estimate of it; the age range is derived from it.",
        ),
        Some(age) => {
            let derived = reference.age_range_for(age.years);
            if s.age_range.as_deref().is_some_and(|r| r != derived) {
                out.error(
                    "age_range",
                    "ss-age-range-derived",
                    "The age range does not match the age: it is derived from the age, never typed. Save the record again to recompute it.",
                );
            }
        }
    }
    if s.person_id.is_none() && blank(s.person_description.as_deref()) {
        out.error(
            "person_description",
            "ss-person-required",
            "Link the person searched or, if they gave no details, describe them.",
        );
    }

    // Body-worn video and receipt.
    match s.bwv_used {
        None => out.error(
            "bwv_used",
            "ss-bwv-required",
            "Record whether body-worn video was recording.",
        ),
        Some(false) if blank(s.bwv_reason.as_deref()) => out.error(
            "bwv_reason",
            "ss-bwv-reason-required",
            "Body-worn video was not used: record why.",
        ),
        Some(_) => {}
    }
    match s.receipt_given {
        None => out.error(
            "receipt_given",
            "ss-receipt-required",
            "Record whether a receipt was given to the person.",
        ),
        Some(false) if blank(s.receipt_not_given_reason.as_deref()) => out.error(
            "receipt_not_given_reason",
            "ss-receipt-reason-required",
            "No receipt was given: record why (for example, called away to an emergency).",
        ),
        Some(_) => {}
    }
}
