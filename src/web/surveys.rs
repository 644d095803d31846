//! Surveys of live mail over HTTP: `POST /api/surveys` makes one,
//! `GET /api/surveys/{id}` answers its tables (JSON, or CSV with
//! `?format=csv`), and `GET /surveys/{id}` is its page (or a download with
//! `?format=csv|json`). `?from=…&to=…` takes the messages received in a
//! period; `&compare_from=…&compare_to=…` adds every figure's change since
//! an earlier period, as MSchecker published year over year.

use super::api::error;
use super::page::PageQuery;
use super::survey_page::{self, Online};
use super::{WebState, html};
use crate::i18n::Lang;
use crate::survey::compare::{self, Change};
use crate::survey::online::{self, KeptRow, Period, Survey};
use crate::survey::{SenderRow, Tables, csv};
use crate::test_id;
use crate::webhooks;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use warp::http::StatusCode;
use warp::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use warp::hyper::body::Bytes;
use warp::reply::{Reply, Response};

/// What `POST /api/surveys` may carry; anything else is refused.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expect_domain: Option<String>,
    #[serde(default)]
    webhook: Option<String>,
}

/// A new survey and where to send and read.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct CreatedSurvey {
    #[serde(flatten)]
    pub survey: Survey,
    /// Where senders send: `{id}.{label}@{domain}`, the label 1-40 of
    /// `[a-z0-9-]` (the newsletter's name, say).
    pub address: String,
    /// The survey's page.
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub survey_url: String,
    /// Its tables as JSON.
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub json_url: String,
    /// Its sender rows as CSV.
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub csv_url: String,
    /// Where the report of each message counted is POSTed, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schemars(url))]
    pub webhook: Option<String>,
}

/// `GET /api/surveys/{id}`: the tables of the messages received in
/// `period`, and with `compare_*` every figure's change since then.
#[derive(Serialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct SurveyTables {
    #[serde(flatten)]
    pub tables: Tables,
    pub survey: Survey,
    /// The messages counted: received in this period (unbounded: all).
    pub period: Period,
    /// Each figure, by its dotted path (`mechanisms.dkim.set_percent`,
    /// `combinations.spf+dkim.percent`), beside the same figure of the
    /// earlier period, with the change in points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare: Option<BTreeMap<String, Change>>,
    /// The earlier period, when compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_period: Option<Period>,
}

/// The query of a survey's tables and page.
#[derive(Debug, Default, Deserialize)]
pub struct SurveyQuery {
    /// `json` or `csv` (the page: also `html`, its default).
    pub format: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub compare_from: Option<String>,
    pub compare_to: Option<String>,
    /// The sender list's order: `from`, `messages`, `score`, `grade`,
    /// `smime`, `spf`, `dkim`, `dmarc`, `last_seen`.
    pub sort: Option<String>,
    pub lang: Option<String>,
}

/// `POST /api/surveys`: `{"name": "…", "expect_domain": "go.jp"}`, both
/// optional.
pub fn create(body: Bytes, state: WebState) -> Response {
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let survey = Survey {
        id: test_id::generate(),
        name: request.name,
        expect_domain: request.expect_domain,
        created_at: now_rfc3339(),
    };
    if let Some(url) = &request.webhook
        && let Err((status, message)) =
            super::api::register_webhook(&state, &webhooks::survey_key(&survey.id), url, false)
    {
        return error(status, &message);
    }
    if let Err(e) = state.store.put_survey(&survey.id, &survey.encode()) {
        return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
    }
    let (id, base) = (&survey.id, &state.public_url);
    let body = CreatedSurvey {
        address: format!("{id}.<label>@{}", state.domain),
        survey_url: format!("{base}/surveys/{id}"),
        json_url: format!("{base}/api/surveys/{id}"),
        csv_url: format!("{base}/api/surveys/{id}?format=csv"),
        webhook: request.webhook,
        survey,
    };
    warp::reply::with_status(warp::reply::json(&body), StatusCode::CREATED).into_response()
}

fn parse_request(body: &[u8]) -> Result<CreateRequest, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(CreateRequest::default());
    }
    let mut request: CreateRequest = serde_json::from_slice(body).map_err(|e| {
        format!("invalid body: want {{\"name\": \"...\", \"expect_domain\": \"...\"}} ({e})")
    })?;
    if request.name.chars().count() > online::MAX_NAME || request.name.chars().any(char::is_control)
    {
        return Err(format!(
            "name: at most {} characters, no control characters",
            online::MAX_NAME
        ));
    }
    if let Some(domain) = &mut request.expect_domain {
        *domain = domain.trim_matches('.').to_ascii_lowercase();
        if !is_domain(domain) {
            return Err("expect_domain: want a domain name such as go.jp".into());
        }
    }
    Ok(request)
}

/// Letters, digits and hyphens in dot-separated labels of 1-63, at most 253.
fn is_domain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `GET /api/surveys/{id}`.
pub fn tables(id: String, query: SurveyQuery, state: WebState) -> Response {
    match query.format.as_deref() {
        None | Some("json") => answer(&id, &query, &state, Download::Json),
        Some("csv") => answer(&id, &query, &state, Download::Csv),
        Some(_) => error(StatusCode::BAD_REQUEST, "format: json or csv"),
    }
}

/// `GET /surveys/{id}`: the page, or a download.
pub fn page(
    id: String,
    query: SurveyQuery,
    accept_language: Option<String>,
    state: WebState,
) -> Response {
    let lang = PageQuery {
        lang: query.lang.clone(),
    }
    .lang(accept_language.as_deref());
    match query.format.as_deref() {
        None | Some("html") => answer(&id, &query, &state, Download::Page(lang)),
        Some("json") => answer(&id, &query, &state, Download::Json),
        Some("csv") => answer(&id, &query, &state, Download::Csv),
        Some(_) => error(StatusCode::BAD_REQUEST, "format: html, json or csv"),
    }
}

enum Download {
    Json,
    Csv,
    Page(Lang),
}

fn answer(id: &str, query: &SurveyQuery, state: &WebState, how: Download) -> Response {
    let (survey, rows) = match read(id, state) {
        Ok(found) => found,
        Err((status, message)) => return error(status, &message),
    };
    let periods = Period::new(query.from.as_deref(), query.to.as_deref()).and_then(|now| {
        let compared = (query.compare_from.is_some() || query.compare_to.is_some())
            .then(|| Period::new(query.compare_from.as_deref(), query.compare_to.as_deref()))
            .transpose()?;
        Ok((now, compared))
    });
    let (period, compared) = match periods {
        Ok(periods) => periods,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let mut tables = online::tables(&survey, &rows, &period);
    if let Err(message) = sort(&mut tables.rows, query.sort.as_deref()) {
        return error(StatusCode::BAD_REQUEST, &message);
    }
    match how {
        Download::Csv => download(
            csv::rows(&tables.rows).into_bytes(),
            "text/csv; charset=utf-8",
            &format!("survey-{id}.csv"),
        ),
        Download::Json => {
            let mut document = SurveyTables {
                tables,
                survey,
                period,
                compare: None,
                compare_period: None,
            };
            if let Some(earlier) = compared {
                let before = online::tables(&document.survey, &rows, &earlier);
                let value =
                    |tables: &Tables| serde_json::to_value(tables).expect("tables serialise");
                document.compare =
                    Some(compare::compare(&value(&document.tables), &value(&before)));
                document.compare_period = Some(earlier);
            }
            let mut response = warp::reply::json(&document).into_response();
            if query.format.is_some() {
                attach(&mut response, &format!("survey-{id}.json"));
            }
            response
        }
        Download::Page(lang) => {
            let online = Online {
                address: format!("{id}.<label>@{}", state.domain),
                csv_url: format!("/api/surveys/{id}?format=csv"),
                json_url: format!("/api/surveys/{id}"),
                report_base: format!("/tests/{id}."),
                sort_links: sort_links(lang, id),
            };
            let page = survey_page::render_online(lang, &survey.name, &tables, online);
            html::response(page, StatusCode::OK)
        }
    }
}

/// The survey and its kept rows, or the error to answer.
fn read(id: &str, state: &WebState) -> Result<(Survey, Vec<KeptRow>), (StatusCode, String)> {
    let unavailable =
        |e: crate::store::StoreError| (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
    if !test_id::is_plain(id) {
        return Err((StatusCode::BAD_REQUEST, "invalid survey id".into()));
    }
    // A record of a newer build is an answer of its own (this build
    // cannot count it), not a survey missing rows.
    let unreadable =
        |e: crate::store::StoreError| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let survey = state
        .store
        .survey(id)
        .map_err(unavailable)?
        .ok_or((StatusCode::NOT_FOUND, "no such survey".to_string()))?;
    let survey = Survey::decode(&survey).map_err(unreadable)?;
    let rows = state.store.survey_rows(id).map_err(unavailable)?;
    let rows = rows
        .iter()
        .map(|r| KeptRow::decode(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    Ok((survey, rows))
}

const SORTS: [&str; 9] = [
    "from",
    "messages",
    "score",
    "grade",
    "smime",
    "spf",
    "dkim",
    "dmarc",
    "last_seen",
];

/// Orders the sender list: names ascending, counts and scores descending.
fn sort(rows: &mut [SenderRow], by: Option<&str>) -> Result<(), String> {
    let Some(by) = by else { return Ok(()) };
    match by {
        "from" => rows.sort_by(|a, b| a.from.cmp(&b.from)),
        "messages" => rows.sort_by_key(|r| std::cmp::Reverse(r.messages)),
        "score" => rows.sort_by(|a, b| b.score.total_cmp(&a.score)),
        "grade" => rows.sort_by_key(|r| grade_rank(&r.grade)),
        "last_seen" => rows.sort_by(|a, b| b.last_seen.cmp(&a.last_seen)),
        "smime" | "spf" | "dkim" | "dmarc" => rows.sort_by_key(|r| r.state(by)),
        _ => return Err(format!("sort: one of {}", SORTS.join(", "))),
    }
    Ok(())
}

fn grade_rank(grade: &str) -> usize {
    ["danger", "improve", "review", "safe"]
        .iter()
        .position(|g| *g == grade)
        .unwrap_or(4)
}

fn sort_links(lang: Lang, id: &str) -> Vec<(&'static str, String)> {
    let t = lang.ui();
    let words = [
        "From",
        t.survey_messages,
        t.changes_score,
        t.grade_label,
        "S/MIME",
        "SPF",
        "DKIM",
        "DMARC",
    ];
    words
        .into_iter()
        .zip(SORTS)
        .map(|(word, key)| {
            (
                word,
                format!("/surveys/{id}?sort={key}&lang={}#senders", lang.code()),
            )
        })
        .collect()
}

fn download(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    attach(&mut response, name);
    response
}

/// Saves as `name` (ids are `[a-z0-9-]`: nothing to quote).
fn attach(response: &mut Response, name: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
}

fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    mail_parser::DateTime::from_timestamp(now as i64).to_rfc3339()
}
