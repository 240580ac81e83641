//! The bundled daemon: IMAP, POP3 and the HTTP listener from one TOML file (`wildduck` binary,
//! `examples/daemon.rs`).
//!
//! Start-up is all-or-nothing: the configuration is checked, certificates are loaded (or generated),
//! the storage is opened and every listener is bound before any connection is served; any failure
//! exits non-zero with a message naming the key, file or URL at fault. SIGTERM/SIGINT make sessions
//! say goodbye; the process exits once they are gone or `shutdownTimeout` seconds have passed.

pub mod certs;
pub mod config;
mod http;
mod listeners;
mod logging;
pub mod metrics;
pub mod storage;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

pub use config::{Config, ConfigError};

/// Command line of the `wildduck` binary.
#[derive(Debug, Parser)]
#[command(
    name = "wildduck",
    version,
    about = "WildDuck in Rust: IMAP, POP3 and HTTP API daemon"
)]
pub struct Cli {
    /// Configuration file (TOML, WildDuck key names); without it only defaults and
    /// WILDDUCK_<SECTION>__<KEY> variables apply.
    #[arg(long, short = 'c', global = true, env = "WILDDUCK_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do (default: run the daemon).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Run,
    /// Check the configuration and exit.
    Check,
    /// Manage users directly in the configured storage.
    User {
        /// The user action.
        #[command(subcommand)]
        action: UserAction,
    },
}

/// `wildduck user …`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user with a password and (optionally) a main address.
    Add {
        /// Username (`[a-z0-9-]` words, optionally `@domain`).
        #[arg(long)]
        username: String,
        /// Password (read from WILDDUCK_USER_PASSWORD when not given, to keep it out of `ps`).
        #[arg(long, env = "WILDDUCK_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Main e-mail address.
        #[arg(long)]
        address: Option<String>,
        /// Quota in MB (0 = the default, `maxStorage`).
        #[arg(long, default_value_t = 0)]
        quota: u64,
    },
}

/// Parses the process's arguments and runs; the binary's `main` and the example call this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run_cli(cli)
}

/// Runs a parsed command line on a new multi-threaded runtime.
pub fn run_cli(cli: Cli) -> ExitCode {
    let config = match Config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&ConfigError(format!("cannot start the runtime: {e}"))),
    };
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::Check => {
            println!("configuration OK");
            Ok(())
        }
        Command::Run => runtime.block_on(run(config, cli.config)),
        Command::User {
            action:
                UserAction::Add {
                    username,
                    password,
                    address,
                    quota,
                },
        } => runtime.block_on(user_add(&config, username, password, address, quota)),
    };
    // Sessions aborted after the grace time must not hold the process up.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &ConfigError) -> ExitCode {
    eprintln!("wildduck: {e}");
    ExitCode::FAILURE
}

async fn user_add(
    config: &Config,
    username: String,
    password: String,
    address: Option<String>,
    quota_mb: u64,
) -> Result<(), ConfigError> {
    let storage = storage::open(config).await?;
    let user = storage
        .services
        .create_user(wildduck_core::service::users::NewUser {
            username,
            password: Some(password),
            address,
            quota: quota_mb.saturating_mul(1024 * 1024),
            ..Default::default()
        })
        .await
        .map_err(|e| ConfigError(format!("cannot create the user: {e}")))?;
    println!("created user {} (id {})", user.username, user.id);
    Ok(())
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config: Config, config_path: Option<PathBuf>) -> Result<(), ConfigError> {
    logging::init(&config);
    let metrics = if config.api.enabled && config.api.metrics.enabled {
        Some(http::install_metrics()?)
    } else {
        None
    };
    let tls = listeners::TlsSet::load(&config)?;
    let mut storage = storage::open(&config).await?;
    tracing::info!(storage = %storage.description, "storage ready");
    // Commands, bytes, appends and logins are counted only when /metrics is served.
    let observer = metrics
        .as_ref()
        .map(|_| Arc::new(metrics::DaemonMetrics::new()));
    if let Some(o) = &observer {
        storage.services = storage.services.clone().with_login_observer(o.clone());
    }
    let shutdown = wildduck_net::Shutdown::new();
    let mut terminate = Terminate::install();
    let bound = listeners::bind_all(&config, &tls).await?;
    let api = if config.api.enabled {
        Some(http::bind(&config, tls.api.clone()).await?)
    } else {
        None
    };

    // The summary goes to stdout, one line per fact, so scripts (and tests) can read it.
    let mut summary = String::new();
    for b in &bound {
        summary.push_str(&format!(
            "listening: {} on {} ({})\n",
            b.protocol,
            b.addr,
            b.mode()
        ));
    }
    if let Some(a) = &api {
        let mode = if a.scheme() == "https" {
            "TLS"
        } else {
            "plain"
        };
        summary.push_str(&format!("listening: http on {} ({mode})\n", a.addr));
    }
    summary.push_str(&format!("storage: {}\n", storage.description));
    if let Some(cert) = &tls.generated {
        summary.push_str(&format!(
            "tls: self-signed certificate {}\n",
            cert.display()
        ));
    }
    summary.push_str(&first_user_hint(
        &config,
        config_path.as_deref(),
        api.as_ref().map(|a| (a.addr, a.scheme())),
        tls.generated.as_deref(),
    ));
    print!("{summary}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    let session_observer: wildduck_net::Observer = match &observer {
        Some(o) => o.clone(),
        None => wildduck_net::noop_observer(),
    };
    let servers = listeners::Servers::new(&config, &storage.services, session_observer);
    if let Some(imap) = &servers.imap {
        // One notification listener for every IMAP listener.
        imap.start_notifications();
    }
    // Background tasks (user purges, …) as WildDuck's tasks.js: every instance runs the loop;
    // the queue's atomic claims keep each task on one instance at a time.
    let task_runner = storage
        .services
        .spawn_task_runner(wildduck_core::service::tasks::TaskRunnerOptions::default());
    // Expired messages (into the archive) and expired archive entries, as WildDuck's GC
    // (every 15 minutes).
    let archive_purger = storage
        .services
        .spawn_collector(wildduck_core::service::archive::PURGE_INTERVAL);
    let mut tasks = tokio::task::JoinSet::new();
    for b in bound {
        tasks.spawn(b.serve(servers.clone(), shutdown.signal()));
    }
    if let Some(a) = api {
        let state = http::api_state(&config, &storage.services);
        tasks.spawn(a.serve(state, metrics, shutdown.signal()));
    }

    let failed = tokio::select! {
        _ = terminate.wait() => None,
        Some(done) = tasks.join_next() => Some(done),
    };
    if let Some(done) = failed {
        shutdown.trigger();
        let msg = match done {
            Ok(Ok(())) => "a listener stopped unexpectedly".to_string(),
            Ok(Err(e)) => format!("a listener failed: {e}"),
            Err(e) => format!("a listener task failed: {e}"),
        };
        return Err(ConfigError(msg));
    }
    tracing::info!(
        grace_seconds = config.shutdown_timeout,
        "shutting down: sessions are told to finish"
    );
    shutdown.trigger();
    let grace = std::time::Duration::from_secs(config.shutdown_timeout.saturating_add(1));
    let drained =
        tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("sessions still open after the grace time; exiting anyway");
        tasks.abort_all();
    }
    archive_purger.abort();
    // A task still running after the grace time is left to its lease: the next start (or
    // another instance) takes it over when the lease runs out.
    if tokio::time::timeout(grace, task_runner.stop())
        .await
        .is_err()
    {
        tracing::warn!("a background task was still running at exit; it resumes later");
    }
    tracing::info!("stopped");
    Ok(())
}

fn first_user_hint(
    config: &Config,
    config_path: Option<&std::path::Path>,
    api: Option<(std::net::SocketAddr, &str)>,
    generated_cert: Option<&std::path::Path>,
) -> String {
    if let Some((addr, scheme)) = api {
        let token = if config.api.access_token.is_empty() {
            String::new()
        } else {
            " -H 'X-Access-Token: <api.accessToken>'".to_string()
        };
        // A self-signed certificate is trusted explicitly, never with --insecure.
        let cacert = match (scheme, generated_cert) {
            ("https", Some(cert)) => format!(" --cacert {}", cert.display()),
            _ => String::new(),
        };
        return format!(
            "create a first user: curl{cacert} -X POST {scheme}://{addr}/users{token} -H 'Content-Type: application/json' -d '{{\"username\":\"alice\",\"password\":\"change-me\",\"address\":\"alice@example.com\"}}'\n"
        );
    }
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "wildduck".into());
    let cfg = config_path
        .map(|p| format!(" --config {}", p.display()))
        .unwrap_or_default();
    let cmd = format!(
        "{exe}{cfg} user add --username alice --password 'change-me' --address alice@example.com"
    );
    if config.dbs.mongo.is_empty() {
        // The embedded database is opened by one process at a time.
        format!("create a first user (stop the daemon first, then start it again): {cmd}\n")
    } else {
        format!("create a first user: {cmd}\n")
    }
}

/// SIGTERM/SIGINT, installed before the start-up summary is printed so a signal sent right after
/// it is never lost to the default action (which would kill the process without draining).
struct Terminate {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Terminate {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(t), Ok(i)) => Some((t, i)),
                _ => {
                    tracing::warn!("cannot install signal handlers; stop with Ctrl-C");
                    None
                }
            };
            Self { signals }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Resolves on SIGTERM or SIGINT.
    async fn wait(&mut self) {
        #[cfg(unix)]
        if let Some((term, int)) = &mut self.signals {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
