//! Browser-side defences, in front of every route: the `Host` check (DNS rebinding), the
//! same-origin check for cookie-borne state changes (CSRF), and the security headers every
//! reply carries (CSP on HTML, `nosniff`, `Referrer-Policy: no-referrer`).

use std::sync::Arc;

use app::model::ErrorCode;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::is_probe;

/// Where the dashboard is served, as the server understands it. Cheap to clone (it is
/// handed to every request).
#[derive(Clone, Debug)]
pub struct WebPolicy(Arc<Policy>);

#[derive(Debug)]
struct Policy {
    /// `--public-url`'s scheme and authority (`https`, `assets.example.com`), if set.
    public: Option<(String, String)>,
    /// Object storage's origin, for `connect-src` (the browser PUTs uploads to it) and the
    /// preview directives (`img-src`, `media-src`, `frame-src`).
    storage_origin: Option<String>,
    /// The CSP of HTML that sets none itself (no nonce), made once.
    fallback_csp: HeaderValue,
    /// Behind API Gateway (Lambda): https only, and the host name it vouches for is ours too.
    api_gateway: bool,
}

/// The host name API Gateway received the request for (`requestContext.domainName`), set by
/// the Lambda adapter; clients cannot set it.
#[derive(Clone, Debug)]
pub struct VouchedHost(pub String);

impl WebPolicy {
    /// `public_url`: what the operator configured; `storage_url`: any URL the presigner makes.
    pub fn new(public_url: Option<&str>, storage_url: Option<&str>) -> anyhow::Result<Self> {
        let public = public_url
            .map(|url| {
                scheme_and_authority(url)
                    .ok_or_else(|| anyhow::anyhow!("--public-url {url} is not an http(s) URL"))
            })
            .transpose()?;
        let mut policy = Policy {
            public,
            storage_origin: storage_url
                .and_then(scheme_and_authority)
                .map(|(scheme, authority)| format!("{scheme}://{authority}")),
            fallback_csp: HeaderValue::from_static("default-src 'none'"),
            api_gateway: false,
        };
        policy.fallback_csp = HeaderValue::from_str(&policy.content_security_policy(None))?;
        Ok(Self(Arc::new(policy)))
    }

    /// Behind API Gateway (AWS Lambda): also answers for the host name API Gateway vouches
    /// for (so no public URL is needed), and everything is https.
    pub fn behind_api_gateway(
        public_url: Option<&str>,
        storage_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let Self(policy) = Self::new(public_url, storage_url)?;
        let mut policy = Arc::into_inner(policy)
            .ok_or_else(|| anyhow::anyhow!("the web policy is already shared"))?;
        policy.api_gateway = true;
        Ok(Self(Arc::new(policy)))
    }

    /// Cookies get `Secure` and the `__Host-` prefix when the public URL is https.
    pub fn secure(&self) -> bool {
        self.0.secure()
    }

    /// The Content-Security-Policy of an HTML page; `nonce` admits the hydration script.
    pub fn content_security_policy(&self, nonce: Option<&str>) -> String {
        self.0.content_security_policy(nonce)
    }
}

impl Policy {
    fn secure(&self) -> bool {
        self.api_gateway
            || self
                .public
                .as_ref()
                .is_some_and(|(scheme, _)| scheme == "https")
    }

    /// Whether `host` is the one API Gateway vouched for (Lambda only).
    fn vouched(&self, host: &str, vouched: Option<&VouchedHost>) -> bool {
        self.api_gateway && vouched.is_some_and(|VouchedHost(name)| name.eq_ignore_ascii_case(host))
    }

    /// Whether `host` (a `Host` header) is ours: the public URL's, or a loopback name.
    fn allows_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self
            .public
            .as_ref()
            .is_some_and(|(_, authority)| *authority == host)
        {
            return true;
        }
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => host
                .rsplit_once(':')
                .map_or(host.as_str(), |(name, _)| name),
        };
        matches!(name, "localhost" | "127.0.0.1" | "::1") || name.ends_with(".localhost")
    }

    /// The origin a same-origin request from our own pages carries, given its `Host`.
    fn own_origin(&self, host: &str, vouched: Option<&VouchedHost>) -> String {
        let scheme = match &self.public {
            Some((scheme, authority)) if authority.eq_ignore_ascii_case(host) => scheme.as_str(),
            _ if self.vouched(host, vouched) => "https",
            _ => "http",
        };
        format!("{scheme}://{}", host.to_ascii_lowercase())
    }

    fn content_security_policy(&self, nonce: Option<&str>) -> String {
        let nonce = nonce.map_or(String::new(), |n| format!(" 'nonce-{n}'"));
        let storage = self
            .storage_origin
            .as_deref()
            .map_or(String::new(), |origin| format!(" {origin}"));
        // Previews load from storage (`img`, `video`/`audio`, the PDF's `iframe`): exactly its
        // origin, and only for those; plugins (`object-src`) stay off.
        let media = if storage.is_empty() {
            " 'none'".to_string()
        } else {
            storage.clone()
        };
        format!(
            "default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:{storage}; \
             media-src{media}; frame-src{media}; connect-src 'self'{storage}; \
             object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
    }
}

/// `scheme` and lowercase `authority` of an http(s) URL.
fn scheme_and_authority(url: &str) -> Option<(String, String)> {
    let uri: http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?.as_str().to_ascii_lowercase();
    (scheme == "http" || scheme == "https").then_some((scheme, authority))
}

/// In front of every route, in one pass: the `Host` check, the same-origin check, then the
/// security headers on the reply.
pub(super) async fn guard(
    State(policy): State<WebPolicy>,
    request: Request,
    next: Next,
) -> Response {
    let policy = &policy.0;
    if let Err(refused) =
        check_host(policy, &request).and_then(|()| check_same_origin(policy, &request))
    {
        return refused.into_response();
    }
    let static_file = request.uri().path().starts_with("/pkg/");
    let mut response = next.run(request).await;
    security_headers(policy, response.headers_mut(), static_file);
    response
}

/// Refuses a request whose `Host` is not ours before any route sees it: a page on another
/// site that rebinds its DNS name to this server's address cannot reach it. (HTTP/1.0
/// requests without `Host` are refused too.)
fn check_host(policy: &Policy, request: &Request) -> Result<(), ApiError> {
    // Health checks are exempt: load balancers probe by address, and they reveal nothing.
    if is_probe(request.uri().path()) {
        return Ok(());
    }
    let vouched = request.extensions().get::<VouchedHost>();
    match request_host(request.headers()) {
        Some(host) if policy.allows_host(host) || policy.vouched(host, vouched) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::MisdirectedRequest,
            "this server does not answer for that host name; set --public-url to the name clients use",
        )),
    }
}

fn request_host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST)?.to_str().ok()
}

/// A state change that rides on the browser's cookie must come from our own pages: its
/// `Origin` is ours (or, without `Origin`, `Sec-Fetch-Site: same-origin`). A request with an
/// `Authorization` header carries no ambient credential and is not subject to this; one with
/// neither cookie nor `Origin` (curl, webhooks) has nothing to forge.
fn check_same_origin(policy: &Policy, request: &Request) -> Result<(), ApiError> {
    let headers = request.headers();
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let exempt = safe || headers.contains_key(header::AUTHORIZATION);
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if exempt || (!headers.contains_key(header::COOKIE) && origin.is_none()) {
        return Ok(());
    }
    let same_origin = match (origin, request_host(headers)) {
        (Some(origin), Some(host)) => {
            let vouched = request.extensions().get::<VouchedHost>();
            origin.eq_ignore_ascii_case(&policy.own_origin(host, vouched))
        }
        (None, _) => headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin"),
        (Some(_), None) => false,
    };
    if same_origin {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::Forbidden,
            "a request with the session cookie must come from this site's own pages",
        ))
    }
}

/// Headers on every reply: no MIME sniffing, no `Referer` (a presigned URL must never leak
/// through one); on HTML, a CSP (pages set their own with the hydration nonce; any other HTML
/// gets one without) and no framing or caching.
fn security_headers(policy: &Policy, headers: &mut HeaderMap, static_file: bool) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let html = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if html {
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy.fallback_csp.clone());
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    // Replies carry presigned URLs, API keys, who is signed in: no cache (shared or the
    // browser's) may keep them. Only the built assets under `/pkg` are cacheable.
    if !static_file && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_the_public_host_are_ours() {
        let policy = WebPolicy::new(Some("https://Assets.Example.com"), None).unwrap();
        for ok in [
            "assets.example.com",
            "127.0.0.1:3000",
            "localhost",
            "localhost:8080",
            "[::1]:3000",
            "app.localhost:3000",
        ] {
            assert!(policy.0.allows_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "assets.example.com.evil.example",
            "127.0.0.2:3000",
            "localhost.evil.example",
            "assets.example.com:444",
        ] {
            assert!(!policy.0.allows_host(bad), "{bad}");
        }
        assert!(policy.secure());
        assert_eq!(
            policy.0.own_origin("assets.example.com", None),
            "https://assets.example.com"
        );
        assert_eq!(
            policy.0.own_origin("127.0.0.1:3000", None),
            "http://127.0.0.1:3000"
        );
    }

    #[test]
    fn behind_api_gateway_the_vouched_host_is_ours_over_https() {
        let policy = WebPolicy::behind_api_gateway(None, None).unwrap();
        let vouched = VouchedHost("abc.execute-api.eu-west-1.amazonaws.com".into());
        let host = "abc.execute-api.eu-west-1.amazonaws.com";
        assert!(policy.secure());
        assert!(policy.0.vouched(host, Some(&vouched)));
        assert!(!policy.0.vouched("evil.example", Some(&vouched)));
        assert!(!policy.0.vouched(host, None));
        assert_eq!(
            policy.0.own_origin(host, Some(&vouched)),
            format!("https://{host}")
        );
        // Without API Gateway, the extension counts for nothing.
        let plain = WebPolicy::new(None, None).unwrap();
        assert!(!plain.0.vouched(host, Some(&vouched)));
        assert!(!plain.secure());
    }

    #[test]
    fn the_csp_admits_the_nonce_and_the_storage_origin_only() {
        let policy = WebPolicy::new(
            None,
            Some("http://127.0.0.1:9000/assets/x?X-Amz-Signature=1"),
        )
        .unwrap();
        let csp = policy.content_security_policy(Some("abc"));
        assert!(csp.contains("script-src 'self' 'nonce-abc' 'wasm-unsafe-eval';"));
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:9000;"));
        // Previews: media and frames from storage only, still no plugins.
        assert!(csp.contains("img-src 'self' data: http://127.0.0.1:9000;"));
        assert!(csp.contains("media-src http://127.0.0.1:9000;"));
        assert!(csp.contains("frame-src http://127.0.0.1:9000;"));
        assert!(csp.contains("object-src 'none'"));
        let without = WebPolicy::new(None, None).unwrap();
        assert!(
            without
                .content_security_policy(None)
                .contains("media-src 'none'; frame-src 'none';")
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("base-uri 'none'"));
        assert!(!policy.secure());
        assert!(WebPolicy::new(Some("ftp://x"), None).is_err());
    }
}
