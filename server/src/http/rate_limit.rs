//! Rate limits: per caller (API key or signed-in user) and per client address, each a GCRA
//! ("generic cell rate") bucket: `rate` requests a second on average, a burst of
//! `BURST_SECONDS` seconds' worth. Over the limit: `429` with `Retry-After`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use app::model::ErrorCode;
use axum::extract::Request;

use super::auth::client_address;
use super::error::ApiError;
use super::is_probe;

/// A burst may use this many seconds' worth of the rate at once.
const BURST_SECONDS: u32 = 10;
/// Buckets kept before idle ones (full again, so equal to a new one) are dropped.
const SWEEP_AT: usize = 10_000;
/// Buckets kept at most: past this (a flood of distinct keys), new keys share one bucket.
const MAX_BUCKETS: usize = 1_000_000;

/// One limit over many keys.
pub(super) struct RateLimiter<K> {
    /// Time between requests at the average rate.
    interval: Duration,
    /// How far ahead of now a key's schedule may run: the burst.
    tolerance: Duration,
    /// Per key, when its next request is due at the average rate ("theoretical arrival").
    due: Mutex<HashMap<K, Instant>>,
}

impl<K: Eq + Hash> RateLimiter<K> {
    /// `None` when `per_second` is 0 (no limit).
    pub(super) fn new(per_second: u32) -> Option<Self> {
        let interval = Duration::from_secs(1).checked_div(per_second)?;
        Some(Self {
            interval,
            tolerance: interval * (per_second * BURST_SECONDS).saturating_sub(1),
            due: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one request for `key`; `Err(wait)` when it is over the limit (and not counted).
    /// Past `MAX_BUCKETS` keys, a new key is counted in `overflow`'s bucket.
    pub(super) fn check<Q>(&self, key: &Q, overflow: &Q) -> Result<(), Duration>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let now = Instant::now();
        let Ok(mut due) = self.due.lock() else {
            return Ok(()); // a panic elsewhere poisoned it: limiting is not worth failing for
        };
        if !due.contains_key(key) {
            if due.len() >= SWEEP_AT {
                // A bucket whose schedule is in the past is full: the same as no bucket.
                due.retain(|_, at| *at > now);
            }
            let key = if due.len() >= MAX_BUCKETS {
                overflow
            } else {
                key
            };
            due.entry(key.to_owned()).or_insert(now);
        }
        let key = if due.contains_key(key) { key } else { overflow };
        let Some(at) = due.get_mut(key) else {
            return Ok(());
        };
        let ahead = (*at).max(now) - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        *at = (*at).max(now) + self.interval;
        Ok(())
    }
}

/// The limits the app applies, from the configuration.
pub(super) struct RateLimits {
    callers: Option<RateLimiter<String>>,
    addresses: Option<RateLimiter<IpAddr>>,
    /// Loopback clients (tests, local scripts) are limited only when asked.
    loopback: bool,
}

impl RateLimits {
    pub(super) fn new(per_caller: u32, per_address: u32, loopback: bool) -> Self {
        Self {
            callers: RateLimiter::new(per_caller),
            addresses: RateLimiter::new(per_address),
            loopback,
        }
    }

    /// Counts a request by an authenticated caller (an API key's id, a user's name).
    pub(super) fn check_caller(&self, caller: &str, from: Option<IpAddr>) -> Result<(), ApiError> {
        match &self.callers {
            Some(limiter) if self.applies_to(from) => limiter
                .check(caller, "")
                .map_err(|wait| limited(wait, "this caller")),
            _ => Ok(()),
        }
    }

    fn check_address(&self, address: IpAddr) -> Result<(), ApiError> {
        match &self.addresses {
            Some(limiter) if self.applies_to(Some(address)) => limiter
                .check(&bucket_of(address), &IpAddr::from([0u8; 4]))
                .map_err(|wait| limited(wait, "this client address")),
            _ => Ok(()),
        }
    }

    fn applies_to(&self, from: Option<IpAddr>) -> bool {
        self.loopback || !from.is_some_and(|ip| ip.to_canonical().is_loopback())
    }
}

/// An IPv6 client usually holds a whole /64: one bucket for it, or rotating addresses
/// would each get a fresh one.
fn bucket_of(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

fn limited(wait: Duration, whom: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests from {whom}; retry later"),
    )
    .with_retry_after(wait)
}

impl RateLimits {
    /// Limits the REST API and the dashboard per client address (before authentication, so
    /// a flood of bad keys or cookies is limited too). Health checks and static files are not.
    pub(super) fn check_request(&self, request: &Request) -> Result<(), ApiError> {
        let path = request.uri().path();
        if is_probe(path) || path.starts_with("/pkg/") {
            return Ok(());
        }
        match client_address(request.extensions()) {
            Some(address) => self.check_address(address),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_average_rate() {
        let limiter = RateLimiter::new(2).unwrap();
        let (key, other) = ("k", "");
        // Ten seconds' worth at once.
        for _ in 0..20 {
            assert!(limiter.check(key, other).is_ok());
        }
        let wait = limiter.check(key, other).unwrap_err();
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        // Another key has its own bucket.
        assert!(limiter.check("j", other).is_ok());
    }

    #[test]
    fn zero_is_no_limit() {
        assert!(RateLimiter::<String>::new(0).is_none());
        let limits = RateLimits::new(0, 0, true);
        assert!(limits.check_caller("x", None).is_ok());
    }

    #[test]
    fn loopback_is_exempt_unless_asked() {
        let local = Some(IpAddr::from([127, 0, 0, 1]));
        let exempt = RateLimits::new(1, 1, false);
        let limited = RateLimits::new(1, 1, true);
        for _ in 0..50 {
            assert!(exempt.check_caller("a", local).is_ok());
        }
        let over = (0..50).any(|_| limited.check_caller("a", local).is_err());
        assert!(over);
    }

    #[test]
    fn an_ipv6_slash_64_is_one_bucket() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(bucket_of(a), bucket_of(b));
        assert_ne!(bucket_of(a), bucket_of(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(bucket_of(mapped), IpAddr::from([10, 0, 0, 1]));
    }
}
