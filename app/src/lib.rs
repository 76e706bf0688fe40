//! The shared crate: the domain model (`model`), the server functions and their port (`api`),
//! and the dashboard (`pages`). Compiled for the server (`ssr`) and for the browser (`hydrate`).

// The dashboard's view types nest deeply; release builds (no `erase_components`) need room.
#![recursion_limit = "256"]

pub mod api;
mod browser;
pub mod components;
mod live;
pub mod model;
pub mod pages;
mod upload;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/assets.css" />
        <Title text="Assets" />
        <Router>
            <Routes fallback=|| {
                view! {
                    <main>
                        <p class="empty">"Page not found."</p>
                    </main>
                }
                    .into_view()
            }>
                // Async: the server waits for the asset list, so the page is complete HTML
                // and browsing works without JavaScript.
                <Route path=StaticSegment("") view=SignedInDashboard ssr=SsrMode::Async />
                <Route path=StaticSegment("keys") view=pages::keys::KeysPage ssr=SsrMode::Async />
                <Route path=StaticSegment("sign-in") view=pages::sign_in::SignInPage />
            </Routes>
        </Router>
    }
}

/// The dashboard under the signed-in header.
#[component]
fn SignedInDashboard() -> impl IntoView {
    view! {
        <components::header::SiteHeader />
        <main>
            <pages::dashboard::Dashboard />
        </main>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
