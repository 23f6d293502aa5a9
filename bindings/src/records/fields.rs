//! Field-level translation shared by the record mirrors: record ids, officer ids, times and dates,
//! and the field path every FFI → core error names.
//!
//! A leaf converter ([`record_id`], [`officer_id`], [`timestamp`], [`calendar_date`]) leaves the
//! field empty; [`field`], [`optional`] and [`list`] fill it in on the way out (`victims[2]`,
//! `meta.created_at`, `meta.workflow[0].by`). Messages never repeat the value: a date of birth or a
//! collar number is personal data.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fieldbook_core::Error;
use fieldbook_core::domain;

// ---------------------------------------------------------------------------------------------
// core → FFI
// ---------------------------------------------------------------------------------------------

/// The same instant, to the nanosecond.
///
/// Every time the core can hold (years -9999 to 9999) fits a `SystemTime` on 64-bit Linux,
/// Android, iOS and macOS. Times before 1970 are ordinary here: a non-recent crime occurred long
/// ago. (Only Windows, from 1601, could not hold the earliest; uniffi itself panics there too.)
pub(crate) fn time_to_ffi(time: domain::Timestamp) -> SystemTime {
    let seconds = time.0.unix_timestamp();
    let whole = Duration::from_secs(seconds.unsigned_abs());
    let start_of_second = if seconds >= 0 {
        UNIX_EPOCH + whole
    } else {
        UNIX_EPOCH - whole
    };
    start_of_second + Duration::from_nanos(u64::from(time.0.nanosecond()))
}

/// The id as hyphenated lower-case UUID text.
pub(super) fn id_to_ffi(id: domain::RecordId) -> String {
    id.to_string()
}

/// The collar number as text.
pub(super) fn officer_to_ffi(officer: domain::OfficerId) -> String {
    officer.to_string()
}

/// `YYYY-MM-DD`.
pub(super) fn date_to_ffi(date: domain::CalendarDate) -> String {
    date.to_string()
}

// ---------------------------------------------------------------------------------------------
// FFI → core: leaves
// ---------------------------------------------------------------------------------------------

/// Parses a record id (any UUID text, as the core accepts).
pub(crate) fn record_id(text: String) -> Result<domain::RecordId, Error> {
    text.parse().map_err(|_| {
        Error::invalid(
            "",
            "record-id",
            "not a record id: use a UUID such as 0192f3c4-6d1e-7a9b-8c2d-3e4f5a6b7c8d",
        )
    })
}

/// Checks a collar number (the core upper-cases it).
pub(super) fn officer_id(text: String) -> Result<domain::OfficerId, Error> {
    domain::OfficerId::new(text).map_err(|_| {
        Error::invalid(
            "",
            "officer-id",
            "not a collar number: use 2 to 16 letters, digits or hyphens",
        )
    })
}

/// Parses a `YYYY-MM-DD` date.
pub(super) fn calendar_date(text: String) -> Result<domain::CalendarDate, Error> {
    domain::CalendarDate::parse(&text)
        .map_err(|_| Error::invalid("", "date", "not a date: use YYYY-MM-DD, e.g. 1990-04-17"))
}

/// The same instant to the nearest millisecond. Rounded, not cut: Swift carries times as a
/// `Double` of seconds, so a stored 123 ms can come back as 122.9998 ms, and cutting it would
/// change `meta` times the core refuses to see changed. Times before 1970 are accepted; times
/// outside years -9999 to 9999 are not.
pub(super) fn timestamp(time: SystemTime) -> Result<domain::Timestamp, Error> {
    let nanos = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).ok(),
        Err(before) => i128::try_from(before.duration().as_nanos())
            .ok()
            .map(|n| -n),
    };
    nanos
        .and_then(|n| i64::try_from((n + n.signum() * 500_000) / 1_000_000).ok())
        .and_then(domain::Timestamp::from_millis)
        .ok_or_else(|| {
            Error::invalid(
                "",
                "time-range",
                "the time is outside the years -9999 to 9999: correct the time or the device clock",
            )
        })
}

// ---------------------------------------------------------------------------------------------
// FFI → core: naming the field
// ---------------------------------------------------------------------------------------------

/// Converts one field, naming it in the error.
pub(super) fn field<T, U>(
    name: &str,
    value: T,
    convert: impl FnOnce(T) -> Result<U, Error>,
) -> Result<U, Error> {
    convert(value).map_err(|e| within(name, e))
}

/// Converts an optional field, naming it in the error.
pub(super) fn optional<T, U>(
    name: &str,
    value: Option<T>,
    convert: impl FnOnce(T) -> Result<U, Error>,
) -> Result<Option<U>, Error> {
    value.map(|v| field(name, v, convert)).transpose()
}

/// Converts each item of a list field, naming the item (`victims[2]`) in the error.
pub(super) fn list<T, U>(
    name: &str,
    values: Vec<T>,
    mut convert: impl FnMut(T) -> Result<U, Error>,
) -> Result<Vec<U>, Error> {
    values
        .into_iter()
        .enumerate()
        .map(|(index, v)| convert(v).map_err(|e| within(&format!("{name}[{index}]"), e)))
        .collect()
}

/// Puts `path` in front of a bad-input error's field; other errors pass through.
fn within(path: &str, error: Error) -> Error {
    match error {
        Error::Invalid {
            field,
            rule,
            message,
        } => Error::Invalid {
            field: if field.is_empty() {
                path.to_owned()
            } else {
                format!("{path}.{field}")
            },
            rule,
            message,
        },
        other => other,
    }
}
