//! A two-step action, for what cannot be undone: the first click asks, "Confirm …" does it,
//! "Keep" backs out. Labels name what it acts on, for screen readers. The button pressed is
//! replaced by the next step's, so focus follows: onto "Confirm …" when asked, back onto the
//! first button after "Keep".

use leptos::html;
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
    let ask_button = NodeRef::<html::Button>::new();
    let confirm_button = NodeRef::<html::Button>::new();
    // After the swap has rendered (the next frame), focus the button that took the place of
    // the one pressed; keyboard users keep their place.
    let focus_after_swap = move |target: NodeRef<html::Button>| {
        request_animation_frame(move || {
            if let Some(button) = target.get_untracked() {
                let _ = button.focus();
            }
        })
    };
    view! {
        <Show
            when=move || confirming.get()
            fallback=move || {
                view! {
                    <button
                        type="button"
                        class="danger"
                        node_ref=ask_button
                        aria-label=move || ask_label.get_value()
                        on:click=move |_| {
                            confirming.set(true);
                            focus_after_swap(confirm_button);
                        }
                    >
                        {verb}
                    </button>
                }
            }
        >
            <button
                type="button"
                class="danger"
                node_ref=confirm_button
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
                on:click=move |_| {
                    confirming.set(false);
                    focus_after_swap(ask_button);
                }
            >
                "Keep"
            </button>
        </Show>
    }
}
