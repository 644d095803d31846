#![allow(dead_code)] // each test binary uses a different part of this harness

//! The sender's mail exchanger, played by a real Postfix on loopback: a
//! test CA and the certificates it issues (rcgen), and Postfix instances
//! that refuse or allow relaying, with or without STARTTLS.

use super::postfix::Postfix;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};

/// A CA of the test's own, written to `dir/ca.pem`.
pub struct TestCa {
    pub pem_path: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(dir: &Path) -> TestCa {
        std::fs::create_dir_all(dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "mailscore test CA");
        let cert = params.self_signed(&key).unwrap();
        let pem_path = dir.join("ca.pem");
        std::fs::write(&pem_path, cert.pem()).unwrap();
        TestCa {
            pem_path,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate for `name`, valid now unless `expired`; its chain
    /// and key as `dir/<file>.{crt,key}`.
    pub fn issue(&self, dir: &Path, file: &str, name: &str, expired: bool) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (crt, key_path) = (
            dir.join(format!("{file}.crt")),
            dir.join(format!("{file}.key")),
        );
        std::fs::write(&crt, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (crt, key_path)
    }
}

/// How the exchanger is set up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Relay {
    /// Relays only for 192.0.2.0/24, so not for the probe on 127.0.0.1.
    Closed,
    /// Relays for all of 127.0.0.0/8: an open relay to the probe.
    Open,
}

/// A Postfix MX; `tls` is (certificate chain, key) for STARTTLS. None
/// (after saying why) when Postfix is missing outside CI.
pub fn postfix_mx(relay: Relay, tls: Option<(&Path, &Path)>) -> Option<Postfix> {
    let mut settings: Vec<String> = vec!["myhostname = mail.good.example".into()];
    match relay {
        Relay::Closed => settings.extend([
            "mynetworks = 192.0.2.0/24".to_string(),
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination".to_string(),
        ]),
        Relay::Open => settings.extend([
            "mynetworks = 127.0.0.0/8".to_string(),
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination".to_string(),
        ]),
    }
    if let Some((chain, key)) = tls {
        settings.extend([
            "smtpd_tls_security_level = may".to_string(),
            format!(
                "smtpd_tls_chain_files = {}, {}",
                key.display(),
                chain.display()
            ),
        ]);
    }
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    // Nothing is ever delivered through it: the probe never sends DATA.
    Postfix::start("127.0.0.1:9".parse().unwrap(), &settings)
}
