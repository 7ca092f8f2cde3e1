//! The report: one serializable value (the `--json` document) and its rendering as a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::ceiling::{self, Ceiling};
use super::load::LoadOutcome;
use super::options::Op;

/// Other processes using this share of the window (in CPU-seconds) or more on the run's CPUs
/// is reported as contention.
const CONTENTION_WARNING: f64 = 0.05;

/// Bumped when a field of the JSON document changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub schema: u32,
    pub op: &'static str,
    pub algorithms: Vec<&'static str>,
    /// Keys created up front per algorithm (`null` for `create`).
    pub keys_per_algorithm: Option<usize>,
    pub connections: usize,
    pub concurrency: usize,
    /// `closed-loop` or `open-loop`.
    pub mode: &'static str,
    pub target_rate: Option<f64>,
    /// Bytes per `sign` message (`null` for other ops).
    pub message_size: Option<usize>,
    pub warmup_s: f64,
    /// The measured window, as it really was.
    pub duration_s: f64,
    pub load_average_before: Option<[f64; 3]>,
    pub requests: Requests,
    /// Successful requests per second of the window.
    pub ops_per_s: f64,
    /// From send (closed loop) or intended send (open loop) to answer; for `create`, until the
    /// operation is done. `null` if nothing was measured.
    pub latency_us: Option<Latency>,
    /// Open loop only: from intended to actual send (included in `latency_us`).
    pub send_lag_us: Option<Latency>,
    /// `create` only: `OperationService.Get` calls per successful create.
    pub polls_per_create: Option<f64>,
    pub per_algorithm: Vec<AlgorithmReport>,
    pub server: ServerReport,
    pub client: ClientReport,
    pub machine: MachineReport,
    pub ceiling: Option<CeilingReport>,
    pub efficiency: Efficiency,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Requests {
    /// Measured requests (sent inside the window; with --rate, due inside it) that succeeded,
    /// and that failed; the latency percentiles are theirs.
    pub ok: u64,
    pub errors: u64,
    /// Requests that finished inside the window, whenever sent: what `ops_per_s` and the CPU
    /// per request are computed from.
    pub finished_in_window: u64,
    pub errors_by_code: BTreeMap<&'static str, u64>,
    /// One message per code, as received.
    pub error_examples: BTreeMap<&'static str, String>,
    /// Open loop: requests due in the window that the generator never sent (all its workers
    /// were busy); their waiting time is in the latency histogram.
    pub missed: u64,
}

/// Percentiles in microseconds.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    pub fn from_histogram(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency {
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
            mean: h.mean(),
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlgorithmReport {
    pub algorithm: &'static str,
    pub ok: u64,
    pub errors: u64,
    pub ops_per_s: f64,
    pub latency_us: Option<Latency>,
    pub ceiling_ops_per_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServerReport {
    /// Started by this run (`--spawn`).
    pub spawned: bool,
    pub pid: Option<u32>,
    /// The CPUs the server may run on, e.g. `0` or `0-1`.
    pub cpus: Option<String>,
    pub pinned_cores: Option<usize>,
    pub cpu_s: Option<f64>,
    /// Server CPU seconds per wall second of the window.
    pub cores_used: Option<f64>,
    pub cpu_us_per_request: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClientReport {
    /// `null` when the generator was not pinned.
    pub cpus: Option<String>,
    pub threads: usize,
    pub cpu_s: f64,
    pub cores_used: f64,
    pub cpu_us_per_request: Option<f64>,
}

/// How busy the run's CPUs were, and how much of that was neither the server nor the generator.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MachineReport {
    /// The CPUs watched: those of the server and the generator, or `null` for all.
    pub cpus: Option<String>,
    pub busy_cpu_s: Option<f64>,
    /// Busy CPU time of other processes on those CPUs (needs the server's CPU time).
    pub other_processes_cpu_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CeilingReport {
    /// What was timed: `sign`, `sign_digest` or `generate`, on one thread, in process.
    pub operation: &'static str,
    pub cpu: Option<usize>,
    pub seconds_per_algorithm: f64,
    /// Operations per second of the measuring thread's CPU time: of the mix (each algorithm
    /// equally often), or of the one algorithm.
    pub ops_per_s: f64,
    pub per_algorithm: Vec<CeilingEntry>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CeilingEntry {
    pub algorithm: &'static str,
    pub ops_per_s: f64,
}

/// The server's throughput per core, and its ratio to the ceiling.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Efficiency {
    /// ops/s ÷ server cores busy (CPU seconds per wall second).
    pub ops_per_server_core: Option<f64>,
    pub vs_ceiling_per_server_core: Option<f64>,
    /// ops/s ÷ the number of CPUs the server is pinned to.
    pub ops_per_pinned_core: Option<f64>,
    pub vs_ceiling_per_pinned_core: Option<f64>,
}

/// What the report is built from, besides the measurements.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub op: Op,
    pub algorithms: Vec<signet_crypto::Algorithm>,
    pub keys_per_algorithm: usize,
    pub connections: usize,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub message_size: usize,
    pub warmup_s: f64,
    pub load_average_before: Option<[f64; 3]>,
    pub server_spawned: bool,
    pub server_pid: Option<u32>,
    pub server_cpus: Option<super::options::CpuList>,
    pub client_cpus: Option<super::options::CpuList>,
    pub client_threads: usize,
    /// The CPUs whose busy time was recorded (`None`: all).
    pub watched_cpus: Option<super::options::CpuList>,
    pub notes: Vec<String>,
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => Some(a / b),
        _ => None,
    }
}

impl Report {
    pub fn build(info: RunInfo, outcome: &LoadOutcome, ceiling: Option<&Ceiling>) -> Report {
        let window = outcome.window.as_secs_f64();
        let errors = outcome.error_count();
        // Throughput and CPU per request count the requests that finished inside the window.
        let answered = outcome.window_ok + outcome.window_errors;
        let ops_per_s = per_second(outcome.window_ok, window);
        let per_request = |cpu_s: f64| (answered > 0).then(|| cpu_s * 1e6 / answered as f64);

        let server_cpu_s = outcome.server_cpu.map(|d| d.as_secs_f64());
        let client_cpu_s = outcome.client_cpu.as_secs_f64();
        let server_cores_used = server_cpu_s.and_then(|s| (window > 0.0).then(|| s / window));
        let pinned_cores = info.server_cpus.as_ref().map(|c| c.len());

        let ceiling_rate = ceiling.map(|c| c.combined);
        let ops_per_server_core = server_cores_used
            .filter(|&c| c > 0.0 && outcome.window_ok > 0)
            .map(|c| ops_per_s / c);
        let ops_per_pinned_core = pinned_cores.map(|n| ops_per_s / n as f64);

        let per_algorithm = info
            .algorithms
            .iter()
            .zip(&outcome.per_algorithm)
            .map(|(alg, stats)| AlgorithmReport {
                algorithm: alg.wire_name(),
                ok: stats.ok,
                errors: stats.errors,
                ops_per_s: per_second(stats.ok, window),
                latency_us: Latency::from_histogram(&stats.latency),
                ceiling_ops_per_s: ceiling.and_then(|c| {
                    c.per_algorithm
                        .iter()
                        .find(|(a, _)| a == alg)
                        .map(|&(_, r)| r)
                }),
            })
            .collect();

        let mut notes = info.notes;
        if let Some(note) = &outcome.server_cpu_note {
            notes.push(format!("the server's CPU time is unknown: {note}"));
        }
        let busy_cpu_s = outcome.busy_cpu.map(|d| d.as_secs_f64());
        let other_processes_cpu_s = busy_cpu_s
            .zip(server_cpu_s)
            .map(|(busy, server)| (busy - server - client_cpu_s).max(0.0));
        if let Some(other) = other_processes_cpu_s
            && other > CONTENTION_WARNING * window
        {
            notes.push(format!(
                "other processes used {other:.2} CPU-seconds of the run's CPUs during the \
                 {window:.2} s window: they competed with the server and the generator, so these \
                 figures are not those of an idle machine"
            ));
        }
        if outcome.missed > 0 {
            notes.push(format!(
                "{} requests due in the window were never sent because all {} workers were busy; \
                 raise --concurrency or lower --rate (their waiting time is counted in the \
                 latency)",
                fmt_int(outcome.missed),
                info.concurrency
            ));
        }

        Report {
            schema: SCHEMA_VERSION,
            op: info.op.name(),
            algorithms: info.algorithms.iter().map(|a| a.wire_name()).collect(),
            keys_per_algorithm: (info.op != Op::Create).then_some(info.keys_per_algorithm),
            connections: info.connections,
            concurrency: info.concurrency,
            mode: if info.rate.is_some() {
                "open-loop"
            } else {
                "closed-loop"
            },
            target_rate: info.rate,
            message_size: (info.op == Op::Sign).then_some(info.message_size),
            warmup_s: info.warmup_s,
            duration_s: window,
            load_average_before: info.load_average_before,
            requests: Requests {
                ok: outcome.ok,
                errors,
                finished_in_window: answered,
                errors_by_code: outcome.errors.clone(),
                error_examples: outcome.error_examples.clone(),
                missed: outcome.missed,
            },
            ops_per_s,
            latency_us: Latency::from_histogram(&outcome.latency),
            send_lag_us: outcome.send_lag.as_ref().and_then(Latency::from_histogram),
            polls_per_create: (info.op == Op::Create && outcome.ok > 0)
                .then(|| outcome.polls as f64 / outcome.ok as f64),
            per_algorithm,
            server: ServerReport {
                spawned: info.server_spawned,
                pid: info.server_pid,
                cpus: info.server_cpus.as_ref().map(|c| c.to_string()),
                pinned_cores,
                cpu_s: server_cpu_s,
                cores_used: server_cores_used,
                cpu_us_per_request: server_cpu_s.and_then(per_request),
            },
            client: ClientReport {
                cpus: info.client_cpus.as_ref().map(|c| c.to_string()),
                threads: info.client_threads,
                cpu_s: client_cpu_s,
                cores_used: if window > 0.0 {
                    client_cpu_s / window
                } else {
                    0.0
                },
                cpu_us_per_request: per_request(client_cpu_s),
            },
            machine: MachineReport {
                cpus: info.watched_cpus.as_ref().map(|c| c.to_string()),
                busy_cpu_s,
                other_processes_cpu_s,
            },
            ceiling: ceiling.map(|c| CeilingReport {
                operation: ceiling::describe(info.op).unwrap_or("none"),
                cpu: c.cpu,
                seconds_per_algorithm: c.time_per_algorithm.as_secs_f64(),
                ops_per_s: c.combined,
                per_algorithm: c
                    .per_algorithm
                    .iter()
                    .map(|&(a, r)| CeilingEntry {
                        algorithm: a.wire_name(),
                        ops_per_s: r,
                    })
                    .collect(),
            }),
            efficiency: Efficiency {
                ops_per_server_core,
                vs_ceiling_per_server_core: ratio(ops_per_server_core, ceiling_rate),
                ops_per_pinned_core,
                vs_ceiling_per_pinned_core: ratio(ops_per_pinned_core, ceiling_rate),
            },
            notes,
        }
    }

    /// The JSON document of `--json`.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// The table shown on a terminal.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> std::fmt::Result {
        // What ran.
        let mut what = vec![self.op.to_owned(), self.algorithms.join(", ")];
        if let Some(k) = self.keys_per_algorithm {
            what.push(format!("{k} key{} each", if k == 1 { "" } else { "s" }));
        }
        what.push(match self.target_rate {
            Some(rate) => format!(
                "fixed rate {} req/s, up to {} in flight over {} connection{}",
                fmt_rate(rate),
                self.concurrency,
                self.connections,
                plural(self.connections)
            ),
            None => format!(
                "closed loop, {} in flight over {} connection{}",
                self.concurrency,
                self.connections,
                plural(self.connections)
            ),
        });
        if let Some(size) = self.message_size {
            what.push(format!("{size}-byte messages"));
        }
        writeln!(out, "{:<14}{}", "signet bench", what.join(" · "))?;
        let mut window = format!(
            "{:.2} s measured after {:.2} s of warm-up",
            self.duration_s, self.warmup_s
        );
        if let Some([a, b, c]) = self.load_average_before {
            let _ = write!(window, "; load average before: {a:.2} {b:.2} {c:.2}");
        }
        writeln!(out, "{:<14}{window}", "window")?;
        writeln!(out)?;

        // Results.
        let r = &self.requests;
        writeln!(
            out,
            "{:<14}{} ok, {} error{}",
            "requests",
            fmt_int(r.ok),
            fmt_int(r.errors),
            plural(r.errors as usize)
        )?;
        for (code, n) in &r.errors_by_code {
            let example = r
                .error_examples
                .get(code)
                .map(|m| format!(" (e.g. {m:?})"))
                .unwrap_or_default();
            writeln!(out, "{:<14}  {code}: {}{example}", "", fmt_int(*n))?;
        }
        if r.missed > 0 {
            writeln!(out, "{:<14}  never sent: {}", "", fmt_int(r.missed))?;
        }
        let mut throughput = format!("{} ops/s", fmt_rate(self.ops_per_s));
        if let Some(rate) = self.target_rate {
            let _ = write!(throughput, " (target {} req/s)", fmt_rate(rate));
        }
        writeln!(out, "{:<14}{throughput}", "throughput")?;
        let latency_label = if self.op == "create" {
            "until done"
        } else {
            "latency"
        };
        match &self.latency_us {
            Some(l) => writeln!(out, "{latency_label:<14}{}", fmt_latency(l))?,
            None => writeln!(out, "{latency_label:<14}no request measured")?,
        }
        if let Some(lag) = &self.send_lag_us {
            writeln!(
                out,
                "{:<14}{} (how late requests left; part of the latency)",
                "send lag",
                fmt_latency_short(lag)
            )?;
        }
        if let Some(polls) = self.polls_per_create {
            writeln!(out, "{:<14}{polls:.1} operation polls per create", "")?;
        }

        // Per algorithm, when there are several.
        if self.per_algorithm.len() > 1 {
            writeln!(out)?;
            writeln!(
                out,
                "{:<28}{:>12}{:>8}{:>11}{:>11}{:>13}",
                "algorithm", "ops/s", "errors", "p50", "p99", "ceiling/s"
            )?;
            for a in &self.per_algorithm {
                let (p50, p99) = a
                    .latency_us
                    .map(|l| (fmt_us(l.p50), fmt_us(l.p99)))
                    .unwrap_or_else(|| ("-".into(), "-".into()));
                writeln!(
                    out,
                    "{:<28}{:>12}{:>8}{:>11}{:>11}{:>13}",
                    a.algorithm,
                    fmt_rate(a.ops_per_s),
                    fmt_int(a.errors),
                    p50,
                    p99,
                    a.ceiling_ops_per_s
                        .map(fmt_rate)
                        .unwrap_or_else(|| "-".into())
                )?;
            }
        }

        // CPU.
        writeln!(out)?;
        writeln!(
            out,
            "{:<20}{:>6}{:>9}{:>12}{:>18}",
            "process", "CPUs", "CPU s", "cores busy", "CPU µs/request"
        )?;
        let s = &self.server;
        let server_name = match (s.pid, s.spawned) {
            (Some(pid), true) => format!("server (pid {pid})"),
            (Some(pid), false) => format!("server pid {pid}"),
            (None, _) => "server".to_owned(),
        };
        writeln!(
            out,
            "{:<20}{:>6}{:>9}{:>12}{:>18}",
            server_name,
            s.cpus.as_deref().unwrap_or("-"),
            opt(s.cpu_s, 2),
            opt(s.cores_used, 2),
            opt(s.cpu_us_per_request, 1),
        )?;
        let c = &self.client;
        writeln!(
            out,
            "{:<20}{:>6}{:>9.2}{:>12.2}{:>18}",
            format!("client ({} thread{})", c.threads, plural(c.threads)),
            c.cpus.as_deref().unwrap_or("all"),
            c.cpu_s,
            c.cores_used,
            opt(c.cpu_us_per_request, 1),
        )?;
        if let Some(other) = self.machine.other_processes_cpu_s {
            writeln!(
                out,
                "{:<20}{:>6}{:>9.2}",
                "other processes",
                self.machine.cpus.as_deref().unwrap_or("all"),
                other
            )?;
        }
        if s.pid.is_none() {
            writeln!(
                out,
                "{:<20}unknown: pass --server-pid PID (or use --spawn)",
                ""
            )?;
        }

        // Ceiling.
        writeln!(out)?;
        match &self.ceiling {
            Some(ceiling) => {
                let cpu = ceiling
                    .cpu
                    .map(|c| format!("CPU {c}"))
                    .unwrap_or_else(|| "unpinned".into());
                writeln!(
                    out,
                    "{:<14}{} {}/s in process, per second of one core ({cpu}, {:.1} s per \
                     algorithm)",
                    "ceiling",
                    fmt_rate(ceiling.ops_per_s),
                    ceiling.operation,
                    ceiling.seconds_per_algorithm
                )?;
                let e = &self.efficiency;
                match (e.ops_per_server_core, e.vs_ceiling_per_server_core) {
                    (Some(ops), Some(x)) => writeln!(
                        out,
                        "{:<14}{} ops/s per busy server core = {x:.2} × ceiling",
                        "vs ceiling",
                        fmt_rate(ops)
                    )?,
                    _ => writeln!(
                        out,
                        "{:<14}per busy server core: unknown (no server CPU time)",
                        "vs ceiling"
                    )?,
                }
                if let (Some(ops), Some(x)) = (e.ops_per_pinned_core, e.vs_ceiling_per_pinned_core)
                {
                    writeln!(
                        out,
                        "{:<14}{} ops/s per pinned server core = {x:.2} × ceiling",
                        "",
                        fmt_rate(ops)
                    )?;
                }
            }
            None => writeln!(out, "{:<14}not measured for {}", "ceiling", self.op)?,
        }
        for note in &self.notes {
            writeln!(out, "note: {note}")?;
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}"))
        .unwrap_or_else(|| "?".into())
}

fn fmt_latency(l: &Latency) -> String {
    format!(
        "p50 {} · p90 {} · p99 {} · p99.9 {} · max {}",
        fmt_us(l.p50),
        fmt_us(l.p90),
        fmt_us(l.p99),
        fmt_us(l.p99_9),
        fmt_us(l.max)
    )
}

fn fmt_latency_short(l: &Latency) -> String {
    format!(
        "p50 {} · p99 {} · max {}",
        fmt_us(l.p50),
        fmt_us(l.p99),
        fmt_us(l.max)
    )
}

/// An integer with thousands separators: `61,234`.
pub fn fmt_int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate: whole numbers with separators from 100 up, one decimal below.
pub fn fmt_rate(r: f64) -> String {
    if !r.is_finite() || r < 0.0 {
        return "?".into();
    }
    if r >= 100.0 {
        fmt_int(r.round() as u64)
    } else {
        format!("{r:.1}")
    }
}

/// Microseconds as µs, ms or s.
pub fn fmt_us(us: u64) -> String {
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.2} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::AlgorithmStats;
    use crate::bench::options::parse_cpu_list;
    use signet_crypto::Algorithm;
    use std::time::Duration;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new(3).unwrap();
        h.auto(true);
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    fn outcome() -> LoadOutcome {
        let values: Vec<u64> = (1..=1000).collect();
        LoadOutcome {
            window: Duration::from_secs(2),
            window_ok: 1000,
            window_errors: 2,
            ok: 1000,
            errors: [("UNAVAILABLE", 2)].into(),
            error_examples: [("UNAVAILABLE", "connection reset".to_owned())].into(),
            latency: histogram(&values),
            per_algorithm: vec![AlgorithmStats {
                ok: 1000,
                errors: 2,
                latency: histogram(&values),
            }],
            send_lag: None,
            missed: 0,
            polls: 0,
            created: Vec::new(),
            client_cpu: Duration::from_millis(200),
            server_cpu: Some(Duration::from_millis(1002)),
            busy_cpu: Some(Duration::from_millis(1252)),
            server_cpu_note: None,
        }
    }

    fn info() -> RunInfo {
        RunInfo {
            op: Op::Sign,
            algorithms: vec![Algorithm::EcdsaP256Sha256],
            keys_per_algorithm: 2,
            connections: 4,
            concurrency: 32,
            rate: None,
            message_size: 64,
            warmup_s: 1.0,
            load_average_before: Some([0.5, 0.25, 0.125]),
            server_spawned: true,
            server_pid: Some(4242),
            server_cpus: Some(parse_cpu_list("0").unwrap()),
            client_cpus: Some(parse_cpu_list("1").unwrap()),
            client_threads: 1,
            watched_cpus: Some(parse_cpu_list("0-1").unwrap()),
            notes: Vec::new(),
        }
    }

    fn ceiling() -> Ceiling {
        Ceiling {
            cpu: Some(0),
            time_per_algorithm: Duration::from_secs(2),
            per_algorithm: vec![(Algorithm::EcdsaP256Sha256, 1000.0)],
            combined: 1000.0,
        }
    }

    #[test]
    fn figures_are_derived_from_the_window() {
        let r = Report::build(info(), &outcome(), Some(&ceiling()));
        assert_eq!(r.ops_per_s, 500.0);
        assert_eq!(r.requests.errors, 2);
        assert_eq!(r.server.cores_used, Some(0.501));
        // 1.002 s of server CPU over 1002 answered requests: 1000 µs each.
        assert!((r.server.cpu_us_per_request.unwrap() - 1000.0).abs() < 1e-6);
        assert!((r.client.cpu_us_per_request.unwrap() - 199.6).abs() < 0.1);
        let per_core = r.efficiency.ops_per_server_core.unwrap();
        assert!((per_core - 500.0 / 0.501).abs() < 1e-6);
        assert!(
            (r.efficiency.vs_ceiling_per_server_core.unwrap() - per_core / 1000.0).abs() < 1e-9
        );
        assert_eq!(r.efficiency.ops_per_pinned_core, Some(500.0));
        assert_eq!(r.efficiency.vs_ceiling_per_pinned_core, Some(0.5));
        let l = r.latency_us.unwrap();
        assert_eq!((l.p50, l.p90, l.max), (500, 900, 1000));
        assert_eq!(r.per_algorithm[0].ceiling_ops_per_s, Some(1000.0));
    }

    #[test]
    fn json_shape() {
        let r = Report::build(info(), &outcome(), Some(&ceiling()));
        let v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["op"], "sign");
        assert_eq!(v["algorithms"][0], "ECDSA_NIST_P256_SHA_256");
        assert_eq!(v["mode"], "closed-loop");
        assert_eq!(v["requests"]["ok"], 1000);
        assert_eq!(v["requests"]["errors"], 2);
        assert_eq!(v["requests"]["errors_by_code"]["UNAVAILABLE"], 2);
        assert_eq!(v["ops_per_s"], 500.0);
        for p in ["p50", "p90", "p99", "p99_9", "max", "mean"] {
            assert!(v["latency_us"][p].is_number(), "{p}");
        }
        assert!(v["send_lag_us"].is_null());
        assert_eq!(v["server"]["pid"], 4242);
        assert_eq!(v["server"]["cpus"], "0");
        assert_eq!(v["client"]["cpus"], "1");
        assert_eq!(v["ceiling"]["ops_per_s"], 1000.0);
        assert_eq!(v["ceiling"]["operation"], "sign");
        assert_eq!(v["efficiency"]["vs_ceiling_per_pinned_core"], 0.5);
        assert_eq!(v["load_average_before"][0], 0.5);
        assert_eq!(v["machine"]["cpus"], "0-1");
        assert!((v["machine"]["other_processes_cpu_s"].as_f64().unwrap() - 0.05).abs() < 1e-9);
        assert!(v["notes"].as_array().unwrap().is_empty());
        assert_eq!(v["message_size"], 64);
    }

    #[test]
    fn unknown_server_cpu_is_null_not_zero() {
        let mut o = outcome();
        o.server_cpu = None;
        let mut i = info();
        i.server_pid = None;
        i.server_cpus = None;
        i.server_spawned = false;
        let r = Report::build(i, &o, Some(&ceiling()));
        let v: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert!(v["server"]["cpu_s"].is_null());
        assert!(v["server"]["cpu_us_per_request"].is_null());
        assert!(v["efficiency"]["ops_per_server_core"].is_null());
        assert!(v["efficiency"]["vs_ceiling_per_pinned_core"].is_null());
        let text = r.render_text();
        assert!(text.contains("unknown: pass --server-pid PID"), "{text}");
        assert!(text.contains("per busy server core: unknown"), "{text}");
    }

    #[test]
    fn text_table() {
        let r = Report::build(info(), &outcome(), Some(&ceiling()));
        let text = r.render_text();
        assert!(
            text.contains("signet bench  sign · ECDSA_NIST_P256_SHA_256 · 2 keys each"),
            "{text}"
        );
        assert!(
            text.contains("closed loop, 32 in flight over 4 connections"),
            "{text}"
        );
        assert!(
            text.contains("load average before: 0.50 0.25 0.12"),
            "{text}"
        );
        assert!(text.contains("requests      1,000 ok, 2 errors"), "{text}");
        assert!(
            text.contains("UNAVAILABLE: 2 (e.g. \"connection reset\")"),
            "{text}"
        );
        assert!(text.contains("throughput    500 ops/s"), "{text}");
        assert!(text.contains("p50 500 µs · p90 900 µs"), "{text}");
        assert!(text.contains("server (pid 4242)"), "{text}");
        assert!(
            text.contains("ceiling       1,000 sign/s in process, per second of one core (CPU 0"),
            "{text}"
        );
        assert!(
            text.contains("500 ops/s per pinned server core = 0.50 × ceiling"),
            "{text}"
        );
    }

    #[test]
    fn open_loop_and_create_lines() {
        let mut o = outcome();
        o.send_lag = Some(histogram(&[10, 20, 30]));
        o.missed = 7;
        o.polls = 2500;
        let mut i = info();
        i.rate = Some(40_000.0);
        i.op = Op::Create;
        let r = Report::build(i, &o, None);
        assert_eq!(r.mode, "open-loop");
        assert_eq!(r.keys_per_algorithm, None);
        assert_eq!(r.message_size, None);
        assert_eq!(r.polls_per_create, Some(2.5));
        let text = r.render_text();
        assert!(text.contains("fixed rate 40,000 req/s"), "{text}");
        assert!(text.contains("send lag      p50 20 µs"), "{text}");
        assert!(text.contains("never sent: 7"), "{text}");
        assert!(text.contains("until done"), "{text}");
        assert!(text.contains("2.5 operation polls per create"), "{text}");
        assert!(
            text.contains("note: 7 requests due in the window were never sent"),
            "{text}"
        );
        assert!(text.contains("ceiling       not measured"), "{text}");
    }

    #[test]
    fn contention_is_noted() {
        let mut o = outcome();
        o.busy_cpu = Some(Duration::from_millis(1702));
        let r = Report::build(info(), &o, None);
        assert_eq!(r.notes.len(), 1, "{:?}", r.notes);
        assert!(
            r.notes[0].contains("other processes used 0.50 CPU-seconds of the run's CPUs"),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn number_formats() {
        assert_eq!(fmt_int(0), "0");
        assert_eq!(fmt_int(999), "999");
        assert_eq!(fmt_int(1000), "1,000");
        assert_eq!(fmt_int(1234567), "1,234,567");
        assert_eq!(fmt_rate(61234.4), "61,234");
        assert_eq!(fmt_rate(12.34), "12.3");
        assert_eq!(fmt_rate(f64::NAN), "?");
        assert_eq!(fmt_us(480), "480 µs");
        assert_eq!(fmt_us(1400), "1.40 ms");
        assert_eq!(fmt_us(2_350_000), "2.35 s");
    }
}
