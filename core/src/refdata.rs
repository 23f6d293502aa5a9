//! Versioned reference data shipped with the core as data files under `core/data/reference/`:
//! Home Office offence codes, crime outcomes, stop-search powers and what each permits, police.uk
//! labels, ASB types, enhanced-rights categories. Rules look values up here; no code holds a list
//! of labels in match arms. Labels are exact: exports are compared string for string.
//!
//! The files of one version are compiled in with `include_str!` and parsed once, on first use.
//! [`ReferenceData::problems`] checks a data set is internally consistent (every power's objects
//! are objects of search, every offence's category is a police.uk category, age ranges cover every
//! age...); a unit test runs it on the shipped version, so a bad edit fails the build's tests, not
//! an officer's submission. This module does no I/O at run time.

mod model;

pub use model::{
    AgeRange, AsbType, CrimeOutcome, EnhancedRight, EnhancedRightsGroup, GroundsVocabulary,
    Offence, PoliceUkCategory, SearchOutcome, SearchPower, SearchPowerRequires, SearchType,
    SelfDefinedEthnicity,
};

use serde::Deserialize;

/// The version this build ships, and the directory its files live in.
pub const CURRENT_VERSION: &str = "2026.1";

/// All reference lists of one version.
#[derive(Debug)]
pub struct ReferenceData {
    /// Version of the data set, e.g. "2026.1".
    pub version: String,
    /// Home Office offence codes with their police.uk category.
    pub offences: Vec<Offence>,
    /// police.uk crime categories (slug and label).
    pub police_uk_categories: Vec<PoliceUkCategory>,
    /// Crime outcomes 0–22 (Home Office outcomes framework).
    pub crime_outcomes: Vec<CrimeOutcome>,
    /// Stop-search powers as police.uk labels them, with what each permits.
    pub search_powers: Vec<SearchPower>,
    /// Objects of search as police.uk labels them.
    pub objects_of_search: Vec<String>,
    /// Stop-search outcomes as police.uk labels them.
    pub search_outcomes: Vec<SearchOutcome>,
    /// Search types: person, vehicle, or both.
    pub search_types: Vec<SearchType>,
    /// Genders as police.uk writes them.
    pub genders: Vec<String>,
    /// Officer-defined ethnicities (five groups).
    pub officer_defined_ethnicities: Vec<String>,
    /// Self-defined ethnicities: the 18 census categories and "Not stated", with 16+1 codes.
    pub self_defined_ethnicities: Vec<SelfDefinedEthnicity>,
    /// police.uk age ranges with their bounds.
    pub age_ranges: Vec<AgeRange>,
    /// Anti-social behaviour types (National Standard for Incident Recording).
    pub asb_types: Vec<AsbType>,
    /// ASB qualifiers: personal, nuisance, environmental.
    pub asb_qualifiers: Vec<String>,
    /// Victims' Code enhanced-rights categories.
    pub enhanced_rights: Vec<EnhancedRight>,
    /// Boilerplate phrases and stop words that do not make stop-search grounds specific.
    pub grounds: GroundsVocabulary,
}

/// The JSON files of one version, as text.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceFiles<'a> {
    /// `manifest.json`: `{ "version": ... }`.
    pub manifest: &'a str,
    /// `offences.json`.
    pub offences: &'a str,
    /// `police_uk_categories.json`.
    pub police_uk_categories: &'a str,
    /// `crime_outcomes.json`.
    pub crime_outcomes: &'a str,
    /// `stop_search.json`: powers, objects, outcomes, types, genders, ethnicities, age ranges.
    pub stop_search: &'a str,
    /// `asb.json`: types and qualifiers.
    pub asb: &'a str,
    /// `enhanced_rights.json`.
    pub enhanced_rights: &'a str,
    /// `grounds.json`: boilerplate phrases, stop words, threshold.
    pub grounds: &'a str,
}

macro_rules! shipped {
    ($file:literal) => {
        include_str!(concat!("../data/reference/2026.1/", $file))
    };
}

/// The files of [`CURRENT_VERSION`], compiled in.
pub const SHIPPED: ReferenceFiles<'static> = ReferenceFiles {
    manifest: shipped!("manifest.json"),
    offences: shipped!("offences.json"),
    police_uk_categories: shipped!("police_uk_categories.json"),
    crime_outcomes: shipped!("crime_outcomes.json"),
    stop_search: shipped!("stop_search.json"),
    asb: shipped!("asb.json"),
    enhanced_rights: shipped!("enhanced_rights.json"),
    grounds: shipped!("grounds.json"),
};

/// A reference file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("reference file {file} does not parse: {source}: fix the data file")]
pub struct RefDataError {
    /// Which file.
    pub file: &'static str,
    /// The JSON error (position and what was expected).
    #[source]
    pub source: serde_json::Error,
}

/// The reference data this build ships.
pub fn current() -> &'static ReferenceData {
    static DATA: std::sync::LazyLock<ReferenceData> = std::sync::LazyLock::new(|| {
        ReferenceData::parse(&SHIPPED)
            // The files are compiled in and a unit test parses them; failure here is a build bug.
            .expect("shipped reference data parses (checked by refdata tests)")
    });
    &DATA
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    version: String,
    #[serde(default)]
    #[allow(dead_code)] // documentation for people editing the files
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StopSearchFile {
    objects_of_search: Vec<String>,
    powers: Vec<SearchPower>,
    outcomes: Vec<SearchOutcome>,
    search_types: Vec<SearchType>,
    genders: Vec<String>,
    officer_defined_ethnicities: Vec<String>,
    self_defined_ethnicities: Vec<SelfDefinedEthnicity>,
    age_ranges: Vec<AgeRange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AsbFile {
    qualifiers: Vec<String>,
    types: Vec<AsbType>,
}

fn parse_file<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<T, RefDataError> {
    serde_json::from_str(text).map_err(|source| RefDataError { file, source })
}

impl ReferenceData {
    /// Parses one version's files. Does not check consistency: see [`ReferenceData::problems`].
    pub fn parse(files: &ReferenceFiles<'_>) -> Result<ReferenceData, RefDataError> {
        let manifest: Manifest = parse_file("manifest.json", files.manifest)?;
        let stop_search: StopSearchFile = parse_file("stop_search.json", files.stop_search)?;
        let asb: AsbFile = parse_file("asb.json", files.asb)?;
        Ok(ReferenceData {
            version: manifest.version,
            offences: parse_file("offences.json", files.offences)?,
            police_uk_categories: parse_file(
                "police_uk_categories.json",
                files.police_uk_categories,
            )?,
            crime_outcomes: parse_file("crime_outcomes.json", files.crime_outcomes)?,
            search_powers: stop_search.powers,
            objects_of_search: stop_search.objects_of_search,
            search_outcomes: stop_search.outcomes,
            search_types: stop_search.search_types,
            genders: stop_search.genders,
            officer_defined_ethnicities: stop_search.officer_defined_ethnicities,
            self_defined_ethnicities: stop_search.self_defined_ethnicities,
            age_ranges: stop_search.age_ranges,
            asb_types: asb.types,
            asb_qualifiers: asb.qualifiers,
            enhanced_rights: parse_file("enhanced_rights.json", files.enhanced_rights)?,
            grounds: parse_file("grounds.json", files.grounds)?,
        })
    }

    /// The police.uk age range for an age in years: "under 10", "10-17", "18-24", "25-34", "over 34".
    /// Read from the data; [`ReferenceData::problems`] proves the ranges cover every age.
    pub fn age_range_for(&self, years: u8) -> &str {
        self.age_ranges
            .iter()
            .find(|r| r.contains(years))
            .map_or("", |r| r.label.as_str())
    }

    /// The offence with this Home Office code.
    pub fn offence(&self, code: &str) -> Option<&Offence> {
        self.offences.iter().find(|o| o.code == code)
    }

    /// The police.uk category with this slug.
    pub fn police_uk_category(&self, slug: &str) -> Option<&PoliceUkCategory> {
        self.police_uk_categories.iter().find(|c| c.slug == slug)
    }

    /// The crime outcome with this code ("0" to "22").
    pub fn outcome(&self, code: &str) -> Option<&CrimeOutcome> {
        self.crime_outcomes.iter().find(|o| o.code == code)
    }

    /// The stop-search power with this police.uk label.
    pub fn power(&self, label: &str) -> Option<&SearchPower> {
        self.search_powers.iter().find(|p| p.label == label)
    }

    /// The stop-search power with this short code, e.g. "pace-s1".
    pub fn power_by_code(&self, code: &str) -> Option<&SearchPower> {
        self.search_powers.iter().find(|p| p.code == code)
    }

    /// True when `label` is a police.uk object of search.
    pub fn is_object_of_search(&self, label: &str) -> bool {
        self.objects_of_search.iter().any(|o| o == label)
    }

    /// The stop-search outcome with this police.uk label.
    pub fn search_outcome(&self, label: &str) -> Option<&SearchOutcome> {
        self.search_outcomes.iter().find(|o| o.label == label)
    }

    /// The search type with this police.uk label.
    pub fn search_type(&self, label: &str) -> Option<&SearchType> {
        self.search_types.iter().find(|t| t.label == label)
    }

    /// True when `label` is a police.uk gender.
    pub fn is_gender(&self, label: &str) -> bool {
        self.genders.iter().any(|g| g == label)
    }

    /// True when `label` is an officer-defined ethnicity.
    pub fn is_officer_defined_ethnicity(&self, label: &str) -> bool {
        self.officer_defined_ethnicities.iter().any(|e| e == label)
    }

    /// The self-defined ethnicity with this police.uk label.
    pub fn self_defined_ethnicity(&self, label: &str) -> Option<&SelfDefinedEthnicity> {
        self.self_defined_ethnicities
            .iter()
            .find(|e| e.label == label)
    }

    /// The ASB type with this code.
    pub fn asb_type(&self, code: &str) -> Option<&AsbType> {
        self.asb_types.iter().find(|t| t.code == code)
    }

    /// True when `qualifier` is one of the ASB qualifiers.
    pub fn is_asb_qualifier(&self, qualifier: &str) -> bool {
        self.asb_qualifiers.iter().any(|q| q == qualifier)
    }

    /// The enhanced-rights category with this code.
    pub fn enhanced_right(&self, code: &str) -> Option<&EnhancedRight> {
        self.enhanced_rights.iter().find(|r| r.code == code)
    }

    /// Every way this data set contradicts itself, as sentences; empty when consistent.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut no_duplicates = |what: &str, keys: Vec<&str>| {
            let mut seen = std::collections::BTreeSet::new();
            for k in keys {
                if !seen.insert(k) {
                    out.push(format!("{what} '{k}' is listed twice"));
                }
            }
        };
        no_duplicates(
            "offence code",
            self.offences.iter().map(|o| o.code.as_str()).collect(),
        );
        no_duplicates(
            "police.uk category",
            self.police_uk_categories
                .iter()
                .map(|c| c.slug.as_str())
                .collect(),
        );
        no_duplicates(
            "crime outcome",
            self.crime_outcomes
                .iter()
                .map(|o| o.code.as_str())
                .collect(),
        );
        no_duplicates(
            "power code",
            self.search_powers.iter().map(|p| p.code.as_str()).collect(),
        );
        no_duplicates(
            "power label",
            self.search_powers
                .iter()
                .map(|p| p.label.as_str())
                .collect(),
        );
        no_duplicates(
            "object of search",
            self.objects_of_search.iter().map(String::as_str).collect(),
        );
        no_duplicates(
            "search outcome",
            self.search_outcomes
                .iter()
                .map(|o| o.label.as_str())
                .collect(),
        );
        no_duplicates(
            "self-defined ethnicity",
            self.self_defined_ethnicities
                .iter()
                .map(|e| e.label.as_str())
                .collect(),
        );
        no_duplicates(
            "ASB type",
            self.asb_types.iter().map(|t| t.code.as_str()).collect(),
        );
        no_duplicates(
            "enhanced-rights category",
            self.enhanced_rights
                .iter()
                .map(|r| r.code.as_str())
                .collect(),
        );

        for o in &self.offences {
            if self.police_uk_category(&o.category).is_none() {
                out.push(format!(
                    "offence {} has category '{}', which is not a police.uk category",
                    o.code, o.category
                ));
            }
        }
        for p in &self.search_powers {
            if p.objects.is_empty() {
                out.push(format!("power {} permits no object of search", p.code));
            }
            for object in &p.objects {
                if !self.is_object_of_search(object) {
                    out.push(format!(
                        "power {} permits '{object}', which is not an object of search",
                        p.code
                    ));
                }
            }
        }
        for object in &self.objects_of_search {
            if !self.search_powers.iter().any(|p| p.permits(object)) {
                out.push(format!("no power permits the object of search '{object}'"));
            }
        }
        if self
            .search_outcomes
            .iter()
            .filter(|o| o.no_further_action)
            .count()
            != 1
        {
            out.push("exactly one search outcome must be the no-further-action disposal".into());
        }
        let codes: Vec<String> = (0..=22).map(|n: u8| n.to_string()).collect();
        if self.crime_outcomes.iter().map(|o| &o.code).ne(codes.iter()) {
            out.push("crime outcomes must be the codes 0 to 22 in order".into());
        }
        // Age ranges: contiguous from 0, open-ended last, covering every u8.
        let mut next: u16 = 0;
        for (i, r) in self.age_ranges.iter().enumerate() {
            if u16::from(r.min) != next {
                out.push(format!("age range '{}' should start at {next}", r.label));
            }
            match r.max {
                Some(max) if max < r.min => {
                    out.push(format!("age range '{}' ends before it starts", r.label));
                }
                Some(max) => next = u16::from(max) + 1,
                None if i + 1 == self.age_ranges.len() => next = u16::from(u8::MAX) + 1,
                None => out.push(format!(
                    "only the last age range may be open-ended, not '{}'",
                    r.label
                )),
            }
        }
        if next != u16::from(u8::MAX) + 1 {
            out.push("age ranges must cover every age".into());
        }
        for code in [
            "W1", "W2", "W9", "M1", "M2", "M3", "M9", "A1", "A2", "A3", "A9", "B1", "B2", "B9",
            "O1", "O9", "NS",
        ] {
            if !self.self_defined_ethnicities.iter().any(|e| e.code == code) {
                out.push(format!(
                    "no self-defined ethnicity maps to the 16+1 code {code}"
                ));
            }
        }
        for e in &self.self_defined_ethnicities {
            let group = e.label.split(" - ").next().unwrap_or_default();
            if group == e.label {
                out.push(format!(
                    "self-defined ethnicity '{}' has no 'Group - category' shape",
                    e.label
                ));
            }
        }
        for q in ["personal", "nuisance", "environmental"] {
            if !self.is_asb_qualifier(q) {
                out.push(format!("ASB qualifier '{q}' is missing"));
            }
        }
        if self.asb_qualifiers.len() != 3 {
            out.push("there are exactly three ASB qualifiers".into());
        }
        if self.grounds.min_specific_words == 0 {
            out.push("grounds need at least one specific word".into());
        }
        for phrase in self
            .grounds
            .boilerplate
            .iter()
            .chain(&self.grounds.stop_words)
        {
            if phrase.trim().is_empty() || phrase.to_lowercase() != *phrase {
                out.push(format!(
                    "grounds vocabulary entry '{phrase}' must be non-empty lower case"
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
