//! Multipart uploads: starting one for a new asset, signing part URLs, listing what storage
//! holds (to resume), completing (the part list checked against storage's `ListParts` first)
//! and aborting. Owner-only, like everything else: another user's asset is `NotFound`.

use app::model::{
    Action, Asset, AssetId, AssetState, Checksum, ChecksumAlgorithm, CompleteUpload, InvalidInput,
    MIN_PART_SIZE, MultipartUpload, NewAsset, PartUrl, PartUrls, Principal, Refused, SignParts,
    UploadedPart, UploadedParts, part_size_for,
};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use tracing::info;

use super::{Service, ServiceError, arrived, conflict};
use crate::objects::{Completion, PartToComplete, UploadTerms};

impl Service {
    /// Starts the storage upload for a new multipart asset; the record's multipart part.
    pub(super) async fn start_multipart(
        &self,
        id: AssetId,
        new: &NewAsset,
        terms: &UploadTerms,
    ) -> Result<MultipartUpload, ServiceError> {
        let upload_id = self
            .inner
            .objects
            .create_multipart(id, terms, new.part_sha256)
            .await
            .map_err(ServiceError::Unavailable)?;
        Ok(MultipartUpload {
            upload_id,
            part_size: part_size_for(new.size, self.inner.policy.part_size),
            part_sha256: new.part_sha256,
            parts: None,
        })
    }

    /// Presigned `UploadPart` URLs for the parts named, each valid for the upload-URL lifetime.
    pub async fn sign_parts(
        &self,
        who: &Principal,
        id: AssetId,
        request: SignParts,
    ) -> Result<PartUrls, ServiceError> {
        let (asset, upload) = self.running_upload(who, id).await?;
        let wanted = request.validate()?;
        let mut parts = Vec::with_capacity(wanted.len());
        for (part_number, sha256) in wanted {
            match (&sha256, upload.part_sha256) {
                (None, true) => return Err(conflict(&asset, Refused::PartChecksumRequired)),
                (Some(_), false) => return Err(conflict(&asset, Refused::PartChecksumUnexpected)),
                _ => {}
            }
            let presigned = self
                .inner
                .objects
                .presign_part(
                    id,
                    &upload.upload_id,
                    part_number,
                    sha256.as_ref(),
                    self.inner.policy.upload_url_ttl,
                )
                .await
                .map_err(ServiceError::Unavailable)?;
            crate::meters::upload_url_issued();
            parts.push(PartUrl {
                part_number,
                url: presigned.url,
                method: "PUT".into(),
                headers: presigned.headers,
                expires_at: presigned.expires_at,
            });
        }
        Ok(PartUrls { parts })
    }

    /// The parts storage holds so far, in order: what a client resuming need not send again.
    pub async fn list_parts(
        &self,
        who: &Principal,
        id: AssetId,
    ) -> Result<UploadedParts, ServiceError> {
        let (asset, upload) = self.running_upload(who, id).await?;
        let parts = self.stored_parts(&asset, &upload).await?;
        Ok(UploadedParts {
            upload_id: upload.upload_id,
            part_size: upload.part_size,
            parts,
        })
    }

    /// Completes the upload from the parts listed, after checking them against what storage
    /// holds; the asset is `RECEIVED` when this returns. Repeating it once done returns the
    /// asset as it is.
    pub async fn complete(
        &self,
        who: &Principal,
        id: AssetId,
        request: CompleteUpload,
    ) -> Result<Asset, ServiceError> {
        let asset = self.get_for(who, id).await?;
        let listed = request.validate()?;
        if asset.multipart.as_ref().is_some_and(|m| m.parts.is_some())
            && matches!(asset.state, AssetState::Received | AssetState::Uploaded)
        {
            return Ok(asset); // completed before
        }
        let upload = multipart_of(&asset)?;
        check_state(&asset)?;
        let Some(stored) = self
            .inner
            .objects
            .list_parts(id, &upload.upload_id)
            .await
            .map_err(ServiceError::Unavailable)?
        else {
            // Gone from storage: completed by an earlier call that did not finish here, or
            // aborted.
            return self.received_after_completion(&asset).await;
        };
        let parts = check_parts(&asset, &upload, &listed, &stored)?;
        // Record what storage must report for the object before it exists, so a later check
        // compares against what was verified here.
        let expected = expected_checksum(&upload, &parts)?;
        let count = parts.len() as u32;
        let asset = self
            .transition(id, |current| {
                check_state(current)?;
                let mut next = current.clone();
                next.checksum = expected.clone().or(current.checksum.clone());
                if let Some(multipart) = &mut next.multipart {
                    multipart.parts = Some(count);
                }
                Ok(next)
            })
            .await?
            .asset;
        let completion = self
            .inner
            .objects
            .complete_multipart(id, &upload.upload_id, &parts)
            .await
            .map_err(ServiceError::Unavailable)?;
        match completion {
            Completion::Completed | Completion::NoSuchUpload => {}
            Completion::Refused(message) => {
                return Err(
                    InvalidInput::new(format!("storage refused the parts: {message}")).into(),
                );
            }
        }
        info!(asset_id = %id, parts = count, "multipart upload completed");
        self.received_after_completion(&asset).await
    }

    /// Aborts the upload (storage drops its parts) and soft-deletes the asset.
    pub async fn abort(&self, who: &Principal, id: AssetId) -> Result<(), ServiceError> {
        let (_, upload) = self.running_upload(who, id).await?;
        self.inner
            .objects
            .abort_multipart(id, &upload.upload_id)
            .await
            .map_err(ServiceError::Unavailable)?;
        let asset = self.soft_delete(id).await?;
        info!(asset_id = %id, state = %asset.state, "multipart upload aborted");
        Ok(())
    }

    /// The asset and its upload, if `who` may work on its parts now.
    async fn running_upload(
        &self,
        who: &Principal,
        id: AssetId,
    ) -> Result<(Asset, MultipartUpload), ServiceError> {
        let asset = self.get_for(who, id).await?;
        let upload = multipart_of(&asset)?;
        check_state(&asset)?;
        Ok((asset, upload))
    }

    async fn stored_parts(
        &self,
        asset: &Asset,
        upload: &MultipartUpload,
    ) -> Result<Vec<UploadedPart>, ServiceError> {
        self.inner
            .objects
            .list_parts(asset.asset_id, &upload.upload_id)
            .await
            .map_err(ServiceError::Unavailable)?
            .ok_or_else(|| conflict(asset, Refused::UploadGone))
    }

    /// After completion: the object exists, so the asset is `RECEIVED` (the completion event
    /// will find it so). When storage no longer knows the upload, another completion of it
    /// (a retried call) may still be committing: a few HEADs wait for it; with no object then,
    /// the upload was aborted.
    async fn received_after_completion(&self, asset: &Asset) -> Result<Asset, ServiceError> {
        let id = asset.asset_id;
        let mut object = self.head(id).await?;
        for wait_ms in [100, 300, 1000, 3000] {
            if object.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
            object = self.head(id).await?;
        }
        let Some(object) = object else {
            return Err(conflict(asset, Refused::UploadGone));
        };
        let moved = self
            .transition(id, |current| arrived(current, &object))
            .await?;
        Ok(moved.asset)
    }
}

fn multipart_of(asset: &Asset) -> Result<MultipartUpload, ServiceError> {
    asset
        .multipart
        .clone()
        .ok_or_else(|| conflict(asset, Refused::NotMultipart))
}

fn check_state(asset: &Asset) -> Result<(), ServiceError> {
    asset
        .state
        .apply(Action::SendParts)
        .map(|_| ())
        .map_err(|why| conflict(asset, why))
}

/// The parts to complete with, checked against storage's list: each one stored with the
/// ETag given, every one but the last at least 5 MiB, together the declared size. What does
/// not match is a conflict with what storage holds (409), not a malformed request.
fn check_parts(
    asset: &Asset,
    upload: &MultipartUpload,
    listed: &[(u32, String)],
    stored: &[UploadedPart],
) -> Result<Vec<PartToComplete>, ServiceError> {
    let mut parts = Vec::with_capacity(listed.len());
    let mut total = 0u64;
    for (index, (number, etag)) in listed.iter().enumerate() {
        let refused = |why| Err(conflict(asset, why));
        let Some(found) = stored.iter().find(|part| part.part_number == *number) else {
            return refused(Refused::PartMissing(*number));
        };
        if &found.etag != etag {
            return refused(Refused::PartChanged(*number));
        }
        if index + 1 < listed.len() && found.size < MIN_PART_SIZE {
            return refused(Refused::PartTooSmall(*number));
        }
        if upload.part_sha256 && found.sha256.is_none() {
            return refused(Refused::PartUnchecked(*number));
        }
        total += found.size;
        parts.push(PartToComplete {
            part_number: *number,
            etag: etag.clone(),
            sha256: found.sha256.clone(),
        });
    }
    if asset.size.is_some_and(|size| size != total) {
        return Err(conflict(asset, Refused::ContentMismatch));
    }
    Ok(parts)
}

/// With part checksums: the SHA-256 of the parts' SHA-256s, which storage reports (with the
/// part count) for the completed object.
fn expected_checksum(
    upload: &MultipartUpload,
    parts: &[PartToComplete],
) -> Result<Option<Checksum>, ServiceError> {
    if !upload.part_sha256 {
        return Ok(None);
    }
    let mut hasher = Sha256::new();
    for part in parts {
        let digest = part
            .sha256
            .as_deref()
            .map(|sum| Checksum::parse(ChecksumAlgorithm::Sha256, sum))
            .transpose()?
            .ok_or_else(|| InvalidInput::new(format!("part {} has no sha256", part.part_number)))?;
        hasher.update(digest.bytes()?);
    }
    Ok(Some(Checksum {
        algorithm: ChecksumAlgorithm::Sha256,
        base64: base64::engine::general_purpose::STANDARD.encode(hasher.finalize()),
    }))
}
