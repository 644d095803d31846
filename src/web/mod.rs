//! The web stage: the JSON API and the HTML page, both rendered from the
//! stored [`Report`](crate::report::Report).

mod api;
mod assets;
mod auth;
mod badge;
mod changes;
mod fix_first;
mod grade;
mod history;
mod html;
pub mod openapi;
mod ops;
mod page;
mod ratelimit;
pub mod server;

/// Addresses one client may create at once before the per-minute refill.
pub const ADDRESS_CREATION_BURST: u32 = ratelimit::BURST;
mod raw;
mod readiness;
mod reports;
mod rows;
mod survey_page;
mod surveys;
mod wait;
pub mod words;

use crate::metrics::{Metrics, ReportFormat};
use crate::store::Store;
use auth::Scope;
pub use auth::{ApiKeys, ApiKeysError};
pub use reports::Reports;
use std::convert::Infallible;
use std::sync::Arc;
use warp::Filter;
use warp::http::StatusCode;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    /// Reports as this node's writer commits them: a long-poll answers at
    /// once.
    pub arrivals: Arc<crate::store::Arrivals>,
    /// The reports in `store`, read back whole.
    pub reports: Arc<Reports>,
    pub domain: String,
    /// Base of the URLs we hand out, without a trailing slash.
    pub public_url: String,
    /// Counters for `/metrics`, and readiness for `/readyz`.
    pub metrics: Arc<Metrics>,
    /// The rule table in force: the page names the providers'
    /// requirements a report fails by it.
    pub rules: crate::score::LiveRules,
    /// Whether (and where) reports may be POSTed when done.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// The data disk's reserve: `/readyz` is 503 below it.
    pub free_space: Option<crate::store::free_space::FreeSpace>,
    /// Who may create tests and surveys and read surveys; none: anyone.
    pub api_keys: Arc<ApiKeys>,
    /// Whether reading a report needs a key with the `read` scope too.
    pub private_reports: bool,
}

/// A filter for the routes that hand out addresses: the key `scope` needs,
/// then a token from the caller's own bucket (its key's, else its network's).
fn creation(
    keys: Arc<ApiKeys>,
    scope: Scope,
) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone + Send + Sync + 'static {
    let limiter = Arc::new(ratelimit::RateLimiter::address_creation());
    ratelimit::admit(limiter, auth::require(keys, scope))
}

pub fn routes(
    state: WebState,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone + Send + Sync + 'static
{
    let metrics = state.metrics.clone();
    let keys = state.api_keys.clone();
    // A report is readable by its unguessable id, unless the operator
    // makes reports private: then it takes a key with `read`.
    let report_keys = if state.private_reports {
        keys.clone()
    } else {
        Arc::new(ApiKeys::none())
    };
    let read_report = auth::guard(report_keys, Scope::Read);
    let read_survey = auth::guard(keys.clone(), Scope::Survey);
    let with_state = warp::any().map(move || state.clone());
    let create = warp::path!("api" / "tests")
        .and(warp::post())
        .and(creation(keys.clone(), Scope::Create))
        .and(api::create_body())
        .and(with_state.clone())
        .map(api::create);
    let create_survey = warp::path!("api" / "surveys")
        .and(warp::post())
        .and(creation(keys, Scope::Survey))
        .and(api::create_body())
        .and(with_state.clone())
        .map(surveys::create);
    let survey_tables = warp::path!("api" / "surveys" / String)
        .and(warp::get())
        .and(read_survey.clone())
        .and(warp::query::<surveys::SurveyQuery>())
        .and(with_state.clone())
        .map(surveys::tables);
    let survey_page = warp::path!("surveys" / String)
        .and(warp::get())
        .and(read_survey)
        .and(warp::query::<surveys::SurveyQuery>())
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state.clone())
        .map(surveys::page);
    let status = warp::path!("api" / "tests" / String)
        .and(warp::get())
        .and(read_report.clone())
        .and(warp::query::<wait::WaitQuery>())
        .and(with_state.clone())
        .then(api::status)
        .map({
            let metrics = metrics.clone();
            move |response| ops::count_report(&metrics, ReportFormat::Json, response)
        });
    let history = warp::path!("api" / "tests" / String / "history")
        .and(warp::get())
        .and(read_report.clone())
        .and(with_state.clone())
        .map(history::history);
    let diff = warp::path!("api" / "tests" / String / "diff")
        .and(warp::get())
        .and(read_report.clone())
        .and(warp::query::<history::DiffQuery>())
        .and(with_state.clone())
        .map(history::diff);
    let send = warp::path!("api" / "tests" / String / usize)
        .and(warp::get())
        .and(read_report.clone())
        .and(with_state.clone())
        .map(history::send);
    let send_page = warp::path!("tests" / String / usize)
        .and(warp::get())
        .and(read_report.clone())
        .and(warp::query::<page::PageQuery>())
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state.clone())
        .map(page::send_page);
    let report_page = warp::path!("tests" / String)
        .and(warp::get())
        .and(read_report.clone())
        .and(warp::query::<page::PageQuery>())
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state.clone())
        .map(page::report_page)
        .map(move |response| ops::count_report(&metrics, ReportFormat::Html, response));
    let badge = warp::path!("api" / "tests" / String / "badge.svg")
        .and(warp::get())
        .and(read_report.clone())
        .and(with_state.clone())
        .map(badge::badge);
    let raw_page = warp::path!("tests" / String / "raw")
        .and(warp::get())
        .and(read_report.clone())
        .and(warp::query::<page::PageQuery>())
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state.clone())
        .map(raw::raw_page);
    let message_eml = warp::path!("tests" / String / "message.eml")
        .and(warp::get())
        .and(read_report.clone())
        .and(with_state.clone())
        .map(raw::message_eml);
    let assets = warp::path!("assets" / String)
        .and(warp::get())
        .map(|name: String| assets::serve(&name));
    let openapi = warp::path!("api" / "openapi.json")
        .and(warp::get())
        .map(openapi::serve);
    let healthz = warp::path!("healthz").and(warp::get()).map(ops::healthz);
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state.clone())
        .map(ops::readyz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(with_state.clone())
        .map(ops::metrics);
    let landing = warp::path::end()
        .and(warp::get())
        .and(warp::query::<page::PageQuery>())
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state)
        .map(page::landing);
    create
        .or(status)
        .or(report_page)
        .or(landing)
        .or(badge)
        .or(history)
        .or(diff)
        .or(send)
        .or(send_page)
        .or(raw_page)
        .or(message_eml)
        .or(assets)
        .or(openapi)
        .or(healthz)
        .or(readyz)
        .or(metrics)
        .or(create_survey)
        .or(survey_tables)
        .or(survey_page)
        .recover(api::rejection)
        .recover(not_found)
        .with(warp::reply::with::header(
            "x-content-type-options",
            "nosniff",
        ))
        // Pages set their own policy (src/web/html.rs); everything else
        // (JSON, CSV, SVG, the raw message) may load and run nothing, and
        // nothing may frame any of it.
        .with(warp::reply::with::default_header(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'; sandbox",
        ))
        .with(warp::reply::with::default_header(
            "referrer-policy",
            "no-referrer",
        ))
}

async fn not_found(_: warp::Rejection) -> Result<warp::reply::Response, Infallible> {
    Ok(api::error(StatusCode::NOT_FOUND, "no such page"))
}

/// A survey's tables as a page in `lang` ("en" or "ja").
pub fn render_survey_page(tables: &crate::survey::Tables, lang: &str) -> String {
    survey_page::render(crate::i18n::Lang::from_code(lang), tables)
}

/// The stylesheet every page links, for a page saved as a file.
pub fn stylesheet() -> &'static str {
    assets::style()
}

/// The score page of `report` as HTML, in `lang` ("en" or "ja"; anything
/// else is English): what `GET /tests/{id}` serves once the report exists.
/// The providers' requirements are named from the embedded tables.
pub fn render_report_page(report: &crate::report::Report, lang: &str) -> String {
    static EMBEDDED: std::sync::LazyLock<crate::score::providers::Providers> =
        std::sync::LazyLock::new(|| {
            crate::score::providers::Providers::embedded().expect("the embedded tables are valid")
        });
    page::render_report(crate::i18n::Lang::from_code(lang), report, &EMBEDDED)
}
