//! Logging set-up. (Login outcomes are counted from the core's `LoginObserver`, see
//! `metrics.rs`, not from log lines.)

use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Registry};

use super::config::Config;

/// Installs the global subscriber: `[log] level`/`format` to stderr.
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
    // A second initialisation (the daemon run twice in one process) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(fmt).try_init();
}
