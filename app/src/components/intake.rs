//! How files reach the upload panel besides "Choose files": a drop (files, or folders walked to
//! the bottom) and a paste anywhere on the page. What the browser hands over is read in
//! `upload::dropped`.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::page::Page;
use crate::upload::dropped::{Named, expand, pasted, take_dropped};

/// Uploads what was dropped: the entries are taken during the event, folders walked after.
pub(super) fn add_dropped(
    transfer: &web_sys::DataTransfer,
    page: Page,
    add: impl Fn(Vec<Named>) + 'static,
) {
    let dropped = take_dropped(transfer);
    spawn_local(async move {
        match expand(dropped).await {
            Ok(files) if files.is_empty() => page.alert("That drop held no files."),
            Ok(files) => add(files),
            Err(why) => page.alert(why),
        }
    });
}

/// Uploads the files of every paste on the page while the panel is shown.
pub(super) fn listen_for_paste(add: impl Fn(Vec<Named>) + Clone + 'static) {
    let handle = window_event_listener(leptos::ev::paste, move |ev| {
        let files = pasted(&ev);
        if !files.is_empty() {
            // Files, not text: keep the browser from also pasting a name into a text field.
            ev.prevent_default();
            add(files);
        }
    });
    on_cleanup(move || handle.remove());
}
