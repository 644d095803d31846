//! `mailscore config check`: loads the configuration and the rule table the
//! way `serve` would, and stops there. An operator runs it before a restart
//! (or a SIGHUP) so a typo is found by a command, not by an outage.
//!
//! Nothing is started, bound, opened or written: no store, no listener, no
//! generated TLS pair. What is read is read fully: the config file, every
//! rule file, the TLS certificate and key when configured, the S/MIME CA
//! files, the API keys file.

use crate::checks::smime::{SmimeError, TrustStore};
use crate::config::{Config, ConfigError, Options};
use crate::score::{RuleTable, RulesError};
use crate::smtp::tls::{self, TlsError};
use crate::web::{ApiKeys, ApiKeysError};

#[derive(Debug, thiserror::Error)]
pub enum ConfigCheckError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Smime(#[from] SmimeError),
    #[error(transparent)]
    ApiKeys(#[from] ApiKeysError),
}

/// The one-line summary of a valid configuration, or the first problem.
pub fn config_check(args: &Options) -> Result<String, ConfigCheckError> {
    let config = Config::load(args)?;
    let rules = RuleTable::load(config.rules.as_deref())?;
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        // With both files given this only reads them: the pair must load
        // and match. (Without, serve generates one: nothing to check.)
        tls::server_config(Some(cert), Some(key), &config.data_dir, &config.hostname)?;
    }
    TrustStore::system_with(&config.lists.smime_ca_files)?;
    ApiKeys::load(config.api_keys.as_deref())?;
    let table = config
        .rules
        .as_deref()
        .map_or("embedded".to_string(), |dir| dir.display().to_string());
    let file = args
        .config
        .as_deref()
        .map_or("no config file".to_string(), |path| {
            path.display().to_string()
        });
    Ok(format!(
        "config ok: {file}; addresses @{}, SMTP {}, HTTP {}, {} rules ({table})\n",
        config.domain,
        config.smtp_listen,
        config.http_listen,
        rules.rules.len(),
    ))
}
