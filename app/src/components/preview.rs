//! "Preview" for an uploaded image, video, audio or PDF (the model's `previewable` list): asks
//! for a 5-minute inline link and shows it in a modal `<dialog>`. Focus moves into the dialog,
//! Escape or "Close" closes it, and focus returns to the button that opened it. The media stop
//! when it closes (the element is removed).

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::page::Page;
use crate::api::get_preview_link;
use crate::model::{AssetId, PreviewKind, PreviewLink};

#[component]
pub fn PreviewButton(id: AssetId, name: String, page: Page) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = NodeRef::<html::Button>::new();
    let closer = NodeRef::<html::Button>::new();
    let link = RwSignal::new(None::<PreviewLink>);
    let busy = RwSignal::new(false);
    let title_id = format!("preview-title-{id}");
    let labelled_by = title_id.clone();
    let alt = StoredValue::new(format!("Preview of {name}"));

    let open = move |_| {
        busy.set(true);
        spawn_local(async move {
            match get_preview_link(id).await {
                Ok(found) => {
                    link.set(Some(found));
                    if let Some(dialog) = dialog.get_untracked() {
                        let _ = dialog.show_modal();
                    }
                    if let Some(closer) = closer.get_untracked() {
                        let _ = closer.focus();
                    }
                }
                Err(err) => page.error("Could not preview", &err),
            }
            busy.set(false);
        });
    };
    let close = move |_| {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    // Escape, "Close" and a closing from code all end here.
    let closed = move |_| {
        link.set(None);
        if let Some(opener) = opener.get_untracked() {
            let _ = opener.focus();
        }
    };

    view! {
        <button
            type="button"
            class="secondary"
            node_ref=opener
            aria-haspopup="dialog"
            aria-label=format!("Preview {name}")
            disabled=move || busy.get()
            on:click=open
        >
            "Preview"
        </button>
        <dialog class="preview" node_ref=dialog aria-labelledby=labelled_by on:close=closed>
            <div class="preview-head">
                <h2 id=title_id>{name.clone()}</h2>
                <button type="button" class="secondary" node_ref=closer on:click=close>
                    "Close"
                </button>
            </div>
            {move || {
                link.get()
                    .map(|link| {
                        let url = link.preview_url;
                        let alt = alt.get_value();
                        match link.kind {
                            PreviewKind::Image => view! { <img src=url alt=alt /> }.into_any(),
                            PreviewKind::Video => {
                                view! { <video src=url controls aria-label=alt></video> }
                                    .into_any()
                            }
                            PreviewKind::Audio => {
                                view! { <audio src=url controls aria-label=alt></audio> }
                                    .into_any()
                            }
                            PreviewKind::Pdf => view! { <iframe src=url title=alt></iframe> }.into_any(),
                        }
                    })
            }}
        </dialog>
    }
}
