//! What the dashboard's parts share: a handle to ask for a refresh, say something to the person
//! at the screen, and read the chosen download link lifetime.

use leptos::prelude::*;

use crate::model::ErrorBody;

/// A message for the person at the screen.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    Info(String),
    Error(String),
}

/// Shared by the page's parts. Signals are handles, so this is cheap to copy into closures.
#[derive(Clone, Copy)]
pub struct Page {
    pub refreshes: RwSignal<u32>,
    pub notice: RwSignal<Option<Notice>>,
    pub link_ttl: RwSignal<u64>,
}

impl Page {
    pub fn new(link_ttl: u64) -> Self {
        Self {
            refreshes: RwSignal::new(0),
            notice: RwSignal::new(None),
            link_ttl: RwSignal::new(link_ttl),
        }
    }
    /// Asks the page to load its list again.
    pub fn refresh(&self) {
        self.refreshes.update(|n| *n += 1);
    }
    pub fn info(&self, text: impl Into<String>) {
        self.notice.set(Some(Notice::Info(text.into())));
    }
    pub fn alert(&self, text: impl Into<String>) {
        self.notice.set(Some(Notice::Error(text.into())));
    }
    /// Shows a failed server call: what was being done, and the server's words.
    pub fn error(&self, context: &str, err: &ErrorBody) {
        self.alert(format!("{context}: {}", error_text(err)));
    }
}

/// The words of a server error. The one place that reads the error's fields, so a change of
/// the error type touches only this line.
pub fn error_text(err: &ErrorBody) -> &str {
    &err.error_message
}

/// The latest notice; errors are announced at once (`role="alert"`), the rest politely.
#[component]
pub fn NoticeArea(page: Page) -> impl IntoView {
    view! {
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
    }
}
