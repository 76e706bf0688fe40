//! Assets by state, for the metrics gauge. The store says how long a count may be reused:
//! SQLite counts from its state index on every scrape; DynamoDB has to `Scan` the table, so
//! its count is refreshed at most every few minutes, in the background (a scrape never waits
//! for a scan; it shows the last count, none before the first scan ends).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use tracing::warn;

use super::Service;
use crate::store::StateCounts;

/// The last count and when it was taken; whether a refresh is running.
#[derive(Default)]
pub(super) struct CountCache {
    last: Mutex<Option<(Instant, StateCounts)>>,
    refreshing: AtomicBool,
}

impl Service {
    /// Assets per state, as fresh as the store can afford; `None` when the store could not
    /// count (it is down) or a first background count has not finished yet.
    pub async fn assets_by_state(&self) -> Option<StateCounts> {
        let max_age = self.store().count_max_age();
        let cache = &self.inner.counts;
        if max_age.is_zero() {
            return match self.store().count_by_state().await {
                Ok(counts) => Some(counts),
                Err(err) => {
                    warn!(error = %err, "could not count assets by state");
                    None
                }
            };
        }
        let last = cache.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let stale = last.as_ref().is_none_or(|(at, _)| at.elapsed() >= max_age);
        if stale && !cache.refreshing.swap(true, Ordering::AcqRel) {
            let service = self.clone();
            tokio::spawn(async move {
                let store = service.inner.store.clone();
                match store.count_by_state().await {
                    Ok(counts) => {
                        *service
                            .inner
                            .counts
                            .last
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), counts));
                    }
                    Err(err) => warn!(error = %err, "could not count assets by state"),
                }
                service
                    .inner
                    .counts
                    .refreshing
                    .store(false, Ordering::Release);
            });
        }
        last.map(|(_, counts)| counts)
    }
}
