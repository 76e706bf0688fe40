//! The dashboard: the asset list, rendered on the server and hydrated in the browser.

use leptos::prelude::*;

use crate::api::list_assets;
use crate::model::{Asset, ListQuery, human_size};

#[component]
pub fn Dashboard() -> impl IntoView {
    // Flipped by an effect, which only runs in the browser: tests wait for "true" before clicking.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let refreshes = RwSignal::new(0u32);
    let assets = Resource::new(
        move || refreshes.get(),
        |_| list_assets(ListQuery::default()),
    );

    view! {
        <section class="dashboard" data-hydrated=move || hydrated.get().to_string()>
            <header class="toolbar">
                <h1>"Assets"</h1>
                <button
                    type="button"
                    class="refresh"
                    aria-label="Refresh the asset list"
                    on:click=move |_| refreshes.update(|n| *n += 1)
                >
                    "Refresh"
                </button>
            </header>
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || {
                    assets
                        .get()
                        .map(|page| match page {
                            Ok(page) if page.items.is_empty() => {
                                view! { <p class="empty">"No assets yet."</p> }.into_any()
                            }
                            Ok(page) => view! { <AssetTable items=page.items /> }.into_any(),
                            Err(err) => {
                                view! {
                                    <p class="error" role="alert">
                                        {format!("Could not load assets: {err}")}
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
fn AssetTable(items: Vec<Asset>) -> impl IntoView {
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
                </tr>
            </thead>
            <tbody>
                {items
                    .into_iter()
                    .map(|asset| {
                        let state = asset.state.as_str();
                        view! {
                            <tr data-asset-id=asset.asset_id.to_string()>
                                <td class="file">
                                    {asset.filename.clone().unwrap_or_else(|| asset.asset_id.to_string())}
                                </td>
                                <td>
                                    <span class=format!("badge badge-{}", state.to_lowercase())>{state}</span>
                                </td>
                                <td>{asset.size.map(human_size).unwrap_or_default()}</td>
                                <td>{asset.content_type.clone().unwrap_or_default()}</td>
                                <td>
                                    <time datetime=asset.created_at.to_rfc3339()>
                                        {asset.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}
                                    </time>
                                </td>
                                <td>
                                    <time datetime=asset.updated_at.to_rfc3339()>
                                        {asset.updated_at.format("%Y-%m-%d %H:%M:%S").to_string()}
                                    </time>
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
