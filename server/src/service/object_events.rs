//! Applying what object storage reports: events come at least once and out of order, so one
//! applies only when its sequencer is newer than the last applied for the key, and only after
//! storage confirms what it says. Also the consumer of the embedded endpoint's events.

use std::sync::atomic::Ordering;
use std::time::Duration;

use app::model::{Action, AssetId};
use tracing::{debug, error, info, warn};

use super::{Service, ServiceError, Transition, conflict, record_object, retry_lost_races};
use crate::events::{
    Delivery, EventReceiver, ObjectChange, ObjectEvent, RejectedRecord, check_sequencer, is_newer,
};
use crate::objects::id_from_key;
use crate::store::StoreError;

/// An event is tried this many times before it is given up (as S3 retries its notifications).
const EVENT_ATTEMPTS: u32 = 5;

/// What a delivery of events did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EventSummary {
    pub applied: usize,
    pub skipped: usize,
    /// Records refused as malformed (never applied), with why.
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
        for attempt in 1..=EVENT_ATTEMPTS {
            match service.apply_object_event(&event).await {
                Ok(_) => break,
                Err(err) if attempt < EVENT_ATTEMPTS => {
                    warn!(attempt, key = %event.key, error = %err, "applying an object event failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                }
                Err(err) => {
                    service
                        .inner
                        .events_given_up
                        .fetch_add(1, Ordering::Relaxed);
                    error!(
                        attempts = EVENT_ATTEMPTS, key = %event.key, change = ?event.change, error = ?err,
                        "object event given up; the reconciler will repair the asset"
                    );
                }
            }
        }
    }
}

impl Service {
    /// Applies every event of a delivery in order. An error means "retry the delivery":
    /// events already applied are skipped as duplicates the next time.
    pub async fn apply_events(&self, delivery: &Delivery) -> Result<EventSummary, ServiceError> {
        self.count_rejected(&delivery.rejected);
        let mut summary = EventSummary {
            applied: 0,
            skipped: delivery.ignored,
            rejected: delivery.rejected.clone(),
        };
        for event in &delivery.events {
            match self.apply_object_event(event).await? {
                EventOutcome::Applied => summary.applied += 1,
                EventOutcome::Skipped => summary.skipped += 1,
            }
        }
        Ok(summary)
    }

    /// Logs and counts records refused as malformed (a metric later).
    fn count_rejected(&self, rejected: &[RejectedRecord]) {
        for record in rejected {
            warn!(key = %record.key, reason = %record.reason, "event record refused");
        }
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
            self.count_rejected(&[RejectedRecord::new(&event.key, why)]);
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
            match self.store().remove(id, current.version).await {
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
