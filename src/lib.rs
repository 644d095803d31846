//! mailscore: a self-hostable mail tester.
//!
//! One message flows one way through these stages, one module each:
//! [`smtp`] accepts it, [`store`] persists it before we answer 250,
//! [`checks`] turn it into findings (SPF, DKIM, DMARC, iprev, message facts;
//! one module a check, over the DNS plumbing in [`dns`]),
//! [`score`] applies the rule table in `scoring-rules/`, [`report`] assembles
//! the one document that [`web`] renders as JSON and HTML. Beside the
//! stream, [`survey`] folds the reports of an archive's many senders into
//! the JIPDEC and MSchecker tables (from an archive, or from live mail),
//! and [`webhooks`] POST each finished report to where its test asked.

// warp's route tree nests one type per `.or()`; the optimised build's
// layout checks need more depth than the default 128.
#![recursion_limit = "256"]

pub mod analysis;
pub mod check;
pub mod checks;
pub mod config;
pub mod config_check;
pub mod dns;
pub mod fnv;
pub mod i18n;
pub mod inbox;
pub mod listen;
pub mod logs;
pub mod metrics;
pub mod report;
pub mod score;
pub mod serve;
pub mod smtp;
pub mod stage;
pub mod store;
pub mod survey;
pub mod survey_cli;
pub mod test_id;
pub mod wait;
pub mod web;
pub mod webhooks;
