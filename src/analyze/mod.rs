//! Analysis: turns one stored message and its envelope into findings.
//! Only facts here, no points: scoring is the next stage's business.

pub mod dkim;
pub mod dkim_key;
pub mod dmarc;
pub mod dns;
pub mod dnsbl;
pub mod helo;
pub mod iprev;
pub mod message;
pub mod posture;
pub mod smime;
pub mod spf;
pub mod spf_syntax;
pub mod tls;
pub mod verdict;

use crate::smtp::Envelope;
use mail_auth::{AuthenticatedMessage, MessageAuthenticator};
use serde::{Deserialize, Serialize};

pub use verdict::{Setup, Verdict};

/// Everything analysis found about one message: the input of scoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    /// SPF for the MAIL FROM identity (HELO when MAIL FROM is empty).
    pub spf: spf::SpfFinding,
    /// SPF for the HELO identity on its own.
    pub spf_helo: spf::SpfFinding,
    /// One per DKIM-Signature header, in order.
    pub dkim: Vec<dkim::DkimFinding>,
    pub dmarc: dmarc::DmarcFinding,
    pub iprev: iprev::IprevFinding,
    /// Whether the HELO name is a real name for the client IP.
    pub helo: helo::HeloFinding,
    /// Whether the hop to us was encrypted.
    pub tls: tls::TlsFinding,
    pub message: message::MessageFacts,
}

/// Runs every check. DNS failures become temperror findings; nothing here
/// returns an error, so a message always gets a report.
pub async fn analyze(
    dns: &MessageAuthenticator,
    envelope: &Envelope,
    raw: &[u8],
    our_hostname: &str,
) -> Findings {
    let ip = envelope.client_ip;
    let helo = envelope.helo.as_str();
    let message = message::facts(raw);
    let mail_from_domain = envelope.mail_from.rsplit_once('@').map_or(helo, |(_, d)| d);

    let (spf, spf_helo, iprev, helo_finding) = tokio::join!(
        spf::mail_from_verdict(dns, ip, helo, our_hostname, &envelope.mail_from),
        spf::helo_verdict(dns, ip, helo, our_hostname),
        iprev::verdict(dns, ip),
        helo::verdict(dns, helo, ip),
    );

    // mail-auth's parser wants at least one header; an unparseable message
    // is analysed as an empty one so DKIM and DMARC report "none".
    // Not strict: a signature with l= is verified (and flagged by the rule
    // table) rather than discarded, so the report can say what it covers.
    let parsed = AuthenticatedMessage::parse_with_opts(raw, None, false);
    let empty = AuthenticatedMessage::default();
    let auth_message = parsed.as_ref().unwrap_or(&empty);
    let (dkim, dkim_outputs) = dkim::verdicts(dns, auth_message).await;
    let dmarc = dmarc::verdict(dns, auth_message, &dkim_outputs, &spf, mail_from_domain).await;

    Findings {
        spf,
        spf_helo,
        dkim,
        dmarc,
        iprev,
        helo: helo_finding,
        tls: tls::verdict(envelope),
        message,
    }
}
