//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! The call layer counts every call by RPC and outcome and times it by RPC and algorithm; the
//! rest is read at scrape time from the parts that own it: the key cache's hits and misses, the
//! background operations in flight, and the audit writer's queue and commits. Labels hold only
//! RPC names, code names and algorithm names — never an id, a subject or anything a client sent.

use parking_lot::Mutex;
use signet_core::Kms;
use signet_core::audit::AuditTrail;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What is counted of one RPC.
#[derive(Debug, Default)]
struct Rpc {
    /// code name → calls.
    codes: BTreeMap<&'static str, u64>,
    /// algorithm name ("" when none) → latency.
    latency: BTreeMap<&'static str, Histogram>,
}

/// How many distinct RPC labels are kept (Signet serves about 40 methods).
const MAX_RPC_LABELS: usize = 256;

/// Per RPC label, looked up by the label without allocating: once its RPC has been seen, a call
/// costs one short lock and no allocation.
#[derive(Debug, Default)]
struct Calls(BTreeMap<String, Rpc>);

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    calls: Mutex<Calls>,
    audit: Mutex<Option<AuditTrail>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            calls: Mutex::new(Calls::default()),
            audit: Mutex::new(None),
        }
    }

    /// The trail whose writer is reported.
    pub fn watch_audit(&self, trail: AuditTrail) {
        *self.audit.lock() = Some(trail);
    }

    /// Counts one finished call. `rpc` is the gRPC path; `algorithm` the key's, if known.
    pub fn observe(
        &self,
        rpc: &str,
        code: &'static str,
        algorithm: Option<&'static str>,
        took: Duration,
    ) {
        let seconds = took.as_secs_f64();
        let mut label = rpc_label(rpc);
        let mut calls = self.calls.lock();
        // Any client can name any method, served or not: past a bound, new names are counted
        // as "other", so that made-up paths cannot grow the table without end.
        if calls.0.len() >= MAX_RPC_LABELS && !calls.0.contains_key(label) {
            label = "other";
        }
        let entry = match calls.0.get_mut(label) {
            Some(entry) => entry,
            None => calls.0.entry(label.to_owned()).or_default(),
        };
        *entry.codes.entry(code).or_default() += 1;
        let h = entry.latency.entry(algorithm.unwrap_or("")).or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    /// The exposition text.
    pub fn render(&self, kms: &Kms) -> String {
        let mut out = String::new();
        {
            let calls = self.calls.lock();
            out.push_str("# HELP signet_requests_total Calls by RPC and outcome code.\n");
            out.push_str("# TYPE signet_requests_total counter\n");
            for (rpc, code, n) in calls
                .0
                .iter()
                .flat_map(|(rpc, e)| e.codes.iter().map(move |(code, n)| (rpc, code, n)))
            {
                let _ = writeln!(
                    out,
                    "signet_requests_total{{rpc=\"{rpc}\",code=\"{code}\"}} {n}"
                );
            }
            out.push_str(
                "# HELP signet_request_duration_seconds Call latency by RPC and key algorithm.\n",
            );
            out.push_str("# TYPE signet_request_duration_seconds histogram\n");
            for (rpc, alg, h) in calls
                .0
                .iter()
                .flat_map(|(rpc, e)| e.latency.iter().map(move |(alg, h)| (rpc, alg, h)))
            {
                let labels = format!("rpc=\"{rpc}\",algorithm=\"{alg}\"");
                for (bound, n) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "signet_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "signet_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "signet_request_duration_seconds_sum{{{labels}}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "signet_request_duration_seconds_count{{{labels}}} {}",
                    h.count
                );
            }
        }
        let stats = &kms.vault().stats;
        counter(
            &mut out,
            "signet_key_cache_hits_total",
            "Key cache lookups that found the key.",
            stats.hits.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "signet_key_cache_misses_total",
            "Key cache lookups that went to the store.",
            stats.misses.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "signet_key_cache_entries",
            "Unsealed keys held in the cache.",
            kms.vault().len() as f64,
        );
        let (_, bindings, tokens) = kms.cached_entries();
        gauge(
            &mut out,
            "signet_binding_cache_entries",
            "Keys' and folders' access bindings held in the cache.",
            bindings as f64,
        );
        gauge(
            &mut out,
            "signet_token_cache_entries",
            "IAM tokens held in the cache.",
            tokens as f64,
        );
        gauge(
            &mut out,
            "signet_operations_in_flight",
            "Background operations (key generations) running.",
            kms.operations_in_flight() as f64,
        );
        if let Some(pool) = kms.store().pool_stats() {
            gauge(
                &mut out,
                "signet_db_pool_connections",
                "Database connections open.",
                f64::from(pool.size),
            );
            gauge(
                &mut out,
                "signet_db_pool_idle_connections",
                "Database connections idle.",
                f64::from(pool.idle),
            );
        }
        if let Some(trail) = self.audit.lock().as_ref() {
            let s = trail.stats();
            gauge(
                &mut out,
                "signet_audit_queue_depth",
                "Audit records waiting for the writer.",
                trail.queue_depth() as f64,
            );
            counter(
                &mut out,
                "signet_audit_commits_total",
                "Audit batches committed.",
                s.commits.load(Ordering::Relaxed),
            );
            counter(
                &mut out,
                "signet_audit_records_total",
                "Audit records committed.",
                s.records.load(Ordering::Relaxed),
            );
            counter(
                &mut out,
                "signet_audit_commit_failures_total",
                "Audit batches that failed to commit.",
                s.failures.load(Ordering::Relaxed),
            );
            let seconds = s.commit_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            out.push_str(
                "# HELP signet_audit_commit_seconds_total Time spent committing audit batches.\n",
            );
            out.push_str("# TYPE signet_audit_commit_seconds_total counter\n");
            let _ = writeln!(out, "signet_audit_commit_seconds_total {seconds}");
        }
        out
    }

    pub(crate) fn render_response(&self, kms: &Arc<Kms>) -> http::Response<tonic::body::Body> {
        let text = self.render(kms);
        let mut resp = http::Response::new(tonic::body::Body::new(http_body_util::Full::new(
            bytes::Bytes::from(text),
        )));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        resp
    }
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
    );
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
    );
}

/// `Service/Method` from a gRPC path (a slice of it), limited to label-safe characters; anything
/// else (an unknown path a client made up) is folded into one label value.
fn rpc_label(path: &str) -> &str {
    let short = path
        .rsplit_once('/')
        .and_then(|(service, _)| service.rfind('.'))
        .map_or("", |dot| &path[dot + 1..]);
    let safe = short
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'/');
    if short.len() > 2 && short.len() <= 96 && safe && short.matches('/').count() == 1 {
        short
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_labels_are_short_and_safe() {
        assert_eq!(
            rpc_label(
                "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign"
            ),
            "AsymmetricSignatureCryptoService/Sign"
        );
        assert_eq!(rpc_label("/x.Y/\"}evil"), "other");
        assert_eq!(rpc_label("nothing"), "other");
        assert_eq!(rpc_label("/x.Y/a/b"), "other");
    }

    #[test]
    fn made_up_method_names_cannot_grow_the_table_without_end() {
        let m = Metrics::new();
        for i in 0..2000 {
            m.observe(
                &format!("/made.Up{i}/Method"),
                "UNIMPLEMENTED",
                None,
                Duration::from_millis(1),
            );
        }
        let calls = m.calls.lock();
        assert_eq!(calls.0.len(), MAX_RPC_LABELS + 1);
        assert_eq!(
            calls.0["other"].codes["UNIMPLEMENTED"],
            2000 - MAX_RPC_LABELS as u64
        );
    }

    #[test]
    fn latency_buckets_are_cumulative() {
        let m = Metrics::new();
        m.observe(
            "/a.S/M",
            "OK",
            Some("ECDSA_NIST_P256_SHA_256"),
            Duration::from_micros(1500),
        );
        m.observe("/a.S/M", "NOT_FOUND", None, Duration::from_secs(20));
        let calls = m.calls.lock();
        let rpc = &calls.0["S/M"];
        assert_eq!(rpc.codes["OK"], 1);
        let h = &rpc.latency["ECDSA_NIST_P256_SHA_256"];
        assert_eq!(h.counts[0..2], [0, 0]);
        assert!(h.counts[2..].iter().all(|n| *n == 1));
        let slow = &rpc.latency[""];
        assert!(slow.counts.iter().all(|n| *n == 0));
        assert_eq!(slow.count, 1);
    }
}
