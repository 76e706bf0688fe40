//! The embedded S3 endpoint killed (SIGKILL) while bytes are still arriving: after the
//! restart no partial object is visible, no temp file is left, and a multipart upload keeps
//! exactly the parts that had completed.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use crate::common::TestApp;

const MIB: usize = 1 << 20;

/// Starts sending `first` to `url` with `method` and never finishes the body.
fn start_endless_upload(url: String, first: Vec<u8>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (sender, receiver) =
            futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        let mut sender = sender;
        let _ = futures::SinkExt::send(&mut sender, Ok(Bytes::from(first))).await;
        let body = reqwest::Body::wrap_stream(receiver);
        // The declared length is larger than what is sent: the server keeps waiting.
        let _ = reqwest::Client::new()
            .put(url)
            .header("content-length", (64 * MIB).to_string())
            .body(body)
            .send()
            .await;
        drop(sender);
    })
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|read| {
            read.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_upload_leaves_no_partial_object_and_no_temp_files() {
    let app = TestApp::spawn_process(&[]).await;
    let s3 = app.s3_client();
    let bucket = app.created_bucket();
    s3.put_object()
        .bucket(&bucket)
        .key("kept")
        .body(ByteStream::from(b"old bytes".to_vec()))
        .send()
        .await
        .unwrap();
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("big")
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap().to_string();
    s3.upload_part()
        .bucket(&bucket)
        .key("big")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from(vec![1u8; 5 * MIB]))
        .send()
        .await
        .unwrap();

    // A replacement of "kept", a new object and part 2, each cut off mid-body.
    let presign = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
    let mut cut = Vec::new();
    for key in ["kept", "new"] {
        let url = s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .presigned(presign.clone())
            .await
            .unwrap();
        cut.push(start_endless_upload(url.uri().to_string(), vec![9u8; MIB]));
    }
    let part = s3
        .upload_part()
        .bucket(&bucket)
        .key("big")
        .upload_id(&upload_id)
        .part_number(2)
        .presigned(presign)
        .await
        .unwrap();
    cut.push(start_endless_upload(part.uri().to_string(), vec![2u8; MIB]));
    let tmp = app.data_dir.join("objects/.tmp");
    // The bodies are streaming to temp files when the server dies.
    for _ in 0..100 {
        if entries(&tmp).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        entries(&tmp).len() >= 3,
        "uploads in flight: {:?}",
        entries(&tmp)
    );

    let app = app.crash_and_restart().await;
    for task in cut {
        task.abort();
    }
    let s3 = app.s3_client();
    assert!(entries(&tmp).is_empty(), "left behind: {:?}", entries(&tmp));
    let kept = s3
        .get_object()
        .bucket(&bucket)
        .key("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(
        kept.body.collect().await.unwrap().into_bytes().as_ref(),
        b"old bytes"
    );
    let missing = s3.head_object().bucket(&bucket).key("new").send().await;
    assert!(missing.is_err(), "a partial object is visible");
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["kept"]);
    // The upload survives with the one part that completed.
    let parts = s3
        .list_parts()
        .bucket(&bucket)
        .key("big")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    let numbers: Vec<i32> = parts
        .parts()
        .iter()
        .filter_map(|p| p.part_number())
        .collect();
    assert_eq!(numbers, [1]);
    s3.abort_multipart_upload()
        .bucket(&bucket)
        .key("big")
        .upload_id(&upload_id)
        .send()
        .await
        .unwrap();
    assert!(entries(&app.data_dir.join("objects/.uploads")).is_empty());
    // The object files are exactly the objects.
    assert_eq!(
        entries(&app.data_dir.join(format!("objects/{bucket}"))),
        ["kept"]
    );
}
