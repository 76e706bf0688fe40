//! The API key parts of the keys page: the table of keys with a two-step "Revoke", the form
//! that creates one, and the panel that shows a new key's secret this once.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::confirm::ConfirmAction;
use super::page::Page;
use crate::api::{create_api_key, revoke_api_key};
use crate::browser;
use crate::model::{ApiKeyInfo, CreatedApiKey, MAX_KEY_DAYS, NewApiKey};

fn when(at: DateTime<Utc>) -> impl IntoView {
    view! { <time datetime=at.to_rfc3339()>{at.format("%Y-%m-%d %H:%M UTC").to_string()}</time> }
}

/// A date, or the word for its absence.
fn when_or(at: Option<DateTime<Utc>>, none: &'static str) -> AnyView {
    match at {
        Some(at) => when(at).into_any(),
        None => none.into_any(),
    }
}

#[component]
pub fn KeyTable(keys: Vec<ApiKeyInfo>, page: Page) -> impl IntoView {
    view! {
        <table class="keys">
            <thead>
                <tr>
                    <th scope="col">"Label"</th>
                    <th scope="col">"Key id"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                {keys.into_iter().map(|key| view! { <KeyRow key page /> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn KeyRow(key: ApiKeyInfo, page: Page) -> impl IntoView {
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let key_id = StoredValue::new(key.key_id.clone());
    let label = key.label.clone();

    let revoke = move || {
        busy.set(true);
        spawn_local(async move {
            match revoke_api_key(key_id.get_value()).await {
                Ok(()) => page.info(format!("Revoked the key {}.", key_id.get_value())),
                Err(err) => page.error("Could not revoke the key", &err),
            }
            busy.set(false);
            confirming.set(false);
            page.refresh();
        });
    };

    view! {
        <tr data-key-id=key.key_id.clone()>
            <td class="key-label" data-label="Label">{label.clone()}</td>
            <td data-label="Key id"><code>{key.key_id.clone()}</code></td>
            <td data-label="Created">{when(key.created_at)}</td>
            <td data-label="Last used">{when_or(key.last_used_at, "never")}</td>
            <td data-label="Expires">{when_or(key.expires_at, "never")}</td>
            <td>
                <div class="actions">
                    <ConfirmAction
                        verb="Revoke"
                        doing="revoking"
                        what=label
                        confirming
                        busy
                        on_confirm=Callback::new(move |()| revoke())
                    />
                </div>
            </td>
        </tr>
    }
}

/// The create form. A created key lands in `created`, for `NewSecret` to show.
#[component]
pub fn NewKeyForm(page: Page, created: RwSignal<Option<CreatedApiKey>>) -> impl IntoView {
    let label = RwSignal::new(String::new());
    let days = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let days_text = days.get_untracked();
        let expires_in_days = match days_text.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    page.alert(format!(
                        "Expiry must be a whole number of days, 1 to {MAX_KEY_DAYS}."
                    ));
                    return;
                }
            },
        };
        let new = NewApiKey {
            label: label.get_untracked().trim().to_string(),
            expires_in_days,
        };
        if let Err(err) = new.validate() {
            page.alert(format!("Cannot create the key: {err}"));
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match create_api_key(new).await {
                Ok(key) => {
                    created.set(Some(key));
                    page.notice.set(None);
                    label.set(String::new());
                    days.set(String::new());
                }
                Err(err) => page.error("Could not create the key", &err),
            }
            busy.set(false);
            page.refresh();
        });
    };

    view! {
        <form class="new-key" method="post" on:submit=on_submit aria-label="Create an API key">
            <div class="field">
                <label for="new-key-label">"Label"</label>
                <input
                    id="new-key-label"
                    type="text"
                    required
                    placeholder="e.g. backup script"
                    bind:value=label
                />
            </div>
            <div class="field">
                <label for="new-key-days">"Expires in days (optional)"</label>
                <input
                    id="new-key-days"
                    type="number"
                    inputmode="numeric"
                    min="1"
                    max=MAX_KEY_DAYS.to_string()
                    bind:value=days
                />
            </div>
            <button type="submit" disabled=move || busy.get()>
                "Create key"
            </button>
        </form>
    }
}

/// A new key's secret, shown once with a Copy button.
#[component]
pub fn NewSecret(created: RwSignal<Option<CreatedApiKey>>) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    view! {
        {move || {
            created
                .get()
                .map(|key| {
                    let secret = StoredValue::new(key.secret.clone());
                    view! {
                        <section class="new-secret" aria-label="New API key secret">
                            <label for="new-key-secret">
                                {format!("Secret of the new key \u{201c}{}\u{201d}", key.key.label)}
                            </label>
                            <div class="secret-row">
                                <input
                                    id="new-key-secret"
                                    type="text"
                                    readonly
                                    spellcheck="false"
                                    autocomplete="off"
                                    value=key.secret.clone()
                                    on:focus=move |ev| {
                                        let input: web_sys::HtmlInputElement = event_target(&ev);
                                        input.select();
                                    }
                                />
                                <button
                                    type="button"
                                    aria-label="Copy the secret"
                                    on:click=move |_| {
                                        spawn_local(async move {
                                            copied.set(Some(browser::copy(&secret.get_value()).await));
                                        });
                                    }
                                >
                                    "Copy"
                                </button>
                            </div>
                            <p class="secret-note">
                                "Copy it now: it will not be shown again. Scripts send it as "
                                <code>"Authorization: Bearer <secret>"</code>"."
                            </p>
                            <p role="status">
                                {move || match copied.get() {
                                    Some(true) => "Copied.",
                                    Some(false) => "The browser did not allow copying; select the field and copy it.",
                                    None => "",
                                }}
                            </p>
                            <button
                                type="button"
                                class="secondary"
                                on:click=move |_| {
                                    copied.set(None);
                                    created.set(None);
                                }
                            >
                                "Done"
                            </button>
                        </section>
                    }
                })
        }}
    }
}
