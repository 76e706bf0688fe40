//! Checks S3 makes on a request's signature that `s3s` does not: a presigned URL lives at most
//! seven days (`X-Amz-Expires` 0..=604800), and the credential scope names this endpoint's
//! region. Both run before `s3s` verifies the signature itself.

use axum::response::{IntoResponse as _, Response};
use http::{StatusCode, header};

use crate::aws::EMBEDDED_REGION;

/// S3's longest presigned URL lifetime.
const MAX_EXPIRES: i64 = 604_800;

/// S3's error document.
fn refuse(status: StatusCode, code: &str, message: &str, region: bool) -> Response {
    let region = if region {
        format!("<Region>{EMBEDDED_REGION}</Region>")
    } else {
        String::new()
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{region}</Error>"
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// The region of a SigV4 credential (`<key>/<date>/<region>/<service>/aws4_request`).
fn scope_region(credential: &str) -> Option<&str> {
    credential.split('/').nth(2)
}

/// The answer for a request S3 would refuse on these grounds, or `None`.
pub(super) fn refusal<B>(req: &http::Request<B>) -> Option<Response> {
    let (mut expires, mut credential) = (None, None);
    for (name, value) in form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match &*name {
            "X-Amz-Expires" => expires = Some(value),
            "X-Amz-Credential" => credential = Some(value),
            _ => {}
        }
    }
    if let Some(expires) = expires {
        let message = match expires.parse::<i64>() {
            Ok(seconds) if (0..=MAX_EXPIRES).contains(&seconds) => None,
            Ok(seconds) if seconds < 0 => Some("X-Amz-Expires must be non-negative"),
            Ok(_) => Some(
                "X-Amz-Expires must be less than a week (in seconds) that is, the given X-Amz-Expires must be less than 604800 seconds",
            ),
            Err(_) => Some("X-Amz-Expires should be a number"),
        };
        if let Some(message) = message {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "AuthorizationQueryParametersError",
                message,
                false,
            ));
        }
    }
    if let Some(credential) = credential
        && let Some(region) = scope_region(&credential)
        && region != EMBEDDED_REGION
    {
        let message = format!(
            "Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{EMBEDDED_REGION}'"
        );
        return Some(refuse(
            StatusCode::BAD_REQUEST,
            "AuthorizationQueryParametersError",
            &message,
            true,
        ));
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(rest) = authorization.strip_prefix("AWS4-HMAC-SHA256")
        && let Some(credential) = rest
            .split(',')
            .filter_map(|part| part.trim().strip_prefix("Credential="))
            .next()
        && let Some(region) = scope_region(credential)
        && region != EMBEDDED_REGION
    {
        let message = format!(
            "The authorization header is malformed; the region '{region}' is wrong; expecting '{EMBEDDED_REGION}'"
        );
        return Some(refuse(
            StatusCode::BAD_REQUEST,
            "AuthorizationHeaderMalformed",
            &message,
            true,
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(uri: &str, authorization: Option<&str>) -> Option<StatusCode> {
        let mut builder = http::Request::get(uri);
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        refusal(&builder.body(()).unwrap()).map(|r| r.status())
    }

    #[test]
    fn expiry_beyond_a_week_or_negative_is_forbidden() {
        let cred = "X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request";
        assert_eq!(
            status_of(&format!("/b/k?X-Amz-Expires=604800&{cred}"), None),
            None
        );
        for bad in ["604801", "-1", "x"] {
            assert_eq!(
                status_of(&format!("/b/k?X-Amz-Expires={bad}&{cred}"), None),
                Some(StatusCode::FORBIDDEN),
                "{bad}"
            );
        }
    }

    #[test]
    fn another_region_in_the_scope_is_refused() {
        let query =
            "/b/k?X-Amz-Expires=60&X-Amz-Credential=AK%2F20260101%2Feu-west-1%2Fs3%2Faws4_request";
        assert_eq!(status_of(query, None), Some(StatusCode::BAD_REQUEST));
        let header = "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(
            status_of("/b/k", Some(header)),
            Some(StatusCode::BAD_REQUEST)
        );
        let ours = "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(status_of("/b/k", Some(ours)), None);
    }
}
