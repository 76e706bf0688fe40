//! The dashboard: upload with progress, browse, download, delete. Rendered on the server (the
//! list works without JavaScript) and hydrated in the browser, where the buttons come alive.
//! Every action goes through a server function to the same service as the REST API; file
//! bytes go from the browser straight to object storage.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{create_upload, delete_asset, get_download_link, list_assets, mark_uploaded};
use crate::browser::{self, UploadEnd};
use crate::model::{
    Action, Asset, AssetId, AssetState, DEFAULT_PAGE_SIZE, ErrorBody, ListQuery, NewAsset,
    UrlLifetime, human_size,
};

/// Download link lifetimes offered (seconds, label).
const LINK_LIFETIMES: [(u64, &str); 4] = [
    (60, "1 minute"),
    (3600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "7 days"),
];

/// A message for the person at the screen.
#[derive(Clone, Debug, PartialEq)]
enum Notice {
    Info(String),
    Error(String),
}

/// Shared by the page's parts.
#[derive(Clone, Copy)]
struct Page {
    refreshes: RwSignal<u32>,
    notice: RwSignal<Option<Notice>>,
    link_ttl: RwSignal<u64>,
}

impl Page {
    fn refresh(&self) {
        self.refreshes.update(|n| *n += 1);
    }
    fn error(&self, context: &str, err: &ErrorBody) {
        self.notice.set(Some(Notice::Error(format!(
            "{context}: {}",
            err.error_message
        ))));
    }
}

#[component]
pub fn Dashboard() -> impl IntoView {
    // Flipped by an effect, which only runs in the browser: tests wait for "true" before clicking.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let page = Page {
        refreshes: RwSignal::new(0),
        notice: RwSignal::new(None),
        link_ttl: RwSignal::new(3600),
    };
    let state_filter = RwSignal::new(None::<AssetState>);
    let show_deleted = RwSignal::new(false);
    let limit = RwSignal::new(DEFAULT_PAGE_SIZE);
    let uploads_in_flight = RwSignal::new(0u32);

    let assets = Resource::new(
        move || {
            (
                page.refreshes.get(),
                state_filter.get(),
                show_deleted.get(),
                limit.get(),
            )
        },
        |(_, state, include_deleted, limit)| {
            list_assets(ListQuery {
                limit: Some(limit),
                cursor: None,
                state,
                include_deleted,
            })
        },
    );

    // While uploads are in flight, storage events move assets along: poll the list.
    Effect::new(move |_| {
        if uploads_in_flight.get() > 0
            && let Ok(handle) = set_interval_with_handle(
                move || page.refresh(),
                std::time::Duration::from_millis(1500),
            )
        {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <section class="dashboard" data-hydrated=move || hydrated.get().to_string()>
            <header class="toolbar">
                <h1>"Assets"</h1>
                <button
                    type="button"
                    class="secondary"
                    aria-label="Refresh the asset list"
                    on:click=move |_| page.refresh()
                >
                    "Refresh"
                </button>
            </header>
            <UploadPanel page uploads_in_flight />
            <div class="notice-area" role="status" aria-live="polite">
                {move || {
                    page.notice
                        .get()
                        .map(|notice| match notice {
                            Notice::Info(text) => view! { <p class="notice">{text}</p> }.into_any(),
                            Notice::Error(text) => {
                                view! { <p class="error" role="alert">{text}</p> }.into_any()
                            }
                        })
                }}
            </div>
            <div class="filters">
                <label>
                    "State "
                    <select
                        aria-label="Filter by state"
                        on:change=move |ev| state_filter.set(event_target_value(&ev).parse().ok())
                    >
                        <option value="">"All"</option>
                        {AssetState::ALL
                            .into_iter()
                            .map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    <input
                        type="checkbox"
                        aria-label="Show deleted assets"
                        on:change=move |ev| show_deleted.set(event_target_checked(&ev))
                    />
                    " Show deleted"
                </label>
                <label>
                    "Link lifetime "
                    <select
                        aria-label="Download link lifetime"
                        on:change=move |ev| {
                            if let Ok(ttl) = event_target_value(&ev).parse() {
                                page.link_ttl.set(ttl);
                            }
                        }
                    >
                        {LINK_LIFETIMES
                            .into_iter()
                            .map(|(secs, label)| {
                                view! {
                                    <option value=secs.to_string() selected=secs == 3600>
                                        {label}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || {
                    assets
                        .get()
                        .map(|result| match result {
                            Ok(list) if list.items.is_empty() => {
                                view! { <p class="empty">"No assets yet."</p> }.into_any()
                            }
                            Ok(list) => {
                                let more = list.next_cursor.is_some();
                                view! {
                                    <AssetTable items=list.items page />
                                    <Show when=move || more>
                                        <button
                                            type="button"
                                            class="secondary load-more"
                                            on:click=move |_| limit.update(|l| *l += DEFAULT_PAGE_SIZE)
                                        >
                                            "Load more"
                                        </button>
                                    </Show>
                                }
                                    .into_any()
                            }
                            Err(err) => {
                                view! {
                                    <p class="error" role="alert">
                                        {format!("Could not load assets: {}", err.error_message)}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn AssetTable(items: Vec<Asset>, page: Page) -> impl IntoView {
    view! {
        <table class="assets">
            <thead>
                <tr>
                    <th scope="col">"File"</th>
                    <th scope="col">"State"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Updated"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {items.into_iter().map(|asset| view! { <AssetRow asset page /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn AssetRow(asset: Asset, page: Page) -> impl IntoView {
    let id = asset.asset_id;
    let name = asset.filename.clone().unwrap_or_else(|| id.to_string());
    let state = asset.state.as_str();
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let downloadable = asset.state.allows(Action::Download);
    let deletable = asset.state.changes_with(Action::SoftDelete);
    // Stored so the `Show` branches, which may render many times, can read them.
    let download_label = StoredValue::new(format!("Download {name}"));
    let copy_label = StoredValue::new(format!("Copy download link for {name}"));
    let delete_label = StoredValue::new(format!("Delete {name}"));
    let confirm_label = StoredValue::new(format!("Confirm deleting {name}"));

    let download = move |copy_only: bool| {
        busy.set(true);
        spawn_local(async move {
            match get_download_link(
                id,
                UrlLifetime::from_secs(page.link_ttl.get_untracked()).ok(),
            )
            .await
            {
                Ok(link) if copy_only => {
                    let expires = link.expires_at.format("%Y-%m-%d %H:%M:%S UTC");
                    if browser::copy(&link.download_url).await {
                        page.notice.set(Some(Notice::Info(format!(
                            "Link copied; it expires {expires}."
                        ))));
                    } else {
                        page.notice.set(Some(Notice::Error(
                            "The browser did not allow copying.".into(),
                        )));
                    }
                }
                Ok(link) => browser::download(&link.download_url),
                Err(err) => page.error("Could not get a download link", &err),
            }
            busy.set(false);
        });
    };
    let delete = move || {
        busy.set(true);
        spawn_local(async move {
            match delete_asset(id).await {
                Ok(()) => {
                    page.notice.set(Some(Notice::Info("Asset deleted.".into())));
                    page.refresh();
                }
                Err(err) => page.error("Could not delete", &err),
            }
            busy.set(false);
            confirming.set(false);
        });
    };

    view! {
        <tr data-asset-id=id.to_string()>
            <td class="file">{name}</td>
            <td>
                <span class=format!("badge badge-{}", state.to_lowercase())>{state}</span>
            </td>
            // Labelled only when there is a value: on a phone, empty cells then take no room.
            <td data-label=asset.size.map(|_| "Size")>{asset.size.map(human_size).unwrap_or_default()}</td>
            <td data-label=asset.content_type.as_ref().map(|_| "Type")>
                {asset.content_type.clone().unwrap_or_default()}
            </td>
            <td data-label="Created">
                <time datetime=asset.created_at.to_rfc3339()>
                    {asset.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}
                </time>
            </td>
            <td data-label="Updated">
                <time datetime=asset.updated_at.to_rfc3339()>
                    {asset.updated_at.format("%Y-%m-%d %H:%M:%S").to_string()}
                </time>
            </td>
            <td>
                <div class="actions">
                <Show when=move || downloadable>
                    <button
                        type="button"
                        aria-label=move || download_label.get_value()
                        disabled=move || busy.get()
                        on:click=move |_| download(false)
                    >
                        "Download"
                    </button>
                    <button
                        type="button"
                        class="secondary"
                        aria-label=move || copy_label.get_value()
                        disabled=move || busy.get()
                        on:click=move |_| download(true)
                    >
                        "Copy link"
                    </button>
                </Show>
                <Show when=move || deletable>
                    <Show
                        when=move || confirming.get()
                        fallback=move || {
                            view! {
                                <button
                                    type="button"
                                    class="danger"
                                    aria-label=move || delete_label.get_value()
                                    on:click=move |_| confirming.set(true)
                                >
                                    "Delete"
                                </button>
                            }
                        }
                    >
                        <button
                            type="button"
                            class="danger"
                            aria-label=move || confirm_label.get_value()
                            disabled=move || busy.get()
                            on:click=move |_| delete()
                        >
                            "Confirm delete"
                        </button>
                        <button type="button" class="secondary" on:click=move |_| confirming.set(false)>
                            "Keep"
                        </button>
                    </Show>
                </Show>
                </div>
            </td>
        </tr>
    }
}

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
fn UploadPanel(page: Page, uploads_in_flight: RwSignal<u32>) -> impl IntoView {
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
            ..Default::default()
        };
        let status = match create_upload(new).await {
            Err(err) => UploadStatus::Failed(format!("Refused: {}", err.error_message)),
            Ok(created) => {
                item.status.set(UploadStatus::Uploading);
                page.refresh();
                let end = put_file(&created.upload_url, &created.upload_headers, &file, item).await;
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
                    err.error_message
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

/// PUTs the file to storage, reporting progress into the item and keeping the request so the
/// Cancel button can abort it.
async fn put_file(
    url: &str,
    headers: &BTreeMap<String, String>,
    file: &web_sys::File,
    item: UploadItem,
) -> UploadEnd {
    browser::upload(
        url,
        headers,
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
