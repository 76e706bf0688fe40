//! The one place where the asset lifecycle lives. REST handlers, server functions and the event
//! endpoint are thin callers of `Service`; it decides with `app::model` and writes through the
//! store conditionally.

use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

use app::model::{
    Action, Asset, AssetId, AssetPage, AssetState, Checksum, ChecksumAlgorithm, CreatedAsset,
    DEFAULT_DOWNLOAD_TTL_SECS, DEFAULT_PAGE_SIZE, DownloadLink, ErrorCode, InvalidInput, ListQuery,
    MAX_PAGE_SIZE, MAX_URL_TTL_SECS, MIN_URL_TTL_SECS, NewAsset, Refused,
};
use chrono::Utc;
use tracing::{debug, info};

use crate::events::{Delivery, ObjectChange, ObjectEvent, compare_sequencers};
use crate::objects::{ObjectInfo, Objects, UploadTerms, attachment_disposition, id_from_key};
use crate::store::{AssetStore, Cursor, PageRequest, StateFilter, StoreError};

/// How often a conditional write is retried after losing a race before giving up.
const MAX_WRITE_ATTEMPTS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("asset {0} not found")]
    NotFound(AssetId),
    #[error("asset {id} is {state}: {why}")]
    Conflict {
        id: AssetId,
        state: AssetState,
        why: Refused,
    },
    #[error("{0}")]
    Invalid(#[from] InvalidInput),
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl ServiceError {
    /// The machine-readable code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Conflict { .. } => ErrorCode::Conflict,
            Self::Invalid(invalid) if invalid.too_large => ErrorCode::TooLarge,
            Self::Invalid(_) => ErrorCode::InvalidInput,
            Self::Unavailable(_) => ErrorCode::Unavailable,
        }
    }

    /// The message clients see: backend details stay in the logs.
    pub fn public_message(&self) -> String {
        match self {
            Self::Unavailable(_) => "storage is unavailable; retry later".to_string(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::BadCursor => {
                ServiceError::Invalid(InvalidInput::new("cursor is not one this server issued"))
            }
            other => ServiceError::Unavailable(other.into()),
        }
    }
}

/// Limits and lifetimes the service enforces.
#[derive(Clone, Debug)]
pub struct Policy {
    pub max_upload_bytes: u64,
    pub upload_url_ttl: Duration,
    /// A CREATED asset is worth a HEAD by the reconciler once it is this old.
    pub stale_after: Duration,
    /// A CREATED asset with no object expires this long after its upload URL did.
    pub abandoned_after: Duration,
}

/// What one reconciler sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    pub checked: usize,
    pub received: usize,
    pub expired: usize,
}

/// What a delivery of events did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EventSummary {
    pub applied: usize,
    pub skipped: usize,
}

/// What an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Duplicate, out of order, not ours, or not allowed in the asset's state.
    Skipped,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn AssetStore>,
    objects: Objects,
    policy: Policy,
}

impl Service {
    pub fn new(store: Arc<dyn AssetStore>, objects: Objects, policy: Policy) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                objects,
                policy,
            }),
        }
    }

    fn store(&self) -> &dyn AssetStore {
        self.inner.store.as_ref()
    }

    /// Records a new asset in `CREATED` and hands out its presigned upload URL.
    pub async fn create(&self, new: NewAsset) -> Result<CreatedAsset, ServiceError> {
        new.validate(self.inner.policy.max_upload_bytes)?;
        let now = Utc::now();
        let id = AssetId::from_uuid(uuid::Uuid::now_v7());
        let checksum = new.checksum()?;
        let terms = UploadTerms {
            content_type: new.content_type.clone(),
            size: new.size,
            checksum: checksum.clone(),
        };
        let presigned = self
            .inner
            .objects
            .presign_put(id, &terms, self.inner.policy.upload_url_ttl)
            .await
            .map_err(ServiceError::Unavailable)?;
        let asset = Asset {
            asset_id: id,
            state: AssetState::Created,
            created_at: now,
            updated_at: now,
            filename: new.filename,
            content_type: new.content_type,
            size: new.size,
            etag: None,
            checksum,
            version: 1,
            sequencer: None,
        };
        self.store().insert(&asset).await?;
        info!(asset_id = %id, state = %asset.state, "asset created");
        Ok(CreatedAsset {
            id,
            upload_url: presigned.url,
            method: "PUT".into(),
            upload_headers: presigned.headers,
            expires_at: presigned.expires_at,
            asset,
        })
    }

    pub async fn get(&self, id: AssetId) -> Result<Asset, ServiceError> {
        self.store()
            .get(id)
            .await?
            .ok_or(ServiceError::NotFound(id))
    }

    pub async fn list(&self, query: ListQuery) -> Result<AssetPage, ServiceError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(InvalidInput::new(format!("limit must be 1..={MAX_PAGE_SIZE}")).into());
        }
        let after = query.cursor.as_deref().map(Cursor::decode).transpose()?;
        let filter = match (query.state, query.include_deleted) {
            (Some(state), _) => StateFilter::Only(state),
            (None, true) => StateFilter::All,
            (None, false) => StateFilter::Live,
        };
        let (items, next) = self
            .store()
            .list(&PageRequest {
                limit,
                after,
                filter,
            })
            .await?;
        Ok(AssetPage {
            items,
            next_cursor: next.map(|c| c.encode()),
        })
    }

    /// A presigned download URL, only for `UPLOADED` assets. `ttl_secs` defaults to 60 as in
    /// the original example.
    pub async fn download_link(
        &self,
        id: AssetId,
        ttl_secs: Option<u64>,
    ) -> Result<DownloadLink, ServiceError> {
        let ttl = ttl_secs.unwrap_or(DEFAULT_DOWNLOAD_TTL_SECS);
        if !(MIN_URL_TTL_SECS..=MAX_URL_TTL_SECS).contains(&ttl) {
            return Err(InvalidInput::new(format!(
                "timeout {ttl} is out of range ({MIN_URL_TTL_SECS}..={MAX_URL_TTL_SECS} seconds)"
            ))
            .into());
        }
        let asset = self.get(id).await?;
        asset
            .state
            .apply(Action::Download)
            .map_err(|why| conflict(&asset, why))?;
        let filename = asset.filename.clone().unwrap_or_else(|| id.to_string());
        let content_type = asset
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        let presigned = self
            .inner
            .objects
            .presign_get(
                id,
                &attachment_disposition(&filename),
                content_type,
                Duration::from_secs(ttl),
            )
            .await
            .map_err(ServiceError::Unavailable)?;
        Ok(DownloadLink {
            download_url: presigned.url,
            expires_at: presigned.expires_at,
        })
    }

    /// Marks an asset `UPLOADED`. Object storage is the source of truth: the object must exist,
    /// so this works even when the upload's event was lost.
    pub async fn mark_uploaded(&self, id: AssetId) -> Result<Asset, ServiceError> {
        let asset = self.get(id).await?;
        match asset.state {
            AssetState::Deleted => return Err(conflict(&asset, Refused::Deleted)),
            AssetState::Uploaded => return Ok(asset),
            AssetState::Created | AssetState::Received => {}
        }
        let Some(object) = self.head(id).await? else {
            return Err(conflict(&asset, Refused::NotReceived));
        };
        // Storage checked the signed size and checksum on upload; check what it holds again.
        if !matches_declared(&asset, &object) {
            return Err(conflict(&asset, Refused::ContentMismatch));
        }
        let asset = self
            .transition(id, |current| {
                let mut next = current.clone();
                if current.state == AssetState::Created {
                    next.state = current
                        .state
                        .apply(Action::ObjectArrived)
                        .map_err(|why| conflict(current, why))?;
                    record_object(&mut next, &object);
                }
                next.state = next
                    .state
                    .apply(Action::MarkUploaded)
                    .map_err(|why| conflict(current, why))?;
                Ok(next)
            })
            .await?
            .asset;
        info!(asset_id = %id, state = %asset.state, "asset marked uploaded");
        Ok(asset)
    }

    /// Soft delete: state `DELETED`, object kept. Repeatable.
    pub async fn delete(&self, id: AssetId) -> Result<(), ServiceError> {
        let asset = self
            .transition(id, |current| {
                let mut next = current.clone();
                next.state = current
                    .state
                    .apply(Action::SoftDelete)
                    .map_err(|why| conflict(current, why))?;
                Ok(next)
            })
            .await?
            .asset;
        info!(asset_id = %id, state = %asset.state, "asset soft-deleted");
        Ok(())
    }

    /// Applies every event of a delivery in order. An error means "retry the delivery":
    /// events already applied are skipped as duplicates the next time.
    pub async fn apply_events(&self, delivery: &Delivery) -> Result<EventSummary, ServiceError> {
        let mut summary = EventSummary {
            applied: 0,
            skipped: delivery.ignored,
        };
        for event in &delivery.events {
            match self.apply_object_event(event).await? {
                EventOutcome::Applied => summary.applied += 1,
                EventOutcome::Skipped => summary.skipped += 1,
            }
        }
        Ok(summary)
    }

    /// Applies one object event from storage. Events come at least once and out of order: one
    /// applies only when its sequencer is newer than the last one applied for the key.
    pub async fn apply_object_event(
        &self,
        event: &ObjectEvent,
    ) -> Result<EventOutcome, ServiceError> {
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
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let Some(current) = self.store().get(id).await? else {
                return Ok(EventOutcome::Skipped);
            };
            if !is_newer(event.sequencer.as_deref(), current.sequencer.as_deref()) {
                return Ok(EventOutcome::Skipped);
            }
            match self.store().remove(id, current.version).await {
                Ok(()) => {
                    info!(asset_id = %id, "object removed: record deleted");
                    return Ok(EventOutcome::Applied);
                }
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(ServiceError::Unavailable(anyhow::anyhow!(
            "too much contention on asset {id}"
        )))
    }

    /// One reconciler sweep over CREATED assets: events get lost, so storage is asked directly.
    /// An asset whose object exists becomes RECEIVED; one whose upload URL expired more than
    /// `abandoned_after` ago with no object is removed. Every write is conditional, so a sweep
    /// racing an event or a client changes nothing twice.
    pub async fn reconcile(&self) -> Result<ReconcileReport, ServiceError> {
        let policy = &self.inner.policy;
        let now = Utc::now();
        let age = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        let (stale_before, abandoned_before) = (
            now - age(policy.stale_after),
            now - age(policy.upload_url_ttl) - age(policy.abandoned_after),
        );
        let mut report = ReconcileReport::default();
        let mut after = None;
        loop {
            let page = PageRequest {
                limit: 200,
                after,
                filter: StateFilter::Only(AssetState::Created),
            };
            let (items, next) = self.store().list(&page).await?;
            for asset in items.iter().filter(|a| a.created_at <= stale_before) {
                report.checked += 1;
                let id = asset.asset_id;
                match self.head(id).await? {
                    Some(object) => {
                        let moved = self
                            .transition(id, |current| {
                                let mut next = current.clone();
                                if current.state == AssetState::Created {
                                    next.state = AssetState::Received;
                                    record_object(&mut next, &object);
                                }
                                Ok(next)
                            })
                            .await;
                        if matches!(moved, Ok(Transition { written: true, .. })) {
                            info!(asset_id = %id, "reconciler: object found, asset received");
                            report.received += 1;
                        }
                    }
                    None if asset.created_at <= abandoned_before => {
                        match self.store().remove(id, asset.version).await {
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
        Ok(report)
    }

    /// Whether the metadata store and object storage answer.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        self.store().ping().await?;
        self.inner
            .objects
            .ping()
            .await
            .map_err(ServiceError::Unavailable)
    }

    async fn head(&self, id: AssetId) -> Result<Option<ObjectInfo>, ServiceError> {
        self.inner
            .objects
            .head(id)
            .await
            .map_err(ServiceError::Unavailable)
    }

    /// Read, decide, write conditionally; on a lost race, read again and decide again.
    async fn transition(
        &self,
        id: AssetId,
        decide: impl Fn(&Asset) -> Result<Asset, ServiceError>,
    ) -> Result<Transition, ServiceError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self.get(id).await?;
            let mut next = decide(&current)?;
            if next == current {
                // Nothing changes: no write.
                return Ok(Transition {
                    asset: current,
                    written: false,
                });
            }
            next.version = current.version + 1;
            next.updated_at = Utc::now();
            match self.store().update(&current, &next).await {
                Ok(()) => {
                    return Ok(Transition {
                        asset: next,
                        written: true,
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(ServiceError::Unavailable(anyhow::anyhow!(
            "too much contention on asset {id}"
        )))
    }
}

/// The asset after a transition, and whether this call wrote it (false: it was already so).
struct Transition {
    asset: Asset,
    written: bool,
}

fn conflict(asset: &Asset, why: Refused) -> ServiceError {
    ServiceError::Conflict {
        id: asset.asset_id,
        state: asset.state,
        why,
    }
}

fn record_object(asset: &mut Asset, object: &ObjectInfo) {
    asset.size = Some(object.size);
    asset.etag = object.etag.clone();
    if asset.content_type.is_none() {
        asset.content_type = object.content_type.clone();
    }
}

/// Whether the stored object has the size and checksum the client declared (when it did).
fn matches_declared(asset: &Asset, object: &ObjectInfo) -> bool {
    let size_ok = asset.size.is_none_or(|size| size == object.size);
    let checksum_ok = match &asset.checksum {
        None => true,
        Some(Checksum {
            algorithm: ChecksumAlgorithm::Sha256,
            base64,
        }) => object.sha256.as_deref() == Some(base64.as_str()),
        // A single-part upload's ETag is the hex MD5 of its content.
        Some(
            checksum @ Checksum {
                algorithm: ChecksumAlgorithm::Md5,
                ..
            },
        ) => object.etag.as_deref() == Some(hex::encode(checksum.bytes()).as_str()),
    };
    size_ok && checksum_ok
}

/// An event with no sequencer is always applied (the state rules keep it idempotent).
fn is_newer(event: Option<&str>, last_applied: Option<&str>) -> bool {
    match (event, last_applied) {
        (Some(event), Some(last)) => compare_sequencers(event, last) == Ordering::Greater,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::is_newer;

    #[test]
    fn only_newer_sequencers_apply() {
        assert!(is_newer(Some("0B"), Some("0A")));
        assert!(!is_newer(Some("0A"), Some("0A")));
        assert!(!is_newer(Some("0A"), Some("0B")));
        assert!(is_newer(Some("0A"), None));
        assert!(is_newer(None, Some("0A")));
    }
}
