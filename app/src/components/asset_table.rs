//! The asset list: one row per asset with its state, size, dates and the actions its state
//! allows (download, copy link, two-step delete).

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::confirm::ConfirmAction;
use super::integrity::VerifiedBadge;
use super::page::Page;
use super::preview::PreviewButton;
use super::selection::{RowSelectBox, SelectAllBox};
use super::when::RelativeTime;
use crate::api::{delete_asset, get_download_link};
use crate::browser;
use crate::model::{Action, Asset, AssetState, UrlLifetime, human_size, previewable};

/// What a row offers for an asset in `state`. The one place that decides it.
struct RowActions {
    downloadable: bool,
    deletable: bool,
}

impl RowActions {
    fn for_state(state: AssetState) -> Self {
        Self {
            downloadable: state.allows(Action::Download),
            deletable: state.changes_with(Action::SoftDelete),
        }
    }
}

#[component]
pub fn AssetTable(rows: Signal<Vec<Asset>>, page: Page) -> impl IntoView {
    // Only an admin's list holds more than one owner's assets: then say whose each is.
    let show_owner =
        Signal::derive(move || rows.with(|items| items.iter().any(|a| a.owner != items[0].owner)));
    let selectable = Signal::derive(move || {
        rows.with(|items| {
            items
                .iter()
                .filter(|a| RowActions::for_state(a.state).deletable)
                .map(|a| (a.asset_id, display_name(a)))
                .collect()
        })
    });
    view! {
        <table class="assets">
            <thead>
                <tr>
                    <th scope="col" class="select">
                        <SelectAllBox rows=selectable />
                    </th>
                    <th scope="col">"File"</th>
                    <Show when=move || show_owner.get()>
                        <th scope="col">"Owner"</th>
                    </Show>
                    <th scope="col">"State"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Type"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Updated"</th>
                    <th scope="col">"Actions"</th>
                </tr>
            </thead>
            <tbody>
                // Keyed by id and last change: a pushed change renders its own row again, and
                // every other row (its focus, an open confirmation) stays as it is.
                <For
                    each=move || rows.get()
                    key=|asset| (asset.asset_id, asset.updated_at, asset.state)
                    let:asset
                >
                    <AssetRow asset page show_owner />
                </For>
            </tbody>
        </table>
    }
}

/// What a row calls its asset: the filename, else the id.
fn display_name(asset: &Asset) -> String {
    asset
        .filename
        .clone()
        .unwrap_or_else(|| asset.asset_id.to_string())
}

#[component]
fn AssetRow(asset: Asset, page: Page, show_owner: Signal<bool>) -> impl IntoView {
    let id = asset.asset_id;
    let name = display_name(&asset);
    let state = asset.state.as_str();
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let RowActions {
        downloadable,
        deletable,
    } = RowActions::for_state(asset.state);
    // Stored so the `Show` branches, which may render many times, can read them.
    let download_label = StoredValue::new(format!("Download {name}"));
    let copy_label = StoredValue::new(format!("Copy link for {name}"));
    let owner = StoredValue::new(asset.owner.clone());
    let preview = (downloadable
        && asset
            .content_type
            .as_deref()
            .and_then(previewable)
            .is_some())
    .then(|| view! { <PreviewButton id name=name.clone() page /> });

    let download = move |copy_only: bool| {
        busy.set(true);
        spawn_local(async move {
            match get_download_link(
                id,
                UrlLifetime::from_secs(page.link_ttl.get_untracked()).ok(),
            )
            .await
            {
                Ok(link) if copy_only => {
                    let expires = link.expires_at.format("%Y-%m-%d %H:%M:%S UTC");
                    if browser::copy(&link.download_url).await {
                        page.info(format!("Link copied; it expires {expires}."));
                    } else {
                        page.alert("The browser did not allow copying.");
                    }
                }
                Ok(link) => browser::download(&link.download_url),
                Err(err) => page.error("Could not get a download link", &err),
            }
            busy.set(false);
        });
    };
    let delete = move || {
        busy.set(true);
        spawn_local(async move {
            match delete_asset(id).await {
                Ok(()) => {
                    page.info("Asset deleted.");
                    page.refresh();
                }
                Err(err) => page.error("Could not delete", &err),
            }
            busy.set(false);
            confirming.set(false);
        });
    };

    view! {
        <tr data-asset-id=id.to_string()>
            <td class="select">
                {deletable.then(|| view! { <RowSelectBox id name=name.clone() /> })}
            </td>
            <td class="file">{name.clone()}</td>
            <Show when=move || show_owner.get()>
                <td class="owner" data-label="Owner">{owner.get_value()}</td>
            </Show>
            <td>
                <span class=format!("badge badge-{}", state.to_lowercase())>{state}</span>
                " "
                <VerifiedBadge checksum=asset.checksum.clone() state=asset.state />
            </td>
            // Labelled only when there is a value: on a phone, empty cells then take no room.
            <td data-label=asset.size.map(|_| "Size")>{asset.size.map(human_size).unwrap_or_default()}</td>
            <td data-label=asset.content_type.as_ref().map(|_| "Type")>
                {asset.content_type.clone().unwrap_or_default()}
            </td>
            <td data-label="Created">
                <RelativeTime at=asset.created_at />
            </td>
            <td data-label="Updated">
                <RelativeTime at=asset.updated_at />
            </td>
            <td>
                <div class="actions">
                {preview}
                <Show when=move || downloadable>
                    <button
                        type="button"
                        aria-label=move || download_label.get_value()
                        disabled=move || busy.get()
                        on:click=move |_| download(false)
                    >
                        "Download"
                    </button>
                    <button
                        type="button"
                        class="secondary"
                        aria-label=move || copy_label.get_value()
                        disabled=move || busy.get()
                        on:click=move |_| download(true)
                    >
                        "Copy link"
                    </button>
                </Show>
                <Show when=move || deletable>
                    <ConfirmAction
                        verb="Delete"
                        doing="deleting"
                        what=name.clone()
                        confirming
                        busy
                        on_confirm=Callback::new(move |()| delete())
                    />
                </Show>
                </div>
            </td>
        </tr>
    }
}
