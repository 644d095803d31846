//! HTML responses and escaping. Every string that reaches a page from a
//! message or from DNS is attacker-controlled: askama escapes every
//! `{{ value }}` of a `.html` template with [`Escaper`] (text and quoted
//! attributes alike; `askama.toml` names it), and no template opts out with
//! `|safe`. The Content-Security-Policy below is the second wall: a page may
//! load only our own stylesheet and script.

use askama::Template;
use std::fmt;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue, REFERRER_POLICY};
use warp::reply::{Reply, Response};

/// No inline script or style, nothing from elsewhere, no framing; the
/// pending page's script may ask our own API (`connect-src`).
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The escaper of every `.html` template: `& < > " '` become `&amp; &lt;
/// &gt; &quot; &#39;`. Safe in element text and in quoted attribute values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Escaper;

impl askama::filters::Escaper for Escaper {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, byte) in text.bytes().enumerate() {
            let entity = match byte {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            dest.write_str(&text[plain..i])?;
            dest.write_str(entity)?;
            plain = i + 1;
        }
        dest.write_str(&text[plain..])
    }
}

/// `template` rendered as a page with `status`; a 500 if it cannot render.
pub fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(body) => response(body, status),
        Err(e) => super::api::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("page did not render: {e}"),
        ),
    }
}

/// `template` rendered, or a line saying why not (which cannot happen with
/// our templates: only a failing `Display` makes askama fail).
pub fn render_string(template: &impl Template) -> String {
    template
        .render()
        .unwrap_or_else(|e| format!("page did not render: {e}"))
}

/// An HTML page with the headers every page carries. Pages change as mail
/// arrives, so browsers revalidate them.
pub fn response(body: String, status: StatusCode) -> Response {
    let mut response = warp::reply::with_status(warp::reply::html(body), status).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    // Test ids are capabilities: do not leak them to other sites.
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use askama::Template;

    #[derive(Template)]
    #[template(source = r#"<p title="{{ text }}">{{ text }}</p>"#, ext = "html")]
    struct Probe<'a> {
        text: &'a str,
    }

    #[test]
    fn non_ascii_text_passes_through() {
        let html = Probe {
            text: "日本語 <b>"
        }
        .render()
        .unwrap();
        assert_eq!(html, r#"<p title="日本語 &lt;b&gt;">日本語 &lt;b&gt;</p>"#);
    }

    #[test]
    fn templates_escape_markup_and_quotes_in_text_and_attributes() {
        let html = Probe {
            text: r#"<script>alert("x")</script> & 'y'"#,
        }
        .render()
        .unwrap();
        let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;";
        assert_eq!(html, format!(r#"<p title="{escaped}">{escaped}</p>"#));
    }
}
