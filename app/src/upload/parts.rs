//! Sends one file's parts from the browser: a few at a time, each hashed (SHA-256) before its
//! URL is signed, signed in small batches just ahead of use (URLs expire), re-signed when
//! storage answers 403, retried with backoff on network errors, stoppable at any moment (Pause,
//! Cancel, reload) without losing the parts already stored.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use futures::lock::Mutex;
use web_sys::{Blob, File, XmlHttpRequest};

use super::plan::{
    MAX_ATTEMPTS, MAX_RESIGNS, PARALLEL_PARTS, SIGN_AHEAD, STALL_ANSWER_MS, STALL_CHECK_MS,
    STALL_SENDING_MS, URL_MARGIN_MS, backoff_ms, is_transient, keep_after_hash, part_count,
    part_range, resumable_parts, wants_fresh_url,
};
use crate::api::sign_part_urls;
use crate::browser::{self, UploadEnd};
use crate::model::{
    AssetId, CompleteUpload, CompletedPart, ErrorCode, PartToSign, PartUrl, SignParts, UploadedPart,
};

/// Why a run stopped before every part was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    Pause,
    Cancel,
    /// A part failed for good; the others were stopped.
    Failed,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    AllStored,
    Stopped(Stop),
    Failed(String),
}

/// One file's multipart upload in this page: what storage holds so far and what is in flight.
pub(crate) struct PartRun {
    pub(crate) id: AssetId,
    file: File,
    size: u64,
    part_size: u64,
    /// ETags of the parts storage holds, by part number.
    etags: RefCell<BTreeMap<u32, String>>,
    stored_bytes: Cell<u64>,
    /// Base64 SHA-256 of parts hashed so far (a part is hashed once).
    hashes: RefCell<HashMap<u32, String>>,
    urls: RefCell<HashMap<u32, PartUrl>>,
    /// Parts waiting for a worker.
    queue: RefCell<VecDeque<u32>>,
    /// Part requests in flight.
    in_flight: RefCell<BTreeMap<u32, InFlight>>,
    stop: Cell<Option<Stop>>,
    /// One signing request at a time, so workers do not hash and sign the same parts twice.
    signing: Mutex<()>,
}

impl PartRun {
    pub(crate) fn new(id: AssetId, file: File, part_size: u64) -> Rc<Self> {
        let size = file.size() as u64;
        Rc::new(Self {
            id,
            file,
            size,
            part_size,
            etags: RefCell::default(),
            stored_bytes: Cell::new(0),
            hashes: RefCell::default(),
            urls: RefCell::default(),
            queue: RefCell::default(),
            in_flight: RefCell::default(),
            stop: Cell::new(None),
            signing: Mutex::new(()),
        })
    }

    pub(crate) fn part_count(&self) -> u32 {
        part_count(self.size, self.part_size)
    }

    /// Takes over the parts storage already holds (resuming): each of the right length whose
    /// listed SHA-256, if any, matches the local bytes. The others will be sent again.
    pub(crate) async fn adopt(&self, listed: &[UploadedPart]) -> Result<usize, String> {
        let mut kept = 0;
        for part in resumable_parts(self.size, self.part_size, listed) {
            if part.sha256.is_some() {
                let local = self.hash(part.part_number).await?;
                if !keep_after_hash(&part, &local) {
                    continue;
                }
            }
            self.mark_stored(part.part_number, part.etag);
            kept += 1;
        }
        Ok(kept)
    }

    /// Every part with its ETag, for completion; call once a run ended `AllStored`.
    pub(crate) fn completion(&self) -> CompleteUpload {
        CompleteUpload {
            parts: self
                .etags
                .borrow()
                .iter()
                .map(|(&part_number, etag)| CompletedPart {
                    part_number,
                    etag: etag.clone(),
                })
                .collect(),
        }
    }

    /// Bytes storage holds plus bytes in flight.
    pub(crate) fn sent(&self) -> f64 {
        let in_flight: f64 = self.in_flight.borrow().values().map(|r| r.sent).sum();
        self.stored_bytes.get() as f64 + in_flight
    }

    /// Stops the run: requests in flight are aborted (their parts stay missing).
    pub(crate) fn halt(&self, why: Stop) {
        if self.stop.get().is_none() {
            self.stop.set(Some(why));
        }
        let requests: Vec<XmlHttpRequest> = self
            .in_flight
            .borrow()
            .values()
            .filter_map(|r| r.request.clone())
            .collect();
        for request in requests {
            let _ = request.abort();
        }
    }

    /// Aborts requests that made no progress for too long (a dead connection may never fail
    /// by itself); their workers retry them like any network error. Never ends: `run` drops it
    /// once the workers are done.
    async fn watch_stalls(&self) -> std::convert::Infallible {
        loop {
            browser::sleep(STALL_CHECK_MS).await;
            let now = browser::now_ms();
            let stalled: Vec<XmlHttpRequest> = self
                .in_flight
                .borrow()
                .values()
                .filter(|r| now - r.last_change > r.allowed_silence())
                .filter_map(|r| r.request.clone())
                .collect();
            for request in stalled {
                let _ = request.abort();
            }
        }
    }

    /// Sends every missing part, `PARALLEL_PARTS` at a time; `on_progress` hears of each step.
    pub(crate) async fn run(self: &Rc<Self>, on_progress: Rc<dyn Fn(f64)>) -> RunEnd {
        self.stop.set(None);
        let missing: VecDeque<u32> = {
            let etags = self.etags.borrow();
            (1..=self.part_count())
                .filter(|n| !etags.contains_key(n))
                .collect()
        };
        *self.queue.borrow_mut() = missing;
        on_progress(self.sent());
        let workers = (0..PARALLEL_PARTS).map(|_| self.clone().worker(on_progress.clone()));
        let workers = std::pin::pin!(futures::future::join_all(workers));
        let watchdog = std::pin::pin!(self.watch_stalls());
        let results = match futures::future::select(workers, watchdog).await {
            futures::future::Either::Left((results, _)) => results,
            futures::future::Either::Right((never, _)) => match never {},
        };
        if let Some(why) = results.into_iter().find_map(Result::err) {
            return RunEnd::Failed(why);
        }
        match self.stop.get() {
            Some(stop) => RunEnd::Stopped(stop),
            None if self.etags.borrow().len() == self.part_count() as usize => RunEnd::AllStored,
            None => RunEnd::Failed("some parts were not stored; resume to send them".into()),
        }
    }

    async fn worker(self: Rc<Self>, on_progress: Rc<dyn Fn(f64)>) -> Result<(), String> {
        while self.stop.get().is_none() {
            let Some(number) = self.queue.borrow_mut().pop_front() else {
                return Ok(());
            };
            if let Err(why) = self.send_part(number, &on_progress).await {
                self.halt(Stop::Failed);
                return Err(why);
            }
        }
        Ok(())
    }

    /// Sends one part until storage holds it, the run stops, or retries run out.
    async fn send_part(
        self: &Rc<Self>,
        number: u32,
        on_progress: &Rc<dyn Fn(f64)>,
    ) -> Result<(), String> {
        let (start, end) = part_range(self.size, self.part_size, number);
        let (mut attempts, mut resigns) = (0, 0);
        loop {
            if self.stop.get().is_some() {
                return Ok(());
            }
            let url = match self.url_for(number).await {
                Ok(url) => url,
                Err(Failure::Transient(why)) => {
                    attempts += 1;
                    if attempts >= MAX_ATTEMPTS {
                        return Err(why);
                    }
                    browser::sleep(backoff_ms(attempts)).await;
                    continue;
                }
                Err(Failure::Final(why)) => return Err(why),
            };
            if self.stop.get().is_some() {
                return Ok(()); // stopped while this part was being signed
            }
            let blob = self.slice(start, end)?;
            self.in_flight
                .borrow_mut()
                .insert(number, InFlight::new((end - start) as f64));
            let progress = {
                let on_progress = on_progress.clone();
                // Dropped when the request ends, so this is no lasting cycle.
                let run = Rc::clone(self);
                move |sent: f64, _total: f64| {
                    if let Some(entry) = run.in_flight.borrow_mut().get_mut(&number) {
                        entry.progressed(sent);
                    }
                    on_progress(run.sent());
                }
            };
            let end_of_put = browser::upload(&url.url, &url.headers, &blob, progress, |request| {
                if let Some(entry) = self.in_flight.borrow_mut().get_mut(&number) {
                    entry.request = Some(request);
                }
            })
            .await;
            self.in_flight.borrow_mut().remove(&number);
            match end_of_put {
                UploadEnd::Stored { etag: Some(etag) } => {
                    self.urls.borrow_mut().remove(&number);
                    self.mark_stored(number, etag);
                    on_progress(self.sent());
                    return Ok(());
                }
                UploadEnd::Stored { etag: None } => {
                    return Err("storage did not show the part's ETag (its CORS rules must \
                                expose ETag)"
                        .into());
                }
                UploadEnd::Cancelled if self.stop.get().is_some() => return Ok(()),
                UploadEnd::Refused { status, .. } if wants_fresh_url(status) => {
                    // Expired or refused signature: a fresh URL, not a failure.
                    self.urls.borrow_mut().remove(&number);
                    resigns += 1;
                    if resigns > MAX_RESIGNS {
                        return Err(format!(
                            "storage refused part {number} {resigns} times with fresh links"
                        ));
                    }
                }
                UploadEnd::Refused {
                    status,
                    code,
                    message,
                } if !is_transient(status) => {
                    return Err(format!(
                        "storage refused part {number}: {message} ({code}, HTTP {status})"
                    ));
                }
                // Network errors, 5xx, and aborts we did not ask for: wait, then try again.
                _ => {
                    attempts += 1;
                    if attempts >= MAX_ATTEMPTS {
                        return Err(format!(
                            "part {number} failed {attempts} times; the connection to storage \
                             is failing"
                        ));
                    }
                    on_progress(self.sent());
                    browser::sleep(backoff_ms(attempts)).await;
                }
            }
        }
    }

    /// A URL for `number` valid for a while yet; signs it with the next parts waiting.
    async fn url_for(&self, number: u32) -> Result<PartUrl, Failure> {
        if let Some(url) = self.fresh_url(number) {
            return Ok(url);
        }
        let _signing = self.signing.lock().await;
        if let Some(url) = self.fresh_url(number) {
            return Ok(url); // signed by another worker meanwhile
        }
        let batch: Vec<u32> = std::iter::once(number)
            .chain(
                self.queue
                    .borrow()
                    .iter()
                    .copied()
                    .filter(|&n| self.fresh_url(n).is_none()),
            )
            .take(SIGN_AHEAD)
            .collect();
        let mut parts = Vec::with_capacity(batch.len());
        for part_number in batch {
            let sha256 = self.hash(part_number).await.map_err(Failure::Final)?;
            parts.push(PartToSign {
                part_number,
                sha256: Some(sha256),
            });
        }
        let signed = sign_part_urls(self.id, SignParts { parts })
            .await
            .map_err(|err| {
                let why = format!("signing part URLs failed: {}", err.error_message);
                match err.code {
                    ErrorCode::Unavailable | ErrorCode::RateLimited => Failure::Transient(why),
                    _ => Failure::Final(why),
                }
            })?;
        let mut urls = self.urls.borrow_mut();
        for url in signed.parts {
            urls.insert(url.part_number, url);
        }
        urls.get(&number)
            .cloned()
            .ok_or_else(|| Failure::Final(format!("the server signed no URL for part {number}")))
    }

    fn fresh_url(&self, number: u32) -> Option<PartUrl> {
        let urls = self.urls.borrow();
        let url = urls.get(&number)?;
        // chrono's clock is not wired to the browser here: compare with Date.now().
        let left = url.expires_at.timestamp_millis() as f64 - browser::now_ms();
        (left > URL_MARGIN_MS).then(|| url.clone())
    }

    async fn hash(&self, number: u32) -> Result<String, String> {
        if let Some(hash) = self.hashes.borrow().get(&number) {
            return Ok(hash.clone());
        }
        let (start, end) = part_range(self.size, self.part_size, number);
        let hash = browser::sha256_base64(&self.slice(start, end)?).await?;
        self.hashes.borrow_mut().insert(number, hash.clone());
        Ok(hash)
    }

    fn slice(&self, start: u64, end: u64) -> Result<Blob, String> {
        self.file
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|_| "the browser could not read the file".to_string())
    }

    fn mark_stored(&self, number: u32, etag: String) {
        let (start, end) = part_range(self.size, self.part_size, number);
        if self.etags.borrow_mut().insert(number, etag).is_none() {
            self.stored_bytes
                .set(self.stored_bytes.get() + (end - start));
        }
    }
}

/// A part request in flight.
struct InFlight {
    request: Option<XmlHttpRequest>,
    sent: f64,
    length: f64,
    /// When `sent` last changed (ms).
    last_change: f64,
}

impl InFlight {
    fn new(length: f64) -> Self {
        Self {
            request: None,
            sent: 0.0,
            length,
            last_change: browser::now_ms(),
        }
    }

    fn progressed(&mut self, sent: f64) {
        if sent != self.sent {
            self.sent = sent;
            self.last_change = browser::now_ms();
        }
    }

    /// How long the request may go without progress: storage answers only after it stored
    /// (and hashed) the whole part, so the wait for the answer may be longer.
    fn allowed_silence(&self) -> f64 {
        if self.sent >= self.length {
            STALL_ANSWER_MS
        } else {
            STALL_SENDING_MS
        }
    }
}

enum Failure {
    /// Worth another try after a pause (the server busy or unreachable).
    Transient(String),
    Final(String),
}
