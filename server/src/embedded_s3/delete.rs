//! Removing objects: DeleteObject (with S3's conditional deletes) and DeleteObjects.

use s3s::dto::*;
use s3s::{S3Response, S3Result, s3_error};

use super::disk::ObjectMeta;
use super::handlers::DiskObjects;
use super::object_ops::refuse_versions;
use super::request::{precondition_failed, seconds};
use crate::events::ObjectChange;

/// S3's limit on keys in one DeleteObjects request.
const MAX_BATCH_DELETE: usize = 1000;

type Reply<T> = S3Result<S3Response<T>>;

pub(super) async fn delete_object(
    objects: &DiskObjects,
    input: DeleteObjectInput,
) -> Reply<DeleteObjectOutput> {
    refuse_versions(input.version_id.as_deref())?;
    let if_match = input.if_match;
    let (if_size, if_time) = (input.if_match_size, input.if_match_last_modified_time);
    let condition = |meta: &ObjectMeta| {
        let etag_ok = match &if_match {
            Some(ETagCondition::ETag(tag)) => tag.value() == meta.etag,
            _ => true,
        };
        let size_ok = if_size.is_none_or(|size| size as u64 == meta.size);
        let time_ok = if_time
            .as_ref()
            .is_none_or(|t| seconds(t) == seconds(&meta.last_modified()));
        if etag_ok && size_ok && time_ok {
            Ok(())
        } else {
            Err(precondition_failed())
        }
    };
    let conditional = if_match.is_some() || if_size.is_some() || if_time.is_some();
    let removed = objects
        .disk
        .remove(&input.bucket, &input.key, condition)
        .await?;
    if removed {
        objects
            .emit(ObjectChange::Removed, &input.key, None, None)
            .await;
    } else if conditional {
        // A conditional delete of a missing key fails as S3's does.
        return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
    }
    // S3 answers 204 whether or not the key existed.
    Ok(S3Response::new(DeleteObjectOutput::default()))
}

pub(super) async fn delete_objects(
    objects: &DiskObjects,
    input: DeleteObjectsInput,
) -> Reply<DeleteObjectsOutput> {
    objects.disk.check_bucket(&input.bucket)?;
    let listed = input.delete.objects;
    if listed.is_empty() || listed.len() > MAX_BATCH_DELETE {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema"
        ));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let (mut deleted, mut errors) = (Vec::new(), Vec::new());
    for item in listed {
        let expected_etag = item.e_tag.as_ref().map(|t| t.value().to_string());
        let result = if item.version_id.as_deref().is_some_and(|v| v != "null") {
            Err(s3_error!(
                NoSuchVersion,
                "The specified version does not exist."
            ))
        } else {
            objects
                .disk
                .remove(&input.bucket, &item.key, |meta| match &expected_etag {
                    Some(tag) if *tag != meta.etag => Err(precondition_failed()),
                    _ => Ok(()),
                })
                .await
        };
        match result {
            Ok(removed) => {
                if removed {
                    objects
                        .emit(ObjectChange::Removed, &item.key, None, None)
                        .await;
                }
                if !quiet {
                    deleted.push(DeletedObject {
                        key: Some(item.key),
                        ..Default::default()
                    });
                }
            }
            Err(err) => errors.push(s3s::dto::Error {
                code: Some(err.code().as_str().to_string()),
                message: err.message().map(str::to_string),
                key: Some(item.key),
                version_id: item.version_id,
            }),
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}
