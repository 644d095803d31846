//! The stylesheet and the small scripts, built into the binary and
//! served from `/assets/`: no CDN, nothing fetched from elsewhere. Pages link
//! them with `?v=` and a hash of their content, so a new build's assets are
//! fetched at once however long browsers cache the old ones.

use std::sync::LazyLock;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

/// Every asset: its name under `/assets/`, content and media type.
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "style.css",
        include_str!("assets/style.css"),
        "text/css; charset=utf-8",
    ),
    ("copy.js", include_str!("assets/copy.js"), JS),
    ("print.js", include_str!("assets/print.js"), JS),
    ("wait.js", include_str!("assets/wait.js"), JS),
];

const JS: &str = "text/javascript; charset=utf-8";

/// A day; the `?v=` hash takes care of new versions.
const CACHE: &str = "public, max-age=86400";

/// `/assets/{name}?v={hash}` for every asset, in [`ASSETS`] order.
static URLS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(name, body, _)| format!("/assets/{name}?v={:08x}", fnv1a(body)))
        .collect()
});

fn url(name: &str) -> &'static str {
    let index = ASSETS.iter().position(|(n, _, _)| *n == name);
    &URLS[index.expect("a built-in asset")]
}

/// The stylesheet itself, for a page saved as a file (no server to link).
pub fn style() -> &'static str {
    ASSETS[0].1
}

pub fn style_url() -> &'static str {
    url("style.css")
}

pub fn copy_js_url() -> &'static str {
    url("copy.js")
}

pub fn print_js_url() -> &'static str {
    url("print.js")
}

pub fn wait_js_url() -> &'static str {
    url("wait.js")
}

/// `GET /assets/{name}`: the asset, or 404.
pub fn serve(name: &str) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, body, content_type)) => asset(body, content_type),
        None => {
            let mut response = "no such asset".into_response();
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    }
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE));
    response
}

/// 32-bit FNV-1a: a version tag, not a security measure.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}
