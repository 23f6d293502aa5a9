//! The only place the core reads the wall clock. Everything else takes a [`Clock`], so tests and
//! the demo can fix time, and the shells can supply a trusted time source.

use crate::domain::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The device's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one permitted use
    fn now(&self) -> Timestamp {
        Timestamp(time::OffsetDateTime::now_utc()).normalised()
    }
}

/// A clock that stays where it is put; for tests, fixtures and the demo.
#[derive(Debug)]
pub struct FixedClock(std::sync::Mutex<Timestamp>);

impl FixedClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> FixedClock {
        FixedClock(std::sync::Mutex::new(at))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t = Timestamp(t.0 + by).normalised();
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
