//! A two-step action, for what cannot be undone: the first click asks, "Confirm …" does it,
//! "Keep" backs out. Labels name what it acts on, for screen readers.

use leptos::prelude::*;

#[component]
pub fn ConfirmAction(
    /// The action's word on its button: "Delete", "Revoke".
    verb: &'static str,
    /// The same as a gerund, for the confirmation's label: "deleting", "revoking".
    doing: &'static str,
    /// What it acts on: a file name, a key label.
    what: String,
    confirming: RwSignal<bool>,
    busy: RwSignal<bool>,
    on_confirm: Callback<()>,
) -> impl IntoView {
    // Stored so the `Show` branches, which may render many times, can read them.
    let ask_label = StoredValue::new(format!("{verb} {what}"));
    let confirm_label = StoredValue::new(format!("Confirm {doing} {what}"));
    let keep_label = StoredValue::new(format!("Keep {what}"));
    let confirm_text = format!("Confirm {}", verb.to_lowercase());
    view! {
        <Show
            when=move || confirming.get()
            fallback=move || {
                view! {
                    <button
                        type="button"
                        class="danger"
                        aria-label=move || ask_label.get_value()
                        on:click=move |_| confirming.set(true)
                    >
                        {verb}
                    </button>
                }
            }
        >
            <button
                type="button"
                class="danger"
                aria-label=move || confirm_label.get_value()
                disabled=move || busy.get()
                on:click=move |_| on_confirm.run(())
            >
                {confirm_text.clone()}
            </button>
            <button
                type="button"
                class="secondary"
                aria-label=move || keep_label.get_value()
                on:click=move |_| confirming.set(false)
            >
                "Keep"
            </button>
        </Show>
    }
}
