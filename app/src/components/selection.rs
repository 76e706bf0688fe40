//! Picking several rows of the asset table and deleting them together: a checkbox per row that
//! can be deleted, one in the header for every such row shown, and a bar "N selected — Delete
//! selected" that asks once for all of them. Deleting goes through one server function
//! (`delete_assets`) that deletes each as the row's own Delete does and reports which failed.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::confirm::ConfirmAction;
use super::page::{Page, error_text};
use crate::api::delete_assets;
use crate::model::{AssetId, MAX_BULK_DELETE};

/// The rows picked, with their names (for messages). Provided by the dashboard; the asset
/// table shows checkboxes only where it finds one.
#[derive(Clone, Copy)]
pub struct Selection {
    picked: RwSignal<Vec<(AssetId, String)>>,
}

impl Selection {
    pub fn provide() -> Self {
        let selection = Self {
            picked: RwSignal::new(Vec::new()),
        };
        provide_context(selection);
        selection
    }

    fn has(&self, id: AssetId) -> bool {
        self.picked
            .with(|picked| picked.iter().any(|(p, _)| *p == id))
    }

    fn set(&self, id: AssetId, name: &str, on: bool) {
        self.picked.update(|picked| {
            picked.retain(|(p, _)| *p != id);
            if on {
                picked.push((id, name.to_string()));
            }
        });
    }
}

/// The header's checkbox: picks (or unpicks) every deletable row shown. Rows no longer shown
/// (after a refresh or a new search) leave the selection.
#[component]
pub fn SelectAllBox(rows: Signal<Vec<(AssetId, String)>>) -> impl IntoView {
    let Some(selection) = use_context::<Selection>() else {
        return ().into_any();
    };
    Effect::new(move |_| {
        let shown = rows.get();
        selection
            .picked
            .update(|picked| picked.retain(|(id, _)| shown.iter().any(|(s, _)| s == id)));
    });
    let all = move || {
        rows.with(|shown| !shown.is_empty() && shown.iter().all(|(id, _)| selection.has(*id)))
    };
    view! {
        <input
            type="checkbox"
            aria-label="Select all shown"
            disabled=move || rows.with(Vec::is_empty)
            prop:checked=all
            on:change=move |ev| {
                let on = event_target_checked(&ev);
                selection
                    .picked
                    .set(if on { rows.get_untracked() } else { Vec::new() });
            }
        />
    }
    .into_any()
}

/// A row's checkbox, labelled with the row's name.
#[component]
pub fn RowSelectBox(id: AssetId, name: String) -> impl IntoView {
    let Some(selection) = use_context::<Selection>() else {
        return ().into_any();
    };
    let label = format!("Select {name}");
    view! {
        <input
            type="checkbox"
            aria-label=label
            prop:checked=move || selection.has(id)
            on:change=move |ev| selection.set(id, &name, event_target_checked(&ev))
        />
    }
    .into_any()
}

/// "N selected — Delete selected", then one confirmation for all.
#[component]
pub fn SelectionBar(page: Page) -> impl IntoView {
    let Some(selection) = use_context::<Selection>() else {
        return ().into_any();
    };
    let confirming = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let count = move || selection.picked.with(Vec::len);
    let delete = move || {
        let picked = selection.picked.get_untracked();
        if picked.len() > MAX_BULK_DELETE {
            page.alert(format!(
                "Select at most {MAX_BULK_DELETE} assets to delete at once."
            ));
            confirming.set(false);
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let ids = picked.iter().map(|(id, _)| *id).collect();
            match delete_assets(ids).await {
                Ok(failed) if failed.is_empty() => {
                    page.info(match picked.len() {
                        1 => "1 asset deleted.".to_string(),
                        n => format!("{n} assets deleted."),
                    });
                    selection.picked.set(Vec::new());
                }
                Ok(failed) => {
                    let name = |id: AssetId| {
                        picked
                            .iter()
                            .find(|(p, _)| *p == id)
                            .map_or_else(|| id.to_string(), |(_, n)| n.clone())
                    };
                    let reasons: Vec<String> = failed
                        .iter()
                        .map(|f| format!("{}: {}", name(f.id), error_text(&f.error)))
                        .collect();
                    page.alert(format!(
                        "{} of {} deleted; not deleted: {}",
                        picked.len() - failed.len(),
                        picked.len(),
                        reasons.join("; ")
                    ));
                    // The ones that failed stay selected, to try again.
                    selection
                        .picked
                        .update(|p| p.retain(|(id, _)| failed.iter().any(|f| f.id == *id)));
                }
                Err(err) => page.error("Could not delete the selected assets", &err),
            }
            busy.set(false);
            confirming.set(false);
            page.refresh();
        });
    };
    view! {
        <Show when=move || { count() > 0 }>
            <div class="selection-bar" role="region" aria-label="Selected assets">
                <span class="selection-count">{move || format!("{} selected", count())}</span>
                " — "
                <ConfirmAction
                    verb="Delete"
                    doing="deleting"
                    what=Signal::derive(move || match count() {
                        1 => "1 selected asset".to_string(),
                        n => format!("{n} selected assets"),
                    })
                    confirming
                    busy
                    on_confirm=Callback::new(move |()| delete())
                />
                <button
                    type="button"
                    class="secondary"
                    aria-label="Clear the selection"
                    on:click=move |_| {
                        confirming.set(false);
                        selection.picked.set(Vec::new());
                    }
                >
                    "Clear"
                </button>
            </div>
        </Show>
    }
    .into_any()
}
