//! The web stage: the JSON API and the HTML page, both rendered from the
//! stored [`Report`](crate::report::Report).

mod api;
mod html;
mod page;
mod trust;

use crate::store::Store;
use std::convert::Infallible;
use warp::Filter;
use warp::http::StatusCode;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    pub store: Store,
    pub domain: String,
    /// Base of the URLs we hand out, without a trailing slash.
    pub public_url: String,
}

pub fn routes(
    state: WebState,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone + Send + Sync + 'static
{
    let with_state = warp::any().map(move || state.clone());
    let create = warp::path!("api" / "tests")
        .and(warp::post())
        .and(with_state.clone())
        .map(api::create);
    let status = warp::path!("api" / "tests" / String)
        .and(warp::get())
        .and(with_state.clone())
        .map(api::status);
    let report_page = warp::path!("tests" / String)
        .and(warp::get())
        .and(warp::query::<page::PageQuery>())
        .and(warp::header::optional::<String>("accept-language"))
        .and(with_state.clone())
        .map(page::report_page);
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
        .recover(not_found)
        .with(warp::reply::with::header(
            "x-content-type-options",
            "nosniff",
        ))
}

async fn not_found(_: warp::Rejection) -> Result<warp::reply::Response, Infallible> {
    Ok(api::error(StatusCode::NOT_FOUND, "no such page"))
}
