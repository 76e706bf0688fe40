//! A test harness, not a product: a local stand-in for API Gateway's HTTP API in front of the
//! Lambda `http` handler, so a real browser can drive the dashboard as Lambda serves it.
//!
//! It listens on HTTPS (API Gateway serves nothing else; the certificate is the caller's,
//! self-signed in `scripts/test.sh`), buffers each request whole, turns it into the payload
//! format 2.0 event API Gateway sends (`rawPath`, `rawQueryString`, `cookies`, lower-case
//! headers joined with commas, `requestContext.domainName` = the `Host` the browser sent,
//! binary bodies base64), hands it to `Lambda::handle` (what `bootstrap` hands the Lambda
//! runtime) and turns the reply (`statusCode`, `headers`, `multiValueHeaders`, `cookies`,
//! `body`, `isBase64Encoded`) back into an HTTP response. The handler is configured from the
//! environment as `bootstrap` is (`ASSETS_*`, `LEPTOS_SITE_ROOT`; AWS mode only).
//!
//!     lambda_gateway <listen address> <certificate.pem> <key.pem>

#![allow(unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Parser as _;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use server::config::Config;
use server::lambda::{HandlerKind, Lambda};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::pem::PemObject as _};

/// API Gateway's own limit on a request's payload.
const MAX_BODY: usize = 10 << 20;
/// The API's id in the events (`requestContext.apiId`), as if it had one.
const API_ID: &str = "localgw0001";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, cert, key] = args.as_slice() else {
        anyhow::bail!("usage: lambda_gateway <listen address> <certificate.pem> <key.pem>");
    };
    let config = Config::parse_from(["bootstrap"]);
    server::telemetry::init(config.log_format);
    let options = leptos::config::get_configuration(None)
        .map_err(|err| anyhow::anyhow!("reading the Leptos configuration: {err}"))?
        .leptos_options;
    let lambda = Lambda::build(config, options, HandlerKind::Http).await?;
    let tls = TlsAcceptor::from(Arc::new(tls_config(cert, key)?));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("API Gateway stand-in on https://{}", listener.local_addr()?);
    // The handler's future is not `Send` (the runtime never moves it either): connections
    // are served on this thread.
    let local = tokio::task::LocalSet::new();
    local.run_until(serve(listener, tls, lambda)).await
}

async fn serve(
    listener: tokio::net::TcpListener,
    tls: TlsAcceptor,
    lambda: Lambda,
) -> anyhow::Result<()> {
    loop {
        let (stream, peer) = listener.accept().await?;
        let (tls, lambda) = (tls.clone(), lambda.clone());
        tokio::task::spawn_local(async move {
            let Ok(stream) = tls.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(move |request| {
                let lambda = lambda.clone();
                async move { Ok::<_, std::convert::Infallible>(invoke(&lambda, request, peer).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn tls_config(cert: &str, key: &str) -> anyhow::Result<rustls::ServerConfig> {
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {cert}"))?
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading {key}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// One request through the handler; a handler failure is API Gateway's 500.
async fn invoke(
    lambda: &Lambda,
    request: Request<hyper::body::Incoming>,
    peer: SocketAddr,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let line = format!("{} {}", parts.method, parts.uri.path());
    let body = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(body) => body,
        Err(_) => return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let event = event(&parts, &body, peer);
    let reply = match lambda.handle(event, lambda_http::Context::default()).await {
        Ok(reply) => reply,
        Err(err) => {
            eprintln!("lambda_gateway: the handler failed: {err}");
            return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    // An access log line, as API Gateway can write: how the body travelled in the reply.
    let encoding = match reply["isBase64Encoded"].as_bool() {
        Some(true) => "base64",
        _ => "text",
    };
    println!("lambda_gateway: {line} {} {encoding}", reply["statusCode"]);
    response(&reply).unwrap_or_else(|err| {
        eprintln!("lambda_gateway: not an HTTP API reply: {err:#}");
        gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    })
}

/// The payload format 2.0 event API Gateway makes of a request.
fn event(parts: &http::request::Parts, body: &[u8], peer: SocketAddr) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if *name == header::COOKIE {
            // `Cookie` arrives as the `cookies` array, not as a header.
            cookies.extend(values.flat_map(|v| {
                v.split(';')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
            }));
        } else {
            headers.insert(
                name.as_str().into(),
                values.collect::<Vec<_>>().join(",").into(),
            );
        }
    }
    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let host = headers
        .get("host")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    headers.insert("x-forwarded-for".into(), peer.ip().to_string().into());
    headers.insert("x-forwarded-port".into(), peer_port(&host).into());
    headers.insert("x-forwarded-proto".into(), "https".into());
    let raw_query = parts.uri.query().unwrap_or_default();
    let now = chrono::Utc::now();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": uuid::Uuid::new_v4().simple().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if !raw_query.is_empty() {
        // Decoded, repeated names joined with commas.
        let mut query = Map::new();
        for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
            let joined = match query.get(name.as_ref()).and_then(Value::as_str) {
                Some(before) => format!("{before},{value}"),
                None => value.into_owned(),
            };
            query.insert(name.into_owned(), joined.into());
        }
        event["queryStringParameters"] = Value::Object(query);
    }
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) if is_text(&parts.headers) => event["body"] = text.into(),
            _ => {
                event["body"] = BASE64.encode(body).into();
                event["isBase64Encoded"] = true.into();
            }
        }
    }
    event
}

/// The port the client connected to, as API Gateway reports it in `x-forwarded-port`.
fn peer_port(host: &str) -> String {
    host.rsplit_once(':')
        .map_or("443", |(_, port)| port)
        .to_string()
}

/// Whether API Gateway passes the body as text (else it base64-encodes it).
fn is_text(headers: &HeaderMap) -> bool {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    kind.starts_with("text/")
        || ["json", "xml", "x-www-form-urlencoded", "javascript"]
            .iter()
            .any(|t| kind.contains(t))
}

/// The HTTP response API Gateway makes of the function's reply.
fn response(reply: &Value) -> anyhow::Result<Response<Body>> {
    let status = reply["statusCode"]
        .as_u64()
        .context("statusCode")?
        .try_into()?;
    let mut response = Response::builder().status(StatusCode::from_u16(status)?);
    let headers = response.headers_mut().context("a response")?;
    let skip = |name: &str| matches!(name, "content-length" | "transfer-encoding" | "connection");
    for (name, value) in reply["headers"].as_object().into_iter().flatten() {
        if !skip(name) {
            headers.append(HeaderName::try_from(name.as_str())?, header_value(value)?);
        }
    }
    for (name, values) in reply["multiValueHeaders"].as_object().into_iter().flatten() {
        for value in values.as_array().into_iter().flatten() {
            if !skip(name) {
                headers.append(HeaderName::try_from(name.as_str())?, header_value(value)?);
            }
        }
    }
    for cookie in reply["cookies"].as_array().into_iter().flatten() {
        headers.append(header::SET_COOKIE, header_value(cookie)?);
    }
    let body = reply["body"].as_str().unwrap_or_default();
    let body = if reply["isBase64Encoded"].as_bool() == Some(true) {
        BASE64.decode(body)?
    } else {
        body.as_bytes().to_vec()
    };
    Ok(response.body(Body::from(body))?)
}

fn header_value(value: &Value) -> anyhow::Result<HeaderValue> {
    Ok(HeaderValue::from_str(
        value.as_str().context("a header value")?,
    )?)
}

/// API Gateway's own error reply.
fn gateway_error(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(json!({ "message": message }).to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
