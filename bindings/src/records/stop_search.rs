//! The stop-and-search record (PACE Code A). Field names follow data.police.uk.

use std::time::SystemTime;

use fieldbook_core::Error;
use fieldbook_core::domain;

use super::fields::{field, id_to_ffi, optional, record_id, time_to_ffi, timestamp};
use super::{Location, RecordMeta};

/// The person's age as the officer knows it; the published age range is derived from it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AgeEvidence {
    /// Age in whole years.
    pub years: u8,
    /// True when the officer estimated it.
    pub estimated: bool,
}

impl From<domain::AgeEvidence> for AgeEvidence {
    fn from(value: domain::AgeEvidence) -> Self {
        let domain::AgeEvidence { years, estimated } = value;
        AgeEvidence { years, estimated }
    }
}

impl From<AgeEvidence> for domain::AgeEvidence {
    fn from(value: AgeEvidence) -> Self {
        let AgeEvidence { years, estimated } = value;
        domain::AgeEvidence { years, estimated }
    }
}

/// A stop-and-search encounter (PACE Code A). Field names follow data.police.uk.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StopSearch {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// "Person search", "Vehicle search" or "Person and Vehicle search".
    pub search_type: Option<String>,
    /// When the person was detained.
    pub detained_at: Option<SystemTime>,
    /// When the search happened, if different.
    pub searched_at: Option<SystemTime>,
    /// Where the person was detained.
    pub location: Option<Location>,
    /// Where the search happened, if different.
    pub search_location: Option<Location>,
    /// The power used, as police.uk labels it.
    pub legislation: Option<String>,
    /// What was searched for, as police.uk labels it.
    pub object_of_search: Option<String>,
    /// The grounds for suspicion (for powers that need them): specific, not boilerplate.
    pub grounds: Option<String>,
    /// The authorisation reference (s60 CJPOA 1994, s47A TA 2000).
    pub authorisation_ref: Option<String>,
    /// Outcome, as police.uk labels it.
    pub outcome: Option<String>,
    /// Whether the outcome was linked to the object of search.
    pub outcome_linked_to_object_of_search: Option<bool>,
    /// Whether more than outer clothing was removed.
    pub removal_of_more_than_outer_clothing: Option<bool>,
    /// Any injury or damage caused.
    pub injury_or_damage: Option<bool>,
    /// Details of injury or damage.
    pub injury_or_damage_details: Option<String>,
    /// Self-defined ethnicity (18 census categories + "Not stated"), police.uk label.
    pub self_defined_ethnicity: Option<String>,
    /// Officer-defined ethnicity (White, Black, Asian, Mixed, Other).
    pub officer_defined_ethnicity: Option<String>,
    /// Gender: "Male", "Female" or "Other".
    pub gender: Option<String>,
    /// The person's age or the officer's estimate of it.
    pub age: Option<AgeEvidence>,
    /// Derived from `age` on every save; never typed.
    pub age_range: Option<String>,
    /// Registration of the vehicle searched.
    pub vehicle_registration: Option<String>,
    /// Body-worn video recording.
    pub bwv_used: Option<bool>,
    /// Why body-worn video was not used.
    pub bwv_reason: Option<String>,
    /// Whether a receipt was given at the scene.
    pub receipt_given: Option<bool>,
    /// Why no receipt was given (e.g. called away to an emergency).
    pub receipt_not_given_reason: Option<String>,
    /// The unique receipt reference, assigned on the device at creation.
    pub receipt_reference: String,
    /// The person searched (person id), if they gave details (they need not).
    pub person_id: Option<String>,
    /// A description of the person when no details are given.
    pub person_description: Option<String>,
    /// Operation name, if part of one.
    pub operation_name: Option<String>,
}

impl From<domain::StopSearch> for StopSearch {
    fn from(value: domain::StopSearch) -> Self {
        let domain::StopSearch {
            meta,
            search_type,
            detained_at,
            searched_at,
            location,
            search_location,
            legislation,
            object_of_search,
            grounds,
            authorisation_ref,
            outcome,
            outcome_linked_to_object_of_search,
            removal_of_more_than_outer_clothing,
            injury_or_damage,
            injury_or_damage_details,
            self_defined_ethnicity,
            officer_defined_ethnicity,
            gender,
            age,
            age_range,
            vehicle_registration,
            bwv_used,
            bwv_reason,
            receipt_given,
            receipt_not_given_reason,
            receipt_reference,
            person_id,
            person_description,
            operation_name,
        } = value;
        StopSearch {
            meta: meta.into(),
            search_type,
            detained_at: detained_at.map(time_to_ffi),
            searched_at: searched_at.map(time_to_ffi),
            location: location.map(Into::into),
            search_location: search_location.map(Into::into),
            legislation,
            object_of_search,
            grounds,
            authorisation_ref,
            outcome,
            outcome_linked_to_object_of_search,
            removal_of_more_than_outer_clothing,
            injury_or_damage,
            injury_or_damage_details,
            self_defined_ethnicity,
            officer_defined_ethnicity,
            gender,
            age: age.map(Into::into),
            age_range,
            vehicle_registration,
            bwv_used,
            bwv_reason,
            receipt_given,
            receipt_not_given_reason,
            receipt_reference,
            person_id: person_id.map(id_to_ffi),
            person_description,
            operation_name,
        }
    }
}

impl TryFrom<StopSearch> for domain::StopSearch {
    type Error = Error;
    fn try_from(value: StopSearch) -> Result<Self, Error> {
        let StopSearch {
            meta,
            search_type,
            detained_at,
            searched_at,
            location,
            search_location,
            legislation,
            object_of_search,
            grounds,
            authorisation_ref,
            outcome,
            outcome_linked_to_object_of_search,
            removal_of_more_than_outer_clothing,
            injury_or_damage,
            injury_or_damage_details,
            self_defined_ethnicity,
            officer_defined_ethnicity,
            gender,
            age,
            age_range,
            vehicle_registration,
            bwv_used,
            bwv_reason,
            receipt_given,
            receipt_not_given_reason,
            receipt_reference,
            person_id,
            person_description,
            operation_name,
        } = value;
        Ok(domain::StopSearch {
            meta: field("meta", meta, domain::RecordMeta::try_from)?,
            search_type,
            detained_at: optional("detained_at", detained_at, timestamp)?,
            searched_at: optional("searched_at", searched_at, timestamp)?,
            location: location.map(Into::into),
            search_location: search_location.map(Into::into),
            legislation,
            object_of_search,
            grounds,
            authorisation_ref,
            outcome,
            outcome_linked_to_object_of_search,
            removal_of_more_than_outer_clothing,
            injury_or_damage,
            injury_or_damage_details,
            self_defined_ethnicity,
            officer_defined_ethnicity,
            gender,
            age: age.map(Into::into),
            age_range,
            vehicle_registration,
            bwv_used,
            bwv_reason,
            receipt_given,
            receipt_not_given_reason,
            receipt_reference,
            person_id: optional("person_id", person_id, record_id)?,
            person_description,
            operation_name,
        })
    }
}
