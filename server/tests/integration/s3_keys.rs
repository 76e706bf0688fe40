//! The embedded endpoint's keys as S3 takes them: up to 1,024 bytes (multibyte UTF-8 and path
//! components longer than a file name included) through every operation; longer keys, and
//! `.`/`..` (which would name a directory), refused with S3's errors.

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_up_to_1024_bytes_work_in_every_operation() {
    let app = TestApp::spawn_with(&["--embedded-events", "false"]).await;
    let s3 = app.s3_client();
    let bucket = app.created_bucket();
    let mut keys = vec![
        "k".repeat(1024),                     // one component of 1,024 bytes
        "ü".repeat(512),                      // 1,024 bytes of two-byte characters
        format!("dir/{}", "日".repeat(340)),  // 1,024 bytes, three-byte characters
        format!("dir/{}/x", "e".repeat(300)), // a long middle component
        "a/../b".to_string(),                 // literal keys, as S3 keeps them
        "./x".to_string(),
        "a//b/".to_string(),
        "...".to_string(),
    ];
    for (i, key) in keys.iter().enumerate() {
        let body = format!("object {i}");
        s3.put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from(body.clone().into_bytes()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {key:?}: {e:?}"));
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(body.len() as i64), "{key:?}");
        let got = s3
            .get_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            body.as_bytes()
        );
    }
    // `a/../b` is its own key, not `b`.
    let b = s3.head_object().bucket(&bucket).key("b").send().await;
    assert_eq!(
        b.unwrap_err().raw_response().unwrap().status().as_u16(),
        404
    );

    // COPY from and to long keys.
    let copy = format!("copies/{}", "ö".repeat(500));
    s3.copy_object()
        .bucket(&bucket)
        .key(&copy)
        .copy_source(format!("{bucket}/{}", urlencoding(&keys[1])))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(&copy)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"object 1"
    );
    keys.push(copy);

    // Multipart to a 1,024-byte key.
    let multipart = format!("mp/{}", "ä".repeat(510));
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key(&multipart)
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(&bucket)
        .key(&multipart)
        .upload_id(upload_id)
        .part_number(1)
        .body(ByteStream::from(b"multipart bytes".to_vec()))
        .send()
        .await
        .unwrap();
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key(&multipart)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket(&bucket)
        .key(&multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"multipart bytes"
    );
    keys.push(multipart);

    // LIST returns every key, in S3's (UTF-8 byte) order.
    let listed = list(&s3, &bucket).await;
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(listed, expected);

    // DELETE each.
    for key in &keys {
        s3.delete_object()
            .bucket(&bucket)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    assert!(list(&s3, &bucket).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_over_1024_bytes_and_dot_keys_are_refused_as_s3_does() {
    let app = TestApp::spawn_with(&["--embedded-events", "false"]).await;
    let s3 = app.s3_client();
    let bucket = app.created_bucket();
    for (key, code) in [
        ("k".repeat(1025), "KeyTooLongError"),
        ("ü".repeat(513), "KeyTooLongError"),
        (".".to_string(), "InvalidArgument"),
        ("..".to_string(), "InvalidArgument"),
    ] {
        let err = s3
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap_err();
        let status = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(
            (status, err.code()),
            (Some(400), Some(code)),
            "{key:?}: {err:?}"
        );
        let err = s3
            .get_object()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .unwrap_err();
        let status = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(400), "GET {key:?}: {err:?}");
    }
    assert!(list(&s3, &bucket).await.is_empty());
}

async fn list(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(3)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for object in page.unwrap().contents() {
            keys.push(object.key().unwrap().to_string());
        }
    }
    keys
}

fn urlencoding(key: &str) -> String {
    percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC).to_string()
}
