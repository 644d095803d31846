//! The second verdict on the score page, beside the points: MSchecker's
//! level with the items that decided it, and the JIPDEC setup grid.

use crate::i18n::Ui;
use crate::report::Report;
use crate::score::mschecker::{Item, Level};

/// The grade line, ready to print.
pub struct GradeView {
    /// `grade-safe`, … for the colour; the words and icon say it too.
    pub level: &'static str,
    pub icon: &'static str,
    pub word: &'static str,
    /// "because …" or "not checked: …", or empty.
    pub detail: String,
    /// (mechanism, its setup label, its setup word) for the grid.
    pub grid: Vec<(&'static str, &'static str, &'static str)>,
}

pub fn view(t: &Ui, report: &Report) -> GradeView {
    let grade = &report.grade;
    let (icon, word) = match grade.level {
        Level::Safe => ("✔", t.grade_safe),
        Level::Review => ("!", t.grade_review),
        Level::Improve => ("✖", t.grade_improve),
        Level::Danger => ("✖✖", t.grade_danger),
        Level::NotChecked => ("?", t.grade_not_checked),
    };
    let items = |items: &[Item]| {
        items
            .iter()
            .map(|i| item(t, *i))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let detail = if !grade.decided_by.is_empty() {
        format!("{}: {}", t.grade_decided_by, items(&grade.decided_by))
    } else if !grade.not_checked.is_empty() {
        format!("{}: {}", t.grade_missing, items(&grade.not_checked))
    } else {
        String::new()
    };
    let setup = &report.setup;
    GradeView {
        level: grade.level.as_str(),
        icon,
        word,
        detail,
        grid: [
            ("S/MIME", setup.smime),
            ("SPF", setup.spf),
            ("DKIM", setup.dkim),
            ("DMARC", setup.dmarc),
        ]
        .into_iter()
        .map(|(name, s)| (name, s.label(t), s.as_str()))
        .collect(),
    }
}

fn item(t: &Ui, item: Item) -> &'static str {
    match item {
        Item::OpenRelay => t.item_open_relay,
        Item::SpfAndDkimNotOk => t.item_spf_and_dkim_not_ok,
        Item::NoTlsToUs => t.item_no_tls_on_sending,
        Item::MxNoStarttls => t.item_mx_no_starttls,
        Item::ReverseDnsFails => t.item_reverse_dns_fails,
        Item::DnssecNotOk => t.item_dnssec_not_ok,
        Item::Blocklisted => t.item_blocklisted,
    }
}
