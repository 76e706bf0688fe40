//! Applying what object storage reports: events come at least once and out of order, so one
//! applies only when its sequencer is newer than the last applied for the key, and only after
//! storage confirms what it says. Also the consumer of the embedded endpoint's events.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use app::model::{Action, AssetId};
use futures::StreamExt as _;
use tracing::{debug, error, info, warn};

use super::{Service, ServiceError, Transition, conflict, record_object, retry_lost_races};
use crate::events::{
    Delivery, EventReceiver, EventSource, ObjectChange, ObjectEvent, RejectedRecord,
    check_sequencer, compare_sequencers, is_newer,
};
use crate::objects::id_from_key;
use crate::store::StoreError;

/// An event is tried this many times before it is given up (as S3 retries its notifications).
const EVENT_ATTEMPTS: u32 = 5;

/// Keys of one delivery applied at once: bounds the HEADs in flight against object storage.
const EVENT_CONCURRENCY: usize = 16;

/// A delivery's events grouped by object, in first-seen order; each group in sequencer order
/// when every event of it has one (else as delivered: no order can be proven).
fn by_key(events: &[ObjectEvent]) -> Vec<Vec<&ObjectEvent>> {
    let mut groups: Vec<Vec<&ObjectEvent>> = Vec::new();
    let mut at: HashMap<(&str, &str), usize> = HashMap::new();
    for event in events {
        let slot = *at
            .entry((event.bucket.as_str(), event.key.as_str()))
            .or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
        groups[slot].push(event);
    }
    for group in &mut groups {
        if group.iter().all(|e| e.sequencer.is_some()) {
            group.sort_by(|a, b| {
                compare_sequencers(
                    a.sequencer.as_deref().unwrap_or_default(),
                    b.sequencer.as_deref().unwrap_or_default(),
                )
            });
        }
    }
    groups
}

/// What a delivery of events did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EventSummary {
    pub applied: usize,
    pub skipped: usize,
    /// Records refused as malformed (never applied), with why; left out when none was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<RejectedRecord>,
}

/// What an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Duplicate, out of order, not ours, or not allowed in the asset's state.
    Skipped,
}

/// The one consumer of the embedded endpoint's events: applies them in the order they were
/// emitted, retrying with backoff; an event that still fails is logged and counted (the
/// reconciler repairs its asset later). Ends when every sender is gone.
pub async fn apply_object_events(mut events: EventReceiver, service: Service) {
    while let Some(event) = events.recv().await {
        let source = EventSource::Embedded.as_str();
        crate::meters::events(source, "received", 1);
        for attempt in 1..=EVENT_ATTEMPTS {
            match service.apply_object_event(&event).await {
                Ok(outcome) => {
                    crate::meters::events(source, outcome.label(), 1);
                    break;
                }
                Err(err) if attempt < EVENT_ATTEMPTS => {
                    warn!(attempt, key = %event.key, error = %err, "applying an object event failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                }
                Err(err) => {
                    service
                        .inner
                        .events_given_up
                        .fetch_add(1, Ordering::Relaxed);
                    crate::meters::events(source, "failed", 1);
                    error!(
                        attempts = EVENT_ATTEMPTS, key = %event.key, change = ?event.change, error = ?err,
                        "object event given up; the reconciler will repair the asset"
                    );
                }
            }
        }
    }
}

impl EventOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Skipped => "skipped",
        }
    }
}

fn count_outcomes(source: &'static str, summary: &EventSummary) {
    crate::meters::events(source, "applied", summary.applied);
    crate::meters::events(source, "skipped", summary.skipped);
}

impl Service {
    /// Applies a delivery's events: each key's in sequencer order, up to `EVENT_CONCURRENCY`
    /// keys at once (their HEADs overlap and their writes share commits). An error means
    /// "retry the delivery" and is only returned once every key's work has ended; events
    /// already applied are skipped as duplicates the next time.
    pub async fn apply_events(&self, delivery: &Delivery) -> Result<EventSummary, ServiceError> {
        let source = delivery.source.as_str();
        crate::meters::events(source, "received", delivery.events.len() + delivery.ignored);
        self.count_rejected(source, &delivery.rejected);
        let mut summary = EventSummary {
            applied: 0,
            skipped: delivery.ignored,
            rejected: delivery.rejected.clone(),
        };
        // Owned groups: a stream of borrowed ones trips the compiler's higher-ranked lifetimes.
        let groups: Vec<Vec<ObjectEvent>> = by_key(&delivery.events)
            .into_iter()
            .map(|group| group.into_iter().cloned().collect())
            .collect();
        let results: Vec<Result<Vec<EventOutcome>, ServiceError>> = futures::stream::iter(groups)
            .map(|events| async move {
                let mut outcomes = Vec::with_capacity(events.len());
                for event in &events {
                    outcomes.push(self.apply_object_event(event).await?);
                }
                Ok(outcomes)
            })
            .buffer_unordered(EVENT_CONCURRENCY)
            .collect()
            .await;
        let mut failed = None;
        for outcomes in results {
            match outcomes {
                Ok(outcomes) => {
                    for outcome in outcomes {
                        match outcome {
                            EventOutcome::Applied => summary.applied += 1,
                            EventOutcome::Skipped => summary.skipped += 1,
                        }
                    }
                }
                Err(err) => {
                    failed.get_or_insert(err);
                }
            }
        }
        count_outcomes(source, &summary);
        if let Some(err) = failed {
            // The sender retries the whole delivery.
            crate::meters::events(source, "failed", 1);
            return Err(err);
        }
        Ok(summary)
    }

    /// Logs and counts records refused as malformed.
    fn count_rejected(&self, source: &'static str, rejected: &[RejectedRecord]) {
        for record in rejected {
            warn!(key = %record.key, reason = %record.reason, "event record refused");
        }
        crate::meters::events(source, "rejected", rejected.len());
        self.inner
            .events_rejected
            .fetch_add(rejected.len() as u64, Ordering::Relaxed);
    }

    /// Applies one object event from storage.
    pub async fn apply_object_event(
        &self,
        event: &ObjectEvent,
    ) -> Result<EventOutcome, ServiceError> {
        if let Some(Err(why)) = event.sequencer.as_deref().map(check_sequencer) {
            // Deliveries' records were checked when read: only the embedded endpoint's get here.
            let source = EventSource::Embedded.as_str();
            self.count_rejected(source, &[RejectedRecord::new(&event.key, why)]);
            return Ok(EventOutcome::Skipped);
        }
        if event.bucket != self.inner.objects.bucket() {
            debug!(bucket = %event.bucket, key = %event.key, "event for another bucket ignored");
            return Ok(EventOutcome::Skipped);
        }
        let Some(id) = id_from_key(&event.key) else {
            info!(key = %event.key, "event for a key outside the asset scheme ignored");
            return Ok(EventOutcome::Skipped);
        };
        let Some(asset) = self.store().get(id).await? else {
            debug!(asset_id = %id, "event for an unknown asset ignored");
            return Ok(EventOutcome::Skipped);
        };
        if !is_newer(event.sequencer.as_deref(), asset.sequencer.as_deref()) {
            debug!(asset_id = %id, sequencer = ?event.sequencer, "duplicate or older event ignored");
            return Ok(EventOutcome::Skipped);
        }
        match event.change {
            ObjectChange::Created => self.object_arrived(id, event).await,
            ObjectChange::Removed => self.object_removed(id, event).await,
        }
    }

    async fn object_arrived(
        &self,
        id: AssetId,
        event: &ObjectEvent,
    ) -> Result<EventOutcome, ServiceError> {
        // Trust storage, not the envelope: the object must really be there.
        let Some(object) = self.head(id).await? else {
            info!(asset_id = %id, "created event but no object: ignored");
            return Ok(EventOutcome::Skipped);
        };
        let result = self
            .transition(id, |current| {
                if !is_newer(event.sequencer.as_deref(), current.sequencer.as_deref()) {
                    return Ok(current.clone()); // a newer event won the race: nothing to do
                }
                let mut next = current.clone();
                next.state = current
                    .state
                    .apply(Action::ObjectArrived)
                    .map_err(|why| conflict(current, why))?;
                record_object(&mut next, &object);
                next.sequencer = event.sequencer.clone().or(next.sequencer);
                Ok(next)
            })
            .await;
        match result {
            Ok(Transition {
                asset,
                written: true,
            }) => {
                info!(asset_id = %id, state = %asset.state, size = object.size, "object received");
                Ok(EventOutcome::Applied)
            }
            Ok(Transition { written: false, .. }) => Ok(EventOutcome::Skipped), // a duplicate won the race
            Err(ServiceError::Conflict { state, why, .. }) => {
                info!(asset_id = %id, %state, %why, "created event not applied");
                Ok(EventOutcome::Skipped)
            }
            Err(ServiceError::NotFound(_)) => Ok(EventOutcome::Skipped),
            Err(err) => Err(err),
        }
    }

    async fn object_removed(
        &self,
        id: AssetId,
        event: &ObjectEvent,
    ) -> Result<EventOutcome, ServiceError> {
        // Only remove the record when storage confirms the object is gone (the event may be stale).
        if self.head(id).await?.is_some() {
            info!(asset_id = %id, "removed event but the object exists: ignored");
            return Ok(EventOutcome::Skipped);
        }
        retry_lost_races(id, || async move {
            let Some(current) = self.store().get(id).await? else {
                return Ok(Some(EventOutcome::Skipped));
            };
            if !is_newer(event.sequencer.as_deref(), current.sequencer.as_deref()) {
                return Ok(Some(EventOutcome::Skipped));
            }
            match self.remove_record(&current).await {
                Ok(()) => {
                    info!(asset_id = %id, "object removed: record deleted");
                    Ok(Some(EventOutcome::Applied))
                }
                Err(StoreError::Conflict) => Ok(None),
                Err(err) => Err(err.into()),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(key: &str, sequencer: Option<&str>) -> ObjectEvent {
        ObjectEvent {
            change: ObjectChange::Created,
            bucket: "b".into(),
            key: key.into(),
            size: None,
            etag: None,
            sequencer: sequencer.map(String::from),
        }
    }

    #[test]
    fn events_group_by_key_in_sequencer_order() {
        let events = [
            event("a", Some("0C")),
            event("b", Some("02")),
            event("a", Some("0A")),
            event("c", None),
            event("a", Some("0B")),
            event("c", Some("01")),
            event("c", Some("00")),
        ];
        let order: Vec<Vec<(&str, Option<&str>)>> = by_key(&events)
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .map(|e| (e.key.as_str(), e.sequencer.as_deref()))
                    .collect()
            })
            .collect();
        assert_eq!(
            order,
            vec![
                vec![("a", Some("0A")), ("a", Some("0B")), ("a", Some("0C"))],
                vec![("b", Some("02"))],
                // One without a sequencer: kept as delivered.
                vec![("c", None), ("c", Some("01")), ("c", Some("00"))],
            ]
        );
    }
}
