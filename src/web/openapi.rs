//! `GET /api/openapi.json`: the OpenAPI 3.1 description of every endpoint
//! and of the report, for client generators and for people.
//!
//! The document is written by hand in `openapi.json` beside this file and
//! built into the binary. Its schemas are JSON Schema 2020-12 with
//! `additionalProperties: false` on every object and every field required
//! (but `checks.arc`, which reports stored before ARC was checked lack), and
//! `tests/api_contract.rs` validates real responses of the real binary
//! against it, so a field added to, renamed in or removed from a finding
//! struct fails that test until the document says the same.

use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub fn document() -> Response {
    let mut response = DOCUMENT.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::DOCUMENT;
    use serde_json::Value;

    #[test]
    fn document_is_openapi_3_1_for_this_version() {
        let document: Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    }
}
