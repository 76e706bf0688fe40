//! Integrity end to end, in the page: before a single-`PUT` upload the browser hashes the whole
//! file (streamed, with "Hashing…" progress) and declares its SHA-256, so storage refuses any
//! other bytes; an upload in parts declares a SHA-256 per part instead (hashed as it goes).
//! And the row's "verified" badge for assets whose record keeps a checksum.

use std::cell::Cell;

use leptos::prelude::*;

use super::page::error_text;
use super::uploads::{UploadItem, UploadStatus};
use crate::api::get_upload_policy;
use crate::model::{AssetState, Checksum, ChecksumAlgorithm, NewAsset, UploadPolicy};
use crate::upload::hash::sha256_streaming;

thread_local! {
    /// The server's upload policy, asked once per page.
    static POLICY: Cell<Option<UploadPolicy>> = const { Cell::new(None) };
}

async fn policy() -> Result<UploadPolicy, String> {
    if let Some(policy) = POLICY.get() {
        return Ok(policy);
    }
    let policy = get_upload_policy()
        .await
        .map_err(|err| format!("Could not prepare the upload: {}", error_text(&err)))?;
    POLICY.set(Some(policy));
    Ok(policy)
}

/// The request for `file`: hashed first when it goes as one `PUT`. `Ok(None)` when the upload
/// was cancelled while hashing.
pub(super) async fn prepare(
    item: UploadItem,
    file: &web_sys::File,
) -> Result<Option<NewAsset>, String> {
    let policy = policy().await?;
    let size = file.size() as u64;
    let content_type = Some(file.type_()).filter(|t| !t.is_empty());
    let sha256 = if policy.in_parts(size) {
        None
    } else {
        item.status.set(UploadStatus::Hashing);
        let hashed = sha256_streaming(
            file,
            move |done| item.sent.set(done),
            move || item.status.get_untracked() == UploadStatus::Hashing,
        )
        .await
        .map_err(|why| format!("Could not hash the file: {why}"))?;
        item.sent.set(0.0);
        match hashed {
            Some(sha256) => Some(sha256),
            None => return Ok(None),
        }
    };
    // The name the panel gave it: a dropped folder's path, a pasted image's name.
    Ok(Some(policy.new_asset(
        item.name.get_value(),
        content_type,
        size,
        sha256,
    )))
}

/// "verified" on a row whose record keeps a checksum that storage checked: once the object
/// arrived (a declared checksum alone, before any bytes, proves nothing yet).
#[component]
pub fn VerifiedBadge(checksum: Option<Checksum>, state: AssetState) -> impl IntoView {
    let arrived = matches!(state, AssetState::Received | AssetState::Uploaded);
    checksum.filter(|_| arrived).map(|checksum| {
        let algorithm = match checksum.algorithm {
            ChecksumAlgorithm::Sha256 => "SHA-256",
            ChecksumAlgorithm::Md5 => "MD5",
        };
        let title = format!("{algorithm} checked by storage: {}", checksum.base64);
        view! {
            <span class="verified" title=title>
                "verified"
            </span>
        }
    })
}
