//! The message exactly as it was received (after SMTP dot-unstuffing): shown
//! as escaped text in a page, bounded, or downloaded as a `.eml` file.

use super::api::error;
use super::page::{Frame, PageQuery};
use super::{WebState, html};
use crate::store::StoredMessage;
use crate::test_id;
use askama::Template;
use warp::http::StatusCode;
use warp::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue, REFERRER_POLICY,
};
use warp::reply::{Reply, Response};

/// The raw page shows at most this much of a message; the download has all.
pub const RAW_VIEW_LIMIT: usize = 256 * 1024;

#[derive(Template)]
#[template(path = "raw.html")]
struct RawPage {
    frame: Frame,
    t: &'static crate::i18n::Ui,
    id: String,
    address: String,
    /// Set when the message is longer than the page shows.
    truncated: Option<String>,
    text: String,
}

/// `GET /tests/{id}/raw`
pub fn raw_page(
    id: String,
    query: PageQuery,
    accept_language: Option<String>,
    state: WebState,
) -> Response {
    let lang = query.lang(accept_language.as_deref());
    let t = lang.ui();
    let message = match stored_message(&id, &state) {
        Ok(message) => message,
        Err((status, message)) => return error(status, &message),
    };
    let raw = &message.raw;
    let shown = view_end(raw);
    let truncated = (shown < raw.len()).then(|| {
        t.raw_truncated
            .replace("{shown}", &shown.to_string())
            .replace("{total}", &raw.len().to_string())
    });
    let page = RawPage {
        frame: Frame::new(lang, format!("{} · mailscore", t.section_raw)),
        t,
        address: format!("{id}@{}", state.domain),
        id,
        truncated,
        text: String::from_utf8_lossy(&raw[..shown]).into_owned(),
    };
    html::render(&page, StatusCode::OK)
}

/// `GET /tests/{id}/message.eml`: the stored bytes, untouched.
pub fn message_eml(id: String, state: WebState) -> Response {
    let message = match stored_message(&id, &state) {
        Ok(message) => message,
        Err((status, message)) => return error(status, &message),
    };
    let disposition = format!("attachment; filename=\"{id}.eml\"");
    let mut response = message.raw.into_response();
    let headers = response.headers_mut();
    // Plain text, to be saved: a browser renders none of the sender's
    // HTML, and `nosniff` stops it from guessing otherwise.
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    // The id is [a-z0-9-] (checked above), so the header value is plain ASCII.
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The message of a valid id, or the status and error to answer with.
fn stored_message(id: &str, state: &WebState) -> Result<StoredMessage, (StatusCode, String)> {
    if !test_id::is_valid(id) {
        return Err((StatusCode::BAD_REQUEST, test_id::INVALID.into()));
    }
    match state.store.message(id) {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err((
            StatusCode::NOT_FOUND,
            "no message has been received for this test id".into(),
        )),
        Err(e) => Err((super::api::store_status(&e), e.to_string())),
    }
}

/// How many bytes of `raw` the page shows: all of it up to the limit, and
/// never half a UTF-8 character at the cut.
fn view_end(raw: &[u8]) -> usize {
    if raw.len() <= RAW_VIEW_LIMIT {
        return raw.len();
    }
    let mut end = RAW_VIEW_LIMIT;
    // At most three continuation bytes follow a UTF-8 lead byte.
    for _ in 0..3 {
        if raw[end] & 0xC0 != 0x80 {
            break;
        }
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_message_is_shown_whole() {
        assert_eq!(view_end(b"Subject: x\r\n\r\nhi\r\n"), 18);
    }

    #[test]
    fn the_cut_falls_on_a_character_boundary() {
        let mut raw = vec![b'a'; RAW_VIEW_LIMIT - 1];
        raw.extend_from_slice("日本".as_bytes());
        let end = view_end(&raw);
        assert_eq!(end, RAW_VIEW_LIMIT - 1);
        assert!(std::str::from_utf8(&raw[..end]).is_ok());
        let ascii = vec![b'a'; RAW_VIEW_LIMIT + 10];
        assert_eq!(view_end(&ascii), RAW_VIEW_LIMIT);
    }
}
