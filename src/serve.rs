//! `mailscore serve`: wires the stages together. SMTP hands each message to
//! the [`Inbox`], which stores it (durably, before 250) and queues its id;
//! the analyzer, in the background ([`crate::analysis::background`]), turns queued ids
//! into reports; the web server reads them.

use crate::analysis::background::{Background, Lanes};
use crate::analysis::burst::Intake;
use crate::analysis::pipeline::Pipeline;
use crate::analysis::{LanePipelines, Queued, Saving, analyze_queued};
use crate::checks::SetupError;
use crate::checks::{Analyzer, CheckId, Findings};
use crate::config::Config;
use crate::dns::{DnsSetupError, resolver_with_anchors};
use crate::inbox::Inbox;
use crate::metrics::Metrics;
use crate::score::{LiveRules, RuleTable, RulesError};
use crate::smtp::{Listener, SmtpLimits, SmtpSettings};
use crate::store::free_space::FreeSpace;
use crate::store::{Store, StoreError, Writer};
use crate::web;
use std::sync::Arc;
use tokio::sync::mpsc;

/// At most this many messages are analysed at once on each of the two
/// lanes (background and normal priority); the rest wait in the queue
/// (they are already safe on disk). 16 on each measured 154 MB of peak RSS
/// at 100 sessions.
const ANALYSIS_CONCURRENCY: usize = 8;

/// How long SIGTERM waits for SMTP sessions in flight to finish.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    ApiKeys(#[from] web::ApiKeysError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dns(#[from] DnsSetupError),
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Tls(#[from] crate::smtp::tls::TlsError),
    #[error("cannot start the store writer: {0}")]
    Writer(std::io::Error),
    #[error("cannot start the analysis thread: {0}")]
    Analyzer(std::io::Error),
    #[error("cannot handle signals: {0}")]
    Signal(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

pub async fn serve(config: Config) -> Result<(), ServeError> {
    let rules = RuleTable::load(config.rules.as_deref())?;
    let api_keys = Arc::new(web::ApiKeys::load(config.api_keys.as_deref())?);
    let store = Store::open_location(
        config.store.as_deref(),
        &config.data_dir,
        config.store_cache,
        config.retention,
    )?
    .with_survey_retention(config.survey_retention);
    let rules: LiveRules = rules.into();
    // One analyzer, so one resolver, per lane (see `background`): hickory
    // runs a DNS connection's driver task on the runtime that opened it and
    // reuses the connection, so with one shared resolver a starved
    // background thread would hold up the normal lane's DNS until it timed
    // out (tests/background_lanes.rs).
    let analyzer = || -> Result<Analyzer, ServeError> {
        let dns = resolver_with_anchors(
            config.dns,
            config.dns_timeout,
            config.dnssec_trust_anchor.as_deref(),
        )?;
        Ok(Analyzer::new(dns, &config.hostname, &config.lists)?)
    };
    let normal = analyzer()?;
    // One probe cache for both lanes: it is what keeps a flood of test
    // mail from becoming a flood of probes of one sender.
    let background = Analyzer {
        mail_servers: normal.mail_servers.clone(),
        ..analyzer()?
    };
    let pipeline = Arc::new(Pipeline {
        analyzer: normal,
        rules: rules.clone(),
    });
    let background_pipeline = Arc::new(Pipeline {
        analyzer: background,
        rules: rules.clone(),
    });
    let metrics = Arc::new(Metrics::new(Findings::DNS_CHECKS.map(CheckId::as_str)));

    // Expire first, so start-up does not analyse what is due for deletion
    // (nor count it in a survey that is).
    crate::survey::retention::remove_idle(
        &store,
        unix_now().saturating_sub(config.survey_retention.as_secs()),
    )?;
    store.remove_received_before(unix_now().saturating_sub(config.retention.as_secs()))?;
    let (queue, queued) = mpsc::unbounded_channel();
    // Messages that got 250 before a crash but no report: analyse them now.
    for id in store.pending_ids()? {
        metrics.analysis_queued();
        let _ = queue.send(Queued::now(id));
    }
    let writer = Writer::start(store.clone()).map_err(ServeError::Writer)?;
    let arrivals = writer.arrivals();
    let background = Background::spawn("mailscore-analysis").map_err(ServeError::Analyzer)?;
    let lanes = Lanes::new(
        background.handle().clone(),
        tokio::runtime::Handle::current(),
        ANALYSIS_CONCURRENCY,
    );
    // Its own resolver: a webhook's name is looked up off the analysis lanes.
    let webhooks_queued = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(crate::webhooks::sender::deliver_forever(
        store.clone(),
        resolver_with_anchors(
            config.dns,
            config.dns_timeout,
            config.dnssec_trust_anchor.as_deref(),
        )?,
        config.webhooks.clone(),
        webhooks_queued.clone(),
    ));
    let analyzer = tokio::spawn(analyze_queued(
        Saving {
            writer: writer.clone(),
            store: store.clone(),
            texts: Arc::default(),
            webhooks_queued,
        },
        LanePipelines {
            background: background_pipeline,
            normal: pipeline.clone(),
        },
        config.domain.clone(),
        Intake::new(queued, config.max_analysis_backlog),
        metrics.clone(),
        lanes,
    ));
    // Installed before start-up is announced: until then SIGHUP would
    // still have its default effect, and end the process.
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let hangups = signal(SignalKind::hangup()).map_err(ServeError::Signal)?;
        let rules = config.rules.clone();
        tokio::spawn(reload_rules_on_hangup(
            hangups,
            pipeline,
            rules,
            metrics.clone(),
        ));
    }

    tokio::spawn(expire_old_messages(
        store.clone(),
        config.retention,
        config.survey_retention,
    ));

    // The disk reserve guards the data directory; Redis is not on our disk.
    let free_space = matches!(store, Store::Sled(_) | Store::Sqlite(_)).then(|| {
        let max_message = config.max_message_size as u64;
        let space = FreeSpace::new(&config.data_dir, config.min_free_space, max_message);
        match store.journal_file() {
            Some(journal) => space.with_journal(journal),
            None => space,
        }
    });
    let inbox = Arc::new(Inbox {
        writer,
        store: store.clone(),
        domain: config.domain.clone(),
        queue,
        metrics: metrics.clone(),
        free_space: free_space.clone(),
    });
    let settings = SmtpSettings {
        domain: config.domain.clone(),
        hostname: config.hostname.clone(),
        max_message_size: config.max_message_size,
        max_recipients: SmtpSettings::DEFAULT_MAX_RECIPIENTS,
    };
    let tls = crate::smtp::tls::server_config(
        config.tls_cert.as_deref(),
        config.tls_key.as_deref(),
        &config.data_dir,
        &config.hostname,
    )?;
    let limits = SmtpLimits {
        command_timeout: config.smtp_command_timeout,
        data_timeout: config.smtp_data_timeout,
        session_lifetime: config.smtp_session_lifetime,
        max_connections_per_ip: config.max_connections_per_ip,
        messages_per_ip_per_minute: config.messages_per_ip_per_minute,
        max_analysis_backlog: config.max_analysis_backlog,
        ..SmtpLimits::default()
    };
    let smtp = Listener::bind(config.smtp_listen, settings, inbox)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.smtp_listen,
            source,
        })?
        .with_starttls(tls)
        .with_limits(limits)
        .with_proxy_trusted(config.proxy_trusted.clone())
        .with_metrics(metrics.clone());
    let http = crate::listen::bind(config.http_listen).map_err(|source| ServeError::Bind {
        addr: config.http_listen,
        source,
    })?;
    let http_addr = http.local_addr().map_err(|source| ServeError::Bind {
        addr: config.http_listen,
        source,
    })?;
    let dns_server = config
        .dns
        .map_or("system resolver".to_string(), |a| a.to_string());
    // Installed before start-up is announced: a SIGTERM right after it
    // must shut down gracefully, not take the default action.
    let shutdown = ShutdownSignal::install();
    // Scripts and tests read the bound ports from this first stdout line.
    println!(
        "mailscore: SMTP on {}, HTTP on {http_addr}, addresses @{}, DNS {dns_server}",
        smtp.local_addr(),
        config.domain,
    );
    tracing::info!(
        smtp = %smtp.local_addr(),
        http = %http_addr,
        domain = %config.domain,
        dns = %dns_server,
        proxy_trusted = config.proxy_trusted.len(),
        api_keys = api_keys.len(),
        private_reports = config.private_reports,
        "mailscore started"
    );
    let routes = web::routes(web::WebState {
        store: store.clone(),
        arrivals: arrivals.clone(),
        reports: Arc::new(web::Reports::announced_by(store.clone(), arrivals)),
        domain: config.domain.clone(),
        public_url: config.public_url.clone(),
        metrics: metrics.clone(),
        rules,
        webhooks: config.webhooks.clone(),
        free_space,
        api_keys,
        private_reports: config.private_reports,
    });
    // One signal, two listeners: each waits on its own receiver.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.recv().await;
        tracing::info!("mailscore shutting down");
        let _ = stop.send(true);
    });
    let server = web::server::run(
        http,
        routes,
        config.http_limits(),
        config.proxy_trusted.clone(),
        stopped_signal(stopped.clone()),
    );
    let smtp = smtp.run_until(stopped_signal(stopped), SHUTDOWN_GRACE);
    let (drained, ()) = tokio::join!(smtp, server);
    if !drained {
        tracing::warn!(
            grace = ?SHUTDOWN_GRACE,
            "SMTP sessions still open after the grace period, closing them"
        );
    }
    // Messages not yet analysed stay pending on disk: the next start
    // analyses them.
    analyzer.abort();
    drop(background);
    store.flush()?;
    tracing::info!("mailscore stopped");
    Ok(())
}

/// Reloads the rule table from the rules directory on each SIGHUP. A table
/// that does not load (bad TOML, a rule failing validation, an empty
/// directory) is refused with an error in the log, and the table in force
/// stays: a typo never leaves the server scoring with nothing.
#[cfg(unix)]
async fn reload_rules_on_hangup(
    mut hangups: tokio::signal::unix::Signal,
    pipeline: Arc<Pipeline>,
    dir: Option<std::path::PathBuf>,
    metrics: Arc<Metrics>,
) {
    while hangups.recv().await.is_some() {
        let to_load = dir.clone();
        let loaded = tokio::task::spawn_blocking(move || RuleTable::load(to_load.as_deref())).await;
        let source = dir
            .as_deref()
            .map_or("embedded".to_string(), |d| d.display().to_string());
        match loaded {
            Ok(Ok(table)) => {
                let count = table.rules.len();
                pipeline.rules.replace(table);
                metrics.rules_reloaded(true);
                tracing::info!(rules = count, source = %source, "rule table reloaded");
            }
            Ok(Err(e)) => {
                metrics.rules_reloaded(false);
                tracing::error!(
                    error = %e,
                    source = %source,
                    "rule table refused; the previous one stays in force"
                );
            }
            Err(e) => {
                metrics.rules_reloaded(false);
                tracing::error!(
                    error = %e,
                    "rule table reload panicked; the previous one stays in force"
                );
            }
        }
    }
}

/// How often the retention sweep runs.
const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Deletes messages and reports older than `retention`, and surveys idle
/// for `survey_retention`, now and every [`SWEEP_INTERVAL`], so storage
/// stays bounded under a steady stream.
async fn expire_old_messages(
    store: Store,
    retention: std::time::Duration,
    survey_retention: std::time::Duration,
) {
    let mut tick = tokio::time::interval(SWEEP_INTERVAL);
    let candidates = Arc::new(std::sync::Mutex::new(
        crate::report::collect::Candidates::default(),
    ));
    loop {
        tick.tick().await;
        let cutoff = unix_now().saturating_sub(retention.as_secs());
        let survey_cutoff = unix_now().saturating_sub(survey_retention.as_secs());
        let swept = {
            let (store, candidates) = (store.clone(), candidates.clone());
            tokio::task::spawn_blocking(move || {
                // Surveys first: SQLite gives their pages back with the
                // messages' below.
                let surveys = crate::survey::retention::remove_idle(&store, survey_cutoff)?;
                let removed = store.remove_received_before(cutoff)?;
                // Then the texts the removed reports alone named.
                let collected = match store.text_gc() {
                    Some(texts) => {
                        let mut candidates = candidates
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        crate::report::collect::collect_texts(texts, &mut candidates)?
                    }
                    None => 0,
                };
                Ok::<_, StoreError>((removed, collected, surveys))
            })
            .await
        };
        match swept {
            Ok(Ok((0, 0, 0))) => {}
            Ok(Ok((removed, texts, surveys))) => {
                tracing::info!(
                    removed,
                    texts,
                    surveys,
                    "retention sweep removed expired tests, texts and idle surveys"
                )
            }
            Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
            Err(e) => tracing::error!(error = %e, "retention sweep panicked"),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Completes when the shutdown flag is raised.
async fn stopped_signal(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// SIGTERM (systemd, Docker) or Ctrl-C.
struct ShutdownSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> ShutdownSignal {
        ShutdownSignal {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("SIGTERM handler installs"),
        }
    }

    async fn recv(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term = self.term;
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    }
}
