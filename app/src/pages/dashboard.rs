//! The dashboard: upload with progress, browse, download, delete. Rendered on the server (the
//! list works without JavaScript) and hydrated in the browser, where the buttons come alive.
//! Every action goes through a server function to the same service as the REST API; file
//! bytes go from the browser straight to object storage. Changes are pushed (`live`): no polling.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::listing::{Filter, Listing, Reach, append_next_page, load_first};
use super::search::SearchForm;
use crate::components::asset_table::AssetTable;
use crate::components::page::{NoticeArea, Page, error_text};
use crate::components::selection::{Selection, SelectionBar};
use crate::components::uploads::UploadPanel;
use crate::live::live_updates;
use crate::model::ErrorBody;
use leptos_router::hooks::use_query_map;

/// Download link lifetimes offered (seconds, label).
const LINK_LIFETIMES: [(u64, &str); 4] = [
    (60, "1 minute"),
    (3600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "7 days"),
];
/// The lifetime selected when the page opens.
const DEFAULT_LINK_TTL: u64 = 3600;

#[component]
pub fn Dashboard() -> impl IntoView {
    // Flipped by an effect, which only runs in the browser: tests wait for "true" before clicking.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let page = Page::new(DEFAULT_LINK_TTL);
    Selection::provide();
    crate::components::when::provide_clock();
    // The search is the URL's query (`pages::search`): bookmarkable, kept on reload.
    let query = use_query_map();
    let filter = Memo::new(move |_| Filter::from_query(&query.get()));
    // Where the rows loaded with "Load more" end: a refresh reads down to it (see `listing`).
    // A new filter starts again from the first page.
    let reach = StoredValue::new(None::<Reach>);
    let reach_filter = StoredValue::new(None::<Filter>);
    let loading_more = RwSignal::new(false);
    let uploads_in_flight = RwSignal::new(0u32);

    let listing = Resource::new(
        move || (page.refreshes.get(), filter.get()),
        move |(_, filter)| {
            if reach_filter.get_value().as_ref() != Some(&filter) {
                reach.set_value(None);
                reach_filter.set_value(Some(filter.clone()));
            }
            load_first(filter, move || reach.try_get_value().flatten())
        },
    );

    let load_more = move || {
        loading_more.set(true);
        spawn_local(async move {
            if let Err(err) = append_next_page(listing, reach).await {
                page.error("Could not load more assets", &err);
            }
            loading_more.set(false);
        });
    };

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
                {live_updates(listing, page)}
            </header>
            <UploadPanel page uploads_in_flight />
            <NoticeArea page />
            <div class="filters">
                <SearchForm />
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
                                    <option value=secs.to_string() selected=secs == DEFAULT_LINK_TTL>
                                        {label}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
            </div>
            <SelectionBar page />
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {
                    // What shows is rebuilt only when its kind changes (no rows, rows, an
                    // error); the rows themselves are keyed (`AssetTable`), so a pushed change
                    // to one row leaves the others, and the focus in them, alone.
                    let shape = Memo::new(move |_| listing.with(|l| l.as_ref().map(Shape::of)));
                    let rows = Signal::derive(move || {
                        listing.with(|l| match l {
                            Some(Ok(list)) => list.items.clone(),
                            _ => Vec::new(),
                        })
                    });
                    let more = move || {
                        listing.with(|l| matches!(l, Some(Ok(list)) if list.next_cursor.is_some()))
                    };
                    move || {
                        shape
                            .get()
                            .map(|shape| match shape {
                                Shape::NoMatch => {
                                    view! { <p class="empty">"No assets match this search."</p> }
                                        .into_any()
                                }
                                Shape::Empty => {
                                    view! { <p class="empty">"No assets yet."</p> }.into_any()
                                }
                                Shape::Rows => {
                                    view! {
                                        <AssetTable rows page />
                                        <Show when=more>
                                            <button
                                                type="button"
                                                class="secondary load-more"
                                                disabled=move || loading_more.get()
                                                on:click=move |_| load_more()
                                            >
                                                "Load more"
                                            </button>
                                        </Show>
                                    }
                                        .into_any()
                                }
                                Shape::Failed(why) => {
                                    view! {
                                        <p class="error" role="alert">
                                            {format!("Could not load assets: {why}")}
                                        </p>
                                    }
                                        .into_any()
                                }
                            })
                    }
                }
            </Transition>
        </section>
    }
}

/// What the list area shows, without the rows themselves.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    NoMatch,
    Empty,
    Rows,
    Failed(String),
}

impl Shape {
    fn of(result: &Result<Listing, ErrorBody>) -> Self {
        match result {
            Ok(list) if list.items.is_empty() && list.filter.narrows() => Self::NoMatch,
            Ok(list) if list.items.is_empty() => Self::Empty,
            Ok(_) => Self::Rows,
            Err(err) => Self::Failed(error_text(err).to_string()),
        }
    }
}
