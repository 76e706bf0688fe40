//! Wiring for Lambda: the long-lived server's (`startup::wire`), for AWS mode only, without
//! ports, listeners or background tasks; and the runtime loop `bootstrap` runs.

use lambda_http::{Context, LambdaEvent, service_fn};
use leptos::config::LeptosOptions;
use serde_json::Value;
use tracing::info;

use super::{HandlerKind, failure};
use crate::config::{Config, ObjectsKind, StoreKind};
use crate::service::Service;
use crate::startup::{Edge, EmbeddedUrls, Wired, wire};

/// One function's handler: cheap to clone (each invocation gets a clone).
#[derive(Clone)]
pub struct Lambda {
    kind: HandlerKind,
    router: axum::Router,
    service: Service,
}

impl Lambda {
    /// Opens the backends and wires the app as the long-lived server does. AWS mode only:
    /// Lambda has no disk that outlives an instance and no port for the embedded endpoint.
    pub async fn build(
        config: Config,
        options: LeptosOptions,
        kind: HandlerKind,
    ) -> anyhow::Result<Self> {
        if config.store != StoreKind::Dynamodb || config.objects != ObjectsKind::S3 {
            anyhow::bail!(
                "Lambda runs in AWS mode only: set ASSETS_STORE=dynamodb and ASSETS_OBJECTS=s3 \
                 (got {:?} and {:?})",
                config.store,
                config.objects
            );
        }
        if config.command.is_some() {
            anyhow::bail!("bootstrap takes no subcommand: run the `server` binary for those");
        }
        let Wired { service, state, .. } =
            wire(&config, &EmbeddedUrls::configured(&config), &Edge::Lambda).await?;
        let router = crate::http::router(state, options);
        info!(handler = ?kind, "Lambda handler ready");
        Ok(Self {
            kind,
            router,
            service,
        })
    }

    /// One invocation: the event as Lambda delivers it, the reply as Lambda returns it.
    pub async fn handle(
        &self,
        event: Value,
        context: Context,
    ) -> Result<Value, lambda_http::Error> {
        match self.kind {
            HandlerKind::Http => super::http::handle(&self.router, event, context).await,
            HandlerKind::S3Events => super::s3_events::handle(&self.service, event).await,
            HandlerKind::Reconcile => super::reconcile::handle(&self.service, &event).await,
        }
    }

    pub fn service(&self) -> &Service {
        &self.service
    }
}

/// `bootstrap`: builds the handler `ASSETS_LAMBDA_HANDLER` names and serves invocations from
/// the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`) until the instance is stopped.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let kind = HandlerKind::from_env()?;
    let options = leptos::config::get_configuration(None)
        .map_err(|err| anyhow::anyhow!("reading the Leptos configuration: {err}"))?
        .leptos_options;
    let lambda = Lambda::build(config, options, kind).await?;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let lambda = lambda.clone();
        async move { lambda.handle(event.payload, event.context).await }
    }))
    .await
    .map_err(|err| anyhow::anyhow!(failure("the Lambda runtime stopped", err)))
}
