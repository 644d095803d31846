//! The operator's endpoints: `GET /healthz` (the process answers),
//! `GET /readyz` (it can take mail: store reachable, SMTP listener bound,
//! analyzer moving) and `GET /metrics` (Prometheus text format, see
//! [`crate::metrics`]). A load balancer sends traffic by `/readyz` and
//! restarts by `/healthz`.

use super::WebState;
use crate::metrics::{Metrics, ReportFormat};
use serde::Serialize;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

/// A key no test id can be (ids are lowercase), read to probe the store.
const STORE_PROBE: &str = "READYZ-PROBE";

/// A liveness or readiness answer that is good news.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Health {
    /// `ok` from /healthz, `ready` from /readyz.
    #[cfg_attr(feature = "openapi", schemars(extend("enum" = ["ok", "ready"])))]
    pub status: &'static str,
}

/// Why /readyz says not ready.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct NotReady {
    #[cfg_attr(feature = "openapi", schemars(extend("const" = "not ready")))]
    pub status: &'static str,
    /// The first failing condition, in English (the store's error, `SMTP
    /// listener not bound`, `analyzer queue stuck`).
    pub reason: String,
}

/// `GET /healthz`: answering at all is the whole check.
pub fn healthz() -> Response {
    no_cache(warp::reply::json(&Health { status: "ok" }).into_response())
}

/// `GET /readyz`: 200 when mail can be taken and reported on, else 503
/// with the first reason.
pub fn readyz(state: WebState) -> Response {
    let full = state.free_space.as_ref().and_then(|f| f.ready().err());
    let reason = match state.store.report(STORE_PROBE) {
        Err(e) => Some(format!("store unavailable: {e}")),
        Ok(_) if full.is_some() => full.map(|shortage| shortage.to_string()),
        Ok(_) => state.metrics.not_ready().map(str::to_string),
    };
    let response = match reason {
        None => warp::reply::json(&Health { status: "ready" }).into_response(),
        Some(reason) => {
            let body = NotReady {
                status: "not ready",
                reason,
            };
            warp::reply::with_status(warp::reply::json(&body), StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        }
    };
    no_cache(response)
}

/// `GET /metrics`: every counter, in the Prometheus text format 0.0.4.
pub fn metrics(state: WebState) -> Response {
    let mut response = state
        .metrics
        .render(state.store.size_bytes())
        .into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    no_cache(response)
}

/// Counts `response` as a report served in `format` when it is a 200.
pub fn count_report(metrics: &Metrics, format: ReportFormat, response: Response) -> Response {
    if response.status() == StatusCode::OK {
        metrics.report_served(format);
    }
    response
}

fn no_cache(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
