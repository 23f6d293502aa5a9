//! The victim needs assessment (Victims' Code) and its parts.

use std::time::SystemTime;

use fieldbook_core::Error;
use fieldbook_core::domain;

use super::RecordMeta;
use super::fields::{field, id_to_ffi, optional, record_id, time_to_ffi, timestamp};

/// A reason to leave out an enhanced-rights category the crime or the victim implies.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct EnhancedRightsOverride {
    /// The implied category code that is not applied.
    pub category: String,
    /// Why.
    pub reason: String,
}

impl From<domain::EnhancedRightsOverride> for EnhancedRightsOverride {
    fn from(value: domain::EnhancedRightsOverride) -> Self {
        let domain::EnhancedRightsOverride { category, reason } = value;
        EnhancedRightsOverride { category, reason }
    }
}

impl From<EnhancedRightsOverride> for domain::EnhancedRightsOverride {
    fn from(value: EnhancedRightsOverride) -> Self {
        let EnhancedRightsOverride { category, reason } = value;
        domain::EnhancedRightsOverride { category, reason }
    }
}

/// Communication needs of a victim.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CommunicationNeeds {
    /// Interpreter needed, in this language.
    pub interpreter_language: Option<String>,
    /// EasyRead material.
    pub easy_read: bool,
    /// Braille.
    pub braille: bool,
    /// A registered intermediary.
    pub intermediary: bool,
}

impl From<domain::CommunicationNeeds> for CommunicationNeeds {
    fn from(value: domain::CommunicationNeeds) -> Self {
        let domain::CommunicationNeeds {
            interpreter_language,
            easy_read,
            braille,
            intermediary,
        } = value;
        CommunicationNeeds {
            interpreter_language,
            easy_read,
            braille,
            intermediary,
        }
    }
}

impl From<CommunicationNeeds> for domain::CommunicationNeeds {
    fn from(value: CommunicationNeeds) -> Self {
        let CommunicationNeeds {
            interpreter_language,
            easy_read,
            braille,
            intermediary,
        } = value;
        domain::CommunicationNeeds {
            interpreter_language,
            easy_read,
            braille,
            intermediary,
        }
    }
}

/// How to contact a victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ContactChannel {
    /// Phone call.
    Phone,
    /// Text message.
    Sms,
    /// Email.
    Email,
    /// Letter.
    Letter,
    /// In person.
    InPerson,
}
plain_enum_conversions!(ContactChannel {
    Phone,
    Sms,
    Email,
    Letter,
    InPerson,
});

/// Contact preferences of a victim.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ContactPreferences {
    /// Preferred channel.
    pub channel: ContactChannel,
    /// How often, e.g. "weekly", "on change".
    pub frequency: Option<String>,
    /// A safe way to make contact (domestic abuse: never a possibly shared phone).
    pub safe_contact_method: Option<String>,
    /// Whether automatic updates (texts, emails) may be sent.
    pub automatic_messages: bool,
}

impl From<domain::ContactPreferences> for ContactPreferences {
    fn from(value: domain::ContactPreferences) -> Self {
        let domain::ContactPreferences {
            channel,
            frequency,
            safe_contact_method,
            automatic_messages,
        } = value;
        ContactPreferences {
            channel: channel.into(),
            frequency,
            safe_contact_method,
            automatic_messages,
        }
    }
}

impl From<ContactPreferences> for domain::ContactPreferences {
    fn from(value: ContactPreferences) -> Self {
        let ContactPreferences {
            channel,
            frequency,
            safe_contact_method,
            automatic_messages,
        } = value;
        domain::ContactPreferences {
            channel: channel.into(),
            frequency,
            safe_contact_method,
            automatic_messages,
        }
    }
}

/// The decision on referral to victim support services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ReferralDecision {
    /// Referred to victim support.
    Referred,
    /// The victim opted out.
    OptedOut,
    /// Not referred because the explicit consent these crimes need was not given.
    NoConsent,
}
plain_enum_conversions!(ReferralDecision {
    Referred,
    OptedOut,
    NoConsent,
});

/// Referral to victim support services (default within 2 working days unless opted out).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Referral {
    /// Referred, opted out, or no consent.
    pub decision: ReferralDecision,
    /// Explicit consent given (required for sexual offences, domestic abuse, bereaved relatives).
    pub explicit_consent: Option<bool>,
    /// When the decision was recorded.
    pub decided_at: SystemTime,
    /// When the referral was sent, if referred.
    pub referred_at: Option<SystemTime>,
}

impl From<domain::Referral> for Referral {
    fn from(value: domain::Referral) -> Self {
        let domain::Referral {
            decision,
            explicit_consent,
            decided_at,
            referred_at,
        } = value;
        Referral {
            decision: decision.into(),
            explicit_consent,
            decided_at: time_to_ffi(decided_at),
            referred_at: referred_at.map(time_to_ffi),
        }
    }
}

impl TryFrom<Referral> for domain::Referral {
    type Error = Error;
    fn try_from(value: Referral) -> Result<Self, Error> {
        let Referral {
            decision,
            explicit_consent,
            decided_at,
            referred_at,
        } = value;
        Ok(domain::Referral {
            decision: decision.into(),
            explicit_consent,
            decided_at: field("decided_at", decided_at, timestamp)?,
            referred_at: optional("referred_at", referred_at, timestamp)?,
        })
    }
}

/// Victim Personal Statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum VpsStatus {
    /// Offered, not yet taken.
    Offered,
    /// Declined.
    Declined,
    /// Made.
    Made,
}
plain_enum_conversions!(VpsStatus {
    Offered,
    Declined,
    Made,
});

/// A victim needs assessment: one per victim of a crime (Victims' Code).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VictimNeedsAssessment {
    /// Id, kind, author, times, workflow.
    pub meta: RecordMeta,
    /// The crime this assessment belongs to.
    pub crime_id: Option<String>,
    /// The victim (person id).
    pub victim_id: Option<String>,
    /// When the assessment was made.
    pub assessed_at: Option<SystemTime>,
    /// Enhanced-rights categories (codes from reference data).
    pub enhanced_rights: Vec<String>,
    /// Implied categories left out, each with a reason.
    pub enhanced_rights_overrides: Vec<EnhancedRightsOverride>,
    /// Interpreter, EasyRead, Braille, intermediary.
    pub communication: CommunicationNeeds,
    /// Contact preferences.
    pub contact: Option<ContactPreferences>,
    /// Referral decision.
    pub referral: Option<Referral>,
    /// Victim Personal Statement.
    pub vps: Option<VpsStatus>,
    /// Written acknowledgement given to the victim.
    pub acknowledgement_given: bool,
    /// Notes.
    pub notes: String,
}

impl From<domain::VictimNeedsAssessment> for VictimNeedsAssessment {
    fn from(value: domain::VictimNeedsAssessment) -> Self {
        let domain::VictimNeedsAssessment {
            meta,
            crime_id,
            victim_id,
            assessed_at,
            enhanced_rights,
            enhanced_rights_overrides,
            communication,
            contact,
            referral,
            vps,
            acknowledgement_given,
            notes,
        } = value;
        VictimNeedsAssessment {
            meta: meta.into(),
            crime_id: crime_id.map(id_to_ffi),
            victim_id: victim_id.map(id_to_ffi),
            assessed_at: assessed_at.map(time_to_ffi),
            enhanced_rights,
            enhanced_rights_overrides: enhanced_rights_overrides
                .into_iter()
                .map(Into::into)
                .collect(),
            communication: communication.into(),
            contact: contact.map(Into::into),
            referral: referral.map(Into::into),
            vps: vps.map(Into::into),
            acknowledgement_given,
            notes,
        }
    }
}

impl TryFrom<VictimNeedsAssessment> for domain::VictimNeedsAssessment {
    type Error = Error;
    fn try_from(value: VictimNeedsAssessment) -> Result<Self, Error> {
        let VictimNeedsAssessment {
            meta,
            crime_id,
            victim_id,
            assessed_at,
            enhanced_rights,
            enhanced_rights_overrides,
            communication,
            contact,
            referral,
            vps,
            acknowledgement_given,
            notes,
        } = value;
        Ok(domain::VictimNeedsAssessment {
            meta: field("meta", meta, domain::RecordMeta::try_from)?,
            crime_id: optional("crime_id", crime_id, record_id)?,
            victim_id: optional("victim_id", victim_id, record_id)?,
            assessed_at: optional("assessed_at", assessed_at, timestamp)?,
            enhanced_rights,
            enhanced_rights_overrides: enhanced_rights_overrides
                .into_iter()
                .map(Into::into)
                .collect(),
            communication: communication.into(),
            contact: contact.map(Into::into),
            referral: optional("referral", referral, domain::Referral::try_from)?,
            vps: vps.map(Into::into),
            acknowledgement_given,
            notes,
        })
    }
}
