//! The shapes of the reference lists, as the data files write them.

use serde::Deserialize;

/// A Home Office offence code (Home Office Counting Rules).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offence {
    /// Code, e.g. "8N".
    pub code: String,
    /// Label, e.g. "Assault with injury".
    pub label: String,
    /// The police.uk category slug it is published under, e.g. "violent-crime".
    pub category: String,
    /// A victim-based crime (needs at least one victim and a needs assessment per victim).
    pub victim_based: bool,
    /// A sexual offence (implies the "sexual-offence" enhanced right; referral needs consent).
    pub sexual_offence: bool,
}

/// A police.uk crime category.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliceUkCategory {
    /// Slug, e.g. "violent-crime".
    pub slug: String,
    /// Label, e.g. "Violence and sexual offences".
    pub label: String,
}

/// A crime outcome of the Home Office outcomes framework.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrimeOutcome {
    /// Code "0" to "22".
    pub code: String,
    /// Label.
    pub label: String,
}

/// What a stop-search power needs before it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchPowerRequires {
    /// Reasonable grounds for suspicion, written down.
    Grounds,
    /// An authorisation by a senior officer (no suspicion needed): s60 CJPOA 1994, s47A TA 2000.
    Authorisation,
}

/// A stop-search power and the objects of search it permits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchPower {
    /// Short code, e.g. "pace-s1".
    pub code: String,
    /// police.uk `legislation` label, e.g. "Police and Criminal Evidence Act 1984 (section 1)".
    pub label: String,
    /// Grounds or authorisation.
    pub requires: SearchPowerRequires,
    /// police.uk objects of search this power permits.
    pub objects: Vec<String>,
}

impl SearchPower {
    /// True when this power permits searching for `object`.
    pub fn permits(&self, object: &str) -> bool {
        self.objects.iter().any(|o| o == object)
    }
}

/// A stop-search outcome as police.uk labels it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchOutcome {
    /// Label, e.g. "Arrest".
    pub label: String,
    /// True for "A no further action disposal" (nothing to link to the object of search).
    pub no_further_action: bool,
}

/// A police.uk search type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchType {
    /// Label, e.g. "Person and Vehicle search".
    pub label: String,
    /// True when a vehicle was searched (its registration is then required).
    pub vehicle: bool,
}

/// A self-defined ethnicity: a 2011 census category as police.uk writes it, with its 16+1 code.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfDefinedEthnicity {
    /// police.uk label, e.g. "Asian/Asian British - Indian".
    pub label: String,
    /// The older 16+1 code, e.g. "A1"; "NS" for not stated.
    pub code: String,
}

/// A police.uk age range.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    /// Label, e.g. "18-24".
    pub label: String,
    /// Youngest age in the range.
    pub min: u8,
    /// Oldest age in the range; none for the open-ended last range.
    #[serde(default)]
    pub max: Option<u8>,
}

impl AgeRange {
    /// True when `years` falls in this range.
    pub fn contains(&self, years: u8) -> bool {
        years >= self.min && self.max.is_none_or(|max| years <= max)
    }
}

/// An anti-social behaviour type (National Standard for Incident Recording).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsbType {
    /// Code, e.g. "street-drinking".
    pub code: String,
    /// Label, e.g. "Street drinking".
    pub label: String,
}

/// The groups of the Victims' Code enhanced-rights categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnhancedRightsGroup {
    /// Victims of the most serious crime.
    MostSeriousCrime,
    /// Persistently targeted victims.
    PersistentlyTargeted,
    /// Vulnerable victims.
    Vulnerable,
    /// Intimidated victims.
    Intimidated,
}

/// A Victims' Code enhanced-rights category.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnhancedRight {
    /// Code, e.g. "domestic-abuse".
    pub code: String,
    /// Label.
    pub label: String,
    /// Group.
    pub group: EnhancedRightsGroup,
    /// Referral to victim services needs the victim's explicit consent (sexual offences, domestic
    /// abuse, bereaved relatives).
    pub referral_needs_explicit_consent: bool,
}

/// Words that do not make stop-search grounds specific.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundsVocabulary {
    /// How many distinct specific words grounds need once boilerplate and stop words are removed.
    pub min_specific_words: usize,
    /// Boilerplate phrases (lower case), e.g. "acting suspiciously", "high crime area".
    pub boilerplate: Vec<String>,
    /// Stop words (lower case), e.g. "the", "in".
    pub stop_words: Vec<String>,
}
