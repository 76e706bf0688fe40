//! The OpenAPI 3.1 document, made from the handlers' `#[utoipa::path]` attributes and the model's
//! own types; `GET /openapi.json` serves it and `GET /docs` renders it (Swagger UI, bundled into
//! the binary). Routes and their documentation are registered together (`OpenApiRouter`), so a
//! REST route cannot exist without its entry here.

use app::model::{
    Asset, AssetId, AssetPage, AssetState, Checksum, ChecksumAlgorithm, CompleteUpload,
    CompletedPart, CreatedAsset, DownloadLink, ErrorBody, ErrorCode, MultipartUpload, NewAsset,
    PartToSign, PartUrl, PartUrls, PreviewKind, PreviewLink, SignParts, SortOrder, StatusReply,
    UploadedPart, UploadedParts,
};
use bytes::Bytes;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, ObjectBuilder, OpenApi as OpenApiDoc, Ref, RefOr, Response, Type,
};
use utoipa::{Modify, OpenApi, ToResponse};
use utoipa_axum::router::UtoipaMethodRouter;

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Asset service",
        description = "Store files in S3-compatible object storage without the bytes passing \
            through this server: ask for an upload (`POST /assets`), `PUT` the bytes to the \
            presigned `upload_url`, confirm (`PUT /assets/{id}`), then get presigned download \
            URLs. Scripts authenticate with an API key as `Authorization: Bearer <key>` (make \
            one on the dashboard's Keys page or with `server api-keys create`). `/asset` (the \
            original example's path) answers exactly as `/assets`. Every error is JSON \
            `{\"error_message\", \"code\"}`."
    ),
    tags(
        (name = "assets", description = "Uploads, downloads, listing and deletion"),
        (name = "multipart", description = "Uploads in parts: sign part URLs, list what arrived (to resume), complete, abort"),
        (name = "uppy", description = "Companion-compatible routes for Uppy's `@uppy/aws-s3` (`companionEndpoint: '<server>/companion'`): uploads in parts, in Companion's request and reply shapes; an API key or the dashboard's session cookie"),
        (name = "assets (alias)", description = "`/asset`, the original example's path: the same operations"),
        (name = "live", description = "Live updates: the caller's asset changes as Server-Sent Events"),
        (name = "events", description = "S3 event notifications from object storage"),
        (name = "health", description = "Probes for load balancers and orchestrators"),
        (name = "operations", description = "Prometheus metrics, for admins or the scrape token"),
    ),
    components(
        schemas(Asset, AssetId, AssetState, AssetPage, Checksum, ChecksumAlgorithm, CreatedAsset,
            DownloadLink, ErrorBody, ErrorCode, NewAsset, StatusReply, MultipartUpload, SignParts,
            PartToSign, PartUrl, PartUrls, UploadedPart, UploadedParts, CompleteUpload,
            CompletedPart, SortOrder, PreviewLink, PreviewKind),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, TooLarge,
            RateLimited, Unavailable, NotPreviewable),
    ),
    modifiers(&Security),
)]
pub(super) struct ApiDoc;

/// The bearer schemes: API keys for `/assets`, the webhook token for `/events/s3`.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |what: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.description = Some(what.to_string());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme(
            "api_key",
            bearer("An API key (`assets_...`), as `Authorization: Bearer <key>`."),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "assets_session",
                "The dashboard's session cookie (`__Host-assets_session` over https), for \
                 browsers on this server's own pages; state changes must come from them \
                 (`Origin`).",
            ))),
        );
        components.add_security_scheme(
            "metrics_token",
            bearer("The scrape token (`ASSETS_METRICS_TOKEN`) for `GET /metrics`."),
        );
        components.add_security_scheme(
            "events_token",
            bearer(
                "The shared webhook token (`ASSETS_EVENTS_TOKEN`); SNS deliveries prove \
                 themselves with their signature instead.",
            ),
        );
    }
}

/// The `/asset` alias: the same handlers and documentation under the original's path, with
/// operation ids of their own (ids must be unique in a document).
pub(super) fn with_alias(
    (schemas, mut paths, router): UtoipaMethodRouter<AppState>,
) -> UtoipaMethodRouter<AppState> {
    let aliases: Vec<_> = paths
        .paths
        .iter()
        .filter_map(|(path, item)| {
            let alias = path.strip_prefix("/assets")?;
            let mut item = item.clone();
            for operation in operations(&mut item) {
                operation.operation_id = operation.operation_id.take().map(|id| id + "_alias");
                operation.tags = Some(vec!["assets (alias)".to_string()]);
                // Links from an alias operation lead to alias operations.
                for response in operation.responses.responses.values_mut() {
                    if let RefOr::T(response) = response {
                        for link in response.links.values_mut() {
                            if let RefOr::T(link) = link {
                                link.operation_id.push_str("_alias");
                            }
                        }
                    }
                }
            }
            Some((format!("/asset{alias}"), item))
        })
        .collect();
    paths.paths.extend(aliases);
    (schemas, paths, router)
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Every route the Host check guards (all but the health probes) may answer 421, and any
/// route 414 / 431 for an oversized request head: added to each operation here rather than
/// repeated on every handler.
pub(super) fn add_common_responses(doc: &mut OpenApiDoc) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let guarded = !super::is_probe(path);
        for operation in operations(item) {
            let responses = &mut operation.responses.responses;
            if guarded {
                responses.insert(
                    "421".into(),
                    error("The `Host` header is not a name this server answers for (set --public-url).").into(),
                );
            }
            responses.insert(
                "414".into(),
                error("The request target is over 8 KiB.").into(),
            );
            responses.insert(
                "431".into(),
                error("The request headers are over 32 KiB in total.").into(),
            );
        }
    }
}

/// What `GET /openapi.json` serves: the document, with the bounds this server was started with,
/// as JSON text (made once).
pub(super) fn published(doc: &OpenApiDoc, max_upload_bytes: u64) -> Bytes {
    // Serialising plain data does not fail; an empty document would fail the tests.
    let mut doc = serde_json::to_value(doc).unwrap_or_default();
    if let Some(new_asset) = doc.pointer_mut("/components/schemas/NewAsset") {
        // The largest upload depends on the configuration.
        if let Some(size) = new_asset.pointer_mut("/properties/size") {
            size["maximum"] = max_upload_bytes.into();
        }
        // The combinations `NewAsset::is_multipart` refuses (utoipa has no `not`): both
        // checksums; a whole-object checksum on parts; over 5 GiB in one PUT; part checksums
        // on a single PUT.
        let single_put_max = app::model::MAX_SINGLE_PUT_SIZE;
        let text = serde_json::json!({"type": "string"});
        let over_single_put =
            serde_json::json!({"type": "integer", "exclusiveMinimum": single_put_max});
        let refused = |pairs: serde_json::Value| {
            let required: Vec<_> = pairs
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .collect();
            serde_json::json!({"not": {"required": required, "properties": pairs}})
        };
        new_asset["allOf"] = serde_json::json!([
            refused(serde_json::json!({"sha256": text, "md5": text})),
            refused(serde_json::json!({"multipart": {"const": true}, "sha256": text})),
            refused(serde_json::json!({"multipart": {"const": true}, "md5": text})),
            refused(serde_json::json!({"size": over_single_put, "sha256": text})),
            refused(serde_json::json!({"size": over_single_put, "md5": text})),
            refused(serde_json::json!({"size": over_single_put, "multipart": {"const": false}})),
            refused(
                serde_json::json!({"multipart": {"const": false}, "part_sha256": {"const": true}})
            ),
        ]);
    }
    serde_json::to_vec(&doc).unwrap_or_default().into()
}

/// `GET /docs`: Swagger UI, its files bundled into the binary (no CDN), reading `/openapi.json`.
pub(super) fn docs_page() -> axum::Router<AppState> {
    let config = utoipa_swagger_ui::Config::new(["/openapi.json"])
        .try_it_out_enabled(false)
        .validator_url("none");
    utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(config)
        .into()
}

fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn seconds_header(description: &str) -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some(description))
        .build()
}

/// Reusable error replies (`components.responses`), each `{"error_message","code"}`.
macro_rules! error_response {
    ($name:ident, $description:expr) => {
        error_response!($name, $description, |r| r);
    };
    ($name:ident, $description:expr, $headers:expr) => {
        pub(super) struct $name;
        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<Response>) {
                let add_headers: fn(Response) -> Response = $headers;
                (stringify!($name), add_headers(error($description)).into())
            }
        }
    };
}

error_response!(
    BadRequest,
    "The input is malformed or out of bounds (`invalid_input`)."
);
error_response!(
    Unauthorized,
    "No valid credential (`unauthorized`).",
    |mut r| {
        r.headers.insert(
            "WWW-Authenticate".into(),
            HeaderBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .description(Some("`Bearer`"))
                .build()
                .into(),
        );
        r
    }
);
error_response!(
    Forbidden,
    "Not allowed (`forbidden`): another user's assets, or a cookie-borne request from another site."
);
error_response!(
    NotFound,
    "No such asset, or not one the caller may see (`not_found`)."
);
error_response!(
    Conflict,
    "The asset's state does not allow this (`conflict`)."
);
error_response!(
    NotPreviewable,
    "The asset is not `UPLOADED` (`conflict`), or its type is download-only (`not_previewable`)."
);
error_response!(
    TooLarge,
    "The body or the declared size is over the limit (`too_large`)."
);
error_response!(
    RateLimited,
    "Too many requests or failed sign-ins (`rate_limited`); retry after `Retry-After`.",
    |mut r| {
        r.headers.insert(
            "Retry-After".into(),
            seconds_header("Seconds to wait.").into(),
        );
        r
    }
);
error_response!(
    Unavailable,
    "A backend is unavailable (`unavailable`); retry after `Retry-After`.",
    |mut r| {
        r.headers.insert(
            "Retry-After".into(),
            seconds_header("Seconds to wait.").into(),
        );
        r
    }
);
