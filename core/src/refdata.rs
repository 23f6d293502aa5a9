//! Versioned reference data shipped with the core as data files under `core/data/reference/`:
//! Home Office offence codes, crime outcomes, stop-search powers and what each permits, police.uk
//! labels, ASB types, enhanced-rights categories. Rules look values up here; no code holds a list
//! of labels in match arms. Labels are exact: exports are compared string for string.
//!
//! STUB: the data files and loader are being written; the API below is fixed.

/// All reference lists of one version.
#[derive(Debug)]
pub struct ReferenceData {
    /// Version of the data set, e.g. "2026.1".
    pub version: String,
}

/// The reference data this build ships.
pub fn current() -> &'static ReferenceData {
    static DATA: std::sync::LazyLock<ReferenceData> = std::sync::LazyLock::new(|| ReferenceData {
        version: "2026.1".into(),
    });
    &DATA
}

impl ReferenceData {
    /// The police.uk age range for an age in years: "under 10", "10-17", "18-24", "25-34", "over 34".
    pub fn age_range_for(&self, years: u8) -> &str {
        match years {
            0..=9 => "under 10",
            10..=17 => "10-17",
            18..=24 => "18-24",
            25..=34 => "25-34",
            _ => "over 34",
        }
    }
}

/// STUB (merge: replaced by the data-driven version).
#[derive(Debug)]
pub struct Offence {
    /// code
    pub code: String,
    /// label
    pub label: String,
    /// police.uk category
    pub category: String,
}

/// STUB
#[derive(Debug)]
pub struct CrimeOutcome {
    /// code
    pub code: String,
    /// label
    pub label: String,
}

impl ReferenceData {
    /// STUB
    pub fn offence(&self, code: &str) -> Option<&Offence> {
        let _ = code;
        None
    }
    /// STUB
    pub fn outcome(&self, code: &str) -> Option<&CrimeOutcome> {
        let _ = code;
        None
    }
}
