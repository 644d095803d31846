//! `GET /api/openapi.json`: the OpenAPI 3.1 description of every endpoint
//! and of the report, for client generators and for people.
//!
//! Two halves. The endpoints (paths, parameters, shared responses) are
//! written by hand in `openapi.paths.json` beside this file: they are
//! prose about routes. Every schema is generated from the Rust types the
//! endpoints serialise (`Report` and all it holds, the status, error and
//! health bodies) with `schemars`, whose JSON Schema 2020-12 is what
//! OpenAPI 3.1 uses; field docs become descriptions.
//!
//! The binary serves `openapi.json`, the generated document as committed:
//! deriving ~70 schemas costs the release build 7% of its time for a
//! document that only changes with the types. With the `openapi` feature
//! (on in every test build) [`generated`] derives it again, and a test
//! fails when the two differ; `OPENAPI=update cargo test --lib openapi`
//! rewrites the file. So a field added to a finding cannot be missing from
//! the document, and `tests/api_contract.rs` validates real answers of the
//! real binary against it.
//!
//! Schemas describe what a client may *read*, old stored reports included:
//! a field with `#[serde(default)]` (added after reports were first stored)
//! is optional, every other field required, and every object is closed
//! (`additionalProperties: false`), so an answer that carries a field its
//! type does not declare fails validation.

use serde_json::Value;
use std::sync::OnceLock;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

#[cfg(feature = "openapi")]
pub use generate::generated;

/// The document as generated and committed.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// [`DOCUMENT`], parsed.
pub fn document() -> &'static Value {
    static PARSED: OnceLock<Value> = OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(DOCUMENT).expect("openapi.json is JSON (tested)"))
}

/// `GET /api/openapi.json`.
pub fn serve() -> Response {
    let mut response = DOCUMENT.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(feature = "openapi")]
mod generate {
    use super::super::api::{ApiError, CreatedTest, Pending};
    use super::super::history::History;
    use super::super::ops::{Health, NotReady};
    use super::super::surveys::{CreatedSurvey, SurveyTables};
    use crate::report::Report;
    use crate::report::diff::ReportDiff;
    use schemars::Schema;
    use schemars::generate::SchemaSettings;
    use schemars::transform::RecursiveTransform;
    use serde_json::Value;

    /// The hand-written half: info, paths, shared responses and parameters.
    const ENDPOINTS: &str = include_str!("openapi.paths.json");

    /// The document as the types derive it today: the endpoints with the
    /// generated schemas, pretty-printed as committed.
    pub fn generated() -> String {
        let mut text = serde_json::to_string_pretty(&build()).expect("a Value serialises");
        text.push('\n');
        text
    }

    fn build() -> Value {
        let mut document: Value =
            serde_json::from_str(ENDPOINTS).expect("openapi.paths.json is JSON");
        document["info"]["version"] = env!("CARGO_PKG_VERSION").into();
        document["components"]["schemas"] = Value::Object(schemas());
        document
    }

    /// A schema for every type an endpoint answers with, and for every type
    /// those hold, keyed by type name under `#/components/schemas/`.
    fn schemas() -> serde_json::Map<String, Value> {
        let mut generator = SchemaSettings::draft2020_12()
            .with(|settings| {
                settings.definitions_path = "/components/schemas".into();
                settings.meta_schema = None;
            })
            .with_transform(RecursiveTransform(close_objects))
            .into_generator();
        // The roots the paths refer to; `subschema_for` files each under its name.
        generator.subschema_for::<Report>();
        generator.subschema_for::<Pending>();
        generator.subschema_for::<CreatedTest>();
        generator.subschema_for::<ApiError>();
        generator.subschema_for::<Health>();
        generator.subschema_for::<NotReady>();
        generator.subschema_for::<History>();
        generator.subschema_for::<ReportDiff>();
        generator.subschema_for::<CreatedSurvey>();
        generator.subschema_for::<SurveyTables>();
        generator.take_definitions(true)
    }

    /// Serde ignores unknown fields when reading, so schemars leaves objects
    /// open; the API promises exactly the declared fields, so close them.
    fn close_objects(schema: &mut Schema) {
        if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
            schema.insert("additionalProperties".into(), false.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_openapi_3_1_for_this_version() {
        let document = document();
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    #[cfg(feature = "openapi")]
    fn the_committed_document_is_what_the_types_derive() {
        let generated = generated();
        if std::env::var_os("OPENAPI").is_some_and(|v| v == "update") {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/openapi.json");
            std::fs::write(path, &generated).unwrap();
            return;
        }
        assert!(
            DOCUMENT == generated,
            "src/web/openapi.json is not what the types derive: \
             run OPENAPI=update cargo test --lib openapi and commit it"
        );
    }

    #[test]
    fn every_schema_a_path_refers_to_is_generated() {
        let text = serde_json::to_string(document()).unwrap();
        let schemas = document()["components"]["schemas"].as_object().unwrap();
        for piece in text.split("\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
    }
}
