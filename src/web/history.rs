//! Every send to an address and what changed between two of them:
//! `GET /api/tests/{id}/history`, `GET /api/tests/{id}/{n}` and
//! `GET /api/tests/{id}/diff?from=N&to=M`. `GET /api/tests/{id}` still
//! answers the latest, as before the history existed.

use super::WebState;
use super::api::error;
use crate::report::Report;
use crate::report::diff::ReportDiff;
use crate::test_id;
use serde::{Deserialize, Serialize};
use warp::http::StatusCode;
use warp::http::header::{CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

/// `GET /api/tests/{id}/history`: the sends kept, oldest first.
#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct History {
    #[cfg_attr(feature = "openapi", schemars(regex(pattern = test_id::PATTERN)))]
    pub id: String,
    /// Empty until the first report exists.
    pub sends: Vec<SendEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SendEntry {
    /// 1 for the oldest send kept; the latest is the last.
    pub n: usize,
    /// RFC 3339, UTC.
    pub received_at: String,
    pub score: f64,
    /// The score page of this send.
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub report_url: String,
    /// Its report as JSON.
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub json_url: String,
}

/// `?from=N&to=M` on the diff; both default to the last two sends.
#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

pub fn history(id: String, state: WebState) -> Response {
    let sends = match sends(&id, &state) {
        Ok(sends) => sends,
        Err((status, message)) => return error(status, &message),
    };
    let url = |path: String| format!("{}{path}", state.public_url);
    let body = History {
        sends: sends
            .iter()
            .enumerate()
            .map(|(i, report)| SendEntry {
                n: i + 1,
                received_at: report.received_at.clone(),
                score: report.score,
                report_url: url(format!("/tests/{id}/{}", i + 1)),
                json_url: url(format!("/api/tests/{id}/{}", i + 1)),
            })
            .collect(),
        id,
    };
    warp::reply::json(&body).into_response()
}

/// `GET /api/tests/{id}/{n}`: the report of one send, as it was.
pub fn send(id: String, n: usize, state: WebState) -> Response {
    if !test_id::is_valid(&id) {
        return error(StatusCode::BAD_REQUEST, test_id::INVALID);
    }
    match state.reports.history_json(&id) {
        Ok(sends) => match n.checked_sub(1).and_then(|i| sends.into_iter().nth(i)) {
            Some(json) => {
                let mut response = Response::new(json.into());
                let json_type = HeaderValue::from_static("application/json");
                response.headers_mut().insert(CONTENT_TYPE, json_type);
                response
            }
            None => error(StatusCode::NOT_FOUND, &format!("no send {n} for {id}")),
        },
        Err(e) => error(super::api::store_status(&e), &e.to_string()),
    }
}

pub fn diff(id: String, query: DiffQuery, state: WebState) -> Response {
    let sends = match sends(&id, &state) {
        Ok(sends) => sends,
        Err((status, message)) => return error(status, &message),
    };
    match pick(&query, sends.len()) {
        Ok((from, to)) => {
            let diff = ReportDiff::between((from, &sends[from - 1]), (to, &sends[to - 1]));
            warp::reply::json(&diff).into_response()
        }
        Err((status, message)) => error(status, &message),
    }
}

/// The two sends a diff compares, 1-based, or why it cannot.
fn pick(query: &DiffQuery, count: usize) -> Result<(usize, usize), (StatusCode, String)> {
    if count < 2 {
        let message = format!("{count} send(s) so far: a diff needs two");
        return Err((StatusCode::NOT_FOUND, message));
    }
    let number = |text: &Option<String>, default: usize| match text {
        None => Ok(default),
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            let message = format!("invalid send number {text:?}: use 1 to {count}");
            (StatusCode::BAD_REQUEST, message)
        }),
    };
    let to = number(&query.to, count)?;
    let from = number(&query.from, to.saturating_sub(1))?;
    if !(1..=count).contains(&from) || !(1..=count).contains(&to) || from == to {
        let message = format!("from and to must be two different sends from 1 to {count}");
        return Err((StatusCode::BAD_REQUEST, message));
    }
    Ok((from, to))
}

fn sends(id: &str, state: &WebState) -> Result<Vec<Report>, (StatusCode, String)> {
    if !test_id::is_valid(id) {
        return Err((StatusCode::BAD_REQUEST, test_id::INVALID.into()));
    }
    state
        .reports
        .history(id)
        .map_err(|e| (super::api::store_status(&e), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: Option<&str>, to: Option<&str>) -> DiffQuery {
        DiffQuery {
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        }
    }

    #[test]
    fn a_diff_defaults_to_the_last_two_sends_and_checks_its_numbers() {
        assert_eq!(pick(&query(None, None), 3), Ok((2, 3)));
        assert_eq!(pick(&query(Some("1"), None), 3), Ok((1, 3)));
        assert_eq!(pick(&query(None, Some("2")), 3), Ok((1, 2)));
        assert_eq!(pick(&query(Some("3"), Some("1")), 3), Ok((3, 1)));
        assert_eq!(
            pick(&query(None, None), 1).unwrap_err().0,
            StatusCode::NOT_FOUND
        );
        for (from, to) in [
            (Some("0"), None),
            (Some("2"), Some("2")),
            (Some("x"), None),
            (None, Some("4")),
        ] {
            assert_eq!(
                pick(&query(from, to), 3).unwrap_err().0,
                StatusCode::BAD_REQUEST
            );
        }
        assert_eq!(
            pick(&query(None, Some("1")), 3).unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
    }
}
