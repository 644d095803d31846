//! STARTTLS (RFC 3207): the certificate the listener presents and the
//! handshake that upgrades a plaintext session.
//!
//! Senders rarely verify a receiving MX's certificate, so when the operator
//! gives none we issue ourselves a self-signed one and keep it in the data
//! directory; what matters for a mail tester is that the sender *can* encrypt
//! and that we can report what it negotiated.
//!
//! The TLS stack is rustls with its `ring` provider, passed explicitly so no
//! process-wide default provider has to be installed. rustls speaks only
//! TLS 1.2 and TLS 1.3: a sender limited to TLS 1.0 or 1.1 cannot complete the
//! handshake, and since STARTTLS cannot fall back once `220` is sent, its
//! connection closes (a well-behaved sender then retries in plaintext).

use super::TlsInfo;
use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take to complete the handshake after our `220`.
/// A client that stalls is simply disconnected.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the generated certificate and key live, under the data directory.
const TLS_DIR: &str = "tls";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

/// Why no TLS configuration could be built; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {0} is configured without a key: set the TLS key as well")]
    CertWithoutKey(PathBuf),
    #[error("TLS key {0} is configured without a certificate: set the TLS certificate as well")]
    KeyWithoutCert(PathBuf),
    #[error("cannot read TLS certificate {path}: {source}")]
    Certificate { path: PathBuf, source: pem::Error },
    #[error("TLS certificate file {0} holds no PEM certificate")]
    NoCertificate(PathBuf),
    #[error("cannot read TLS private key {path}: {source}")]
    Key { path: PathBuf, source: pem::Error },
    #[error(
        "found the generated TLS certificate {cert} but not its key {key}: remove the certificate to have a new pair generated"
    )]
    GeneratedKeyMissing { cert: PathBuf, key: PathBuf },
    #[error("TLS certificate {cert} and key {key} cannot be used: {source}")]
    Rejected {
        cert: PathBuf,
        key: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot generate a self-signed TLS certificate for {hostname}: {source}")]
    Generate {
        hostname: String,
        source: rcgen::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// The TLS configuration STARTTLS uses, built once at start-up.
///
/// With `cert` and `key` (PEM files: the chain, leaf first, and its private
/// key) those are used. Without them, `<data_dir>/tls/cert.pem` and
/// `key.pem` are used, created on first start as a self-signed certificate
/// for `hostname` (key file mode 0600) and kept across restarts. The data
/// directory must already exist.
///
/// Only TLS 1.2 and 1.3 are offered (see the module documentation).
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    data_dir: &Path,
    hostname: &str,
) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert.to_path_buf(), key.to_path_buf()),
        (Some(cert), None) => return Err(TlsError::CertWithoutKey(cert.to_path_buf())),
        (None, Some(key)) => return Err(TlsError::KeyWithoutCert(key.to_path_buf())),
        (None, None) => generated_pair(&data_dir.join(TLS_DIR), hostname)?,
    };
    let chain = load_chain(&cert)?;
    let private_key = PrivateKeyDer::from_pem_file(&key).map_err(|source| TlsError::Key {
        path: key.clone(),
        source,
    })?;
    let rejected = |source| TlsError::Rejected {
        cert: cert.clone(),
        key: key.clone(),
        source,
    };
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(rejected)?
            .with_no_client_auth()
            .with_single_cert(chain, private_key)
            .map_err(rejected)?;
    Ok(Arc::new(config))
}

/// Upgrades a connection that has just been sent `220 Ready to start TLS`.
/// `None` if the client sent no valid handshake in time (garbage, a stall, a
/// protocol version we do not speak, an alert): the caller just closes.
pub(super) async fn accept(
    stream: TcpStream,
    config: Arc<ServerConfig>,
) -> Option<(TlsStream<TcpStream>, TlsInfo)> {
    let handshake = TlsAcceptor::from(config).accept(stream);
    let stream = timeout(HANDSHAKE_TIMEOUT, handshake).await.ok()?.ok()?;
    let info = negotiated(stream.get_ref().1);
    Some((stream, info))
}

/// What the handshake settled on, in the names the report shows: ours as
/// a server, and the sender's MX's when we probe it as a client.
pub fn negotiated(connection: &rustls::CommonState) -> TlsInfo {
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    let cipher = connection
        .negotiated_cipher_suite()
        .map_or_else(String::new, |suite| format!("{:?}", suite.suite()));
    TlsInfo { version, cipher }
}

/// Every certificate in `path`, leaf first.
fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let failed = |source| TlsError::Certificate {
        path: path.to_path_buf(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(failed)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(path.to_path_buf()));
    }
    Ok(chain)
}

/// The certificate and key files in `dir`, generating what is missing.
///
/// The key is written before the certificate, so an interrupted first start
/// leaves at worst a key alone, for which a new certificate is issued next
/// time. A certificate without its key is refused rather than overwritten:
/// it may be the operator's.
fn generated_pair(dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    match (cert.exists(), key.exists()) {
        (true, true) => return Ok((cert, key)),
        (true, false) => return Err(TlsError::GeneratedKeyMissing { cert, key }),
        (false, _) => {}
    }
    fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let generate = |source| TlsError::Generate {
        hostname: hostname.to_string(),
        source,
    };
    let signing_key = if key.exists() {
        let pem = fs::read_to_string(&key).map_err(|source| TlsError::Key {
            path: key.clone(),
            source: pem::Error::Io(source),
        })?;
        rcgen::KeyPair::from_pem(&pem).map_err(generate)?
    } else {
        let signing_key = rcgen::KeyPair::generate().map_err(generate)?;
        write_owner_only(&key, signing_key.serialize_pem().as_bytes())?;
        signing_key
    };
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_string()]).map_err(generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    let certificate = params.self_signed(&signing_key).map_err(generate)?;
    write_owner_only(&cert, certificate.pem().as_bytes())?;
    Ok((cert, key))
}

/// Writes `path` whole or not at all (temporary file, then rename), readable
/// by its owner only.
fn write_owner_only(path: &Path, contents: &[u8]) -> Result<(), TlsError> {
    let failed = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let temporary = path.with_extension("pem.tmp");
    // A leftover from an interrupted start may have other permissions; the
    // mode below applies only to a file we create.
    match fs::remove_file(&temporary) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(failed(err)),
        _ => {}
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).map_err(failed)?;
    file.write_all(contents).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    fs::rename(&temporary, path).map_err(failed)
}
