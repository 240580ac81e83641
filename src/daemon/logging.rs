//! Logging set-up, and authentication metrics derived from the core's structured login events (the
//! core logs every outcome once, with its protocol, so counting them needs no hook in the core).

use std::fmt::Debug;

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry, filter::Targets};

use super::config::Config;

/// Where the core logs login outcomes (`authenticated` / `authentication failed`).
const LOGIN_TARGET: &str = "wildduck_core::service::login";

/// Installs the global subscriber: `[log] level`/`format` to stderr, plus the auth counter, which
/// sees login events whatever the log level.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = if config.log.format == "json" {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed()
    };
    let auth =
        AuthMetrics.with_filter(Targets::new().with_target(LOGIN_TARGET, tracing::Level::INFO));
    // A second initialisation (the daemon run twice in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt)
        .with(auth)
        .try_init();
}

/// Counts `wildduck_auth_total{protocol, result}` from the core's login events.
struct AuthMetrics;

impl<S: tracing::Subscriber> Layer<S> for AuthMetrics {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut v = LoginFields::default();
        event.record(&mut v);
        let result = match v.message.as_deref() {
            Some("authenticated") => "success",
            Some("authentication failed") => "failure",
            _ => return,
        };
        metrics::counter!(
            "wildduck_auth_total",
            "protocol" => v.protocol.to_ascii_lowercase(),
            "result" => result
        )
        .increment(1);
    }
}

#[derive(Default)]
struct LoginFields {
    message: Option<String>,
    protocol: String,
}

impl Visit for LoginFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "protocol" {
            self.protocol = value.to_string();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "protocol" => self.protocol = format!("{value:?}").trim_matches('"').to_string(),
            _ => {}
        }
    }
}
