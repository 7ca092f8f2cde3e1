//! `signet bench`: a load generator for a Signet server (or any server of the Yandex Cloud KMS
//! asymmetric-signature API), and the instrument behind `docs/benchmarks.md`.
//!
//! It drives a running server (`--endpoint`, TLS or plaintext), or starts its own with
//! `--spawn` (a `signet serve` child on a temporary data directory), pinning the server and
//! the generator to separate CPUs. It reports throughput, errors by gRPC code, HDR-histogram
//! latency percentiles, the CPU time per request of both processes, and, measured in the same
//! run, the in-process signing speed of one core (the ceiling) with the server's throughput per
//! core as a fraction of it. `--rate` switches from a closed loop to a fixed arrival rate whose
//! latencies are measured from each request's intended send time.
//!
//! This module owns only measurement; it holds no business rules and never prints the token.
//! Wiring: add a subcommand holding [`BenchArgs`] and call [`run`] from a synchronous `main`
//! (it builds its own runtime, sized to the generator's CPUs).

mod ceiling;
mod error;
mod grpc;
mod load;
mod options;
mod report;
mod schedule;
mod spawn;
mod system;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::client::args::{DEFAULT_TOKEN_FILE, GlobalArgs, OutputFormat, Token};
pub use error::BenchError;
use load::{Bearer, Clients, Lane, LoadSpec, Workload};
use options::{
    AlgorithmList, CpuList, Op, parse_algorithm_list, parse_cpu_list, parse_duration,
    parse_positive_duration, parse_rate,
};
use report::{Report, RunInfo};
use spawn::{SpawnOptions, SpawnedServer};

/// The address used when neither `--endpoint` nor `SIGNET_ENDPOINT` is given.
const DEFAULT_ENDPOINT: &str = "127.0.0.1:8443";

/// Flags of `signet bench`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  signet bench --spawn --op sign --algorithm ecdsa-nist-p256-sha-256 --concurrency 32
  signet bench --spawn --algorithm all --keys 4 --duration 30s --json
  signet bench --spawn --rate 20000 --concurrency 256
  signet bench --endpoint kms.example:8443 --server-pid 1234 --op sign-hash")]
pub struct BenchArgs {
    /// Start a server for the run: `signet serve` in a child process, on a temporary data
    /// directory and a free loopback port, pinned to --server-cpus.
    #[arg(long, conflicts_with_all = ["endpoint", "token", "insecure", "ca", "server_pid"])]
    pub spawn: bool,

    /// Server to load [default: $SIGNET_ENDPOINT, else 127.0.0.1:8443].
    #[arg(long, value_name = "HOST:PORT")]
    pub endpoint: Option<String>,

    /// Bearer token [default: $SIGNET_TOKEN, else ./signet-data/admin-token]. Never printed.
    #[arg(long, value_name = "TOKEN", value_parser = parse_token)]
    pub token: Option<Token>,

    /// Plaintext gRPC instead of TLS (loopback addresses only).
    #[arg(long)]
    pub insecure: bool,

    /// Trust only this PEM CA certificate for TLS, instead of the system's roots.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub ca: Option<PathBuf>,

    /// Process id of the (external) server, to measure its CPU time from /proc/PID/stat.
    /// Without it, the server's CPU time is reported as unknown.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,

    /// CPUs to pin the spawned server to, e.g. 0, 0-1 or 0,2 [default: the first CPU].
    #[arg(long, value_name = "CPUS", value_parser = parse_cpu_list, requires = "spawn")]
    pub server_cpus: Option<CpuList>,

    /// CPUs to pin the load generator to [default with --spawn: the second CPU; otherwise not
    /// pinned]. The generator runs one worker thread per CPU.
    #[arg(long, value_name = "CPUS", value_parser = parse_cpu_list)]
    pub client_cpus: Option<CpuList>,

    /// Config file for the spawned server (`signet serve --config FILE`).
    #[arg(long, value_name = "FILE", requires = "spawn")]
    pub server_config: Option<PathBuf>,

    /// What each request does.
    #[arg(long, value_enum, default_value_t = Op::Sign)]
    pub op: Op,

    /// Algorithm(s): a name as `signet algorithms` lists it, several comma-separated, or `all`.
    #[arg(
        long,
        value_name = "ALGORITHMS",
        value_parser = parse_algorithm_list,
        default_value = "ecdsa-nist-p256-sha-256"
    )]
    pub algorithm: AlgorithmList,

    /// Keys created up front per algorithm; requests are spread uniformly at random over all
    /// of them (not used by --op create). They go into one folder: against your own server its
    /// per-folder key quota (default 100) must allow them; a --spawn server has no quota.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub keys: u32,

    /// HTTP/2 connections to the server.
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub connections: u32,

    /// Requests in flight at once (with --rate: at most). Against your own server, more than
    /// its max_concurrent_requests (default 1024) are refused; a --spawn server has no limit.
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub concurrency: u32,

    /// Length of the measured window, e.g. 10s, 500ms, 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration,
          default_value = "10s")]
    pub duration: Duration,

    /// Load applied before the window opens, not measured.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    pub warmup: Duration,

    /// Fixed arrival rate in requests per second (open loop) instead of a closed loop; latency
    /// is then measured from each request's intended send time.
    #[arg(long, value_name = "REQ/S", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Bytes per message for --op sign.
    #[arg(long, value_name = "BYTES", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=32_768))]
    pub message_size: u32,

    /// Folder the benchmark's keys are created in.
    #[arg(long, value_name = "FOLDER-ID", default_value = "bench")]
    pub folder_id: String,

    /// Client-side limit for one request (for create: until its operation is done); a request
    /// over it counts as DEADLINE_EXCEEDED.
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration,
          default_value = "30s")]
    pub timeout: Duration,

    /// How long the in-process ceiling is measured per algorithm (0s skips it).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    pub ceiling_time: Duration,

    /// Keep the keys created on an external server (by default they are deleted at the end).
    #[arg(long)]
    pub keep_keys: bool,

    /// Print the report as JSON (no progress bar).
    #[arg(long)]
    pub json: bool,
}

fn parse_token(value: &str) -> Result<Token, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("the token is empty".to_owned());
    }
    Ok(Token::new(value))
}

/// Runs the benchmark and prints its report on stdout (a table, or JSON with `--json`).
/// Errors are printed on stderr as `ERROR: ...`; the exit code is 2 for unusable flags, 1 for
/// other failures, including a run in which no request succeeded.
pub fn run(args: BenchArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", e.report());
            ExitCode::from(e.exit_code())
        }
    }
}

/// Where the server is and how it runs, once the flags are checked.
#[derive(Debug)]
struct Plan {
    args: BenchArgs,
    server_cpus: Option<CpuList>,
    client_cpus: Option<CpuList>,
    client_threads: usize,
    /// The CPUs the server and the generator run on (`None` when either may run anywhere).
    watched_cpus: Option<CpuList>,
    notes: Vec<String>,
}

impl Plan {
    /// Checks what clap cannot: that the CPUs exist for this process, and the server pid.
    fn new(args: BenchArgs) -> Result<Plan, BenchError> {
        let allowed = system::allowed_cpus(None)?;
        let mut notes = Vec::new();
        let (server_cpus, client_cpus) = if args.spawn {
            let default = |nth: usize, flag: &str| {
                allowed
                    .cpus()
                    .get(nth)
                    .and_then(|&c| CpuList::from_cpus(vec![c]))
                    .ok_or_else(|| {
                        BenchError::Usage(format!(
                            "--spawn pins the server and the generator to separate CPUs, but \
                             this process may run only on CPU {allowed}; give --server-cpus and \
                             --client-cpus (they may overlap), missing: {flag}"
                        ))
                    })
            };
            let server = match &args.server_cpus {
                Some(c) => c.clone(),
                None => default(0, "--server-cpus")?,
            };
            let client = match &args.client_cpus {
                Some(c) => c.clone(),
                None => default(1, "--client-cpus")?,
            };
            (Some(server), Some(client))
        } else {
            (None, args.client_cpus.clone())
        };
        for (flag, list) in [
            ("--server-cpus", &server_cpus),
            ("--client-cpus", &client_cpus),
        ] {
            let Some(list) = list else { continue };
            let missing = list.missing_from(&allowed);
            if let Some(cpu) = missing.first() {
                return Err(BenchError::Usage(format!(
                    "{flag} {list}: CPU {cpu} is not available to this process (it may use \
                     {allowed})"
                )));
            }
        }
        if let (Some(s), Some(c)) = (&server_cpus, &client_cpus)
            && s.overlaps(c)
        {
            notes.push(format!(
                "the server (CPUs {s}) and the generator (CPUs {c}) share CPUs: the figures \
                 include their contention"
            ));
        }
        if let Some(pid) = args.server_pid
            && !Path::new(&format!("/proc/{pid}/stat")).exists()
        {
            return Err(BenchError::Usage(format!(
                "--server-pid {pid}: no such process"
            )));
        }
        let client_threads = client_cpus.as_ref().unwrap_or(&allowed).len();
        let watched_cpus = match (&server_cpus, &client_cpus) {
            (Some(s), Some(c)) => {
                CpuList::from_cpus(s.cpus().iter().chain(c.cpus()).copied().collect())
            }
            _ => None,
        };
        Ok(Plan {
            args,
            server_cpus,
            client_cpus,
            client_threads,
            watched_cpus,
            notes,
        })
    }
}

/// The server to load: address, transport and token.
struct Target {
    global: GlobalArgs,
    token: Token,
}

fn external_target(args: &BenchArgs) -> Result<Target, BenchError> {
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| std::env::var("SIGNET_ENDPOINT").ok())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let token = match &args.token {
        Some(t) => t.clone(),
        None => match std::env::var("SIGNET_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Token::new(t.trim()),
            _ => read_default_token()?,
        },
    };
    Ok(Target {
        global: GlobalArgs {
            endpoint,
            token: None,
            format: OutputFormat::Text,
            ca: args.ca.clone(),
            insecure: args.insecure,
        },
        token,
    })
}

fn read_default_token() -> Result<Token, BenchError> {
    match std::fs::read_to_string(DEFAULT_TOKEN_FILE) {
        Ok(text) if !text.trim().is_empty() => Ok(Token::new(text.trim())),
        Ok(_) => Err(BenchError::Usage(format!("{DEFAULT_TOKEN_FILE} is empty"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BenchError::Usage(format!(
            "no token: pass --token, set SIGNET_TOKEN, run next to {DEFAULT_TOKEN_FILE}, or use \
             --spawn"
        ))),
        Err(source) => Err(BenchError::ReadProc {
            path: DEFAULT_TOKEN_FILE.to_owned(),
            source,
        }),
    }
}

fn execute(args: BenchArgs) -> Result<(), BenchError> {
    let plan = Plan::new(args)?;
    let args = &plan.args;
    let load_average_before = system::load_average();

    // The spawned server inherits this thread's affinity at fork, so it is pinned before it can
    // start a thread; then this thread moves to the generator's CPUs, and every thread of the
    // generator (runtime workers, pacer, progress bar) inherits those.
    let mut server = None;
    let target = match (&plan.server_cpus, &plan.client_cpus) {
        (Some(server_cpus), Some(client_cpus)) if args.spawn => {
            system::pin_current_thread(server_cpus)?;
            let spawned = SpawnedServer::start(&SpawnOptions {
                config: args.server_config.clone(),
                reader_cpus: Some(client_cpus.clone()),
            });
            system::pin_current_thread(client_cpus)?;
            let (spawned, token) = spawned?;
            system::pin_process(spawned.pid(), server_cpus)?;
            let target = Target {
                global: GlobalArgs {
                    endpoint: spawned.addr.clone(),
                    token: None,
                    format: OutputFormat::Text,
                    ca: None,
                    insecure: true,
                },
                token: Token::new(token),
            };
            server = Some(spawned);
            target
        }
        _ => {
            if let Some(cpus) = &plan.client_cpus {
                system::pin_current_thread(cpus)?;
            }
            external_target(args)?
        }
    };
    let server_pid = server.as_ref().map(SpawnedServer::pid).or(args.server_pid);
    let server_cpus = match (&plan.server_cpus, server_pid) {
        (Some(cpus), _) => Some(cpus.clone()),
        (None, Some(pid)) => system::allowed_cpus(Some(pid)).ok(),
        (None, None) => None,
    };
    if !args.json {
        let server_line = match (&server, server_pid, &server_cpus) {
            (Some(s), Some(pid), Some(cpus)) => {
                format!("spawned server pid {pid} on {} (CPUs {cpus})", s.addr)
            }
            (_, Some(pid), _) => format!("server pid {pid} at {}", target.global.endpoint),
            _ => format!("server at {}", target.global.endpoint),
        };
        let client_line = match &plan.client_cpus {
            Some(c) => format!("CPUs {c}"),
            None => "unpinned".to_owned(),
        };
        eprintln!(
            "{server_line}; generator: {} thread{} ({client_line})",
            plan.client_threads,
            if plan.client_threads == 1 { "" } else { "s" }
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.client_threads)
        .thread_name("bench-worker")
        .enable_all()
        .build()
        .map_err(BenchError::Runtime)?;
    let driven = runtime.block_on(drive(&plan, &target, server_pid, server.is_none()));
    runtime.shutdown_timeout(Duration::from_secs(1));

    let mut notes = plan.notes.clone();
    if let Some(server) = server.take()
        && let Err(e) = server.stop()
    {
        notes.push(e.report().trim_start_matches("ERROR: ").to_owned());
    }
    let (outcome, more_notes) = driven?;
    notes.extend(more_notes);

    let ceiling = ceiling::measure(
        args.op,
        &args.algorithm.0,
        args.message_size as usize,
        server_cpus.as_ref().map(CpuList::first),
        args.ceiling_time,
    )?;
    let report = Report::build(
        RunInfo {
            op: args.op,
            algorithms: args.algorithm.0.clone(),
            keys_per_algorithm: args.keys as usize,
            connections: args.connections as usize,
            concurrency: args.concurrency as usize,
            rate: args.rate,
            message_size: args.message_size as usize,
            warmup_s: args.warmup.as_secs_f64(),
            load_average_before,
            server_spawned: args.spawn,
            server_pid,
            server_cpus,
            client_cpus: plan.client_cpus.clone(),
            client_threads: plan.client_threads,
            watched_cpus: plan.watched_cpus.clone(),
            notes,
        },
        &outcome,
        ceiling.as_ref(),
    );
    if args.json {
        println!("{}", report.to_json().map_err(BenchError::Json)?);
    } else {
        print!("{}", report.render_text());
    }
    if outcome.ok == 0 && outcome.window_ok == 0 {
        let first = outcome
            .error_examples
            .iter()
            .next()
            .map(|(code, text)| format!("{code}: {text}"))
            .unwrap_or_else(|| "no request was answered".to_owned());
        return Err(BenchError::NothingSucceeded(first));
    }
    Ok(())
}

/// Connects, creates the keys, runs the load, and cleans up on an external server.
async fn drive(
    plan: &Plan,
    target: &Target,
    server_pid: Option<u32>,
    external: bool,
) -> Result<(load::LoadOutcome, Vec<String>), BenchError> {
    let args = &plan.args;
    let bearer = Bearer::new(target.token.expose())?;
    // The tonic channel checks the flags and reaches the server first, with the CLI's usual
    // error messages; it carries the control plane (key set-up, create, clean-up).
    let first = Clients::new(
        crate::client::connect(&target.global).await?,
        bearer.clone(),
    );
    let dialer = grpc::Dialer::new(&target.global, target.token.expose())?;
    let mut lanes = Vec::new();
    for i in 0..args.connections {
        let clients = if args.op == Op::Create && i > 0 {
            Clients::new(
                crate::client::connect(&target.global).await?,
                bearer.clone(),
            )
        } else {
            first.clone()
        };
        let data = if args.op == Op::Create {
            None
        } else {
            Some(dialer.connect(&target.global.endpoint).await?)
        };
        lanes.push(Lane { data, clients });
    }
    let show = !args.json && std::io::stderr().is_terminal();
    let mut notes = Vec::new();

    let mut keys = Vec::new();
    let mut created = Vec::new();
    if args.op != Op::Create {
        let total = args.keys as u64 * args.algorithm.0.len() as u64;
        let bar = bar(show, total, "{prefix} [{bar:30}] {pos}/{len} ({elapsed})");
        bar.set_prefix("creating keys");
        let (result, ids) = load::create_keys(
            &first,
            args.op,
            &args.algorithm.0,
            args.keys as usize,
            &args.folder_id,
            args.message_size as usize,
            &bar,
        )
        .await;
        bar.finish_and_clear();
        created = ids;
        match result {
            Ok(k) => keys = k,
            Err(e) => {
                if external && !args.keep_keys {
                    cleanup(&first, created, &mut notes).await;
                }
                return Err(e);
            }
        }
    }

    let work = Arc::new(Workload {
        op: args.op,
        algorithms: args.algorithm.0.clone(),
        keys,
        folder_id: args.folder_id.clone(),
    });
    let spec = LoadSpec {
        concurrency: args.concurrency as usize,
        warmup: args.warmup,
        duration: args.duration,
        rate: args.rate,
        timeout: args.timeout,
    };
    let total_ms = u64::try_from((args.warmup + args.duration).as_millis()).unwrap_or(u64::MAX);
    let bar = bar(
        show,
        total_ms,
        "{prefix:>9} [{bar:30}] {elapsed:>3} of {len_s} · {msg}",
    );
    let outcome = load::run(
        &lanes,
        work,
        &spec,
        server_pid,
        plan.watched_cpus.as_ref(),
        &bar,
    )
    .await;
    bar.finish_and_clear();
    if external && !args.keep_keys {
        if let Ok(o) = &outcome {
            created.extend(o.created.iter().cloned());
        }
        cleanup(&first, created, &mut notes).await;
    }
    outcome.map(|o| (o, notes))
}

fn bar(show: bool, len: u64, template: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let len_s = format!("{:.0}s", len as f64 / 1000.0);
    let template = template.replace("{len_s}", &len_s);
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Deletes the keys the run created on an external server (no waiting for the operations).
async fn cleanup(clients: &Clients, ids: Vec<String>, notes: &mut Vec<String>) {
    if ids.is_empty() {
        return;
    }
    let n = ids.len();
    let (failed, example) = load::delete_keys(clients, ids).await;
    if failed > 0 {
        notes.push(format!(
            "{failed} of the {n} keys created by the run could not be deleted ({}); they carry \
             the label created-by=signet-bench",
            example.unwrap_or_default()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).map(|c| c.bench)
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).unwrap();
        assert!(!a.spawn);
        assert_eq!(a.op, Op::Sign);
        assert_eq!(
            a.algorithm.0,
            vec![signet_crypto::Algorithm::EcdsaP256Sha256]
        );
        assert_eq!((a.keys, a.connections, a.concurrency), (1, 4, 32));
        assert_eq!(a.duration, Duration::from_secs(10));
        assert_eq!(a.warmup, Duration::from_secs(2));
        assert_eq!(a.message_size, 64);
        assert_eq!(a.rate, None);
        assert_eq!(a.ceiling_time, Duration::from_secs(2));
    }

    #[test]
    fn the_smoke_test_command_parses() {
        let a = parse(&[
            "--spawn",
            "--op",
            "sign",
            "--algorithm",
            "ecdsa-nist-p256-sha-256",
            "--keys",
            "2",
            "--duration",
            "2s",
            "--warmup",
            "1s",
            "--json",
        ])
        .unwrap();
        assert!(a.spawn && a.json);
        assert_eq!(a.keys, 2);
        assert_eq!(a.duration, Duration::from_secs(2));
    }

    #[test]
    fn all_options_parse() {
        let a = parse(&[
            "--endpoint",
            "127.0.0.1:9000",
            "--insecure",
            "--token",
            "t0ken",
            "--server-pid",
            "1",
            "--client-cpus",
            "0,2-3",
            "--op",
            "sign-hash",
            "--algorithm",
            "all",
            "--connections",
            "8",
            "--concurrency",
            "256",
            "--rate",
            "1500.5",
            "--message-size",
            "1024",
            "--timeout",
            "5s",
            "--ceiling-time",
            "0s",
        ])
        .unwrap();
        assert_eq!(a.op, Op::SignHash);
        assert_eq!(a.algorithm.0.len(), 13);
        assert_eq!(a.client_cpus.unwrap().cpus(), &[0, 2, 3]);
        assert_eq!(a.rate, Some(1500.5));
        assert_eq!(a.token.unwrap().expose(), "t0ken");
        for op in ["get-public-key", "create"] {
            assert!(parse(&["--op", op]).is_ok(), "{op}");
        }
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            &["--op", "verify"][..],
            &["--algorithm", "p256"],
            &["--keys", "0"],
            &["--connections", "0"],
            &["--concurrency", "0"],
            &["--duration", "0s"],
            &["--duration", "10"],
            &["--warmup", "-1s"],
            &["--rate", "0"],
            &["--message-size", "0"],
            &["--message-size", "40000"],
            &["--client-cpus", "1-0"],
            &["--server-cpus", "0"],
            &["--spawn", "--endpoint", "127.0.0.1:1"],
            &["--spawn", "--token", "x"],
            &["--spawn", "--server-pid", "1"],
            &["--token", ""],
            &["--insecure", "--ca", "ca.pem"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
        let err = parse(&["--algorithm", "p256"]).unwrap_err().to_string();
        assert!(err.contains("unknown algorithm"), "{err}");
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let a = parse(&["--token", "very-secret-value"]).unwrap();
        assert!(!format!("{a:?}").contains("very-secret-value"));
    }

    #[test]
    fn plan_refuses_cpus_this_process_cannot_use() {
        let a = parse(&["--client-cpus", "1023"]).unwrap();
        let err = Plan::new(a).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("CPU 1023 is not available"),
            "{err}"
        );
        let a = parse(&["--server-pid", "4294967295"]).unwrap();
        assert!(
            Plan::new(a)
                .unwrap_err()
                .to_string()
                .contains("no such process")
        );
    }

    #[test]
    fn plan_sizes_the_runtime_to_the_client_cpus() {
        let allowed = system::allowed_cpus(None).unwrap();
        let first = allowed.first().to_string();
        let plan = Plan::new(parse(&["--client-cpus", &first]).unwrap()).unwrap();
        assert_eq!(plan.client_threads, 1);
        let plan = Plan::new(parse(&[]).unwrap()).unwrap();
        assert_eq!(plan.client_threads, allowed.len());
        assert!(plan.server_cpus.is_none());
    }
}
