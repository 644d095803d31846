//! The SMTP envelope: what the sending host told us, as opposed to what the
//! message headers claim. SPF and iprev judge the envelope, DMARC compares it
//! with the From header.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One accepted transaction, recorded as the client presented it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub client_ip: IpAddr,
    /// The client's TCP port; 0 when the message was not received over the
    /// network (`mailscore check` reads a file).
    pub client_port: u16,
    /// The HELO/EHLO argument, verbatim.
    pub helo: String,
    /// The reverse-path; empty for a null sender (`MAIL FROM:<>`).
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Seconds since the Unix epoch when DATA completed.
    pub received_at: u64,
    /// The TLS session the message came over; None for plaintext.
    #[serde(default)]
    pub tls: Option<TlsInfo>,
}

/// What STARTTLS negotiated, as rustls names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// e.g. "TLSv1.3".
    pub version: String,
    /// e.g. "TLS13_AES_256_GCM_SHA384".
    pub cipher: String,
}
