//! Companion's request and reply shapes (`@uppy/companion`'s `controllers/s3.js`), as this
//! server reads and writes them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use app::model::{MAX_PARTS, MAX_PARTS_PER_REQUEST};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{Object, ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};

use crate::http::error::ApiError;

/// The most metadata entries a create request may carry.
pub(super) const MAX_METADATA_ENTRIES: usize = 64;

/// `POST /companion/s3/multipart`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = CompanionCreate, example = json!({"filename": "video.mp4", "type": "video/mp4", "metadata": {"name": "video.mp4", "type": "video/mp4"}}))]
#[serde(deny_unknown_fields)]
pub(super) struct CreateRequest {
    /// The file's name, kept as the asset's `filename`: 1..=255 bytes, no control characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]+$"
    )]
    pub(super) filename: String,
    /// Its media type, kept as the asset's `content_type`.
    #[serde(rename = "type")]
    #[schema(
        max_length = 255,
        pattern = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(;[\x20-\x7e]*)?$"
    )]
    pub(super) content_type: String,
    /// Uppy's file metadata (string or null values, at most 64 entries, 2 KB in all): kept,
    /// as Companion keeps it, as the object's user metadata (`x-amz-meta-<name>`, names
    /// lowercased, non-ASCII values RFC 2047-encoded; null values left out).
    #[serde(default)]
    #[schema(schema_with = metadata_schema)]
    pub(super) metadata: Option<HashMap<String, Option<String>>>,
}

/// `metadata`'s schema: an object of at most 64 string (or null) values named by header
/// tokens (2 KB in all, names and values, as S3 keeps them).
pub(super) fn metadata_schema() -> Object {
    let value = ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]));
    // S3 keeps them as `x-amz-meta-<name>` headers: names are header tokens.
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .additional_properties(Some(value))
        .property_names(Some(name))
        .max_properties(Some(MAX_METADATA_ENTRIES))
        .build()
}

/// `200` reply to `POST /companion/s3/multipart`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CompanionUpload)]
pub(super) struct CreateReply {
    /// The object key (`assets/<asset id>`); pass it as `?key=` to the other routes.
    #[schema(example = "assets/0199a6c2-7d1e-7c3b-9a51-2f4e8b0c6d17")]
    pub(super) key: String,
    #[serde(rename = "uploadId")]
    pub(super) upload_id: String,
    pub(super) bucket: String,
}

/// The upload a request names: `?key=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyQuery {
    /// The object key `POST /companion/s3/multipart` returned.
    #[param(pattern = "^assets/[0-9a-fA-F-]{36}$")]
    pub(super) key: String,
}

/// `?key=&partNumbers=1,2,3` of the batch route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchQuery {
    /// The object key `POST /companion/s3/multipart` returned.
    #[param(pattern = "^assets/[0-9a-fA-F-]{36}$")]
    pub(super) key: String,
    /// 1 to 100 part numbers (1..=10000), comma-separated; one URL per distinct number.
    #[serde(rename = "partNumbers")]
    #[param(pattern = "^([1-9][0-9]{0,3}|10000)(,([1-9][0-9]{0,3}|10000)){0,99}$")]
    pub(super) part_numbers: String,
}

/// `200` reply to `GET /companion/s3/multipart/{uploadId}/{partNumber}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CompanionPartUrl)]
pub(super) struct PartUrlReply {
    /// `PUT` the part's bytes here; its `ETag` reply header goes into the completion.
    pub(super) url: String,
    /// Seconds the URL stays valid.
    pub(super) expires: u64,
    /// Headers to send with the part, when the URL needs any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(super) headers: BTreeMap<String, String>,
}

/// `200` reply to the batch route: part number -> URL.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CompanionPartUrls)]
pub(super) struct BatchReply {
    /// Keyed by part number (as a JSON object key: a string).
    #[serde(rename = "presignedUrls")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub(super) presigned_urls: BTreeMap<u32, String>,
}

/// A part storage holds, as S3's `ListParts` names its fields.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CompanionPart)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StoredPart {
    pub(super) part_number: u32,
    /// Quoted, as S3 sends it.
    #[serde(rename = "ETag")]
    pub(super) etag: String,
    pub(super) size: u64,
}

/// `POST /companion/s3/multipart/{uploadId}/complete`: every part, ascending.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = CompanionComplete)]
#[serde(deny_unknown_fields)]
pub(super) struct CompleteRequest {
    #[schema(min_items = 1, max_items = 10000)]
    pub(super) parts: Vec<PartToComplete>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = CompanionCompletedPart)]
#[serde(deny_unknown_fields)]
pub(super) struct PartToComplete {
    #[serde(rename = "PartNumber", deserialize_with = "whole_part_number")]
    #[schema(minimum = 1, maximum = 10000)]
    pub(super) part_number: u32,
    /// The part upload's `ETag` reply header, quoted or not.
    #[serde(rename = "ETag")]
    #[schema(
        min_length = 1,
        max_length = 130,
        pattern = r#"^"?[\x21\x23-\x7e]{1,128}"?$"#
    )]
    pub(super) etag: String,
}

/// `200` reply to the completion.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CompanionCompleted)]
pub(super) struct CompleteReply {
    /// The asset's REST resource (`/assets/{id}`): confirm it with `PUT`, then `GET` download
    /// links from it. (Companion gives the object's S3 URL, which is not public here.)
    pub(super) location: String,
    pub(super) key: String,
    pub(super) bucket: String,
}

/// `200` reply to the abort: `{}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CompanionAborted)]
pub(super) struct AbortReply {}

/// `1,2,3` -> the distinct numbers, ascending: exactly the documented pattern (no spaces, no
/// leading zeros, 1..=10000, at most 100 of them). Companion answers a repeated number once.
pub(super) fn part_numbers(list: &str) -> Result<Vec<u32>, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "partNumbers must be 1..={MAX_PARTS_PER_REQUEST} part numbers (1..={MAX_PARTS}) separated by commas, e.g. 1,2,3"
        ))
    };
    let items: Vec<&str> = list.split(',').collect();
    if items.len() > MAX_PARTS_PER_REQUEST {
        return Err(bad());
    }
    let mut numbers = BTreeSet::new();
    for item in items {
        let digits = !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit());
        let number = item
            .parse::<u32>()
            .ok()
            .filter(|n| digits && !item.starts_with('0') && (1..=MAX_PARTS).contains(n))
            .ok_or_else(bad)?;
        numbers.insert(number);
    }
    Ok(numbers.into_iter().collect())
}

/// A part number as JSON Schema reads an integer: `3` or `3.0`.
fn whole_part_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
                .map(|f| f as u64)
        })
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| D::Error::custom(format!("{number} is not a part number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_number_lists_are_parsed_or_refused() {
        assert_eq!(part_numbers("10,2,1").unwrap(), vec![1, 2, 10]);
        assert_eq!(part_numbers("7,7").unwrap(), vec![7]);
        assert_eq!(part_numbers("10000").unwrap(), vec![10000]);
        for bad in [
            "",
            "1,",
            "a",
            "1;2",
            "-1",
            "+1",
            " 1",
            "01",
            "0",
            "10001",
            "99999999999",
        ] {
            assert!(part_numbers(bad).is_err(), "{bad}");
        }
        let many: Vec<String> = (1..=101).map(|n| n.to_string()).collect();
        assert!(part_numbers(&many.join(",")).is_err());
    }

    #[test]
    fn part_numbers_in_bodies_are_whole_numbers() {
        let read = |body: &str| serde_json::from_str::<PartToComplete>(body).map(|p| p.part_number);
        assert_eq!(read(r#"{"PartNumber": 3, "ETag": "a"}"#).unwrap(), 3);
        assert_eq!(read(r#"{"PartNumber": 3.0, "ETag": "a"}"#).unwrap(), 3);
        for bad in ["3.5", "-1", "\"3\"", "4294967296", "1e300"] {
            assert!(
                read(&format!(r#"{{"PartNumber": {bad}, "ETag": "a"}}"#)).is_err(),
                "{bad}"
            );
        }
    }
}
