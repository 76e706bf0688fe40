//! Confirming an upload (`PUT /assets/{id}`): object storage is the source of truth, and what it
//! holds must be what the client declared (size, checksum; a multipart upload's composite one).

use app::model::{
    Action, Asset, AssetId, AssetState, Checksum, ChecksumAlgorithm, Principal, Refused,
};
use tracing::info;

use super::{Service, ServiceError, conflict, record_object};
use crate::objects::ObjectInfo;

impl Service {
    /// Marks an asset `UPLOADED`. Object storage is the source of truth: the object must exist,
    /// so this works even when the upload's event was lost.
    pub async fn mark_uploaded(&self, who: &Principal, id: AssetId) -> Result<Asset, ServiceError> {
        let asset = self.get_for(who, id).await?;
        if uploaded(&asset)?.state == asset.state {
            return Ok(asset); // already uploaded: nothing to check or write
        }
        let Some(object) = self.head(id).await? else {
            return Err(conflict(&asset, Refused::NotReceived));
        };
        // Storage checked the signed size and checksum on upload; check what it holds again.
        if !matches_declared(&asset, &object)? {
            return Err(conflict(&asset, Refused::ContentMismatch));
        }
        let asset = self
            .transition(id, |current| {
                let mut next = uploaded(current)?;
                if current.state == AssetState::Created {
                    record_object(&mut next, &object);
                }
                Ok(next)
            })
            .await?
            .asset;
        info!(asset_id = %id, state = %asset.state, "asset marked uploaded");
        Ok(asset)
    }
}

/// The asset as `UPLOADED`: its object arrived (if that was not known yet), then the client
/// confirmed. The model decides both steps.
fn uploaded(current: &Asset) -> Result<Asset, ServiceError> {
    let mut next = current.clone();
    next.state = current
        .state
        .apply(Action::ObjectArrived)
        .and_then(|state| state.apply(Action::MarkUploaded))
        .map_err(|why| conflict(current, why))?;
    Ok(next)
}

/// Whether the stored object has the size and checksum the client declared (when it did).
fn matches_declared(asset: &Asset, object: &ObjectInfo) -> Result<bool, ServiceError> {
    let size_ok = asset.size.is_none_or(|size| size == object.size);
    if let Some(upload) = &asset.multipart {
        // Storage reports the parts' composite checksum; without part checksums there is none.
        let checksum_ok = match upload.composite_sha256(asset.checksum.as_ref()) {
            Some(expected) => object.sha256.as_deref() == Some(expected.as_str()),
            None => asset.checksum.is_none(),
        };
        return Ok(size_ok && checksum_ok);
    }
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
        ) => {
            let md5 = checksum.bytes().map_err(|err| {
                ServiceError::Unavailable(anyhow::anyhow!(
                    "asset {}: stored checksum is corrupt: {err}",
                    asset.asset_id
                ))
            })?;
            object.etag.as_deref() == Some(hex::encode(md5).as_str())
        }
    };
    Ok(size_ok && checksum_ok)
}
