//! Counters and gauges, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Everything `/metrics` reports.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Responses by endpoint and status code.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Requests by door (`http`, `wyoming`) and outcome.
    doors: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Refused or abandoned requests by reason.
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests waiting for a worker.
    pub(crate) queue_depth: AtomicUsize,
    /// Requests being synthesized.
    pub(crate) busy_workers: AtomicUsize,
    /// Open connections.
    pub(crate) connections: AtomicUsize,
    /// Sentences synthesized.
    pub(crate) sentences: AtomicU64,
    /// Synthesis time, microseconds.
    synthesis_us: AtomicU64,
    /// Audio produced, microseconds.
    audio_us: AtomicU64,
}

impl Metrics {
    pub(crate) fn response(&self, endpoint: &'static str, status: u16) {
        let mut m = match self.requests.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *m.entry((endpoint, status)).or_default() += 1;
        drop(m);
        let class = match status {
            200..=299 => "2xx",
            400..=499 => "4xx",
            500..=599 => "5xx",
            _ => "other",
        };
        self.door("http", class);
    }

    /// Counts a request of a door by outcome.
    pub(crate) fn door(&self, door: &'static str, outcome: &'static str) {
        let mut m = match self.doors.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *m.entry((door, outcome)).or_default() += 1;
    }

    pub(crate) fn reject(&self, reason: &'static str) {
        let mut m = match self.rejections.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *m.entry(reason).or_default() += 1;
    }

    pub(crate) fn add_synthesis(&self, secs: f64, audio_secs: f64) {
        let us = |s: f64| (s.max(0.0) * 1e6) as u64;
        self.synthesis_us.fetch_add(us(secs), Ordering::Relaxed);
        self.audio_us.fetch_add(us(audio_secs), Ordering::Relaxed);
    }

    pub(crate) fn render(&self, workers: usize, queue_capacity: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP signet_requests_total Responses by endpoint and HTTP status.\n\
             # TYPE signet_requests_total counter"
        );
        if let Ok(m) = self.requests.lock() {
            for ((endpoint, status), n) in m.iter() {
                let _ = writeln!(
                    s,
                    "signet_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP signet_door_requests_total Requests by door (http, wyoming) and outcome.\n\
             # TYPE signet_door_requests_total counter"
        );
        if let Ok(m) = self.doors.lock() {
            for ((door, outcome), n) in m.iter() {
                let _ = writeln!(
                    s,
                    "signet_door_requests_total{{door=\"{door}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            s,
            "# HELP signet_rejections_total Requests refused or stopped, by reason.\n\
             # TYPE signet_rejections_total counter"
        );
        if let Ok(m) = self.rejections.lock() {
            for (reason, n) in m.iter() {
                let _ = writeln!(s, "signet_rejections_total{{reason=\"{reason}\"}} {n}");
            }
        }
        let gauge = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |s: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let load = |a: &AtomicUsize| a.load(Ordering::Relaxed) as u64;
        gauge(
            &mut s,
            "signet_queue_depth",
            "Requests waiting for a synthesis worker.",
            load(&self.queue_depth),
        );
        gauge(
            &mut s,
            "signet_queue_capacity",
            "Requests that may wait for a worker.",
            queue_capacity as u64,
        );
        gauge(
            &mut s,
            "signet_workers",
            "Synthesis worker threads.",
            workers as u64,
        );
        gauge(
            &mut s,
            "signet_workers_busy",
            "Workers synthesizing now.",
            load(&self.busy_workers),
        );
        gauge(
            &mut s,
            "signet_connections",
            "Open client connections.",
            load(&self.connections),
        );
        counter(
            &mut s,
            "signet_sentences_total",
            "Sentences synthesized.",
            self.sentences.load(Ordering::Relaxed).to_string(),
        );
        let secs = |a: &AtomicU64| format!("{:.6}", a.load(Ordering::Relaxed) as f64 / 1e6);
        counter(
            &mut s,
            "signet_synthesis_seconds_total",
            "Time workers spent synthesizing.",
            secs(&self.synthesis_us),
        );
        counter(
            &mut s,
            "signet_audio_seconds_total",
            "Seconds of audio produced.",
            secs(&self.audio_us),
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.response("speech", 200);
        m.response("speech", 200);
        m.reject("queue_full");
        m.add_synthesis(0.5, 2.0);
        let s = m.render(2, 8);
        assert!(
            s.contains("signet_requests_total{endpoint=\"speech\",status=\"200\"} 2"),
            "{s}"
        );
        assert!(
            s.contains("signet_rejections_total{reason=\"queue_full\"} 1"),
            "{s}"
        );
        assert!(s.contains("signet_audio_seconds_total 2.000000"), "{s}");
        assert!(s.contains("# TYPE signet_queue_depth gauge"), "{s}");
        assert!(
            s.contains("signet_door_requests_total{door=\"http\",outcome=\"2xx\"} 2"),
            "{s}"
        );
        m.door("wyoming", "completed");
        let s = m.render(2, 8);
        assert!(
            s.contains("signet_door_requests_total{door=\"wyoming\",outcome=\"completed\"} 1"),
            "{s}"
        );
    }
}
