//! The dashboard's search form: filename prefix, type, state, sort and "show deleted", kept in
//! the URL (`/?q=rep&type=image/*&sort=largest`) so a search can be bookmarked and survives a
//! reload. It is a plain `<form method="get">`: without JavaScript, submitting loads the page
//! the server renders for that query. With JavaScript, a changed control updates the URL (typing:
//! after a pause) and the list reloads in place.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::params::ParamsMap;

use super::listing::Filter;
use crate::model::{AssetState, MAX_QUERY_CHARS, SortOrder};

/// Type choices offered (the `type` parameter, label). A URL may carry any other valid type;
/// it is then offered too.
const TYPE_CHOICES: [(&str, &str); 8] = [
    ("", "All types"),
    ("image/*", "Images"),
    ("video/*", "Video"),
    ("audio/*", "Audio"),
    ("application/pdf", "PDF"),
    ("text/*", "Text"),
    ("application/*", "Applications"),
    ("font/*", "Fonts"),
];

/// How long typing pauses before the search runs.
const TYPING_PAUSE_MS: u64 = 250;

impl Filter {
    /// From the page's URL query; unknown values of `state` and `sort` are ignored (the form
    /// never sends them), `q` and `type` are passed on for the server to judge.
    pub(crate) fn from_query(query: &ParamsMap) -> Self {
        Self::from_lookup(|name| query.get(name))
    }

    /// From the query's (decoded) values by name.
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| get(name).unwrap_or_default();
        Self {
            state: get("state").and_then(|s| s.parse().ok()),
            include_deleted: matches!(get("include_deleted").as_deref(), Some("true" | "on")),
            q: text("q").chars().take(MAX_QUERY_CHARS).collect(),
            kind: text("type"),
            sort: get("sort").and_then(|s| s.parse().ok()).unwrap_or_default(),
        }
    }

    /// The URL query for this filter (empty for the default), as the form would submit it.
    pub(crate) fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if !self.kind.is_empty() {
            pairs.push(("type", self.kind.clone()));
        }
        if let Some(state) = self.state {
            pairs.push(("state", state.as_str().to_string()));
        }
        if self.sort != SortOrder::Newest {
            pairs.push(("sort", self.sort.as_str().to_string()));
        }
        if self.include_deleted {
            pairs.push(("include_deleted", "true".to_string()));
        }
        if pairs.is_empty() {
            return String::new();
        }
        let joined: Vec<String> = pairs
            .into_iter()
            .map(|(name, value)| format!("{name}={}", encode(&value)))
            .collect();
        format!("?{}", joined.join("&"))
    }

    /// Whether the person narrowed the list (then an empty list "matches nothing").
    pub(crate) fn narrows(&self) -> bool {
        !self.q.is_empty() || !self.kind.is_empty() || self.state.is_some()
    }
}

/// Percent-encodes a query value as a browser's form does (all but RFC 3986's unreserved
/// characters and `*`; spaces as `%20`).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'*' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The form; its values come from the URL's query, and changes go there.
#[component]
pub fn SearchForm() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| Filter::from_query(&query.get()));
    let navigate = use_navigate();
    let location = use_location();
    let go = move |next: Filter, replace: bool| {
        let path = location.pathname.get_untracked();
        navigate(
            &format!("{path}{}", next.to_query()),
            NavigateOptions {
                replace,
                scroll: false,
                ..Default::default()
            },
        );
    };
    let change = {
        let go = go.clone();
        move |edit: &dyn Fn(&mut Filter)| {
            let mut next = filter.get_untracked();
            edit(&mut next);
            go(next, false);
        }
    };
    let q_input = NodeRef::<leptos::html::Input>::new();
    let typing = StoredValue::new(None::<TimeoutHandle>);
    let on_input = move |ev: leptos::ev::Event| {
        let q = event_target_value(&ev);
        if let Some(pending) = typing.get_value() {
            pending.clear();
        }
        let go = go.clone();
        let handle = set_timeout_with_handle(
            move || {
                let mut next = filter.get_untracked();
                next.q = q;
                // Typing replaces the history entry: Back leaves the search, not each letter.
                go(next, true);
            },
            std::time::Duration::from_millis(TYPING_PAUSE_MS),
        );
        typing.set_value(handle.ok());
    };
    let initial = filter.get_untracked();
    let kind_choices = move || {
        let current = filter.get().kind;
        let mut choices: Vec<(String, String)> = TYPE_CHOICES
            .iter()
            .map(|(value, label)| (value.to_string(), label.to_string()))
            .collect();
        if !choices.iter().any(|(value, _)| *value == current) {
            choices.push((current.clone(), current.clone()));
        }
        choices
            .into_iter()
            .map(|(value, label)| {
                let selected = value == current;
                view! { <option value=value selected=selected>{label}</option> }
            })
            .collect_view()
    };

    view! {
        <form
            class="search"
            method="get"
            role="search"
            aria-label="Find assets"
            on:submit={
                let change = change.clone();
                move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    if let Some(pending) = typing.get_value() {
                        pending.clear();
                    }
                    let q = q_input.get().map(|input| input.value()).unwrap_or_default();
                    change(&move |f: &mut Filter| f.q = q.clone());
                }
            }
        >
            <label>
                "Name "
                <input
                    type="search"
                    name="q"
                    node_ref=q_input
                    value=initial.q.clone()
                    maxlength=MAX_QUERY_CHARS.to_string()
                    placeholder="starts with…"
                    autocomplete="off"
                    aria-label="Search by file name (starts with)"
                    on:input=on_input
                />
            </label>
            <label>
                "Type "
                <select
                    name="type"
                    aria-label="Filter by type"
                    on:change={
                        let change = change.clone();
                        move |ev| {
                            let kind = event_target_value(&ev);
                            change(&move |f: &mut Filter| f.kind = kind.clone())
                        }
                    }
                >
                    {kind_choices}
                </select>
            </label>
            <label>
                "State "
                <select
                    name="state"
                    aria-label="Filter by state"
                    on:change={
                        let change = change.clone();
                        move |ev| {
                            let state = event_target_value(&ev).parse().ok();
                            change(&move |f: &mut Filter| f.state = state)
                        }
                    }
                >
                    <option value="" selected=move || filter.get().state.is_none()>
                        "All"
                    </option>
                    {AssetState::ALL
                        .into_iter()
                        .map(|s| {
                            view! {
                                <option
                                    value=s.as_str()
                                    selected=move || filter.get().state == Some(s)
                                >
                                    {s.as_str()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                "Sort "
                <select
                    name="sort"
                    aria-label="Sort by"
                    on:change={
                        let change = change.clone();
                        move |ev| {
                            let sort = event_target_value(&ev).parse().unwrap_or_default();
                            change(&move |f: &mut Filter| f.sort = sort)
                        }
                    }
                >
                    {SortOrder::ALL
                        .into_iter()
                        .map(|s| {
                            let label = match s {
                                SortOrder::Newest => "Newest first",
                                SortOrder::Oldest => "Oldest first",
                                SortOrder::Largest => "Largest first",
                            };
                            view! {
                                <option value=s.as_str() selected=move || filter.get().sort == s>
                                    {label}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <label>
                <input
                    type="checkbox"
                    name="include_deleted"
                    value="true"
                    aria-label="Show deleted assets"
                    checked=initial.include_deleted
                    prop:checked=move || filter.get().include_deleted
                    on:change={
                        let change = change.clone();
                        move |ev| {
                            let on = event_target_checked(&ev);
                            change(&move |f: &mut Filter| f.include_deleted = on)
                        }
                    }
                />
                " Show deleted"
            </label>
            <button type="submit" class="secondary">
                "Search"
            </button>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query's values by name, decoded as a browser decodes them.
    fn lookup(text: &str) -> impl Fn(&str) -> Option<String> {
        let decode = |v: &str| {
            let mut bytes = Vec::new();
            let mut rest = v.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                if b == b'%' {
                    let hex = std::str::from_utf8(&tail[..2]).unwrap();
                    bytes.push(u8::from_str_radix(hex, 16).unwrap());
                    rest = &tail[2..];
                } else {
                    bytes.push(b);
                    rest = tail;
                }
            }
            String::from_utf8(bytes).unwrap()
        };
        let pairs: Vec<(String, String)> = text
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| pair.split_once('=').unwrap())
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_filter_round_trips_through_the_url_query() {
        assert_eq!(Filter::default().to_query(), "");
        let filter = Filter {
            state: Some(AssetState::Uploaded),
            include_deleted: true,
            q: "été & co/".into(),
            kind: "image/*".into(),
            sort: SortOrder::Largest,
        };
        let text = filter.to_query();
        assert_eq!(
            text,
            "?q=%C3%A9t%C3%A9%20%26%20co%2F&type=image%2F*&state=UPLOADED&sort=largest&include_deleted=true"
        );
        assert_eq!(Filter::from_lookup(lookup(&text)), filter);
        // What a plain form submits, empty fields included.
        let form = Filter::from_lookup(lookup("q=&type=&state=&sort=newest"));
        assert_eq!(form, Filter::default());
        assert!(!Filter::default().narrows());
        assert!(Filter::from_lookup(lookup("q=a")).narrows());
        let odd = Filter::from_lookup(lookup("sort=biggest&state=GONE&include_deleted=on"));
        assert_eq!(
            (odd.sort, odd.state, odd.include_deleted),
            (SortOrder::Newest, None, true)
        );
    }
}
