//! `GET /api/tests/{id}/badge.svg`: a score badge for a README or a
//! dashboard ("mailscore | 9.5/10"), coloured by band, grey while pending.

use super::WebState;
use super::api::error;
use crate::report::{Band, Report};
use crate::test_id;
use askama::Template;
use warp::http::StatusCode;
use warp::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use warp::reply::{Reply, Response};

const LABEL: &str = "mailscore";

#[derive(Template)]
#[template(path = "badge.svg")]
struct Badge {
    value: String,
    /// `band-excellent` … `band-bad`, or `pending`.
    class: &'static str,
    colour: &'static str,
    width: u32,
    label_width: u32,
    value_width: u32,
    label_mid: u32,
    value_mid: u32,
}

impl Badge {
    fn new(value: String, class: &'static str, colour: &'static str) -> Badge {
        let label_width = text_width(LABEL);
        let value_width = text_width(&value);
        Badge {
            class,
            colour,
            width: label_width + value_width,
            label_width,
            value_width,
            label_mid: label_width / 2,
            value_mid: label_width + value_width / 2,
            value,
        }
    }

    fn score(report: &Report) -> Badge {
        let value = format!(
            "{}/{}",
            score_text(report.score),
            score_text(report.max_score)
        );
        let (class, colour) = match report.band() {
            Band::Excellent => ("band-excellent", "#1a7f37"),
            Band::Good => ("band-good", "#4c7a1a"),
            Band::Fair => ("band-fair", "#9a6700"),
            Band::Poor => ("band-poor", "#bc4c00"),
            Band::Bad => ("band-bad", "#cf222e"),
        };
        Badge::new(value, class, colour)
    }

    fn pending() -> Badge {
        Badge::new("pending".into(), "pending", "#8c959f")
    }
}

pub fn badge(id: String, state: WebState) -> Response {
    if !test_id::is_valid(&id) {
        return error(StatusCode::BAD_REQUEST, test_id::INVALID);
    }
    let report = match state.reports.report(&id) {
        Ok(report) => report,
        Err(e) => return error(super::api::store_status(&e), &e.to_string()),
    };
    let (badge, cache) = match &report {
        Some(report) => (Badge::score(report), "public, max-age=60"),
        None => (Badge::pending(), "no-cache"),
    };
    match badge.render() {
        Ok(svg) => {
            let mut response = svg.into_response();
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
            response
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("badge did not render: {e}"),
        ),
    }
}

/// "9.5", "10", "0".
fn score_text(score: f64) -> String {
    if score.fract() == 0.0 {
        format!("{score:.0}")
    } else {
        format!("{score:.1}")
    }
}

/// The width of `text` in Verdana 11px, roughly, plus 10px of padding.
fn text_width(text: &str) -> u32 {
    let tenths: u32 = text
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ':' | '/' | ' ' | 't' | 'f' | 'r' => 40,
            'm' | 'w' | 'M' | 'W' => 107,
            _ => 70,
        })
        .sum();
    tenths.div_ceil(10) + 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_read_without_a_needless_decimal() {
        assert_eq!(score_text(10.0), "10");
        assert_eq!(score_text(9.5), "9.5");
        assert_eq!(score_text(0.0), "0");
    }

    #[test]
    fn pending_badge_is_grey_svg() {
        let svg = Badge::pending().render().unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(">pending</text>") && svg.contains("class=\"pending\""));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
