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
    /// What it acts on: a file name, a key label, "3 selected assets".
    #[prop(into)]
    what: Signal<String>,
    confirming: RwSignal<bool>,
    busy: RwSignal<bool>,
    on_confirm: Callback<()>,
) -> impl IntoView {
    let ask_label = move || format!("{verb} {}", what.get());
    let confirm_label = move || format!("Confirm {doing} {}", what.get());
    let keep_label = move || format!("Keep {}", what.get());
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
                        aria-label=ask_label
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
                aria-label=confirm_label
                disabled=move || busy.get()
                on:click=move |_| on_confirm.run(())
            >
                {confirm_text.clone()}
            </button>
            <button
                type="button"
                class="secondary"
                aria-label=keep_label
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
