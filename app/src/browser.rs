//! What only a browser can do: PUT a file or a part of it straight to object storage with
//! progress, hash bytes (SHA-256), remember uploads across reloads (`localStorage`), wait, start
//! a download, copy to the clipboard. Called from event handlers, which run only after hydration;
//! the server compiles this module but never reaches it.

use std::collections::BTreeMap;

use futures::channel::oneshot;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::JsValue;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

/// How an upload to a presigned URL ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UploadEnd {
    /// Storage took the bytes; its `ETag` reply header (quoted, as S3 sends it).
    Stored {
        etag: Option<String>,
    },
    /// Storage answered with an error: its HTTP status and S3 `<Code>`/`<Message>`.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The connection failed (network down, CORS, server gone).
    NetworkError,
    Cancelled,
}

/// PUTs `body` (a file, or a slice of one) to `url` with `headers` (exactly those the server
/// listed), reporting `(bytes sent, total)` to `on_progress`. `started` receives the request,
/// so it can be aborted.
pub(crate) async fn upload(
    url: &str,
    headers: &BTreeMap<String, String>,
    body: &Blob,
    on_progress: impl Fn(f64, f64) + 'static,
    started: impl FnOnce(XmlHttpRequest),
) -> UploadEnd {
    let xhr = match XmlHttpRequest::new() {
        Ok(xhr) => xhr,
        Err(_) => return UploadEnd::NetworkError,
    };
    if xhr.open_with_async("PUT", url, true).is_err() {
        return UploadEnd::NetworkError;
    }
    for (name, value) in headers {
        // The browser sets Content-Length (and Host) itself, from the file; they match.
        if name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let _ = xhr.set_request_header(name, value);
    }
    let (done_tx, done_rx) = oneshot::channel::<UploadEnd>();
    let done_tx = std::rc::Rc::new(std::cell::RefCell::new(Some(done_tx)));
    let finish = {
        let done_tx = done_tx.clone();
        move |end: UploadEnd| {
            if let Some(tx) = done_tx.borrow_mut().take() {
                let _ = tx.send(end);
            }
        }
    };

    let progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |event: ProgressEvent| {
        on_progress(event.loaded(), event.total());
    });
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(progress.as_ref().unchecked_ref()));
    }
    let on_load = {
        let xhr = xhr.clone();
        let finish = finish.clone();
        Closure::<dyn FnMut()>::new(move || {
            let status = xhr.status().unwrap_or(0);
            let body = xhr.response_text().ok().flatten().unwrap_or_default();
            finish(if (200..300).contains(&status) {
                // Readable because storage's CORS rules expose ETag.
                UploadEnd::Stored {
                    etag: xhr.get_response_header("etag").ok().flatten(),
                }
            } else {
                UploadEnd::Refused {
                    status,
                    code: xml_field(&body, "Code"),
                    message: xml_field(&body, "Message"),
                }
            });
        })
    };
    let on_error = {
        let finish = finish.clone();
        Closure::<dyn FnMut()>::new(move || finish(UploadEnd::NetworkError))
    };
    let on_abort = Closure::<dyn FnMut()>::new(move || finish(UploadEnd::Cancelled));
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));

    if xhr.send_with_opt_blob(Some(body)).is_err() {
        return UploadEnd::NetworkError;
    }
    started(xhr.clone());
    let end = done_rx.await.unwrap_or(UploadEnd::NetworkError);
    // The closures live until the request ended; detach them before they drop.
    xhr.set_onload(None);
    xhr.set_onerror(None);
    xhr.set_onabort(None);
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(None);
    }
    drop((progress, on_load, on_error, on_abort));
    end
}

/// The text of `<tag>` in an S3 XML error body.
fn xml_field(body: &str, tag: &str) -> String {
    body.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("</{tag}>")).next())
        .unwrap_or_default()
        .to_string()
}

/// The SHA-256 of `blob`'s bytes, standard base64 (as `x-amz-checksum-sha256` carries it).
/// The browser hashes natively (`crypto.subtle`); the bytes never enter wasm memory.
pub(crate) async fn sha256_base64(blob: &Blob) -> Result<String, String> {
    use base64::Engine as _;
    let subtle = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .map(|c| c.subtle())
        .ok_or("this browser cannot hash (no crypto.subtle; is the page served over HTTPS?)")?;
    let bytes = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| js_text("reading the file failed", &e))?;
    let bytes: js_sys::Object = bytes.unchecked_into();
    let digest = subtle
        .digest_with_str_and_buffer_source("SHA-256", &bytes)
        .map_err(|e| js_text("hashing failed", &e))?;
    let digest = JsFuture::from(digest)
        .await
        .map_err(|e| js_text("hashing failed", &e))?;
    let digest = js_sys::Uint8Array::new(&digest).to_vec();
    Ok(base64::engine::general_purpose::STANDARD.encode(digest))
}

fn js_text(context: &str, error: &JsValue) -> String {
    match error.as_string() {
        Some(text) => format!("{context}: {text}"),
        None => format!("{context}: {error:?}"),
    }
}

/// Resolves after `ms` milliseconds.
pub(crate) async fn sleep(ms: u32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                i32::try_from(ms).unwrap_or(i32::MAX),
            );
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A value remembered in `localStorage` (survives reloads); `None` if absent or unavailable.
pub(crate) fn remembered(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

/// Remembers `value` under `key`; a browser refusing storage only costs resuming after reload.
pub(crate) fn remember(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.set_item(key, value);
    }
}

pub(crate) fn forget(key: &str) {
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(key);
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Starts downloading `url` (an attachment) without leaving the page.
pub(crate) fn download(url: &str) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    if let Ok(anchor) = document.create_element("a")
        && let Ok(anchor) = anchor.dyn_into::<web_sys::HtmlAnchorElement>()
    {
        anchor.set_href(url);
        anchor.set_download("");
        anchor.click();
    }
}

/// Copies `text` to the clipboard; false if the browser refused.
pub(crate) async fn copy(text: &str) -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let promise = window.navigator().clipboard().write_text(text);
    let (tx, rx) = oneshot::channel::<bool>();
    let tx = std::rc::Rc::new(std::cell::RefCell::new(Some(tx)));
    let ok = {
        let tx = tx.clone();
        Closure::once(move |_: wasm_bindgen::JsValue| {
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(true);
            }
        })
    };
    let failed = Closure::once(move |_: wasm_bindgen::JsValue| {
        if let Some(tx) = tx.borrow_mut().take() {
            let _ = tx.send(false);
        }
    });
    let _ = promise.then2(&ok, &failed);
    let copied = rx.await.unwrap_or(false);
    drop((ok, failed));
    copied
}
