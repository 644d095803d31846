//! "Will Gmail take my newsletter?" beside the score: each provider's
//! verdict for all senders and for bulk senders, with the requirements it
//! fails in the page's language. The report names requirements by id; the
//! provider tables in force give their names and texts.

use crate::i18n::{Lang, Ui};
use crate::report::Report;
use crate::score::Text;
use crate::score::providers::{Audience, Providers};
use crate::score::readiness::{Readiness, Ready};

/// One provider's row.
pub struct ProviderView {
    pub name: String,
    /// The provider's page the requirements come from, and its date.
    pub source: String,
    pub page_date: String,
    /// All senders, then bulk senders.
    pub cells: [CellView; 2],
}

/// One verdict, with the requirements behind it.
pub struct CellView {
    /// `ready`, `not_ready`, `not_checked` or `none`, for the colour; the
    /// icon and the word say it too.
    pub class: &'static str,
    pub icon: &'static str,
    pub word: &'static str,
    /// (label, requirement titles) for failing, not checked, recommended.
    pub lists: Vec<(&'static str, Vec<String>)>,
}

pub fn view(lang: Lang, report: &Report, providers: &Providers) -> Vec<ProviderView> {
    let t = lang.ui();
    let mut rows: Vec<ProviderView> = Vec::new();
    for verdict in &report.readiness {
        let at = match verdict.audience {
            Audience::All => 0,
            Audience::Bulk => 1,
        };
        let index = match rows.iter().position(|r| r.name == name(providers, verdict)) {
            Some(index) => index,
            None => {
                rows.push(provider_row(providers, verdict, t));
                rows.len() - 1
            }
        };
        rows[index].cells[at] = cell(lang, verdict, providers);
    }
    rows
}

fn name(providers: &Providers, verdict: &Readiness) -> String {
    providers
        .get(&verdict.provider)
        .map_or_else(|| verdict.provider.clone(), |p| p.name.clone())
}

fn provider_row(providers: &Providers, verdict: &Readiness, t: &Ui) -> ProviderView {
    let provider = providers.get(&verdict.provider);
    ProviderView {
        name: name(providers, verdict),
        source: provider.map(|p| p.source.clone()).unwrap_or_default(),
        page_date: provider.map(|p| p.page_date.clone()).unwrap_or_default(),
        cells: [none(t), none(t)],
    }
}

/// An audience the provider publishes no requirements for.
fn none(t: &Ui) -> CellView {
    CellView {
        class: "none",
        icon: "–",
        word: t.ready_none,
        lists: Vec::new(),
    }
}

fn cell(lang: Lang, verdict: &Readiness, providers: &Providers) -> CellView {
    let t = lang.ui();
    let (icon, word) = match verdict.verdict {
        Ready::Ready => ("✔", t.ready_yes),
        Ready::NotReady => ("✖", t.ready_no),
        Ready::NotChecked => ("?", t.ready_not_checked),
    };
    // A requirement the table no longer has is shown by its id.
    let titles = |ids: &[String]| -> Vec<String> {
        let provider = providers.get(&verdict.provider);
        ids.iter()
            .map(|id| {
                provider
                    .and_then(|p| p.requirement(id))
                    .map_or_else(|| id.clone(), |r| in_lang(lang, &r.title))
            })
            .collect()
    };
    let lists = [
        (t.ready_failing, titles(&verdict.failing)),
        (t.ready_unchecked, titles(&verdict.not_checked)),
        (t.ready_advised, titles(&verdict.advised)),
    ]
    .into_iter()
    .filter(|(_, titles)| !titles.is_empty())
    .collect();
    CellView {
        class: verdict.verdict.as_str(),
        icon,
        word,
        lists,
    }
}

fn in_lang(lang: Lang, text: &Text) -> String {
    match lang {
        Lang::En => text.en.clone(),
        Lang::Ja => text.ja.clone(),
    }
}
