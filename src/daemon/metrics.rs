//! The daemon's Prometheus metrics beyond connections: commands per protocol and name with latency
//! histograms, bytes on the wire, appends (from the front ends' [`SessionObserver`]), login
//! outcomes (from the core's [`LoginObserver`]) and API requests per route (an axum middleware).
//!
//! Every series goes through the `metrics` facade, so without an installed recorder (metrics
//! disabled) each call is a no-op.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics::Counter;
use wildduck_core::service::login::{LoginObserver, LoginOutcome, Scope};
use wildduck_net::{Outcome, SessionObserver};

/// Histogram buckets (seconds) for command, request and session durations.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0, 1800.0,
];

/// Per-protocol counters resolved once, so the per-read byte count is one atomic add.
#[derive(Debug)]
struct Wire {
    bytes_in: Counter,
    bytes_out: Counter,
}

impl Wire {
    fn new(protocol: &'static str) -> Self {
        Self {
            bytes_in: metrics::counter!("wildduck_bytes_received_total", "protocol" => protocol),
            bytes_out: metrics::counter!("wildduck_bytes_sent_total", "protocol" => protocol),
        }
    }
}

/// The session observer of the IMAP and POP3 servers, and the login observer of the core.
#[derive(Debug)]
pub struct DaemonMetrics {
    imap: Wire,
    pop3: Wire,
}

impl DaemonMetrics {
    /// Resolves the counter handles against the installed recorder (call after installing it).
    pub fn new() -> Self {
        Self {
            imap: Wire::new("imap"),
            pop3: Wire::new("pop3"),
        }
    }
}

impl Default for DaemonMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionObserver for DaemonMetrics {
    fn command(
        &self,
        protocol: &'static str,
        name: &'static str,
        elapsed: Duration,
        outcome: Outcome,
    ) {
        metrics::counter!(
            "wildduck_commands_total",
            "protocol" => protocol, "command" => name, "outcome" => outcome.as_str()
        )
        .increment(1);
        metrics::histogram!(
            "wildduck_command_duration_seconds",
            "protocol" => protocol, "command" => name
        )
        .record(elapsed.as_secs_f64());
    }

    fn bytes(&self, protocol: &'static str, read: u64, written: u64) {
        let wire = match protocol {
            "imap" => &self.imap,
            "pop3" => &self.pop3,
            other => {
                metrics::counter!("wildduck_bytes_received_total", "protocol" => other)
                    .increment(read);
                metrics::counter!("wildduck_bytes_sent_total", "protocol" => other)
                    .increment(written);
                return;
            }
        };
        if read > 0 {
            wire.bytes_in.increment(read);
        }
        if written > 0 {
            wire.bytes_out.increment(written);
        }
    }

    fn append(&self, protocol: &'static str, size: u64) {
        metrics::counter!("wildduck_appends_total", "protocol" => protocol).increment(1);
        metrics::counter!("wildduck_appended_bytes_total", "protocol" => protocol).increment(size);
    }
}

impl LoginObserver for DaemonMetrics {
    fn login(&self, protocol: &str, _scope: Scope, outcome: LoginOutcome) {
        metrics::counter!(
            "wildduck_auth_total",
            "protocol" => protocol.to_ascii_lowercase(),
            "result" => outcome.as_str()
        )
        .increment(1);
    }
}

/// Counts API requests per method, route pattern (`/users/{user}`, never the raw path, so ids do
/// not become labels) and status, with a latency histogram. Installed as a route layer, so only
/// matched routes are counted.
pub async fn track_api(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "wildduck_api_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "wildduck_api_request_duration_seconds",
        "method" => method, "route" => route
    )
    .record(started.elapsed().as_secs_f64());
    response
}
