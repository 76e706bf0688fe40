//! The header of every signed-in page: who is signed in, the page links, and "Sign out". Also
//! the one helper for a full page load (after signing in or out the server must render again,
//! with or without the session cookie).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use super::page::error_text;
use crate::api::{current_user, sign_out};

/// Loads `path` as a new page (not a client-side route change), so the server renders it with
/// the browser's current cookies. Browser only: called from event handlers.
pub(crate) fn full_navigation(path: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    let signing_out = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);

    let on_sign_out = move |_| {
        signing_out.set(true);
        failure.set(None);
        spawn_local(async move {
            match sign_out().await {
                Ok(()) => full_navigation("/sign-in"),
                Err(err) => {
                    failure.set(Some(format!("Could not sign out: {}", error_text(&err))));
                    signing_out.set(false);
                }
            }
        });
    };

    view! {
        <header class="site-header">
            <nav aria-label="Main">
                <A href="/" exact=true>"Assets"</A>
                <A href="/keys">"API keys"</A>
            </nav>
            <div class="who">
                <Suspense fallback=|| ()>
                    {move || {
                        user.get()
                            .map(|found| match found {
                                Ok(Some(principal)) => {
                                    view! {
                                        <span class="user-name" data-user=principal.user.clone()>
                                            {principal.user.clone()}
                                        </span>
                                        <Show when=move || principal.admin>
                                            <span class="badge badge-admin">"admin"</span>
                                        </Show>
                                    }
                                        .into_any()
                                }
                                Ok(None) => view! { <a href="/sign-in">"Sign in"</a> }.into_any(),
                                Err(_) => ().into_any(),
                            })
                    }}
                </Suspense>
                <button
                    type="button"
                    class="secondary"
                    disabled=move || signing_out.get()
                    on:click=on_sign_out
                >
                    "Sign out"
                </button>
            </div>
            {move || failure.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
        </header>
    }
}
