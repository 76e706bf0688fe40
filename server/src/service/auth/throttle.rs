//! Sign-in throttling: at most `LIMIT` failures per user name and per client address in a
//! sliding minute; past that, attempts are refused until the oldest failure ages out. Kept in
//! memory, per replica (a replica restart forgets; the Argon2 cost still bounds guessing).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed in a window; the next attempt is refused.
pub(super) const LIMIT: usize = 5;
pub(super) const WINDOW: Duration = Duration::from_secs(60);
/// Most names and addresses tracked at once; beyond it the stalest are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Subject {
    Name(String),
    Address(IpAddr),
}

#[derive(Default)]
pub(super) struct Throttle {
    failures: Mutex<HashMap<Subject, VecDeque<Instant>>>,
}

impl Throttle {
    /// `Err(wait)` when either the name or the address is over the limit.
    pub(super) fn check(
        &self,
        name: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Duration> {
        let mut failures = self.lock();
        let wait = subjects(name, address)
            .filter_map(|subject| {
                let times = failures.get_mut(&subject)?;
                forget_old(times, now);
                let oldest = *times.front()?;
                (times.len() >= LIMIT).then(|| WINDOW.saturating_sub(now - oldest))
            })
            .max();
        match wait {
            Some(wait) => Err(wait.max(Duration::from_secs(1))),
            None => Ok(()),
        }
    }

    pub(super) fn failed(&self, name: &str, address: Option<IpAddr>, now: Instant) {
        let mut failures = self.lock();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, times| {
                forget_old(times, now);
                !times.is_empty()
            });
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        for subject in subjects(name, address) {
            let times = failures.entry(subject).or_default();
            forget_old(times, now);
            times.push_back(now);
        }
    }

    /// A successful sign-in clears the name's failures (not the address's).
    pub(super) fn succeeded(&self, name: &str) {
        self.lock().remove(&Subject::Name(name.to_string()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Subject, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn subjects(name: &str, address: Option<IpAddr>) -> impl Iterator<Item = Subject> {
    std::iter::once(Subject::Name(name.to_string())).chain(address.map(Subject::Address))
}

fn forget_old(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_a_minute_is_refused_until_the_first_ages_out() {
        let throttle = Throttle::default();
        let start = Instant::now();
        let address = Some("10.0.0.1".parse().unwrap());
        for i in 0..LIMIT {
            assert!(
                throttle.check("alice", address, start).is_ok(),
                "attempt {i}"
            );
            throttle.failed("alice", address, start + Duration::from_secs(i as u64));
        }
        let wait = throttle
            .check("alice", address, start + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(throttle.check("alice", address, start + WINDOW).is_ok());
    }

    #[test]
    fn one_address_guessing_many_names_is_throttled_too() {
        let throttle = Throttle::default();
        let now = Instant::now();
        let address = Some("10.0.0.2".parse().unwrap());
        for i in 0..LIMIT {
            throttle.failed(&format!("user{i}"), address, now);
        }
        assert!(throttle.check("someone-else", address, now).is_err());
        assert!(throttle.check("someone-else", None, now).is_ok());
    }

    #[test]
    fn success_clears_the_name() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for _ in 0..LIMIT {
            throttle.failed("bob", None, now);
        }
        throttle.succeeded("bob");
        assert!(throttle.check("bob", None, now).is_ok());
    }
}
