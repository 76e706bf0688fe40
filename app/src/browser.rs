//! What only a browser can do: PUT a file straight to object storage with progress, start a
//! download, copy to the clipboard. Called from event handlers, which run only after hydration;
//! the server compiles this module but never reaches it.

use std::collections::BTreeMap;

use futures::channel::oneshot;
use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::Closure;
use web_sys::{File, ProgressEvent, XmlHttpRequest};

/// How an upload to a presigned URL ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum UploadEnd {
    Stored,
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

/// PUTs `file` to `url` with `headers` (exactly those the create reply listed), reporting
/// `(bytes sent, total)` to `on_progress`. `started` receives the request, so it can be aborted.
pub(crate) async fn upload(
    url: &str,
    headers: &BTreeMap<String, String>,
    file: &File,
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
                UploadEnd::Stored
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

    if xhr.send_with_opt_blob(Some(file)).is_err() {
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
