//! Identifiers: record ids generated on the device, officer identities issued by the force.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A record's id, generated on the device (UUIDv7: time ordered, so new records sort last).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub Uuid);

impl RecordId {
    /// A fresh id.
    pub fn generate() -> RecordId {
        RecordId(Uuid::now_v7())
    }
}

impl std::fmt::Display for RecordId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl std::str::FromStr for RecordId {
    type Err = crate::invalid::Invalid;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s.trim()).map(RecordId).map_err(|_| {
            crate::invalid::Invalid::new(
                "id",
                "uuid",
                format!(
                    "'{}' is not a record id (expected a UUID such as 0192f3c4-...)",
                    crate::limits::preview(s)
                ),
            )
        })
    }
}

impl Serialize for RecordId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Uuid::parse_str(&s).map(RecordId).map_err(|_| {
            serde::de::Error::custom(format!(
                "'{}' is not a record id",
                crate::limits::preview(&s)
            ))
        })
    }
}

/// An officer's collar or warrant number, e.g. `PC1234`: 2–16 letters, digits or hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OfficerId(String);

impl OfficerId {
    /// Checks the shape and makes an officer id.
    pub fn new(s: impl Into<String>) -> Result<OfficerId, crate::invalid::Invalid> {
        let s = s.into();
        let ok =
            (2..=16).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if ok {
            Ok(OfficerId(s.to_ascii_uppercase()))
        } else {
            Err(crate::invalid::Invalid::new(
                "officer",
                "officer-id",
                format!(
                    "'{}' is not a collar number: use 2 to 16 letters, digits or hyphens",
                    crate::limits::preview(&s)
                ),
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for OfficerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OfficerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        OfficerId::new(s).map_err(|e| serde::de::Error::custom(e.to_string()))
    }
}
