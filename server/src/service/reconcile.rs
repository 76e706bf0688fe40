//! The reconciler: events get lost, so storage is asked directly. A stale `CREATED` asset whose
//! object exists becomes `RECEIVED`; one whose upload URL expired more than `abandoned_after`
//! ago with no object is removed (a multipart one: its parts aborted, once no part arrived for
//! that long). Every write is conditional, so a sweep racing an event or a
//! client changes nothing twice.

use app::model::{Asset, AssetState, Search};
use chrono::{DateTime, TimeDelta, Utc};
use tracing::info;

use super::{Service, ServiceError, Transition, arrived};
use crate::store::{PageRequest, StateFilter, StoreError};

/// What one reconciler sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    pub checked: usize,
    pub received: usize,
    pub expired: usize,
}

impl Service {
    /// One sweep over `CREATED` assets. A backend failure ends the sweep with an error (the
    /// next sweep starts over); a lost race just leaves that asset to whoever won.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ServiceError> {
        let mut report = ReconcileReport::default();
        let result = self.sweep(&mut report).await;
        let outcome = if result.is_ok() {
            "completed"
        } else {
            "failed"
        };
        // A failed sweep's repairs were made all the same.
        crate::meters::reconciler_sweep(outcome, report.received, report.expired);
        result.map(|()| report)
    }

    async fn sweep(&self, report: &mut ReconcileReport) -> Result<(), ServiceError> {
        let policy = &self.inner.policy;
        let now = Utc::now();
        let before = |age: TimeDelta| {
            now.checked_sub_signed(age).ok_or_else(|| {
                ServiceError::Unavailable(anyhow::anyhow!("reconciler age {age} is out of range"))
            })
        };
        let url_ttl = TimeDelta::seconds(policy.upload_url_ttl.secs() as i64);
        let stale_before = before(policy.stale_after)?;
        let abandoned_before = before(url_ttl + policy.abandoned_after)?;
        let mut after = None;
        loop {
            let page = PageRequest {
                owner: None,
                limit: 200,
                after,
                filter: StateFilter::Only(AssetState::Created),
                search: Search::default(),
            };
            let (items, next) = self.store().list(&page).await?;
            for asset in items.iter().filter(|a| a.created_at <= stale_before) {
                report.checked += 1;
                let id = asset.asset_id;
                match self.head(id).await? {
                    Some(object) => {
                        let moved = self
                            .transition(id, |current| arrived(current, &object))
                            .await;
                        match moved {
                            Ok(Transition { written: true, .. }) => {
                                info!(asset_id = %id, "reconciler: object found, asset received");
                                report.received += 1;
                            }
                            // Already moved on, deleted meanwhile, or gone: nothing to repair.
                            Ok(_)
                            | Err(ServiceError::Conflict { .. } | ServiceError::NotFound(_)) => {}
                            Err(err) => return Err(err),
                        }
                    }
                    None if asset.multipart.is_some() => {
                        let ended = self.end_abandoned_upload(asset, abandoned_before).await?;
                        report.expired += usize::from(ended);
                    }
                    None if asset.created_at <= abandoned_before => {
                        match self.remove_record(asset).await {
                            Ok(()) => {
                                info!(asset_id = %id, "reconciler: abandoned upload expired");
                                report.expired += 1;
                            }
                            Err(StoreError::Conflict) => {} // it moved on meanwhile
                            Err(err) => return Err(err.into()),
                        }
                    }
                    None => {}
                }
            }
            match next {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        Ok(())
    }

    /// A multipart upload is abandoned once nothing arrived for it (no part, or its last part)
    /// since `abandoned_before`: its parts are aborted, then its record removed. Whether this
    /// call ended it.
    async fn end_abandoned_upload(
        &self,
        asset: &Asset,
        abandoned_before: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let Some(upload) = &asset.multipart else {
            return Ok(false);
        };
        let id = asset.asset_id;
        let objects = &self.inner.objects;
        let parts = objects
            .list_parts(id, &upload.upload_id)
            .await
            .map_err(ServiceError::Unavailable)?;
        let last_activity = parts
            .iter()
            .flatten()
            .map(|part| part.last_modified)
            .max()
            .unwrap_or(asset.created_at)
            .max(asset.created_at);
        if last_activity > abandoned_before {
            return Ok(false);
        }
        objects
            .abort_multipart(id, &upload.upload_id)
            .await
            .map_err(ServiceError::Unavailable)?;
        match self.remove_record(asset).await {
            Ok(()) => {
                info!(asset_id = %id, "reconciler: abandoned multipart upload aborted");
                Ok(true)
            }
            Err(StoreError::Conflict) => Ok(false), // it moved on meanwhile
            Err(err) => Err(err.into()),
        }
    }
}
