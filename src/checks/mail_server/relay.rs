//! The open relay test (MSchecker's 不正中継): on a connection to the
//! sender's exchanger, a transaction from our own domain to recipients
//! outside both, in the disguises relay checkers have always tried. It
//! never reaches DATA: RSET ends it, so nothing is ever sent through.

use super::dialogue::{Dialogue, DialogueError};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

crate::checks::facts::words! {
    /// Whether the exchanger relays for strangers.
    RelayVerdict {
        /// Not tested (no conversation got that far).
        Unknown => "unknown",
        /// Every external recipient was refused.
        Closed => "closed",
        /// At least one external recipient got a 2xx.
        Open => "open",
    }
}

/// How many disguises of the outside recipient are tried.
const VARIANTS: usize = 4;

/// One recipient tried, and the reply to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RcptAttempt {
    /// Which disguise: "plain", "percent_hack", "quoted", "source_route".
    pub variant: String,
    /// The RCPT TO argument as sent.
    pub recipient: String,
    /// The reply: code and first line.
    pub reply: String,
    /// The server accepted it (2xx).
    pub accepted: bool,
}

/// What the relay test found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct RelayTest {
    pub verdict: RelayVerdict,
    /// The MAIL FROM reply, when the server refused it (the test then has
    /// no recipients to try).
    pub mail_from_refused: Option<String>,
    pub attempts: Vec<RcptAttempt>,
    /// Why the test stopped early.
    pub error: Option<String>,
}

/// The recipients tried: `user@outside`, and that address hidden behind
/// `domain` (the domain whose exchanger this is) by the percent hack, a
/// quoted local part and an RFC 821 source route (RFC 5321 §4.1.1.3 says
/// to accept and ignore the route; a relay that obeys it relays).
pub fn recipients(outside: &str, domain: &str) -> [(&'static str, String); VARIANTS] {
    [
        ("plain", format!("<relay-test@{outside}>")),
        ("percent_hack", format!("<relay-test%{outside}@{domain}>")),
        ("quoted", format!("<\"relay-test@{outside}\"@{domain}>")),
        ("source_route", format!("<@{domain}:relay-test@{outside}>")),
    ]
}

/// Runs the test on `dialogue`, after EHLO. `ours` is our own domain
/// (MAIL FROM), `outside` the external recipients' domain.
pub async fn test<S: AsyncRead + AsyncWrite + Unpin>(
    dialogue: &mut Dialogue<S>,
    ours: &str,
    outside: &str,
    domain: &str,
) -> RelayTest {
    let mut test = RelayTest::default();
    if let Err(e) = transaction(dialogue, ours, outside, domain, &mut test).await {
        test.error = Some(e.to_string());
    }
    test.verdict = if test.attempts.iter().any(|a| a.accepted) {
        RelayVerdict::Open
    } else if test.attempts.len() == VARIANTS || test.mail_from_refused.is_some() {
        RelayVerdict::Closed
    } else {
        RelayVerdict::Unknown
    };
    test
}

async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    dialogue: &mut Dialogue<S>,
    ours: &str,
    outside: &str,
    domain: &str,
    test: &mut RelayTest,
) -> Result<(), DialogueError> {
    let mail = dialogue
        .command(&format!("MAIL FROM:<relay-probe@{ours}>"), "MAIL FROM")
        .await?;
    if mail.code != 250 {
        // A server that will not take mail from us cannot relay it.
        test.mail_from_refused = Some(mail.summary());
        return Ok(());
    }
    for (variant, recipient) in recipients(outside, domain) {
        let reply = dialogue
            .command(&format!("RCPT TO:{recipient}"), "RCPT TO")
            .await?;
        test.attempts.push(RcptAttempt {
            variant: variant.into(),
            recipient,
            // 250, or 251 "will forward" (RFC 5321 §3.4).
            accepted: matches!(reply.code, 250 | 251),
            reply: reply.summary(),
        });
    }
    dialogue.command("RSET", "RSET").await?;
    Ok(())
}
