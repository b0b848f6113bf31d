//! Prometheus metrics for `/metrics`: connections, runs by status, events sent, errors by code, run latency.
//!
//! Each gateway owns its recorder (no process-global state), so several gateways can run in one process,
//! as the tests do.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::protocol::{ErrorCode, RunStatus};

/// The gateway's metrics.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

const RUN_SECONDS: &str = "gateway_run_duration_seconds";
const FANOUT_LAG_SECONDS: &str = "gateway_fanout_lag_seconds";

impl Metrics {
    /// A fresh recorder with histogram buckets for run latency.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        let buckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
        let lag_buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];
        let recorder = match builder
            .set_buckets_for_metric(Matcher::Full(RUN_SECONDS.into()), &buckets)
            .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full(FANOUT_LAG_SECONDS.into()), &lag_buckets))
        {
            Ok(builder) => builder.build_recorder(),
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        Metrics {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    fn record(&self, f: impl FnOnce()) {
        metrics::with_local_recorder(self.recorder.as_ref(), f);
    }

    /// A WebSocket connection opened.
    pub fn connection_opened(&self) {
        self.record(|| metrics::gauge!("gateway_connections").increment(1.0));
    }

    /// A WebSocket connection closed.
    pub fn connection_closed(&self) {
        self.record(|| metrics::gauge!("gateway_connections").decrement(1.0));
    }

    /// A run ended.
    pub fn run_finished(&self, status: RunStatus, took: Duration) {
        self.record(|| {
            metrics::counter!("gateway_runs_total", "status" => status.as_str()).increment(1);
            metrics::histogram!(RUN_SECONDS).record(took.as_secs_f64());
        });
    }

    /// An event was written to a client.
    pub fn event_sent(&self) {
        self.record(|| metrics::counter!("gateway_events_sent_total").increment(1));
    }

    /// An error was answered.
    pub fn error(&self, code: ErrorCode) {
        self.record(|| metrics::counter!("gateway_errors_total", "code" => code.as_str()).increment(1));
    }

    /// Runs of a gone process or node this node took over (to end them).
    pub fn runs_taken_over(&self, runs: usize) {
        if runs > 0 {
            self.record(|| metrics::counter!("gateway_lease_takeovers_total").increment(runs as u64));
        }
    }

    /// An event stored by another node reached this node's subscribers, `lag` after it was stored.
    pub fn fanned_out(&self, lag: Duration) {
        self.record(|| metrics::histogram!(FANOUT_LAG_SECONDS).record(lag.as_secs_f64()));
    }

    /// The store engine's failures so far (unreachable, refusing, timing out).
    pub fn store_failures(&self, total: u64) {
        self.record(|| metrics::counter!("gateway_store_errors_total").absolute(total));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let metrics = Metrics::new();
        metrics.connection_opened();
        metrics.run_finished(RunStatus::Completed, Duration::from_millis(20));
        metrics.error(ErrorCode::RateLimited);
        let text = metrics.render();
        assert!(text.contains("gateway_connections 1"), "{text}");
        assert!(text.contains("gateway_runs_total{status=\"completed\"} 1"), "{text}");
        assert!(text.contains("gateway_errors_total{code=\"RATE_LIMITED\"} 1"), "{text}");
        assert!(text.contains("gateway_run_duration_seconds_bucket"), "{text}");
    }
}
