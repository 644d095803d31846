//! Why an SPF evaluation is a permerror. Its own file: both the evaluator
//! (`eval`) and the DNS limits (`lookup`) raise one, and neither should
//! import the other for it.

use super::record::SyntaxError;
use std::fmt;

/// Why an evaluation is a permerror: the exact problem a sender must fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// §4.6: a syntax error anywhere in a record.
    Syntax { domain: String, error: SyntaxError },
    /// §4.5: more than one `v=spf1` record at one name.
    MultipleRecords { domain: String, count: usize },
    /// §4.6.4: more than 10 terms that query DNS.
    LookupLimit { count: u32 },
    /// §4.6.4: more than 2 lookups that found nothing.
    VoidLimit { count: u32 },
    /// §4.6.4: an `mx` mechanism met more than 10 MX records.
    MxLimit { domain: String, count: usize },
    /// §5.2: `include:` of a domain with no SPF record.
    IncludeNone { domain: String },
    /// §6.1: `redirect=` to a domain with no SPF record.
    RedirectNone { domain: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Syntax { domain, error } => {
                write!(f, "syntax error in the SPF record of {domain}: {error}")
            }
            Problem::MultipleRecords { domain, count } => write!(
                f,
                "{count} SPF records at {domain}; there must be exactly one (RFC 7208 §4.5)"
            ),
            Problem::LookupLimit { count } => write!(
                f,
                "{count} DNS lookups, limit 10: include, a, mx, ptr, exists and \
                 redirect each count, nested ones too (RFC 7208 §4.6.4)"
            ),
            Problem::VoidLimit { count } => write!(
                f,
                "{count} void lookups, limit 2: names the record looks up that do \
                 not exist or have no records (RFC 7208 §4.6.4)"
            ),
            Problem::MxLimit { domain, count } => write!(
                f,
                "{domain} has {count} MX records, limit 10 for the mx mechanism (RFC 7208 §4.6.4)"
            ),
            Problem::IncludeNone { domain } => write!(
                f,
                "include:{domain} points to a domain with no SPF record (RFC 7208 §5.2)"
            ),
            Problem::RedirectNone { domain } => write!(
                f,
                "redirect={domain} points to a domain with no SPF record (RFC 7208 §6.1)"
            ),
        }
    }
}
