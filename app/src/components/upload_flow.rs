//! What the upload panel's buttons start: a new upload (one presigned PUT, or parts when the
//! server says so), resuming a remembered one after a reload, pausing, cancelling. Multipart
//! uploads are remembered in `localStorage` under the file's identity until they finish or are
//! cancelled.

use std::future::Future;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::integrity::prepare;
use super::page::{Page, error_text};
use super::uploads::{UploadItem, UploadStatus};
use crate::api::{
    abort_multipart, complete_multipart, create_upload, list_uploaded_parts, mark_uploaded,
};
use crate::browser::{self, UploadEnd};
use crate::model::{AssetId, CreatedAsset, ErrorCode};
use crate::upload::parts::{PartRun, RunEnd, Stop};
use crate::upload::plan::resume_key;

/// A new file: offers to resume if an unfinished upload of it is remembered, else starts.
pub(super) fn offer_or_start(item: UploadItem, page: Page, uploads_in_flight: RwSignal<u32>) {
    if remembered_id(item).is_some() {
        item.status.set(UploadStatus::Offered);
    } else {
        start_upload(item, page, uploads_in_flight);
    }
}

/// Creates the asset (a server function) and sends the bytes: one PUT with progress, or in
/// parts when the reply says the server started a multipart upload.
pub(super) fn start_upload(item: UploadItem, page: Page, uploads_in_flight: RwSignal<u32>) {
    let Some(file) = item.file.get_value() else {
        return;
    };
    item.sent.set(0.0);
    item.reset_speed();
    item.multipart.set(false);
    item.run.set_value(None);
    item.status.set(UploadStatus::Preparing);
    counted(uploads_in_flight, page, async move {
        // Storage checks every byte: the whole file's SHA-256, or each part's.
        let new = match prepare(item, &file).await {
            Ok(Some(new)) => new,
            Ok(None) => return,
            Err(why) => return failed(item, why),
        };
        match create_upload(new).await {
            Err(err) => failed(item, format!("Refused: {}", error_text(&err))),
            Ok(created) => match created.asset.multipart.as_ref() {
                Some(multipart) => {
                    if let Some(key) = key_of(item) {
                        browser::remember(&key, &created.id.to_string());
                    }
                    let run = PartRun::new(created.id, file, multipart.part_size);
                    page.refresh();
                    drive(item, run).await;
                }
                None => {
                    item.status.set(UploadStatus::Uploading);
                    page.refresh();
                    let end = put_file(&created, &file, item).await;
                    item.status.set(finish_single(end, created.id, item).await);
                }
            },
        }
    });
}

/// Resumes: a paused or failed run goes on with its missing parts; a remembered upload (after
/// a reload) first lists what storage holds and keeps the parts that match the file.
pub(super) fn resume(item: UploadItem, page: Page, uploads_in_flight: RwSignal<u32>) {
    if let Some(run) = item.run.get_value() {
        counted(uploads_in_flight, page, drive(item, run));
        return;
    }
    let (Some(id), Some(file)) = (remembered_id(item), item.file.get_value()) else {
        return start_upload(item, page, uploads_in_flight);
    };
    item.status.set(UploadStatus::Checking);
    counted(uploads_in_flight, page, async move {
        let listed = match list_uploaded_parts(id).await {
            Ok(listed) => listed,
            // Completed already (the page closed before it was marked): finish it.
            Err(err) if err.code == ErrorCode::Conflict => {
                item.status.set(UploadStatus::Finishing);
                return match mark_uploaded(id).await {
                    Ok(_) => done(item),
                    Err(err) => gone(item, &err.error_message),
                };
            }
            Err(err) if err.code == ErrorCode::NotFound => return gone(item, &err.error_message),
            Err(err) => {
                page.error("Could not list the parts already uploaded", &err);
                item.status.set(UploadStatus::Offered);
                return;
            }
        };
        let run = PartRun::new(id, file, listed.part_size);
        match run.adopt(&listed.parts).await {
            Ok(_) => drive(item, run).await,
            Err(why) => failed(item, why),
        }
    });
}

/// Drops the remembered upload (storage discards its parts) and starts afresh.
pub(super) fn start_over(item: UploadItem, page: Page, uploads_in_flight: RwSignal<u32>) {
    let id = remembered_id(item);
    forget(item);
    item.status.set(UploadStatus::Preparing);
    spawn_local(async move {
        if let Some(id) = id {
            // Already gone or completed is fine: a new upload starts either way.
            let _ = abort_multipart(id).await;
        }
        start_upload(item, page, uploads_in_flight);
    });
}

/// Stops sending; the parts stored so far stay, Resume sends the rest.
pub(super) fn pause(item: UploadItem) {
    if let Some(run) = item.run.get_value() {
        run.halt(Stop::Pause);
    }
}

/// Cancels: a single PUT is aborted; a multipart upload is stopped and aborted on the server
/// (the asset becomes DELETED).
pub(super) fn cancel(item: UploadItem, page: Page) {
    match (item.run.get_value(), item.status.get_untracked()) {
        // The running `drive` sees the stop and aborts the upload.
        (Some(run), UploadStatus::Uploading) => run.halt(Stop::Cancel),
        (Some(run), _) => spawn_local(async move {
            abort(item, run.id).await;
            page.refresh();
        }),
        // The hashing loop sees it and stops.
        (None, UploadStatus::Hashing) => item.status.set(UploadStatus::Cancelled),
        (None, _) => {
            if let Some(request) = item.request.get_value() {
                let _ = request.abort();
            }
        }
    }
}

/// Runs the multipart upload until every part is stored, then completes it and marks the asset
/// uploaded; or stops where Pause, Cancel or a failure left it.
async fn drive(item: UploadItem, run: Rc<PartRun>) {
    item.multipart.set(true);
    item.run.set_value(Some(run.clone()));
    item.reset_speed();
    item.status.set(UploadStatus::Uploading);
    let on_progress = Rc::new(move |sent: f64| item.report(sent, browser::now_ms()));
    match run.run(on_progress).await {
        RunEnd::AllStored => {
            item.status.set(UploadStatus::Finishing);
            match complete_multipart(run.id, run.completion()).await {
                Err(err) => failed(
                    item,
                    format!("Parts stored, but not completed: {}", error_text(&err)),
                ),
                Ok(_) => match mark_uploaded(run.id).await {
                    Ok(_) => done(item),
                    Err(err) => failed(
                        item,
                        format!("Stored, but not marked uploaded: {}", error_text(&err)),
                    ),
                },
            }
        }
        RunEnd::Stopped(Stop::Pause) => item.status.set(UploadStatus::Paused),
        RunEnd::Stopped(Stop::Cancel) => abort(item, run.id).await,
        RunEnd::Stopped(Stop::Failed) => failed(item, "Stopped by a failed part.".into()),
        RunEnd::Failed(why) => failed(item, format!("{why}. Resume to send the missing parts.")),
    }
}

async fn abort(item: UploadItem, id: AssetId) {
    match abort_multipart(id).await {
        Ok(()) => {
            forget(item);
            item.status.set(UploadStatus::Cancelled);
        }
        Err(err) => failed(item, format!("Could not cancel: {}", error_text(&err))),
    }
}

fn done(item: UploadItem) {
    forget(item);
    item.sent.set(item.total.get_untracked());
    item.status.set(UploadStatus::Done);
}

/// The remembered upload cannot go on: forget it; Retry starts a new one.
fn gone(item: UploadItem, why: &str) {
    forget(item);
    item.multipart.set(false);
    item.run.set_value(None);
    failed(
        item,
        format!("The earlier upload cannot be resumed ({why}); retry to start over."),
    );
}

fn failed(item: UploadItem, why: String) {
    item.status.set(UploadStatus::Failed(why));
}

/// Runs `task` counted as an upload in flight (the page polls the list meanwhile).
fn counted(uploads_in_flight: RwSignal<u32>, page: Page, task: impl Future<Output = ()> + 'static) {
    uploads_in_flight.update(|n| *n += 1);
    spawn_local(async move {
        task.await;
        uploads_in_flight.update(|n| *n = n.saturating_sub(1));
        page.refresh();
    });
}

fn key_of(item: UploadItem) -> Option<String> {
    let file = item.file.get_value()?;
    Some(resume_key(
        &item.name.get_value(),
        file.size() as u64,
        file.last_modified(),
    ))
}

fn remembered_id(item: UploadItem) -> Option<AssetId> {
    browser::remembered(&key_of(item)?)?.parse().ok()
}

fn forget(item: UploadItem) {
    if let Some(key) = key_of(item) {
        browser::forget(&key);
    }
}

async fn finish_single(end: UploadEnd, id: AssetId, item: UploadItem) -> UploadStatus {
    match end {
        UploadEnd::Stored { .. } => {
            item.status.set(UploadStatus::Finishing);
            match mark_uploaded(id).await {
                Ok(_) => UploadStatus::Done,
                Err(err) => UploadStatus::Failed(format!(
                    "Stored, but not marked uploaded: {}",
                    error_text(&err)
                )),
            }
        }
        UploadEnd::Refused {
            status,
            code,
            message,
        } => UploadStatus::Failed(match code.as_str() {
            "BadDigest" | "XAmzContentChecksumMismatch" => {
                "The bytes storage received differ from the file's SHA-256 (changed or corrupted \
                 on the way); nothing was stored. Retry."
                    .to_string()
            }
            "AccessDenied" if message.contains("expired") => {
                "The upload link expired before the upload finished; retry for a fresh one."
                    .to_string()
            }
            "" => format!("Storage refused the upload (HTTP {status})."),
            _ => format!("Storage refused the upload: {message} ({code})."),
        }),
        UploadEnd::NetworkError => UploadStatus::Failed(
            "The connection to storage failed; retry when you are back online.".into(),
        ),
        UploadEnd::Cancelled => UploadStatus::Cancelled,
    }
}

/// PUTs the file to the presigned URL with the headers the create reply listed, reporting
/// progress into the item and keeping the request so the Cancel button can abort it. Takes
/// the whole reply so the headers' type is named only by `browser::upload`.
async fn put_file(created: &CreatedAsset, file: &web_sys::File, item: UploadItem) -> UploadEnd {
    browser::upload(
        created.upload_url.as_deref().unwrap_or_default(),
        &created.upload_headers,
        file,
        move |sent, total| {
            if total > 0.0 {
                item.total.set(total);
            }
            item.report(sent, browser::now_ms());
        },
        move |request| item.request.set_value(Some(request)),
    )
    .await
}
