//! The upload panel: drop or choose files; each gets a row with a progress bar, speed and time
//! left, and the buttons its state allows. Small files go as one presigned PUT, big ones in
//! parts (the server decides); an unfinished upload of the same file is offered for resuming.
//! What the buttons start lives in `upload_flow`.

use std::rc::Rc;

use leptos::prelude::*;

use super::intake::{add_dropped, listen_for_paste};
use super::page::Page;
use super::upload_flow::{cancel, offer_or_start, pause, resume, start_over, start_upload};
use crate::model::human_size;
use crate::upload::dropped::Named;
use crate::upload::parts::PartRun;
use crate::upload::plan::{SpeedMeter, human_duration};

/// Where one file's upload stands.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum UploadStatus {
    Preparing,
    /// Computing the file's SHA-256 before a single PUT (progress in `sent`).
    Hashing,
    /// An unfinished upload of this file is remembered: resume it or start over.
    Offered,
    /// Listing the parts storage already holds, and checking them against the file.
    Checking,
    Uploading,
    Paused,
    Finishing,
    Done,
    Failed(String),
    Cancelled,
}

/// One file in the upload list. Signals are handles, so this is cheap to copy around.
#[derive(Clone, Copy)]
pub(super) struct UploadItem {
    key: u32,
    pub(super) name: StoredValue<String>,
    pub(super) sent: RwSignal<f64>,
    pub(super) total: RwSignal<f64>,
    pub(super) status: RwSignal<UploadStatus>,
    /// Bytes per second and seconds left, once measured.
    speed: RwSignal<Option<(f64, f64)>>,
    meter: StoredValue<SpeedMeter>,
    /// Whether this upload goes in parts (Pause and Resume apply).
    pub(super) multipart: RwSignal<bool>,
    /// The browser's File, the running single PUT and the running multipart upload, which
    /// never leave the browser thread.
    pub(super) file: StoredValue<Option<web_sys::File>, LocalStorage>,
    pub(super) request: StoredValue<Option<web_sys::XmlHttpRequest>, LocalStorage>,
    pub(super) run: StoredValue<Option<Rc<PartRun>>, LocalStorage>,
}

impl UploadItem {
    /// Records progress: the bar, and the speed and time left over the last seconds.
    pub(super) fn report(&self, sent: f64, now_ms: f64) {
        self.sent.set(sent);
        let remaining = self.total.get_untracked() - sent;
        let measured = self.meter.try_update_value(|meter| {
            meter.record(now_ms, sent);
            meter.bytes_per_second().zip(meter.seconds_left(remaining))
        });
        self.speed.set(measured.flatten());
    }

    pub(super) fn reset_speed(&self) {
        self.meter.update_value(SpeedMeter::reset);
        self.speed.set(None);
    }
}

#[component]
pub fn UploadPanel(page: Page, uploads_in_flight: RwSignal<u32>) -> impl IntoView {
    let items = RwSignal::new(Vec::<UploadItem>::new());
    let next_key = StoredValue::new(0u32);
    let dragging = RwSignal::new(false);

    let add_named = move |files: Vec<Named>| {
        for Named { file, name } in files {
            let key = next_key.get_value();
            next_key.set_value(key + 1);
            let item = UploadItem {
                key,
                name: StoredValue::new(name),
                sent: RwSignal::new(0.0),
                total: RwSignal::new(file.size()),
                status: RwSignal::new(UploadStatus::Preparing),
                speed: RwSignal::new(None),
                meter: StoredValue::new(SpeedMeter::default()),
                multipart: RwSignal::new(false),
                file: StoredValue::new_local(Some(file)),
                request: StoredValue::new_local(None),
                run: StoredValue::new_local(None),
            };
            items.update(|list| list.push(item));
            offer_or_start(item, page, uploads_in_flight);
        }
    };
    let add_files = move |files: Option<web_sys::FileList>| {
        let Some(files) = files else { return };
        add_named(
            (0..files.length())
                .filter_map(|index| files.get(index))
                .map(|file| Named {
                    name: file.name(),
                    file,
                })
                .collect(),
        );
    };
    // Files pasted anywhere on the page upload too (text pastes are left alone).
    listen_for_paste(add_named);

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
                if let Some(transfer) = ev.data_transfer() {
                    add_dropped(&transfer, page, add_named);
                }
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
    use UploadStatus::*;
    let name = item.name.get_value();
    let percent = move || {
        let total = item.total.get();
        if total <= 0.0 {
            100.0
        } else {
            (item.sent.get() / total * 100.0).clamp(0.0, 100.0)
        }
    };
    let amounts = move || {
        format!(
            "{} of {} ({:.0}%)",
            human_size(item.sent.get() as u64),
            human_size(item.total.get() as u64),
            percent()
        )
    };
    let status_text = move || match item.status.get() {
        Preparing => "Preparing…".to_string(),
        Hashing => format!("Hashing… {:.0}%", percent()),
        Offered => {
            "An unfinished upload of this file was found: resume it, or start over.".to_string()
        }
        Checking => "Checking the parts already uploaded…".to_string(),
        Uploading => match item.speed.get() {
            Some((speed, left)) => format!(
                "{}, {}/s, {} left",
                amounts(),
                human_size(speed as u64),
                human_duration(left)
            ),
            None => amounts(),
        },
        Paused => format!("Paused at {}", amounts()),
        Finishing => "Finishing…".to_string(),
        Done => format!("Uploaded {} (100%)", human_size(item.total.get() as u64)),
        Failed(why) => why,
        Cancelled => "Cancelled".to_string(),
    };
    let status = move || item.status.get();
    let parts = move || item.multipart.get();
    let failed = move || matches!(status(), Failed(_));
    let can_cancel = move || {
        matches!(status(), Preparing | Hashing | Uploading)
            || parts() && matches!(status(), Paused | Failed(_))
    };
    let can_pause = move || parts() && status() == Uploading;
    let can_resume =
        move || status() == Offered || parts() && matches!(status(), Paused | Failed(_));
    let can_retry = move || match status() {
        Cancelled => true,
        Failed(_) => !parts(),
        _ => false,
    };
    let cancel_label = format!("Cancel uploading {name}");
    let pause_label = format!("Pause uploading {name}");
    let resume_label = format!("Resume uploading {name}");
    let retry_label = format!("Retry uploading {name}");
    let over_label = format!("Start uploading {name} over");

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
            <span class="upload-actions">
                <Show when=can_pause>
                    <button
                        type="button"
                        class="secondary"
                        aria-label=pause_label.clone()
                        on:click=move |_| pause(item)
                    >
                        "Pause"
                    </button>
                </Show>
                <Show when=can_resume>
                    <button
                        type="button"
                        aria-label=resume_label.clone()
                        on:click=move |_| resume(item, page, uploads_in_flight)
                    >
                        "Resume"
                    </button>
                </Show>
                <Show when=move || status() == Offered>
                    <button
                        type="button"
                        class="secondary"
                        aria-label=over_label.clone()
                        on:click=move |_| start_over(item, page, uploads_in_flight)
                    >
                        "Start over"
                    </button>
                </Show>
                <Show when=can_cancel>
                    <button
                        type="button"
                        class="secondary"
                        aria-label=cancel_label.clone()
                        on:click=move |_| cancel(item, page)
                    >
                        "Cancel"
                    </button>
                </Show>
                <Show when=can_retry>
                    <button
                        type="button"
                        aria-label=retry_label.clone()
                        on:click=move |_| start_upload(item, page, uploads_in_flight)
                    >
                        "Retry"
                    </button>
                </Show>
            </span>
        </li>
    }
}
