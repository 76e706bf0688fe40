//! The one place where the asset lifecycle lives. REST handlers, server functions and the event
//! endpoint are thin callers of `Service`; it decides with `app::model` and writes through the
//! store conditionally.
//! - this file: create, read, list, download, mark uploaded, delete; the conditional-write loop;
//! - `confirm`: marking an upload done once storage holds what was declared;
//! - `reads`: listing pages and download links;
//! - `multipart`: uploads in parts (sign, list, complete, abort);
//! - `object_events`: applying what object storage reports, and the embedded endpoint's consumer;
//! - `reconcile`: the sweep that repairs what lost events left behind;
//! - `counts`: assets by state, for metrics;
//! - `live`: every change published, for `GET /assets/events`.

pub mod auth;
mod confirm;
mod counts;
pub mod live;
mod multipart;
mod object_events;
mod preview;
mod reads;
mod reconcile;

pub use object_events::{EventOutcome, EventSummary, apply_object_events};
pub use reconcile::ReconcileReport;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use app::model::{
    Action, Asset, AssetId, AssetState, CreatedAsset, InvalidInput, NewAsset, Principal, Refused,
    UrlLifetime,
};
use chrono::{TimeDelta, Utc};
use tracing::info;

use crate::objects::{ObjectInfo, Objects, UploadTerms};
use crate::store::{AssetStore, StoreError};

/// How often a conditional write is retried after losing a race before giving up.
const MAX_WRITE_ATTEMPTS: usize = 8;

/// What went wrong, in the domain's words; the HTTP layer picks the status.
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
    /// Its type is download-only (see `app::model::previewable`).
    #[error("asset {0} is download-only: its type is not shown inline")]
    NotPreviewable(AssetId),
    #[error("{0}")]
    Invalid(#[from] InvalidInput),
    /// The principal may not do this (for what exists but is not theirs, `NotFound` instead).
    #[error("{0}")]
    Forbidden(&'static str),
    /// A listing too broad for the store to answer within its bounds (409: it depends on
    /// what is stored; a narrower search works).
    #[error("{0}")]
    TooBroad(String),
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<StoreError> for ServiceError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::BadCursor => {
                ServiceError::Invalid(InvalidInput::new("cursor is not one this server issued"))
            }
            StoreError::TooBroad(why) => ServiceError::TooBroad(why),
            other => ServiceError::Unavailable(other.into()),
        }
    }
}

/// Limits and lifetimes the service enforces.
#[derive(Clone, Debug)]
pub struct Policy {
    pub max_upload_bytes: u64,
    pub upload_url_ttl: UrlLifetime,
    /// A CREATED asset is worth a HEAD by the reconciler once it is this old.
    pub stale_after: TimeDelta,
    /// A CREATED asset with no object expires this long after its upload URL did (a multipart
    /// one: after its last part arrived).
    pub abandoned_after: TimeDelta,
    /// Uploads declared at least this big go in parts (unless the client says otherwise).
    pub multipart_threshold: u64,
    /// The part size multipart uploads use (raised for objects that need more than 10,000).
    pub part_size: u64,
    /// Changes a live-update subscriber may fall behind by before it is told to refetch.
    pub live_buffer: usize,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn AssetStore>,
    objects: Objects,
    policy: Policy,
    /// Embedded-endpoint events given up on after every retry failed (the reconciler repairs
    /// their assets later).
    events_given_up: AtomicU64,
    /// The last count of assets by state, for metrics.
    counts: counts::CountCache,
    /// Event records refused as malformed (a bad sequencer) since start-up.
    events_rejected: AtomicU64,
    /// Every change, for live updates.
    live: live::LiveHub,
}

impl Service {
    pub fn new(store: Arc<dyn AssetStore>, objects: Objects, policy: Policy) -> Self {
        let live = live::LiveHub::new(live::RING, policy.live_buffer);
        Self {
            inner: Arc::new(Inner {
                store,
                objects,
                policy,
                live,
                events_given_up: AtomicU64::new(0),
                counts: Default::default(),
                events_rejected: AtomicU64::new(0),
            }),
        }
    }

    /// The largest upload a client may declare (bytes).
    pub fn max_upload_bytes(&self) -> u64 {
        self.inner.policy.max_upload_bytes
    }

    /// What a browser needs to plan an upload.
    pub fn upload_policy(&self) -> app::model::UploadPolicy {
        app::model::UploadPolicy {
            multipart_threshold: self.inner.policy.multipart_threshold,
        }
    }

    fn store(&self) -> &dyn AssetStore {
        self.inner.store.as_ref()
    }

    /// Records a new asset in `CREATED`, owned by `who`, and hands out its presigned upload URL
    /// (or starts its multipart upload).
    pub async fn create(
        &self,
        who: &Principal,
        new: NewAsset,
    ) -> Result<CreatedAsset, ServiceError> {
        self.create_with_metadata(who, new, Default::default())
            .await
    }

    /// `create`, the object getting user `metadata` (`x-amz-meta-*`, see
    /// `app::model::user_metadata`): signed into the upload URL, or set on the multipart upload.
    pub async fn create_with_metadata(
        &self,
        who: &Principal,
        new: NewAsset,
        metadata: BTreeMap<String, String>,
    ) -> Result<CreatedAsset, ServiceError> {
        let policy = &self.inner.policy;
        new.validate(policy.max_upload_bytes)?;
        let multipart = new.is_multipart(policy.multipart_threshold)?;
        let now = Utc::now();
        let id = AssetId::from_uuid(uuid::Uuid::now_v7());
        let checksum = new.checksum()?;
        let terms = UploadTerms {
            content_type: new.content_type.clone(),
            size: new.size,
            checksum: checksum.clone(),
            metadata,
        };
        let (presigned, multipart) = if multipart {
            (None, Some(self.start_multipart(id, &new, &terms).await?))
        } else {
            let presigned = self
                .inner
                .objects
                .presign_put(id, &terms, policy.upload_url_ttl)
                .await
                .map_err(ServiceError::Unavailable)?;
            (Some(presigned), None)
        };
        let asset = Asset {
            asset_id: id,
            state: AssetState::Created,
            owner: who.user.clone(),
            created_at: now,
            updated_at: now,
            filename: new.filename,
            content_type: new.content_type,
            size: new.size,
            etag: None,
            checksum,
            multipart,
            version: 1,
            sequencer: None,
        };
        if let Err(err) = self.store().insert(&asset).await {
            if let Some(upload) = &asset.multipart {
                // Nothing refers to the storage upload now; the bucket's lifecycle rule ends it
                // if this fails too.
                let _ = self
                    .inner
                    .objects
                    .abort_multipart(id, &upload.upload_id)
                    .await;
            }
            return Err(err.into());
        }
        info!(asset_id = %id, owner = %asset.owner, state = %asset.state,
              multipart = asset.multipart.is_some(), "asset created");
        self.inner.live.publish(asset.clone(), false);
        Ok(match presigned {
            Some(presigned) => {
                crate::meters::upload_url_issued();
                CreatedAsset {
                    id,
                    upload_url: Some(presigned.url),
                    method: Some("PUT".into()),
                    upload_headers: presigned.headers,
                    expires_at: presigned.expires_at,
                    asset,
                }
            }
            None => CreatedAsset {
                id,
                upload_url: None,
                method: None,
                upload_headers: Default::default(),
                expires_at: now
                    + TimeDelta::seconds(policy.upload_url_ttl.secs() as i64)
                    + policy.abandoned_after,
                asset,
            },
        })
    }

    pub async fn get(&self, id: AssetId) -> Result<Asset, ServiceError> {
        self.store()
            .get(id)
            .await?
            .ok_or(ServiceError::NotFound(id))
    }

    /// The asset, if `who` may see it; another user's asset is `NotFound`, exactly as an
    /// unknown id (no existence leak). Owners never change, so the check holds for the
    /// conditional writes that follow.
    pub async fn get_for(&self, who: &Principal, id: AssetId) -> Result<Asset, ServiceError> {
        let asset = self.get(id).await?;
        if who.may_access(&asset.owner) {
            Ok(asset)
        } else {
            Err(ServiceError::NotFound(id))
        }
    }

    /// Soft delete: state `DELETED`, object kept. Repeatable.
    pub async fn delete(&self, who: &Principal, id: AssetId) -> Result<(), ServiceError> {
        self.get_for(who, id).await?;
        let asset = self.soft_delete(id).await?;
        info!(asset_id = %id, state = %asset.state, "asset soft-deleted");
        Ok(())
    }

    /// The record as `DELETED` (the caller checked who may).
    async fn soft_delete(&self, id: AssetId) -> Result<Asset, ServiceError> {
        let deleted = self
            .transition(id, |current| {
                let mut next = current.clone();
                next.state = current
                    .state
                    .apply(Action::SoftDelete)
                    .map_err(|why| conflict(current, why))?;
                Ok(next)
            })
            .await?;
        Ok(deleted.asset)
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

    /// Embedded-endpoint events given up on since start-up.
    pub fn events_given_up(&self) -> u64 {
        self.inner
            .events_given_up
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Event records refused as malformed since start-up.
    pub fn events_rejected(&self) -> u64 {
        self.inner
            .events_rejected
            .load(std::sync::atomic::Ordering::Relaxed)
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
        let decide = &decide;
        retry_lost_races(id, || async move {
            let current = self.get(id).await?;
            let mut next = decide(&current)?;
            if next == current {
                // Nothing changes: no write.
                return Ok(Some(Transition {
                    asset: current,
                    written: false,
                }));
            }
            next.version = current.version + 1;
            next.updated_at = Utc::now();
            match self.store().update(&current, &next).await {
                Ok(()) => {
                    self.inner.live.publish(next.clone(), false);
                    Ok(Some(Transition {
                        asset: next,
                        written: true,
                    }))
                }
                Err(StoreError::Conflict) => Ok(None),
                Err(err) => Err(err.into()),
            }
        })
        .await
    }
}

/// Runs `attempt` until it no longer loses a race (`Ok(None)` means "lost: the record changed
/// since it was read"), at most `MAX_WRITE_ATTEMPTS` times.
async fn retry_lost_races<T, F, Fut>(id: AssetId, mut attempt: F) -> Result<T, ServiceError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ServiceError>>,
{
    for _ in 0..MAX_WRITE_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
    }
    Err(ServiceError::Unavailable(anyhow::anyhow!(
        "too much contention on asset {id}"
    )))
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

/// The asset once storage is known to hold its object: `RECEIVED` from `CREATED`, with the
/// object's size and ETag (a later state stays as it is).
fn arrived(current: &Asset, object: &ObjectInfo) -> Result<Asset, ServiceError> {
    let mut next = current.clone();
    next.state = current
        .state
        .apply(Action::ObjectArrived)
        .map_err(|why| conflict(current, why))?;
    if next.state != current.state {
        record_object(&mut next, object);
    }
    Ok(next)
}

fn record_object(asset: &mut Asset, object: &ObjectInfo) {
    asset.size = Some(object.size);
    asset.etag = object.etag.clone();
    if asset.content_type.is_none() {
        asset.content_type = object.content_type.clone();
    }
}
