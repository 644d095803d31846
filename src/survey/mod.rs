//! Surveys of many senders: what the JIPDEC study of government mail
//! magazines and Designet's MSchecker statistics count, from an archive of
//! mail (`mailscore survey`). A survey consumes reports: each message is
//! analysed as any test, its report becomes one small [`SenderRow`] per
//! sending address, and the [`Tables`] are computed from the rows alone.
//! The command that reads an archive is [`crate::survey_cli`]; surveys of
//! live mail are [`online`].

pub mod archive;
pub mod compare;
pub mod csv;
pub mod online;
pub mod received;
pub mod retention;
pub mod sender;
pub mod tables;

pub use sender::{SenderRow, State};
pub use tables::Tables;
