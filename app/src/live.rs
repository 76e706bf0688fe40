//! Live updates on the dashboard: an `EventSource` on `GET /assets/events`, opened in an
//! `Effect` (so only in the browser; the server-rendered page works without it) and closed when
//! the page goes. Each `asset` event updates the list in place (`Listing::apply`); `resync`
//! refetches it; `hello` says whether to refetch now and then as well (other replicas share the
//! store). The browser reconnects by itself with `Last-Event-ID` and the server replays what was
//! missed; if it gives up (the server refused the stream), a new source is opened after a pause
//! and the list refetched.

use std::collections::VecDeque;
use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::Closure;
use web_sys::{EventSource, MessageEvent};

use crate::components::page::Page;
use crate::model::{AssetChange, ErrorBody, LiveHello};
use crate::pages::listing::Listing;

const EVENTS_URL: &str = "/assets/events";
/// After the browser gave up on a stream, how long before a new one is tried.
const REOPEN_AFTER: Duration = Duration::from_secs(10);
/// Assets whose latest change is remembered, to re-apply to a list fetched meanwhile (its
/// snapshot may predate them), and for how long (ms): a fetch in flight takes less; a change
/// kept longer could bring back a row another replica removed since.
const REMEMBERED: usize = 64;
const REMEMBERED_MS: f64 = 10_000.0;

/// The state of the stream, for the person (and the tests) to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// Server-rendered, or without JavaScript: nothing to say.
    Off,
    Connecting,
    Open,
    Retrying,
    /// The stream ended and the page refetches on the server's schedule until it reopens
    /// (behind API Gateway, where a stream cannot stay open, that is most of the time).
    Polling,
}

impl Link {
    fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Retrying => "retrying",
            Self::Polling => "polling",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Off => "",
            Self::Connecting => "Connecting…",
            Self::Open => "Live",
            Self::Retrying => "Reconnecting…",
            Self::Polling => "Auto-refresh",
        }
    }
}

/// One open stream; closed when dropped (with its listeners).
struct Connection {
    source: EventSource,
    _listeners: Vec<Closure<dyn FnMut(MessageEvent)>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Keeps `listing` up to date from the server's stream; shows whether the stream is live.
/// (A plain function: a `#[component]` would export its props from this private module.)
pub(crate) fn live_updates(
    listing: Resource<Result<Listing, ErrorBody>>,
    page: Page,
) -> impl IntoView {
    let link = RwSignal::new(Link::Off);
    // Bumped to open a new source after the browser gave up on the last one.
    let generation = RwSignal::new(0u32);
    let fallback_refresh = RwSignal::new(None::<u64>);
    let remembered = StoredValue::new(VecDeque::<(f64, AssetChange)>::new());

    Effect::new(move |_| {
        let opened = generation.get();
        link.set(Link::Connecting);
        let hooks = Hooks {
            listing,
            page,
            link,
            generation,
            fallback_refresh,
            remembered,
            reopened: opened > 0,
        };
        let connection = StoredValue::new_local(hooks.connect());
        on_cleanup(move || connection.dispose());
    });

    // A list fetched meanwhile may predate changes already pushed: apply them again (a change
    // applies once; an older one than the row is ignored).
    Effect::new(move |_| {
        let now = js_sys::Date::now();
        remembered.update_value(|changes| changes.retain(|(at, _)| now - at < REMEMBERED_MS));
        let stale = listing.with(|current| match current {
            Some(Ok(current)) => {
                remembered.with_value(|changes| changes.iter().any(|(_, c)| current.changed_by(c)))
            }
            _ => false,
        });
        if stale {
            listing.update(|current| {
                if let Some(Ok(current)) = current {
                    remembered.with_value(|changes| {
                        for (_, change) in changes {
                            current.apply(change);
                        }
                    });
                }
            });
        }
    });

    // Other replicas' changes never reach this stream: refetch as often as the server says.
    Effect::new(move |_| {
        if let Some(secs) = fallback_refresh.get().filter(|secs| *secs > 0)
            && let Ok(handle) =
                set_interval_with_handle(move || page.refresh(), Duration::from_secs(secs))
        {
            on_cleanup(move || handle.clear());
        }
    });

    view! {
        <span class="live-status" data-live=move || link.get().as_str()>
            {move || link.get().label()}
        </span>
    }
}

/// What the stream's listeners act on.
#[derive(Clone, Copy)]
struct Hooks {
    listing: Resource<Result<Listing, ErrorBody>>,
    page: Page,
    link: RwSignal<Link>,
    generation: RwSignal<u32>,
    fallback_refresh: RwSignal<Option<u64>>,
    remembered: StoredValue<VecDeque<(f64, AssetChange)>>,
    reopened: bool,
}

impl Hooks {
    fn connect(self) -> Option<Connection> {
        let Ok(source) = EventSource::new(EVENTS_URL) else {
            self.retry_later();
            return None;
        };
        let mut listeners = Vec::new();
        let mut listen = |name: &str, handler: Box<dyn FnMut(MessageEvent)>| {
            let closure = Closure::wrap(handler);
            let _ = source.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
            listeners.push(closure);
        };
        listen(
            "asset",
            Box::new(move |event: MessageEvent| {
                if let Some(change) = parse::<AssetChange>(&event) {
                    self.pushed(change);
                }
            }),
        );
        listen("resync", Box::new(move |_| self.page.refresh()));
        listen(
            "hello",
            Box::new(move |event: MessageEvent| {
                let hello = parse::<LiveHello>(&event).unwrap_or_default();
                self.fallback_refresh.set(hello.refresh_secs);
            }),
        );
        listen(
            "open",
            Box::new(move |_| {
                self.link.set(Link::Open);
                // A new source has no `Last-Event-ID`: what happened meanwhile is unknown.
                if self.reopened {
                    self.page.refresh();
                }
            }),
        );
        let closed_source = source.clone();
        listen(
            "error",
            Box::new(move |_| {
                if closed_source.ready_state() == EventSource::CLOSED {
                    self.retry_later();
                } else if self
                    .fallback_refresh
                    .get_untracked()
                    .is_some_and(|secs| secs > 0)
                {
                    // The browser reconnects by itself, after the `retry` the server asked
                    // for; meanwhile the list is refetched on schedule.
                    self.link.set(Link::Polling);
                } else {
                    // The browser reconnects by itself, with `Last-Event-ID`.
                    self.link.set(Link::Retrying);
                }
            }),
        );
        Some(Connection {
            source,
            _listeners: listeners,
        })
    }

    fn pushed(self, change: AssetChange) {
        self.remembered.update_value(|changes| {
            // Only an asset's latest change: an older one would bring back a row that left.
            changes.retain(|(_, c)| c.asset.asset_id != change.asset.asset_id);
            if changes.len() == REMEMBERED {
                changes.pop_front();
            }
            changes.push_back((js_sys::Date::now(), change.clone()));
        });
        self.listing.update(|current| {
            if let Some(Ok(current)) = current {
                current.apply(&change);
            }
        });
    }

    fn retry_later(self) {
        self.link.set(Link::Retrying);
        let generation = self.generation;
        let _ = set_timeout_with_handle(move || generation.update(|n| *n += 1), REOPEN_AFTER);
    }
}

fn parse<T: serde::de::DeserializeOwned>(event: &MessageEvent) -> Option<T> {
    serde_json::from_str(&event.data().as_string()?).ok()
}
