//! The stylesheet and the one small script, built into the binary and
//! served from `/assets/`: no CDN, nothing fetched from elsewhere. Pages link
//! them with `?v=` and a hash of their content, so a new build's assets are
//! fetched at once however long browsers cache the old ones.

use std::sync::LazyLock;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

const STYLE: &str = include_str!("assets/style.css");
const COPY_JS: &str = include_str!("assets/copy.js");

/// A day; the `?v=` hash takes care of new versions.
const CACHE: &str = "public, max-age=86400";

static STYLE_URL: LazyLock<String> =
    LazyLock::new(|| format!("/assets/style.css?v={:08x}", fnv1a(STYLE)));
static COPY_JS_URL: LazyLock<String> =
    LazyLock::new(|| format!("/assets/copy.js?v={:08x}", fnv1a(COPY_JS)));

pub fn style_url() -> &'static str {
    &STYLE_URL
}

pub fn copy_js_url() -> &'static str {
    &COPY_JS_URL
}

/// `GET /assets/style.css`
pub fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// `GET /assets/copy.js`
pub fn copy_js() -> Response {
    asset(COPY_JS, "text/javascript; charset=utf-8")
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
