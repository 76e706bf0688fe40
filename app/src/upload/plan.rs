//! The arithmetic of a multipart upload in the browser, with no I/O so it is tested natively:
//! where each part lies in the file, which listed parts a resumed upload may keep, how long to
//! wait before a retry, the remembered-upload key, and speed and time left.

use std::collections::VecDeque;

use crate::model::UploadedPart;

/// Parts uploaded at the same time.
pub(crate) const PARALLEL_PARTS: usize = 4;
/// Parts signed in one request: enough to keep the workers busy, few enough that URLs are used
/// long before they expire.
pub(crate) const SIGN_AHEAD: usize = 2 * PARALLEL_PARTS;
/// A part URL expiring sooner than this is signed again rather than used (milliseconds).
pub(crate) const URL_MARGIN_MS: f64 = 60_000.0;
/// Tries per part on network errors and 5xx before the file shows as failed.
pub(crate) const MAX_ATTEMPTS: u32 = 5;
/// Fresh URLs per part after a 403 (expired or refused) before the file shows as failed.
pub(crate) const MAX_RESIGNS: u32 = 3;

/// A part request sending no bytes for this long is aborted and retried (milliseconds).
pub(crate) const STALL_SENDING_MS: f64 = 30_000.0;
/// ... or waiting this long for storage's answer once all its bytes are sent.
pub(crate) const STALL_ANSWER_MS: f64 = 120_000.0;
/// How often stalls are looked for.
pub(crate) const STALL_CHECK_MS: u32 = 5_000;

/// The byte range `[start, end)` of part `number` (1-based).
pub(crate) fn part_range(size: u64, part_size: u64, number: u32) -> (u64, u64) {
    let start = u64::from(number)
        .saturating_sub(1)
        .saturating_mul(part_size)
        .min(size);
    (start, start.saturating_add(part_size).min(size))
}

/// How many parts a file of `size` bytes takes (at least one: an empty file is one part).
pub(crate) fn part_count(size: u64, part_size: u64) -> u32 {
    u32::try_from(size.div_ceil(part_size.max(1)).max(1)).unwrap_or(u32::MAX)
}

/// Which parts storage already holds may be kept when resuming: a listed part is kept only if
/// it belongs to the file and has the length that part must have; its SHA-256 (when listed) is
/// compared with the local bytes afterwards, by `keep_after_hash`.
pub(crate) fn resumable_parts(
    size: u64,
    part_size: u64,
    listed: &[UploadedPart],
) -> Vec<UploadedPart> {
    let count = part_count(size, part_size);
    listed
        .iter()
        .filter(|part| {
            let (start, end) = part_range(size, part_size, part.part_number);
            (1..=count).contains(&part.part_number) && part.size == end - start
        })
        .cloned()
        .collect()
}

/// Whether a listed part whose length matched may be kept, given the local bytes' SHA-256
/// (base64). A part listed without a checksum cannot be compared: keep it (its length matched,
/// and the upload's parts are checked by storage when it asked for checksums).
pub(crate) fn keep_after_hash(listed: &UploadedPart, local_sha256: &str) -> bool {
    listed
        .sha256
        .as_deref()
        .is_none_or(|stored| stored == local_sha256)
}

/// Milliseconds to wait before try `attempt` (1-based: the first retry waits 1 s), doubling
/// up to 16 s.
pub(crate) fn backoff_ms(attempt: u32) -> u32 {
    1000u32.saturating_mul(1 << attempt.saturating_sub(1).min(4))
}

/// Whether storage's refusal means "sign this part again and retry": an expired URL or a
/// refused signature (403), never a bad digest or a missing upload.
pub(crate) fn wants_fresh_url(status: u16) -> bool {
    status == 403
}

/// Whether a refusal is worth retrying as it is: storage busy or failing (5xx, 429).
pub(crate) fn is_transient(status: u16) -> bool {
    status >= 500 || status == 429 || status == 0
}

/// The key a multipart upload of a file is remembered under (`localStorage`): what the browser
/// knows of a file that identifies it across reloads.
pub(crate) fn resume_key(name: &str, size: u64, last_modified: f64) -> String {
    format!("assets.upload.v1:{size}:{last_modified:.0}:{name}")
}

/// Recent throughput from (time in ms, bytes sent) samples over a short window.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpeedMeter {
    samples: VecDeque<(f64, f64)>,
}

/// How far back the speed is measured (milliseconds).
const SPEED_WINDOW_MS: f64 = 5_000.0;

impl SpeedMeter {
    pub(crate) fn record(&mut self, now_ms: f64, sent: f64) {
        // A retried part sends its bytes again: progress may go back; start over from there.
        if self.samples.back().is_some_and(|&(_, last)| sent < last) {
            self.samples.clear();
        }
        self.samples.push_back((now_ms, sent));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|&(t, _)| now_ms - t > SPEED_WINDOW_MS)
        {
            self.samples.pop_front();
        }
    }

    /// Bytes per second over the window; `None` until there is half a second of samples.
    pub(crate) fn bytes_per_second(&self) -> Option<f64> {
        let (&(t0, b0), &(t1, b1)) = (self.samples.front()?, self.samples.back()?);
        (t1 - t0 >= 500.0).then(|| (b1 - b0) / (t1 - t0) * 1000.0)
    }

    /// Seconds left for `remaining` bytes at the current speed.
    pub(crate) fn seconds_left(&self, remaining: f64) -> Option<f64> {
        self.bytes_per_second()
            .filter(|&speed| speed > 0.0)
            .map(|speed| remaining.max(0.0) / speed)
    }

    pub(crate) fn reset(&mut self) {
        self.samples.clear();
    }
}

/// "2 h 5 min", "3 min 20 s", "45 s".
pub(crate) fn human_duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0).ceil() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    const MIB: u64 = 1 << 20;

    fn listed(part_number: u32, size: u64, sha256: Option<&str>) -> UploadedPart {
        UploadedPart {
            part_number,
            size,
            etag: format!("etag{part_number}"),
            sha256: sha256.map(str::to_string),
            last_modified: Utc::now(),
        }
    }

    #[test]
    fn parts_cover_the_file_exactly() {
        let size = 40 * MIB + 3;
        let count = part_count(size, 16 * MIB);
        assert_eq!(count, 3);
        assert_eq!(part_range(size, 16 * MIB, 1), (0, 16 * MIB));
        assert_eq!(part_range(size, 16 * MIB, 3), (32 * MIB, size));
        let total: u64 = (1..=count)
            .map(|n| part_range(size, 16 * MIB, n))
            .map(|(start, end)| end - start)
            .sum();
        assert_eq!(total, size);
        assert_eq!(part_count(0, 16 * MIB), 1);
        assert_eq!(part_range(0, 16 * MIB, 1), (0, 0));
        assert_eq!(part_count(32 * MIB, 16 * MIB), 2);
    }

    #[test]
    fn resuming_keeps_only_parts_of_the_right_length() {
        let size = 40 * MIB;
        let parts = [
            listed(1, 16 * MIB, None),
            listed(2, 5 * MIB, None),  // cut short: send again
            listed(3, 8 * MIB, None),  // the last part's length
            listed(4, 16 * MIB, None), // not part of this file
            listed(0, 16 * MIB, None), // nonsense
        ];
        let kept: Vec<u32> = resumable_parts(size, 16 * MIB, &parts)
            .iter()
            .map(|p| p.part_number)
            .collect();
        assert_eq!(kept, vec![1, 3]);
    }

    #[test]
    fn a_listed_checksum_must_match_the_local_bytes() {
        assert!(keep_after_hash(&listed(1, MIB, Some("abc=")), "abc="));
        assert!(!keep_after_hash(&listed(1, MIB, Some("abc=")), "xyz="));
        assert!(keep_after_hash(&listed(1, MIB, None), "xyz="));
    }

    #[test]
    fn retries_back_off_exponentially_with_a_cap() {
        let waits: Vec<u32> = (1..=7).map(backoff_ms).collect();
        assert_eq!(waits, vec![1000, 2000, 4000, 8000, 16000, 16000, 16000]);
        assert!(wants_fresh_url(403));
        assert!(!wants_fresh_url(400));
        assert!(is_transient(503) && is_transient(0) && !is_transient(400));
    }

    #[test]
    fn the_resume_key_names_the_file_identity() {
        let key = resume_key("big.iso", 42, 1_700_000_000_123.0);
        assert_eq!(key, "assets.upload.v1:42:1700000000123:big.iso");
        assert_ne!(key, resume_key("big.iso", 43, 1_700_000_000_123.0));
    }

    #[test]
    fn speed_and_time_left_follow_recent_progress() {
        let mut meter = SpeedMeter::default();
        meter.record(0.0, 0.0);
        assert_eq!(meter.bytes_per_second(), None);
        meter.record(1000.0, 10.0 * MIB as f64);
        assert_eq!(meter.bytes_per_second(), Some(10.0 * MIB as f64));
        assert_eq!(meter.seconds_left(20.0 * MIB as f64), Some(2.0));
        // Old samples leave the window: the speed is the recent one.
        meter.record(9000.0, 12.0 * MIB as f64);
        meter.record(10_000.0, 13.0 * MIB as f64);
        assert_eq!(meter.bytes_per_second(), Some(MIB as f64));
        // Progress going back (a retried part) starts the measurement over.
        meter.record(10_500.0, 5.0 * MIB as f64);
        assert_eq!(meter.bytes_per_second(), None);
        assert_eq!(human_duration(45.2), "46 s");
        assert_eq!(human_duration(200.0), "3 min 20 s");
        assert_eq!(human_duration(7500.0), "2 h 5 min");
    }
}
