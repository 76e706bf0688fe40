//! What a drop or a paste hands the upload panel: files, each with the name to upload it under.
//! A dropped folder gives every file inside it, recursively, named by its path from the dropped
//! folder (`photos/2025/a.jpg`); a pasted image without a name of its own (a screenshot) is
//! named `pasted-<UTC time>.<ext>`. Browser-only: called from event handlers.
//!
//! Folder entries (`webkitGetAsEntry`, `createReader`, `readEntries`, `file`) are read through
//! their JavaScript methods by name, so any object that has them works.

use futures::future::LocalBoxFuture;
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast as _, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DataTransfer, File};

/// The most files one drop may add: a dropped home folder would otherwise start thousands.
pub(crate) const MAX_DROPPED_FILES: usize = 1000;

/// A file and the name to upload it under.
pub(crate) struct Named {
    pub(crate) file: File,
    pub(crate) name: String,
}

/// What a drop held, taken during the event (the browser empties it once the event is over).
pub(crate) enum Dropped {
    /// A file-system entry: a folder to walk, or a file.
    Entry(JsValue),
    File(File),
}

fn get(target: &JsValue, name: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn call0(target: &JsValue, name: &str) -> Result<JsValue, JsValue> {
    get(target, name)
        .dyn_into::<Function>()
        .map_err(|_| JsValue::from_str(&format!("no {name}()")))?
        .call0(target)
}

/// Calls `target.name(onSuccess, onError)` and waits for either.
async fn callback(target: &JsValue, name: &str) -> Result<JsValue, String> {
    let method = get(target, name)
        .dyn_into::<Function>()
        .map_err(|_| format!("the browser offers no {name}()"))?;
    let promise = Promise::new(&mut |resolve, reject| {
        if let Err(err) = method.call2(target, &resolve, &reject) {
            let _ = reject.call1(&JsValue::NULL, &err);
        }
    });
    JsFuture::from(promise)
        .await
        .map_err(|err| format!("reading a dropped folder failed: {err:?}"))
}

/// The entries and files of a drop, taken at once.
pub(crate) fn take_dropped(transfer: &DataTransfer) -> Vec<Dropped> {
    let items = get(transfer, "items");
    let count = get(&items, "length").as_f64().unwrap_or(0.0) as u32;
    let mut dropped = Vec::new();
    for index in 0..count {
        let item = Reflect::get_u32(&items, index).unwrap_or(JsValue::UNDEFINED);
        if get(&item, "kind").as_string().as_deref() != Some("file") {
            continue;
        }
        match call0(&item, "webkitGetAsEntry") {
            Ok(entry) if entry.is_object() => dropped.push(Dropped::Entry(entry)),
            _ => {
                if let Ok(file) = call0(&item, "getAsFile").and_then(|f| f.dyn_into::<File>()) {
                    dropped.push(Dropped::File(file));
                }
            }
        }
    }
    if dropped.is_empty()
        && let Some(files) = transfer.files()
    {
        dropped.extend(
            (0..files.length())
                .filter_map(|i| files.get(i))
                .map(Dropped::File),
        );
    }
    dropped
}

/// Every file of a drop with its name: folders walked to the bottom.
pub(crate) async fn expand(dropped: Vec<Dropped>) -> Result<Vec<Named>, String> {
    let mut out = Vec::new();
    for item in dropped {
        match item {
            Dropped::File(file) => push(&mut out, file.name(), file)?,
            Dropped::Entry(entry) => walk(entry, String::new(), &mut out).await?,
        }
    }
    Ok(out)
}

fn push(out: &mut Vec<Named>, name: String, file: File) -> Result<(), String> {
    if out.len() >= MAX_DROPPED_FILES {
        return Err(format!(
            "That drop holds over {MAX_DROPPED_FILES} files: drop fewer at a time."
        ));
    }
    out.push(Named { file, name });
    Ok(())
}

fn walk<'a>(
    entry: JsValue,
    parent: String,
    out: &'a mut Vec<Named>,
) -> LocalBoxFuture<'a, Result<(), String>> {
    Box::pin(async move {
        let name = get(&entry, "name").as_string().unwrap_or_default();
        let path = if parent.is_empty() {
            name
        } else {
            format!("{parent}/{name}")
        };
        if get(&entry, "isDirectory").as_bool() == Some(true) {
            let reader = call0(&entry, "createReader")
                .map_err(|_| format!("cannot read the folder {path}"))?;
            // readEntries answers in batches (100 in Chromium) until an empty one.
            loop {
                let batch: Array = callback(&reader, "readEntries")
                    .await?
                    .dyn_into()
                    .map_err(|_| format!("cannot list the folder {path}"))?;
                if batch.length() == 0 {
                    break;
                }
                for child in batch.iter() {
                    walk(child, path.clone(), out).await?;
                }
            }
        } else if get(&entry, "isFile").as_bool() == Some(true) {
            let file: File = callback(&entry, "file")
                .await?
                .dyn_into()
                .map_err(|_| format!("cannot read the file {path}"))?;
            push(out, path, file)?;
        }
        Ok(())
    })
}

/// The files of a paste (none when text was pasted). Images the clipboard names generically
/// (Chromium calls every screenshot `image.png`) or not at all get `pasted-<time>.<ext>`.
pub(crate) fn pasted(event: &web_sys::Event) -> Vec<Named> {
    let Ok(transfer) = get(event, "clipboardData").dyn_into::<DataTransfer>() else {
        return Vec::new();
    };
    let Some(files) = transfer.files() else {
        return Vec::new();
    };
    let stamp = js_sys::Date::new_0()
        .to_iso_string()
        .as_string()
        .unwrap_or_default();
    // 2026-11-27T08:59:01.123Z -> 2026-11-27T08-59-01Z: no ':' (awkward in file names).
    let stamp = format!("{}Z", stamp.get(..19).unwrap_or("now").replace(':', "-"));
    (0..files.length())
        .filter_map(|i| files.get(i))
        .enumerate()
        .map(|(index, file)| {
            let name = file.name();
            let generic = name.is_empty() || name.starts_with("image.") && name.len() <= 10;
            let name = if generic {
                let ext = file
                    .type_()
                    .split_once('/')
                    .map(|(_, sub)| sub.split(['+', ';']).next().unwrap_or("bin").to_string())
                    .filter(|ext| !ext.is_empty() && ext.chars().all(|c| c.is_ascii_alphanumeric()))
                    .unwrap_or_else(|| "bin".to_string());
                let suffix = if index == 0 {
                    String::new()
                } else {
                    format!("-{}", index + 1)
                };
                format!("pasted-{stamp}{suffix}.{ext}")
            } else {
                name
            };
            Named { file, name }
        })
        .collect()
}
