//! Points in time and calendar dates as records hold them: RFC 3339 / ISO 8601 text in JSON and
//! documents, so a document read by any automerge implementation is self-explaining.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// An instant, kept in UTC to millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    /// From milliseconds since the Unix epoch.
    pub fn from_millis(ms: i64) -> Option<Timestamp> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .map(Timestamp)
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(self) -> i64 {
        // Range of OffsetDateTime (±9999 years) fits in i64 milliseconds.
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Normalises to UTC and millisecond precision, so text and numbers round-trip exactly.
    pub fn normalised(self) -> Timestamp {
        Timestamp::from_millis(self.millis()).unwrap_or(self)
    }

    /// RFC 3339 text, e.g. `2026-11-22T21:04:05.123Z`.
    pub fn to_rfc3339(self) -> String {
        self.normalised()
            .0
            .format(&Rfc3339)
            .unwrap_or_else(|_| self.millis().to_string())
    }

    /// Parses RFC 3339 text.
    pub fn parse(s: &str) -> Result<Timestamp, crate::invalid::Invalid> {
        OffsetDateTime::parse(s.trim(), &Rfc3339)
            .map(|t| Timestamp(t.to_offset(time::UtcOffset::UTC)).normalised())
            .map_err(|_| {
                crate::invalid::Invalid::new(
                    "time",
                    "rfc3339",
                    format!(
                        "'{}' is not a date and time: use RFC 3339, e.g. 2026-11-22T21:04:05Z",
                        crate::limits::preview(s)
                    ),
                )
            })
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(|_| {
            serde::de::Error::custom(format!(
                "'{}' is not a date and time: use RFC 3339, e.g. 2026-11-22T21:04:05Z",
                crate::limits::preview(&s)
            ))
        })
    }
}

/// A calendar date (date of birth), `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CalendarDate(pub Date);

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl CalendarDate {
    /// Parses `YYYY-MM-DD` text. A date of birth is personal data, so the error does not repeat it.
    pub fn parse(s: &str) -> Result<CalendarDate, crate::invalid::Invalid> {
        Date::parse(s.trim(), DATE_FORMAT)
            .map(CalendarDate)
            .map_err(|_| {
                crate::invalid::Invalid::new(
                    "date",
                    "date",
                    "not a date: use YYYY-MM-DD, e.g. 1990-04-17",
                )
            })
    }
}

impl std::fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.format(DATE_FORMAT) {
            Ok(text) => f.write_str(&text),
            // A `Date` has every component the format names, so formatting cannot fail.
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for CalendarDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self
            .0
            .format(DATE_FORMAT)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for CalendarDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CalendarDate::parse(&s).map_err(|_| {
            serde::de::Error::custom(format!(
                "'{}' is not a date: use YYYY-MM-DD, e.g. 1990-04-17",
                crate::limits::preview(&s)
            ))
        })
    }
}
