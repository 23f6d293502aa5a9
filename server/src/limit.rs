//! The enrolment rate limit: a token bucket per client address and one for every client
//! together ([`crate::EnrolLimit`]). Each enrolment attempt takes the writer and tries a code,
//! so a flood would both hold up every device's push and guess at codes; an honest phone
//! enrols once. Time is the server's [`Clock`], so tests move it instead of sleeping.
//!
//! The client address is the TCP peer: behind a reverse proxy every client shares the
//! proxy's address and the per-client bucket acts as a second global one.

use crate::config::EnrolLimit;
use fieldbook_core::clock::Clock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Client buckets kept at most; beyond, the full ones (the same as none) are dropped, then all.
const MAX_CLIENTS: usize = 10_000;

/// One token, in the bucket's units: a bucket refilling at `per_minute` tokens a minute gains
/// `per_minute` units a millisecond, so all of it is integer arithmetic.
const TOKEN: u64 = 60_000;

/// Tokens refill continuously at `per_minute`, up to `burst`; an attempt takes one.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    units: u64,
    at_ms: i64,
}

impl Bucket {
    fn full(burst: u32, now: i64) -> Bucket {
        Bucket {
            units: u64::from(burst) * TOKEN,
            at_ms: now,
        }
    }

    /// Refills up to `now`; then how long until a token is there (zero: one is).
    fn wait(&mut self, now: i64, per_minute: u32, burst: u32) -> Duration {
        let elapsed = now.saturating_sub(self.at_ms).max(0) as u64;
        self.units = self
            .units
            .saturating_add(elapsed.saturating_mul(u64::from(per_minute)))
            .min(u64::from(burst) * TOKEN);
        self.at_ms = now.max(self.at_ms);
        let missing = TOKEN.saturating_sub(self.units);
        Duration::from_millis(missing.div_ceil(u64::from(per_minute).max(1)))
    }

    fn is_full(&self, burst: u32) -> bool {
        self.units >= u64::from(burst) * TOKEN
    }
}

#[derive(Debug)]
struct Buckets {
    global: Bucket,
    clients: HashMap<IpAddr, Bucket>,
}

/// The limiter the enrolment handler asks before anything else.
#[derive(Debug)]
pub(crate) struct EnrolLimiter {
    limit: EnrolLimit,
    clock: Arc<dyn Clock>,
    buckets: Mutex<Buckets>,
}

impl EnrolLimiter {
    pub fn new(limit: EnrolLimit, clock: Arc<dyn Clock>) -> EnrolLimiter {
        let now = clock.now().millis();
        EnrolLimiter {
            buckets: Mutex::new(Buckets {
                global: Bucket::full(limit.global_burst, now),
                clients: HashMap::new(),
            }),
            limit,
            clock,
        }
    }

    /// Takes a token for `client` (and one from the global bucket), or says how long to wait
    /// (rounded up to whole seconds, at least one: the `Retry-After` value). A refused attempt
    /// takes nothing.
    pub fn admit(&self, client: IpAddr) -> Result<(), u64> {
        let l = self.limit;
        let now = self.clock.now().millis();
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let b = &mut *guard;
        if b.clients.len() >= MAX_CLIENTS && !b.clients.contains_key(&client) {
            b.clients.retain(|_, c| {
                c.wait(now, l.per_client_per_minute, l.per_client_burst);
                !c.is_full(l.per_client_burst)
            });
            if b.clients.len() >= MAX_CLIENTS {
                b.clients.clear();
            }
        }
        let global_wait = b.global.wait(now, l.global_per_minute, l.global_burst);
        let bucket = b
            .clients
            .entry(client)
            .or_insert_with(|| Bucket::full(l.per_client_burst, now));
        let client_wait = bucket.wait(now, l.per_client_per_minute, l.per_client_burst);
        let wait = global_wait.max(client_wait);
        if !wait.is_zero() {
            return Err(wait.as_millis().div_ceil(1000).max(1) as u64);
        }
        bucket.units -= TOKEN;
        b.global.units -= TOKEN;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldbook_core::clock::FixedClock;
    use fieldbook_core::domain::Timestamp;

    fn limiter(limit: EnrolLimit) -> (EnrolLimiter, Arc<FixedClock>) {
        let clock = Arc::new(FixedClock::new(
            Timestamp::from_millis(1_790_000_000_000).expect("time"),
        ));
        (EnrolLimiter::new(limit, clock.clone()), clock)
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_client_gets_its_burst_then_one_attempt_per_refill() {
        let (l, clock) = limiter(EnrolLimit {
            per_client_per_minute: 10,
            per_client_burst: 3,
            global_per_minute: 1000,
            global_burst: 1000,
        });
        for _ in 0..3 {
            assert_eq!(l.admit(A), Ok(()));
        }
        assert_eq!(l.admit(A), Err(6), "one token every 6 s");
        assert_eq!(l.admit(B), Ok(()), "another client has its own bucket");
        clock.advance(time::Duration::seconds(5));
        assert_eq!(l.admit(A), Err(1));
        clock.advance(time::Duration::seconds(1));
        assert_eq!(l.admit(A), Ok(()));
        assert_eq!(l.admit(A), Err(6));
    }

    #[test]
    fn the_global_bucket_holds_whichever_clients_ask() {
        let (l, clock) = limiter(EnrolLimit {
            per_client_per_minute: 100,
            per_client_burst: 100,
            global_per_minute: 1,
            global_burst: 2,
        });
        assert_eq!(l.admit(A), Ok(()));
        assert_eq!(l.admit(B), Ok(()));
        assert_eq!(l.admit(A), Err(60));
        assert_eq!(l.admit(B), Err(60));
        clock.advance(time::Duration::seconds(60));
        assert_eq!(l.admit(B), Ok(()));
        assert_eq!(l.admit(A), Err(60));
    }

    #[test]
    fn many_clients_do_not_grow_the_table_without_bound() {
        let (l, _) = limiter(EnrolLimit {
            per_client_per_minute: 1,
            per_client_burst: 1,
            global_per_minute: 100_000,
            global_burst: 100_000,
        });
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = l.admit(ip);
        }
        let clients = l.buckets.lock().expect("lock").clients.len();
        assert!(clients <= MAX_CLIENTS, "{clients}");
    }
}
