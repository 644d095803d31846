//! JSON endpoints: create a test address, read its status and report.

use super::WebState;
use crate::test_id;
use serde_json::{Value, json};
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// `POST /api/tests`: a fresh unguessable address. Nothing is stored: any
/// valid id receives mail, so the address works the moment it is handed out.
pub fn create(state: WebState) -> Response {
    let id = test_id::generate();
    let body = json!({
        "id": id,
        "address": format!("{id}@{}", state.domain),
        "report_url": format!("{}/tests/{id}", state.public_url),
        "json_url": format!("{}/api/tests/{id}", state.public_url),
    });
    warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response()
}

/// `GET /api/tests/{id}`: `pending` until a report exists, then the report.
pub fn status(id: String, state: WebState) -> Response {
    if !test_id::is_valid(&id) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid test id: use 3-64 of [a-z0-9-]",
        );
    }
    match state.store.report(&id) {
        Ok(Some(report)) => match serde_json::from_slice::<Value>(&report) {
            Ok(report) => warp::reply::json(&report).into_response(),
            Err(e) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("stored report unreadable: {e}"),
            ),
        },
        Ok(None) => {
            let body = json!({
                "id": id,
                "address": format!("{id}@{}", state.domain),
                "status": "pending",
                "message_received": state.store.is_pending(&id).unwrap_or(false),
            });
            warp::reply::json(&body).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A JSON error body with a fitting status.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "error": message, "status": status.as_u16() });
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}
