//! API Gateway HTTP API (payload 2.0) and function URL events through the same router as the
//! long-lived server. `lambda_http` turns the event into a request and the reply into API
//! Gateway's shape (binary bodies base64, `Set-Cookie` into `cookies`); this adds what the
//! router learns from a connection elsewhere: the client's address (`sourceIp`) and the host
//! name API Gateway received the request for (`domainName`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::{HeaderValue, header};
use lambda_http::request::{LambdaRequest, RequestContext};
use lambda_http::{Adapter, Context, LambdaEvent, Service as _, service_fn};
use serde_json::Value;
use tower::ServiceExt as _;

use super::failure;
use crate::http::VouchedHost;

pub(super) async fn handle(
    router: &axum::Router,
    event: Value,
    context: Context,
) -> Result<Value, lambda_http::Error> {
    let request: LambdaRequest =
        serde_json::from_value(event).map_err(|err| failure("not an HTTP API event", err))?;
    let router = router.clone();
    let mut adapter = Adapter::from(service_fn(move |request: lambda_http::Request| {
        router.clone().oneshot(into_axum(request))
    }));
    let response = adapter.call(LambdaEvent::new(request, context)).await?;
    serde_json::to_value(response).map_err(|err| failure("writing the reply", err))
}

/// The request as the router expects it, with what API Gateway vouches for.
fn into_axum(request: lambda_http::Request) -> axum::extract::Request {
    let (domain, source_ip) = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.domain_name.clone(), context.http.source_ip.clone())
        }
        _ => (None, None),
    };
    let mut request = request.map(axum::body::Body::new);
    if let Some(domain) = domain
        && let Ok(host) = HeaderValue::from_str(&domain)
    {
        // The Host a client sent is not what API Gateway routed on: its own name is.
        request.headers_mut().insert(header::HOST, host);
        request.extensions_mut().insert(VouchedHost(domain));
    }
    // Behind API Gateway there is no socket: the caller's address is `sourceIp`.
    if let Some(ip) = source_ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::new(ip, 0)));
    }
    request
}
