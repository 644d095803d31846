//! JSON endpoints: create a test address, read its status and report, and
//! the JSON errors every endpoint answers with.

use super::WebState;
use super::auth::Refused;
use super::ratelimit::RateLimited;
use crate::test_id;
use crate::webhooks;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use warp::hyper::body::Bytes;
use warp::reject::{InvalidQuery, MethodNotAllowed};
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

/// A fresh, unguessable test address. Nothing is stored: the address
/// receives mail the moment it is handed out.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CreatedTest {
    /// The test id: the local part of the address, 3-64 of `[a-z0-9-]`.
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = test_id::PLAIN_PATTERN)))]
    pub id: String,
    /// Where to send the message: `{id}@{domain}`.
    pub address: String,
    /// The HTML score page for this address.
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub report_url: String,
    /// `GET` this for the status and, once a message arrived, the report.
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub json_url: String,
    /// Where each report of this address is POSTed, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub webhook: Option<String>,
}

/// The status of an address with no report yet.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct Pending {
    /// The test id.
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = test_id::PATTERN)))]
    pub id: String,
    /// The address to send the message to.
    pub address: String,
    /// No report yet.
    #[cfg_attr(feature = "openapi", schemars(extend("const" = "pending")))]
    pub status: &'static str,
    /// A message has arrived and is being analysed.
    pub message_received: bool,
}

/// Every error answer of the JSON API (and of the download endpoints).
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "openapi", schemars(rename = "Error"))]
pub struct ApiError<'a> {
    /// What went wrong, in English.
    pub error: &'a str,
    /// The HTTP status code, repeated.
    #[cfg_attr(feature = "openapi", schemars(range(min = 400, max = 599)))]
    pub status: u16,
}

/// What `POST /api/tests` may carry: nothing (a fresh id), the id the
/// client wants, a webhook, or both. Anything else is refused, never
/// silently ignored.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    id: Option<String>,
    webhook: Option<String>,
}

/// `POST /api/tests`: a fresh unguessable address, or the one asked for
/// (`{"id": "ci-build-42"}`, 3-64 of `[a-z0-9-]`). Nothing is stored but a
/// webhook: any valid id receives mail, so the address works the moment it
/// is handed out.
pub fn create(body: Bytes, state: WebState) -> Response {
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let id = request.id.unwrap_or_else(test_id::generate);
    if let Some(url) = &request.webhook
        && let Err((status, message)) =
            register_webhook(&state, &webhooks::test_key(&id), url, true)
    {
        return error(status, &message);
    }
    let body = CreatedTest {
        address: format!("{id}@{}", state.domain),
        report_url: format!("{}/tests/{id}", state.public_url),
        json_url: format!("{}/api/tests/{id}", state.public_url),
        webhook: request.webhook,
        id,
    };
    warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response()
}

/// Keeps `url` as where `key`'s reports go, if the operator takes webhooks
/// and the URL may be a target; else the error to answer.
pub fn register_webhook(
    state: &WebState,
    key: &str,
    url: &str,
    expires: bool,
) -> Result<(), (StatusCode, String)> {
    if state.webhooks.secret.is_none() {
        let message = "webhooks are off on this server (no webhook_secret is set)";
        return Err((StatusCode::BAD_REQUEST, message.into()));
    }
    webhooks::target::check(url, state.webhooks.allow_private)
        .map_err(|message| (StatusCode::BAD_REQUEST, message))?;
    // A chosen id can be guessed: nobody may redirect another's reports.
    let unavailable =
        |e: crate::store::StoreError| (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    if state
        .store
        .webhook(key)
        .map_err(unavailable)?
        .is_some_and(|kept| kept != url)
    {
        let message = "this address already has another webhook";
        return Err((StatusCode::CONFLICT, message.into()));
    }
    state
        .store
        .put_webhook(key, url, expires)
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

/// The largest `POST /api/tests` body: `{"id": …}` fits many times over.
const MAX_CREATE_BODY: u64 = 4096;

/// The body of `POST /api/tests`: at most [`MAX_CREATE_BODY`] bytes with a
/// Content-Length, or none at all (`curl -X POST` sends no length).
pub fn create_body() -> impl Filter<Extract = (Bytes,), Error = Rejection> + Clone {
    warp::body::content_length_limit(MAX_CREATE_BODY)
        .and(warp::body::bytes())
        .or(warp::header::optional::<u64>("content-length")
            .and(warp::header::optional::<String>("transfer-encoding"))
            .and_then(|length: Option<u64>, encoding: Option<String>| async move {
                match (length, encoding) {
                    (None, None) => Ok(Bytes::new()),
                    (Some(_), _) => Err(warp::reject::custom(BodyTooLarge)),
                    (None, Some(_)) => Err(warp::reject::custom(BodyWithoutLength)),
                }
            }))
        .unify()
}

/// A `POST /api/tests` body over [`MAX_CREATE_BODY`].
#[derive(Debug)]
struct BodyTooLarge;
impl warp::reject::Reject for BodyTooLarge {}

/// A chunked `POST /api/tests` body: its size is not known up front.
#[derive(Debug)]
struct BodyWithoutLength;
impl warp::reject::Reject for BodyWithoutLength {}

/// What a request body asks for; the 400's text if the body is not
/// `{"id": "<valid id>", "webhook": "https://…"}` (each optional).
fn parse_request(body: &[u8]) -> Result<CreateRequest, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CreateRequest::default());
    }
    let request: CreateRequest = serde_json::from_slice(body).map_err(|e| {
        format!("invalid body: want {{\"id\": \"...\", \"webhook\": \"...\"}} or nothing ({e})")
    })?;
    if let Some(id) = &request.id
        && !test_id::is_plain(id)
    {
        return Err("invalid test id: use 3-64 of [a-z0-9-]".into());
    }
    Ok(request)
}

/// `GET /api/tests/{id}`: `pending` until a report exists, then the report.
/// With `?wait=N` it first waits up to N seconds for the report
/// ([`super::wait`]).
pub async fn status(id: String, wait: super::wait::WaitQuery, state: WebState) -> Response {
    if !test_id::is_valid(&id) {
        return error(StatusCode::BAD_REQUEST, test_id::INVALID);
    }
    match wait.duration() {
        Ok(Duration::ZERO) => {}
        Ok(limit) => {
            super::wait::until_report(&state.store, &state.arrivals, &id, limit).await;
        }
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    }
    match state.reports.json(&id) {
        // Spliced together from stored bytes, not parsed and written
        // again (that was most of this endpoint's time).
        Ok(Some(report)) => json_bytes(report),
        Ok(None) => {
            let body = Pending {
                address: format!("{id}@{}", state.domain),
                status: "pending",
                message_received: state.store.is_pending(&id).unwrap_or(false),
                id,
            };
            warp::reply::json(&body).into_response()
        }
        Err(e) => error(store_status(&e), &e.to_string()),
    }
}

/// A JSON error body with a fitting status.
/// A JSON body that is already serialised.
fn json_bytes(body: Vec<u8>) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn error(status: StatusCode, message: &str) -> Response {
    let body = ApiError {
        error: message,
        status: status.as_u16(),
    };
    warp::reply::with_status(warp::reply::json(&body), status).into_response()
}

/// Turns the rejections a client can cause into JSON errors: 401 or 403
/// without the API key a route needs, 429 (with `Retry-After`) when
/// rate-limited, 400 for a query that does not parse, 405 for a known path
/// with the wrong method. Anything else is passed on (to the 404 handler).
pub async fn rejection(rejection: Rejection) -> Result<Response, Rejection> {
    if let Some(refused) = rejection.find::<Refused>() {
        return Ok(refused.response());
    }
    if let Some(limited) = rejection.find::<RateLimited>() {
        return Ok(too_many_requests(limited));
    }
    if let Some(invalid) = rejection.find::<InvalidQuery>() {
        return Ok(error(StatusCode::BAD_REQUEST, &invalid.to_string()));
    }
    if rejection.find::<BodyTooLarge>().is_some() {
        let message = format!("body too large: at most {MAX_CREATE_BODY} bytes");
        return Ok(error(StatusCode::PAYLOAD_TOO_LARGE, &message));
    }
    if rejection.find::<BodyWithoutLength>().is_some() {
        return Ok(error(
            StatusCode::LENGTH_REQUIRED,
            "a body needs a Content-Length",
        ));
    }
    if rejection.find::<MethodNotAllowed>().is_some() {
        return Ok(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed on this path",
        ));
    }
    Err(rejection)
}

/// `429 Too Many Requests`, saying in whole seconds (rounded up) when to
/// try again.
fn too_many_requests(limited: &RateLimited) -> Response {
    let retry_after = limited.retry_after;
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many test addresses requested {}; retry in {seconds} s",
            limited.by
        ),
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The status of an answer the store could not give: 503 while it is
/// unreachable (come back later), 500 for a record it cannot read.
pub(super) fn store_status(e: &crate::store::StoreError) -> StatusCode {
    if e.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}
