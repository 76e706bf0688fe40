//! An EventBridge schedule invoking the function: one reconciler sweep (what the long-lived
//! server's `--reconcile-interval` runs), its report as the reply.

use serde_json::Value;
use tracing::info;

use super::failure;
use crate::service::Service;

/// The event's contents do not matter (a scheduled event, or a manual test invocation).
pub(super) async fn handle(service: &Service, event: &Value) -> Result<Value, lambda_http::Error> {
    let report = service
        .reconcile()
        .await
        .map_err(|err| failure("reconciler sweep", err))?;
    info!(?report, schedule = ?event.get("resources"), "reconciler sweep");
    serde_json::to_value(report).map_err(|err| failure("writing the report", err))
}
