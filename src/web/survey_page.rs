//! A survey's tables as a page, in English or Japanese: the JIPDEC study's
//! table 1 (combinations), the per-mechanism table with a stacked bar per
//! mechanism (set / not set / misconfigured / not checked), the cross
//! tables of the senders with each mechanism set, MSchecker's figures and
//! grade distribution, the senders outside the expected domain, and the
//! sender list. Bars are inline SVG (no script, nothing fetched); each
//! segment also has its words and figures beside it, so colour is never
//! the only signal.

use super::html;
use super::page::Frame;
use crate::i18n::{Lang, Ui};
use crate::survey::sender::{MECHANISMS, State};
use crate::survey::tables::{Counts, Tables};
use askama::Template;

#[derive(Template)]
#[template(path = "survey.html")]
struct SurveyPage<'a> {
    frame: Frame,
    t: &'static Ui,
    title: String,
    tables: &'a Tables,
    /// Table 1: (S/MIME, SPF, DKIM, DMARC marks, count, percent).
    combinations: Vec<([&'static str; 4], usize, String)>,
    mechanisms: Vec<MechanismView>,
    /// Of the senders with A set: how many have B in each state.
    cross: Vec<CrossView>,
    figures: Vec<FigureView>,
    states: Vec<&'static str>,
    /// A survey of live mail: its address, downloads and report links.
    online: Option<Online>,
}

/// What the page of a survey run on live mail adds to its tables.
pub struct Online {
    /// `<id>.<label>@<domain>`, as the sender is told.
    pub address: String,
    pub csv_url: String,
    pub json_url: String,
    /// A row's latest report is this followed by its label.
    pub report_base: String,
    /// (column word, link sorting by it).
    pub sort_links: Vec<(&'static str, String)>,
}

struct MechanismView {
    name: &'static str,
    /// (count, percent) per state, in [`State::ALL`] order.
    cells: Vec<(usize, String)>,
    bar: Vec<Segment>,
}

struct CrossView {
    name: &'static str,
    base: usize,
    /// (other mechanism, count per state).
    rows: Vec<(&'static str, Vec<usize>)>,
}

/// One of MSchecker's figures: its label, then (word, count, percent).
struct FigureView {
    label: &'static str,
    cells: Vec<(&'static str, usize, String)>,
    bar: Vec<Segment>,
}

/// A stacked bar's segment: where it starts and how wide, in percent.
struct Segment {
    x: f64,
    width: f64,
    colour: &'static str,
    title: String,
}

const GOOD: &str = "#1a7f37";
const FAIR: &str = "#d4a017";
const POOR: &str = "#bc4c00";
const BAD: &str = "#cf222e";
const NONE: &str = "#8c959f";
const UNKNOWN: &str = "#d0d7de";

impl SurveyPage<'_> {
    fn state(&self, state: &State) -> &'static str {
        state_word(self.t, *state)
    }

    fn grade(&self, level: &str) -> &'static str {
        let t = self.t;
        match level {
            "safe" => t.grade_safe,
            "review" => t.grade_review,
            "improve" => t.grade_improve,
            "danger" => t.grade_danger,
            _ => t.survey_not_checked,
        }
    }
}

pub fn render(lang: Lang, tables: &Tables) -> String {
    render_with(lang, tables, None, None)
}

/// The page of a survey of live mail, named `name` by its creator.
pub fn render_online(lang: Lang, name: &str, tables: &Tables, online: Online) -> String {
    render_with(lang, tables, Some(name), Some(online))
}

fn render_with(lang: Lang, tables: &Tables, name: Option<&str>, online: Option<Online>) -> String {
    let t = lang.ui();
    let counts = match lang {
        Lang::En => format!(
            "Survey of {} senders ({} messages)",
            tables.senders, tables.messages
        ),
        Lang::Ja => format!(
            "送信者 {} 件の調査（メール {} 通）",
            tables.senders, tables.messages
        ),
    };
    let title = match name.filter(|n| !n.is_empty()) {
        Some(name) => format!("{name}: {counts}"),
        None => counts,
    };
    let states: Vec<&'static str> = State::ALL.iter().map(|s| state_word(t, *s)).collect();
    let page = SurveyPage {
        frame: Frame::new(lang, format!("{title} · mailscore")),
        t,
        combinations: tables
            .combinations
            .iter()
            .map(|c| {
                let mark = |set: bool| if set { "✔" } else { "–" };
                let marks = [mark(c.smime), mark(c.spf), mark(c.dkim), mark(c.dmarc)];
                (marks, c.count, format!("{:.1}", c.percent))
            })
            .collect(),
        mechanisms: MECHANISMS.iter().map(|m| mechanism(t, tables, m)).collect(),
        cross: MECHANISMS.iter().map(|m| cross(tables, m)).collect(),
        figures: figures(t, tables),
        states,
        title,
        tables,
        online,
    };
    html::render_string(&page)
}

fn mechanism(t: &Ui, tables: &Tables, name: &'static str) -> MechanismView {
    let counts = &tables.mechanisms[name];
    let cells = State::ALL
        .iter()
        .map(|s| {
            let (_, count, percent) = entry(counts, s.as_str());
            (count, format!("{percent:.1}"))
        })
        .collect();
    let words: Vec<&'static str> = State::ALL.iter().map(|s| state_word(t, *s)).collect();
    MechanismView {
        name: display(name),
        cells,
        bar: bar(counts, &words, &[GOOD, NONE, BAD, UNKNOWN]),
    }
}

fn cross(tables: &Tables, name: &'static str) -> CrossView {
    let set = &tables.cross[name]["set"];
    CrossView {
        name: display(name),
        base: tables.mechanisms[name].get("set").unwrap_or(0),
        rows: set
            .iter()
            .map(|(other, counts)| {
                let row = State::ALL.iter().map(|s| counts[s.as_str()]).collect();
                (display(other), row)
            })
            .collect(),
    }
}

fn figures(t: &Ui, tables: &Tables) -> Vec<FigureView> {
    let figure = |label: &'static str,
                  counts: &Counts,
                  words: &[&'static str],
                  colours: &[&'static str]| FigureView {
        label,
        cells: counts
            .0
            .iter()
            .zip(words)
            .map(|((_, count, percent), word)| (*word, *count, format!("{percent:.1}")))
            .collect(),
        bar: bar(counts, words, colours),
    };
    let yes_no = [t.survey_yes, t.survey_no, t.survey_not_checked];
    let ok_ng = [t.survey_ok, t.survey_ng, t.survey_not_checked];
    let good_bad = [GOOD, BAD, UNKNOWN];
    vec![
        figure(
            t.grade_label,
            &tables.grades,
            &[
                t.grade_safe,
                t.grade_review,
                t.grade_improve,
                t.grade_danger,
                t.survey_not_checked,
            ],
            &[GOOD, FAIR, POOR, BAD, UNKNOWN],
        ),
        figure(
            t.survey_tls_receive,
            &tables.tls_receive,
            &yes_no,
            &good_bad,
        ),
        figure(t.survey_tls_send, &tables.tls_send, &yes_no, &good_bad),
        figure(
            t.survey_spf_dkim,
            &tables.spf_dkim,
            &[
                t.survey_both_ok,
                t.survey_one_ok,
                t.survey_both_ng,
                t.survey_not_checked,
            ],
            &[GOOD, FAIR, BAD, UNKNOWN],
        ),
        figure(t.survey_rdns, &tables.rdns, &ok_ng, &good_bad),
        figure(t.survey_dnssec, &tables.dnssec, &ok_ng, &good_bad),
        figure(
            t.survey_dnsbl,
            &tables.dnsbl,
            &[t.survey_listed, t.survey_clean, t.survey_not_checked],
            &[BAD, GOOD, UNKNOWN],
        ),
    ]
}

/// Segments of a bar of 100 %, one per non-zero count.
fn bar(counts: &Counts, words: &[&'static str], colours: &[&'static str]) -> Vec<Segment> {
    let mut x = 0.0;
    counts
        .0
        .iter()
        .zip(words.iter().zip(colours))
        .filter(|((_, count, _), _)| *count > 0)
        .map(|((_, count, percent), (word, colour))| {
            let segment = Segment {
                x,
                width: *percent,
                colour,
                title: format!("{word}: {count} ({percent:.1} %)"),
            };
            x += percent;
            segment
        })
        .collect()
}

fn entry<'a>(counts: &'a Counts, name: &str) -> (&'a str, usize, f64) {
    counts
        .0
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or(("", 0, 0.0), |(n, c, p)| (n, *c, *p))
}

fn state_word(t: &Ui, state: State) -> &'static str {
    match state {
        State::Set => t.setup_configured,
        State::NotSet => t.setup_missing,
        State::Misconfigured => t.setup_misconfigured,
        State::NotChecked => t.survey_not_checked,
    }
}

fn display(mechanism: &str) -> &'static str {
    match mechanism {
        "smime" => "S/MIME",
        "spf" => "SPF",
        "dkim" => "DKIM",
        _ => "DMARC",
    }
}
