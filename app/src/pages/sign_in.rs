//! The sign-in page: user name and password, through the `sign_in` server function, which sets
//! the session cookie. On success the browser loads the dashboard as a new page, so the server
//! renders it for the signed-in user.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::api::sign_in;
use crate::components::header::full_navigation;
use crate::components::page::error_text;
use crate::model::{ErrorBody, ErrorCode, SignInForm};

/// What to tell the person when signing in failed.
fn refusal_text(err: &ErrorBody) -> String {
    match err.code {
        ErrorCode::Unauthorized => "Wrong user name or password.".to_string(),
        // The server's words say how long to wait.
        ErrorCode::RateLimited => error_text(err).to_string(),
        _ => format!("Could not sign in: {}", error_text(err)),
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    // Flipped by an effect, which only runs in the browser: until then the form cannot be sent
    // (without the wasm it would post the password nowhere useful).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let failure = RwSignal::new(None::<String>);

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        let form = SignInForm {
            name: name.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match sign_in(form).await {
                Ok(_) => full_navigation("/"),
                Err(err) => {
                    failure.set(Some(refusal_text(&err)));
                    password.set(String::new());
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <Title text="Sign in · Assets" />
        <main class="sign-in-main">
            <section class="sign-in" data-hydrated=move || hydrated.get().to_string()>
                <h1>"Sign in"</h1>
                <form method="post" on:submit=on_submit>
                    <label for="sign-in-name">"User name"</label>
                    <input
                        id="sign-in-name"
                        name="username"
                        type="text"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck="false"
                        required
                        bind:value=name
                    />
                    <label for="sign-in-password">"Password"</label>
                    <input
                        id="sign-in-password"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        bind:value=password
                    />
                    <div class="sign-in-alert" role="alert">
                        {move || failure.get().map(|text| view! { <p class="error">{text}</p> })}
                    </div>
                    <button type="submit" disabled=move || busy.get() || !hydrated.get()>
                        {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </form>
            </section>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_went_wrong() {
        let wrong = ErrorBody::new(ErrorCode::Unauthorized, "unauthorized");
        assert_eq!(refusal_text(&wrong), "Wrong user name or password.");
        let limited = ErrorBody::new(ErrorCode::RateLimited, "Too many attempts; wait 30 s.");
        assert_eq!(refusal_text(&limited), "Too many attempts; wait 30 s.");
        let down = ErrorBody::new(ErrorCode::Unavailable, "backend down");
        assert_eq!(refusal_text(&down), "Could not sign in: backend down");
    }
}
