//! The API keys page: the signed-in user's keys, a form to create one (its secret is shown
//! once), and "Revoke" per key. The list loads again after each change.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::list_api_keys;
use crate::components::api_keys::{KeyTable, NewKeyForm, NewSecret};
use crate::components::header::SiteHeader;
use crate::components::page::{NoticeArea, Page, error_text};
use crate::model::CreatedApiKey;

#[component]
pub fn KeysPage() -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    // The link lifetime is not used here; the page handle brings refreshes and notices.
    let page = Page::new(0);
    let created = RwSignal::new(None::<CreatedApiKey>);
    let keys = Resource::new(move || page.refreshes.get(), |_| list_api_keys());

    view! {
        <Title text="API keys · Assets" />
        <SiteHeader />
        <main>
            <section class="keys-page" data-hydrated=move || hydrated.get().to_string()>
                <header class="toolbar">
                    <h1>"API keys"</h1>
                </header>
                <p class="hint">
                    "Scripts use an API key to call the REST API as you: "
                    <code>"curl -H 'Authorization: Bearer <secret>' …/assets"</code>
                </p>
                <NewKeyForm page created />
                <NewSecret created />
                <NoticeArea page />
                <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                    {move || {
                        keys.get()
                            .map(|result| match result {
                                Ok(list) if list.is_empty() => {
                                    view! { <p class="empty">"No API keys yet."</p> }.into_any()
                                }
                                Ok(list) => view! { <KeyTable keys=list page /> }.into_any(),
                                Err(err) => {
                                    view! {
                                        <p class="error" role="alert">
                                            {format!("Could not load the keys: {}", error_text(&err))}
                                        </p>
                                    }
                                        .into_any()
                                }
                            })
                    }}
                </Transition>
            </section>
        </main>
    }
}
