//! The upload panel: drop or choose files; each gets its own record and presigned URL through a
//! server function, then the browser PUTs the bytes straight to object storage with progress,
//! Cancel and Retry, and the asset is marked uploaded.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::page::{Page, error_text};
use crate::api::{create_upload, mark_uploaded};
use crate::browser::{self, UploadEnd};
use crate::model::{AssetId, CreatedAsset, NewAsset, human_size};

/// Where one file's upload stands.
#[derive(Clone, Debug, PartialEq)]
enum UploadStatus {
    Preparing,
    Uploading,
    Finishing,
    Done,
    Failed(String),
    Cancelled,
}

/// One file in the upload list. Signals are handles, so this is cheap to copy around.
#[derive(Clone, Copy)]
struct UploadItem {
    key: u32,
    name: StoredValue<String>,
    sent: RwSignal<f64>,
    total: RwSignal<f64>,
    status: RwSignal<UploadStatus>,
    /// The browser's File and the running request, which never leave the browser thread.
    file: StoredValue<Option<web_sys::File>, LocalStorage>,
    request: StoredValue<Option<web_sys::XmlHttpRequest>, LocalStorage>,
}

#[component]
pub fn UploadPanel(page: Page, uploads_in_flight: RwSignal<u32>) -> impl IntoView {
    let items = RwSignal::new(Vec::<UploadItem>::new());
    let next_key = StoredValue::new(0u32);
    let dragging = RwSignal::new(false);

    let add_files = move |files: Option<web_sys::FileList>| {
        let Some(files) = files else { return };
        for index in 0..files.length() {
            let Some(file) = files.get(index) else {
                continue;
            };
            let key = next_key.get_value();
            next_key.set_value(key + 1);
            let item = UploadItem {
                key,
                name: StoredValue::new(file.name()),
                sent: RwSignal::new(0.0),
                total: RwSignal::new(file.size()),
                status: RwSignal::new(UploadStatus::Preparing),
                file: StoredValue::new_local(Some(file)),
                request: StoredValue::new_local(None),
            };
            items.update(|list| list.push(item));
            start_upload(item, page, uploads_in_flight);
        }
    };

    view! {
        <section
            class=move || if dragging.get() { "upload dragging" } else { "upload" }
            aria-label="Upload files"
            on:dragover=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                dragging.set(false);
                add_files(ev.data_transfer().and_then(|dt| dt.files()));
            }
        >
            <label class="drop-zone">
                <span>"Drop files here, or "</span>
                <span class="pick">"choose files"</span>
                <input
                    type="file"
                    multiple
                    aria-label="Choose files to upload"
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = event_target(&ev);
                        add_files(input.files());
                        input.set_value("");
                    }
                />
            </label>
            <ul class="uploads">
                <For each=move || items.get() key=|item| item.key let:item>
                    <UploadRow item page uploads_in_flight />
                </For>
            </ul>
        </section>
    }
}

#[component]
fn UploadRow(item: UploadItem, page: Page, uploads_in_flight: RwSignal<u32>) -> impl IntoView {
    let name = item.name.get_value();
    let percent = move || {
        let total = item.total.get();
        if total <= 0.0 {
            100.0
        } else {
            (item.sent.get() / total * 100.0).clamp(0.0, 100.0)
        }
    };
    let status_text = move || match item.status.get() {
        UploadStatus::Preparing => "Preparing…".to_string(),
        UploadStatus::Uploading => format!(
            "{} of {} ({:.0}%)",
            human_size(item.sent.get() as u64),
            human_size(item.total.get() as u64),
            percent()
        ),
        UploadStatus::Finishing => "Finishing…".to_string(),
        UploadStatus::Done => format!("Uploaded {} (100%)", human_size(item.total.get() as u64)),
        UploadStatus::Failed(why) => why,
        UploadStatus::Cancelled => "Cancelled".to_string(),
    };
    let active = move || {
        matches!(
            item.status.get(),
            UploadStatus::Preparing | UploadStatus::Uploading
        )
    };
    let retryable = move || {
        matches!(
            item.status.get(),
            UploadStatus::Failed(_) | UploadStatus::Cancelled
        )
    };
    let failed = move || matches!(item.status.get(), UploadStatus::Failed(_));
    let label = name.clone();
    let retry_label = name.clone();

    view! {
        <li class="upload-item" data-upload=name.clone() class:failed=failed>
            <span class="upload-name">{name.clone()}</span>
            <progress
                max="100"
                value=move || format!("{:.0}", percent())
                aria-label=format!("Upload progress of {name}")
            ></progress>
            <span class="upload-status" role=move || if failed() { "alert" } else { "status" }>
                {status_text}
            </span>
            <Show when=active>
                <button
                    type="button"
                    class="secondary"
                    aria-label=format!("Cancel uploading {label}")
                    on:click=move |_| {
                        if let Some(request) = item.request.get_value() {
                            let _ = request.abort();
                        }
                    }
                >
                    "Cancel"
                </button>
            </Show>
            <Show when=retryable>
                <button
                    type="button"
                    aria-label=format!("Retry uploading {retry_label}")
                    on:click=move |_| start_upload(item, page, uploads_in_flight)
                >
                    "Retry"
                </button>
            </Show>
        </li>
    }
}

/// Creates the asset (a server function), PUTs the bytes straight to storage with progress,
/// then marks the asset uploaded.
fn start_upload(item: UploadItem, page: Page, uploads_in_flight: RwSignal<u32>) {
    let Some(file) = item.file.get_value() else {
        return;
    };
    item.sent.set(0.0);
    item.status.set(UploadStatus::Preparing);
    uploads_in_flight.update(|n| *n += 1);
    spawn_local(async move {
        let content_type = Some(file.type_()).filter(|t| !t.is_empty());
        let new = NewAsset {
            filename: Some(file.name()),
            content_type,
            size: Some(file.size() as u64),
            // Parts come with the multipart uploader; until then, one PUT.
            multipart: Some(false),
            ..Default::default()
        };
        let status = match create_upload(new).await {
            Err(err) => UploadStatus::Failed(format!("Refused: {}", error_text(&err))),
            Ok(created) => {
                item.status.set(UploadStatus::Uploading);
                page.refresh();
                let end = put_file(&created, &file, item).await;
                finish_upload(end, created.id, item).await
            }
        };
        item.status.set(status);
        uploads_in_flight.update(|n| *n = n.saturating_sub(1));
        page.refresh();
    });
}

async fn finish_upload(end: UploadEnd, id: AssetId, item: UploadItem) -> UploadStatus {
    match end {
        UploadEnd::Stored => {
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
            item.sent.set(sent);
            if total > 0.0 {
                item.total.set(total);
            }
        },
        move |request| item.request.set_value(Some(request)),
    )
    .await
}
