//! iprev (RFC 8601 §3): does the client IP have a PTR name that resolves
//! back to it (forward-confirmed reverse DNS)?

use super::verdict::{Setup, Verdict};
use mail_auth::{DnsError, Error, IprevResult, MessageAuthenticator};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IprevFinding {
    pub result: Verdict,
    pub setup: Setup,
    pub ip: IpAddr,
    /// The PTR names found for `ip`.
    pub ptr: Vec<String>,
    /// True when one PTR name resolves back to `ip`.
    pub forward_confirmed: bool,
    pub error: Option<String>,
}

pub async fn verdict(dns: &MessageAuthenticator, ip: IpAddr) -> IprevFinding {
    let output = dns.verify_iprev(ip).await;
    let ptr: Vec<String> = output
        .ptr
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    let (result, error) = match &output.result {
        IprevResult::Pass => (Verdict::Pass, None),
        IprevResult::Fail(Error::NotAligned) => (
            Verdict::Fail,
            Some("no PTR name resolves back to this IP".to_string()),
        ),
        IprevResult::Fail(e) => (Verdict::Fail, Some(e.to_string())),
        // No PTR record at all: reverse DNS is not set up.
        IprevResult::PermError(Error::Dns(DnsError::RecordNotFound(_))) if ptr.is_empty() => {
            (Verdict::None, Some("no PTR record for this IP".to_string()))
        }
        IprevResult::PermError(e) => (Verdict::Permerror, Some(e.to_string())),
        IprevResult::TempError(e) => (Verdict::Temperror, Some(e.to_string())),
        IprevResult::None => (Verdict::None, None),
    };
    IprevFinding {
        result,
        setup: result.setup(),
        ip,
        ptr,
        forward_confirmed: result == Verdict::Pass,
        error,
    }
}
