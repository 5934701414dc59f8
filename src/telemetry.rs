//! Logs and metrics. Logs go through `tracing` to standard error: readable lines by default,
//! one JSON object per line with `log.format = "json"`; `RUST_LOG`, when set, replaces the
//! filter. Metrics are recorded through the `metrics` facade into one Prometheus recorder
//! per process, rendered at `/metrics`.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::log::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second call (tests starting several apps in one process) keeps the first subscriber.
    let _ = match settings.format {
        LogFormat::Text => builder.with_target(false).with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).flatten_event(true).try_init(),
    };
}

/// Latency buckets (seconds) for the request and pool-wait histograms.
const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often the recorder's histograms are drained into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
const UPKEEP_THREAD: &str = "metrics-upkeep";

/// The process's metrics recorder, installed on first use, with a thread that keeps it: the
/// recorder holds every histogram sample (each request's latency, each pool wait) until its
/// upkeep drains them into buckets, which otherwise happens only when `/metrics` is rendered. A
/// node nobody scraped grew by about 30 MB in 400,000 requests.
pub fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "latency histograms fall back to summaries");
                PrometheusBuilder::new()
            })
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder already installed (a test process) keeps recording into its own.
        let _ = metrics::set_global_recorder(recorder);
        let kept = handle.clone();
        let upkeep = std::thread::Builder::new().name(UPKEEP_THREAD.into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                kept.run_upkeep();
            }
        });
        if let Err(error) = upkeep {
            tracing::warn!(%error, "metrics upkeep thread not started: histograms drain only when /metrics is read");
        }
        handle
    })
}

#[cfg(test)]
mod tests {
    /// The recorder comes with the thread that drains its histograms (which names itself once
    /// it runs: looked for up to a few seconds).
    #[test]
    fn the_recorder_is_kept_by_its_upkeep_thread() {
        super::metrics();
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
                .map(|name| name.trim().to_string())
                .collect()
        };
        for _ in 0..100 {
            if names().iter().any(|name| name == super::UPKEEP_THREAD) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no {} thread among {:?}", super::UPKEEP_THREAD, names());
    }
}
