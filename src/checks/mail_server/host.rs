//! One conversation with one address of one exchanger: banner, EHLO,
//! STARTTLS and its certificate, then the relay test over TLS when the
//! handshake worked (on a second, plaintext connection when it did not),
//! then QUIT.

use super::ProbeSettings;
use super::certificate::{self, CertificateFacts, Roots, Seen};
use super::dane::{self, DaneFinding};
use super::dialogue::{self, Dialogue, DialogueError, Reply};
use super::relay::{self, RelayTest};
use crate::dns::Dns;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

crate::checks::facts::words! {
    /// How far the conversation got.
    Reached {
        /// Not probed: the address is not on the public Internet.
        Refused => "refused",
        /// The TCP connection failed.
        Unreachable => "unreachable",
        /// Connected, but the server broke off, stalled or spoke no SMTP.
        Failed => "failed",
        /// Banner, EHLO and the relay test all done.
        Completed => "completed",
    }
}

crate::checks::facts::words! {
    /// Whether the exchanger offers STARTTLS (RFC 3207).
    StartTls {
        Unknown => "unknown",
        Offered => "offered",
        NotOffered => "not_offered",
    }
}

/// The TLS session after STARTTLS, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct TlsSession {
    /// "TLSv1.3", "TLSv1.2"; none when the handshake failed.
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub certificate: Option<CertificateFacts>,
    /// Why the handshake (or reading the certificate) failed.
    pub error: Option<String>,
}

/// One address of one exchanger, probed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(schemars::JsonSchema))]
pub struct HostProbe {
    /// The exchanger's name.
    pub host: String,
    pub preference: u16,
    /// No MX: the domain's own address stood in.
    pub implicit: bool,
    pub address: IpAddr,
    pub reached: Reached,
    /// Why the probe stopped short of `completed`.
    pub error: Option<String>,
    /// The 220 greeting: code and first line.
    pub banner: Option<String>,
    /// The EHLO keywords, upper-case.
    pub extensions: Vec<String>,
    pub starttls: StartTls,
    pub tls: Option<TlsSession>,
    /// The `_25._tcp` TLSA records and whether the certificate matches
    /// (RFC 7672).
    #[serde(default)]
    pub dane: DaneFinding,
    pub relay: RelayTest,
}

/// Who we are and where a probe may go: what [`probe`] needs.
pub struct Prober {
    pub settings: ProbeSettings,
    pub roots: Roots,
}

impl Prober {
    /// Probes `address` of exchanger `host` for `domain`; its TLSA
    /// records are asked meanwhile.
    pub async fn probe(
        &self,
        dns: &Dns,
        host: &str,
        preference: u16,
        implicit: bool,
        address: IpAddr,
        domain: &str,
    ) -> HostProbe {
        let mut probe = HostProbe {
            host: host.to_string(),
            preference,
            implicit,
            address,
            reached: Reached::Refused,
            error: None,
            banner: None,
            extensions: Vec::new(),
            starttls: StartTls::Unknown,
            tls: None,
            dane: DaneFinding::default(),
            relay: RelayTest::default(),
        };
        if let Some(why) = super::targets::refusal(address)
            && !self.settings.allow_private
        {
            probe.error = Some(format!(
                "{address} is {why}: not probed (--probe-allow-private allows it)"
            ));
            return probe;
        }
        let stream = match self.connect(address).await {
            Ok(stream) => stream,
            Err(e) => {
                probe.reached = Reached::Unreachable;
                probe.error = Some(e);
                return probe;
            }
        };
        probe.reached = Reached::Failed;
        let mut chain = Vec::new();
        let (tlsa, conversation) = tokio::join!(
            dane::records(dns, host),
            self.converse(stream, domain, &mut probe, &mut chain)
        );
        match conversation {
            Err(e) => probe.error = Some(e.to_string()),
            Ok(()) => probe.reached = Reached::Completed,
        }
        probe.dane = dane::judge(tlsa, &chain);
        probe
    }

    async fn connect(&self, address: IpAddr) -> Result<TcpStream, String> {
        let to = SocketAddr::new(address, self.settings.port);
        match tokio::time::timeout(self.settings.step_timeout, TcpStream::connect(to)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(format!("cannot connect to {to}: {e}")),
            Err(_) => Err(format!(
                "cannot connect to {to}: no answer in {} s",
                self.settings.step_timeout.as_secs()
            )),
        }
    }

    /// The conversation; `chain` gets the certificates TLS showed.
    async fn converse(
        &self,
        stream: TcpStream,
        domain: &str,
        probe: &mut HostProbe,
        chain: &mut Vec<rustls::pki_types::CertificateDer<'static>>,
    ) -> Result<(), DialogueError> {
        let mut plain = Dialogue::new(stream, self.settings.step_timeout);
        let ehlo = self.greet(&mut plain, probe).await?;
        probe.extensions = dialogue::extensions(&ehlo);
        let offered = ehlo.is_positive() && probe.extensions.iter().any(|e| e == "STARTTLS");
        probe.starttls = if offered {
            StartTls::Offered
        } else {
            StartTls::NotOffered
        };
        if !offered {
            probe.relay = self.relay_test(&mut plain, domain).await;
            return quit(plain).await;
        }
        let reply = plain.command("STARTTLS", "the reply to STARTTLS").await?;
        if reply.code != 220 {
            probe.tls = Some(failed_tls(format!("STARTTLS refused: {}", reply.summary())));
            probe.relay = self.relay_test(&mut plain, domain).await;
            return quit(plain).await;
        }
        let step = plain.step();
        let stream = plain.into_inner()?;
        match self.handshake(stream, &probe.host).await {
            Ok((tls, session, shown)) => {
                probe.tls = Some(session);
                *chain = shown;
                let mut secure = Dialogue::new(tls, step);
                let ehlo = secure
                    .command(&format!("EHLO {}", self.settings.helo), "EHLO over TLS")
                    .await?;
                if !ehlo.is_positive() {
                    return Err(DialogueError::Garbage("EHLO over TLS", ehlo.summary()));
                }
                probe.relay = self.relay_test(&mut secure, domain).await;
                quit(secure).await
            }
            Err(error) => {
                probe.tls = Some(failed_tls(error));
                // The relay test still needs a conversation: a new one,
                // in plaintext.
                let stream = self
                    .connect(probe.address)
                    .await
                    .map_err(DialogueError::Io)?;
                let mut again = Dialogue::new(stream, step);
                self.greet(&mut again, probe).await?;
                probe.relay = self.relay_test(&mut again, domain).await;
                quit(again).await
            }
        }
    }

    /// The banner, then EHLO (HELO when EHLO is refused).
    async fn greet<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        dialogue: &mut Dialogue<S>,
        probe: &mut HostProbe,
    ) -> Result<Reply, DialogueError> {
        let banner = dialogue.reply("the greeting").await?;
        probe.banner = Some(banner.summary());
        if banner.code != 220 {
            return Err(DialogueError::Garbage(
                "the greeting",
                format!("refused us: {}", banner.summary()),
            ));
        }
        let helo = &self.settings.helo;
        let ehlo = dialogue.command(&format!("EHLO {helo}"), "EHLO").await?;
        if ehlo.is_positive() {
            return Ok(ehlo);
        }
        let reply = dialogue.command(&format!("HELO {helo}"), "HELO").await?;
        if !reply.is_positive() {
            return Err(DialogueError::Garbage("HELO", reply.summary()));
        }
        Ok(ehlo)
    }

    async fn relay_test<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        dialogue: &mut Dialogue<S>,
        domain: &str,
    ) -> RelayTest {
        relay::test(
            dialogue,
            &self.settings.helo,
            &self.settings.relay_domain,
            domain,
        )
        .await
    }

    async fn handshake(
        &self,
        stream: TcpStream,
        host: &str,
    ) -> Result<
        (
            tokio_rustls::client::TlsStream<TcpStream>,
            TlsSession,
            Vec<rustls::pki_types::CertificateDer<'static>>,
        ),
        String,
    > {
        let seen = Arc::new(Seen::default());
        let connector =
            tokio_rustls::TlsConnector::from(Arc::new(certificate::recording_config(seen.clone())));
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host:?} is not a host name TLS can ask for"))?;
        let tls =
            match tokio::time::timeout(self.settings.step_timeout, connector.connect(name, stream))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return Err(format!("TLS handshake failed: {e}")),
                Err(_) => {
                    return Err(format!(
                        "TLS handshake timed out after {} s",
                        self.settings.step_timeout.as_secs()
                    ));
                }
            };
        let (_, connection) = tls.get_ref();
        let named = crate::smtp::tls::negotiated(connection);
        let version = Some(named.version).filter(|v| !v.is_empty());
        let cipher = Some(named.cipher).filter(|c| !c.is_empty());
        let chain = seen.chain();
        let (certificate, error) = match certificate::judge(&chain, host, &self.roots) {
            Ok(facts) => (Some(facts), None),
            Err(e) => (None, Some(e)),
        };
        Ok((
            tls,
            TlsSession {
                version,
                cipher,
                certificate,
                error,
            },
            chain,
        ))
    }
}

fn failed_tls(error: String) -> TlsSession {
    TlsSession {
        version: None,
        cipher: None,
        certificate: None,
        error: Some(error),
    }
}

/// QUIT, politely, waiting a second at most for its reply: everything the
/// probe wanted is already known, and a server that stalls or drops us
/// here has still answered.
async fn quit<S: AsyncRead + AsyncWrite + Unpin>(
    mut dialogue: Dialogue<S>,
) -> Result<(), DialogueError> {
    let _ = tokio::time::timeout(QUIT_WAIT, dialogue.command("QUIT", "QUIT")).await;
    Ok(())
}

const QUIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
