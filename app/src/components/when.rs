//! Times as people say them ("3 minutes ago", "yesterday"), with the exact time on hover.
//! The server renders the exact time (it cannot know when the page is read); once hydrated,
//! the page's clock switches every `<time>` to relative words and refreshes them every 30 s.

use chrono::{DateTime, TimeDelta, Utc};
use leptos::prelude::*;

/// How often the relative words are brought up to date.
const TICK_MS: u64 = 30_000;

/// `then` in words, seen at `now`: "just now", "5 minutes ago", "2 hours ago", "yesterday",
/// "3 days ago", then the date. A time in the future (clocks disagree) within a minute is
/// "just now"; further out it is the date.
pub fn relative_time(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let ago = now - then;
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit} ago")
        } else {
            format!("{n} {unit}s ago")
        }
    };
    if ago < TimeDelta::seconds(-60) {
        then.format("%Y-%m-%d").to_string()
    } else if ago < TimeDelta::seconds(45) {
        "just now".to_string()
    } else if ago < TimeDelta::minutes(60) {
        plural(ago.num_minutes().max(1), "minute")
    } else if ago < TimeDelta::hours(24) {
        plural(ago.num_hours(), "hour")
    } else if ago < TimeDelta::hours(48) {
        "yesterday".to_string()
    } else if ago < TimeDelta::days(7) {
        plural(ago.num_days(), "day")
    } else {
        then.format("%Y-%m-%d").to_string()
    }
}

/// The exact time, as the server renders it and the tooltip shows it.
pub fn exact_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The page's notion of "now": `None` until hydrated (so the server and the first browser
/// render agree), then ticking.
#[derive(Clone, Copy)]
pub struct Clock(RwSignal<Option<DateTime<Utc>>>);

/// Starts the page's clock (call once per page, in its component).
pub fn provide_clock() {
    let now = RwSignal::new(None);
    let tick = move || now.set(DateTime::from_timestamp_millis(js_sys::Date::now() as i64));
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| {
        tick();
        if let Ok(handle) =
            set_interval_with_handle(tick, std::time::Duration::from_millis(TICK_MS))
        {
            on_cleanup(move || handle.clear());
        }
    });
    provide_context(Clock(now));
}

/// `<time>`: relative words once the page's clock runs, the exact time on hover.
#[component]
pub fn RelativeTime(at: DateTime<Utc>) -> impl IntoView {
    let clock = use_context::<Clock>();
    let exact = exact_time(at);
    let text = {
        let exact = exact.clone();
        move || match clock.and_then(|Clock(now)| now.get()) {
            Some(now) => relative_time(at, now),
            None => exact.clone(),
        }
    };
    view! {
        <time datetime=at.to_rfc3339() title=exact>
            {text}
        </time>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_times_read_as_words_and_old_ones_as_dates() {
        let now: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
        let at = |secs: i64| relative_time(now - TimeDelta::seconds(secs), now);
        assert_eq!(at(0), "just now");
        assert_eq!(at(44), "just now");
        assert_eq!(at(-30), "just now");
        assert_eq!(at(50), "1 minute ago");
        assert_eq!(at(3 * 60 + 10), "3 minutes ago");
        assert_eq!(at(59 * 60), "59 minutes ago");
        assert_eq!(at(3600), "1 hour ago");
        assert_eq!(at(23 * 3600), "23 hours ago");
        assert_eq!(at(30 * 3600), "yesterday");
        assert_eq!(at(3 * 86_400), "3 days ago");
        assert_eq!(at(6 * 86_400 + 3600), "6 days ago");
        assert_eq!(at(8 * 86_400), "2026-11-19");
        assert_eq!(at(-3600), "2026-11-27");
        assert_eq!(exact_time(now), "2026-11-27 12:00:00 UTC");
    }
}
