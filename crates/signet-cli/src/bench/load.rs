//! The load generator: key set-up, the workers (closed loop or fixed rate), the measured
//! window and its CPU accounting, and clean-up.
//!
//! The generator is built to cost little per request: each worker owns its clients, random
//! number generator and histograms (merged once at the end), so the hot path takes no lock; the
//! only shared writes are two relaxed counters for the progress bar.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use prost::Message;
use signet_crypto::Algorithm;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::asymmetric_signature_key_service_client::AsymmetricSignatureKeyServiceClient;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::{
    AsymmetricGetPublicKeyRequest, AsymmetricSignHashRequest, AsymmetricSignRequest,
    CreateAsymmetricSignatureKeyMetadata, CreateAsymmetricSignatureKeyRequest,
    DeleteAsymmetricSignatureKeyRequest,
};
use signet_proto::yandex::cloud::operation::operation_service_client::OperationServiceClient;
use signet_proto::yandex::cloud::operation::{GetOperationRequest, Operation, operation};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};

use super::error::{BenchError, code_name};
use super::grpc::{self, Rpc};
use super::options::{CpuList, Op};
use super::schedule::{Pacer, Schedule};
use super::system;

/// The label put on every key the benchmark creates, so that they can be found later.
const KEY_LABEL: (&str, &str) = ("created-by", "signet-bench");

/// Keys created at once while setting up, and deleted at once while cleaning up.
const SETUP_PARALLELISM: usize = 64;

/// How long setting up one key may take (RSA-4096 generation takes seconds).
const SETUP_KEY_TIMEOUT: Duration = Duration::from_secs(300);

/// Latencies above this (in microseconds) are clamped in the histograms.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Adds `authorization: Bearer <token>` to every call, in a header value marked sensitive so
/// that tonic and hyper never print it.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Result<Bearer, BenchError> {
        let mut value =
            MetadataValue::try_from(format!("Bearer {token}").as_str()).map_err(|_| {
                BenchError::Client(crate::client::ClientError::InvalidToken(
                    "not valid in an HTTP header (visible ASCII only)",
                ))
            })?;
        value.set_sensitive(true);
        Ok(Bearer(value))
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer(<redacted>)")
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

/// The control-plane clients over one connection.
#[derive(Debug, Clone)]
pub struct Clients {
    keys: AsymmetricSignatureKeyServiceClient<Authed>,
    operations: OperationServiceClient<Authed>,
}

impl Clients {
    pub fn new(channel: Channel, bearer: Bearer) -> Clients {
        Clients {
            keys: AsymmetricSignatureKeyServiceClient::with_interceptor(
                channel.clone(),
                bearer.clone(),
            ),
            operations: OperationServiceClient::with_interceptor(channel, bearer),
        }
    }
}

/// A key requests are sent to, with its request encoded once (every request to the key sends
/// the same bytes).
#[derive(Debug, Clone)]
pub struct BenchKey {
    /// Index into [`Workload::algorithms`].
    pub algorithm: usize,
    request: Bytes,
}

/// One connection as a worker uses it: the lean caller for the data plane, the tonic clients
/// for `create` (which needs its response decoded and its operation polled).
#[derive(Debug, Clone)]
pub struct Lane {
    pub data: Option<grpc::Connection>,
    pub clients: Clients,
}

/// What the workers send.
#[derive(Debug)]
pub struct Workload {
    pub op: Op,
    pub algorithms: Vec<Algorithm>,
    /// The keys requests are spread over (empty for [`Op::Create`]).
    pub keys: Vec<BenchKey>,
    pub folder_id: String,
}

/// How the load is applied.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Fixed arrival rate (open loop), or `None` for a closed loop.
    pub rate: Option<f64>,
    /// Client-side limit for one request (for `create`, until its operation is done).
    pub timeout: Duration,
}

/// Counts of one algorithm in the measured window.
#[derive(Debug)]
pub struct AlgorithmStats {
    pub ok: u64,
    pub errors: u64,
    /// Microseconds.
    pub latency: Histogram<u64>,
}

/// Everything measured in the window.
#[derive(Debug)]
pub struct LoadOutcome {
    /// Wall time between the two CPU snapshots (the measured window as it really was).
    pub window: Duration,
    /// Successful and failed requests that finished inside the window (whenever sent): the
    /// throughput.
    pub window_ok: u64,
    pub window_errors: u64,
    /// Measured requests (sent, or due, inside the window) that succeeded; their latencies and
    /// those of the failed ones (`errors`) are in `latency`.
    pub ok: u64,
    pub errors: BTreeMap<&'static str, u64>,
    /// One message per error code, as the server (or the transport) gave it.
    pub error_examples: BTreeMap<&'static str, String>,
    /// Microseconds: from the send time (closed loop) or the intended send time (open loop)
    /// until the answer (for `create`: until the operation is done).
    pub latency: Histogram<u64>,
    pub per_algorithm: Vec<AlgorithmStats>,
    /// Open loop: microseconds from each request's intended send time to its actual send.
    pub send_lag: Option<Histogram<u64>>,
    /// Open loop: measured requests still queued in the generator when the window closed.
    pub missed: u64,
    /// `create`: `OperationService.Get` calls made for the measured requests.
    pub polls: u64,
    /// Ids of the keys that `create` requests made (in every phase), for clean-up.
    pub created: Vec<String>,
    pub client_cpu: Duration,
    pub server_cpu: Option<Duration>,
    /// Busy time of the CPUs the run uses (those of the server and the generator, or all),
    /// whoever used them.
    pub busy_cpu: Option<Duration>,
    /// Why the server's CPU time is missing although a pid was known.
    pub server_cpu_note: Option<String>,
}

impl LoadOutcome {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// xorshift64*: fast, and good enough to spread requests over keys.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    /// Seeded from std's per-process random hasher keys (OS randomness).
    fn seeded() -> Rng {
        use std::hash::BuildHasher;
        Rng(std::collections::hash_map::RandomState::new().hash_one(0u64) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0), by multiply-shift.
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        (((self.next() >> 32) * n) >> 32) as usize
    }
}

/// An empty histogram of microseconds: three significant digits, auto-resizing (small until
/// large values arrive). Workers clone it.
fn new_histogram() -> Result<Histogram<u64>, BenchError> {
    let mut h = Histogram::new(3).map_err(|_| BenchError::Histogram)?;
    h.auto(true);
    Ok(h)
}

/// Records a value, growing the histogram as needed (`saturating_record` would clamp to its
/// current range instead).
fn record(h: &mut Histogram<u64>, value: u64) {
    if h.record(value).is_err() {
        h.saturating_record(value);
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_LATENCY_US)
}

/// The result of one request.
struct Outcome {
    algorithm: usize,
    result: Result<u32, Status>,
    created: Option<String>,
}

/// One worker's measurements.
#[derive(Debug)]
struct WorkerStats {
    ok: u64,
    errors: HashMap<Code, u64>,
    examples: HashMap<Code, String>,
    latency: Histogram<u64>,
    per_algorithm: Vec<AlgorithmStats>,
    lag: Histogram<u64>,
    polls: u64,
    created: Vec<String>,
    /// Requests that finished inside the window, whenever they were sent: the throughput.
    window_ok: u64,
    window_errors: u64,
}

impl WorkerStats {
    fn new(algorithms: usize, empty: &Histogram<u64>) -> WorkerStats {
        WorkerStats {
            ok: 0,
            errors: HashMap::new(),
            examples: HashMap::new(),
            latency: empty.clone(),
            per_algorithm: (0..algorithms)
                .map(|_| AlgorithmStats {
                    ok: 0,
                    errors: 0,
                    latency: empty.clone(),
                })
                .collect(),
            lag: empty.clone(),
            polls: 0,
            created: Vec::new(),
            window_ok: 0,
            window_errors: 0,
        }
    }

    fn count_finish(&mut self, run: &Run, done: Instant, ok: bool) {
        if done >= run.warm_end && done < run.end {
            if ok {
                self.window_ok += 1;
            } else {
                self.window_errors += 1;
            }
        }
    }

    fn record(&mut self, outcome: Result<u32, Status>, algorithm: usize, latency: Duration) {
        let us = micros(latency);
        record(&mut self.latency, us);
        let per = self.per_algorithm.get_mut(algorithm);
        match outcome {
            Ok(polls) => {
                self.ok += 1;
                self.polls += u64::from(polls);
                if let Some(per) = per {
                    per.ok += 1;
                    record(&mut per.latency, us);
                }
            }
            Err(status) => {
                *self.errors.entry(status.code()).or_insert(0) += 1;
                self.examples
                    .entry(status.code())
                    .or_insert_with(|| status.message().to_owned());
                if let Some(per) = per {
                    per.errors += 1;
                }
            }
        }
    }
}

/// Shared by the workers of one run.
struct Run {
    work: Arc<Workload>,
    start: Instant,
    warm_end: Instant,
    end: Instant,
    timeout: Duration,
    /// Open loop only.
    schedule: Option<Schedule>,
    tickets: Arc<Semaphore>,
    next_ticket: AtomicU64,
    empty_histogram: Histogram<u64>,
    /// For the progress bar: requests finished, and how many of them failed.
    finished: AtomicU64,
    failed: AtomicU64,
}

impl Run {
    /// Sends one request and waits for its answer (for `create`, for its operation).
    async fn send(&self, lane: &mut Lane, rng: &mut Rng) -> Outcome {
        let work = &self.work;
        let key = match work.op {
            Op::Create => None,
            _ => work.keys.get(rng.below(work.keys.len())),
        };
        let algorithm = match key {
            Some(key) => key.algorithm,
            None => rng.below(work.algorithms.len()),
        };
        let call = async {
            let rpc = match work.op {
                Op::Sign => Rpc::Sign,
                Op::SignHash => Rpc::SignHash,
                Op::GetPublicKey => Rpc::GetPublicKey,
                Op::Create => {
                    let Some(&alg) = work.algorithms.get(algorithm) else {
                        return (Err(Status::internal("no algorithm to create")), None);
                    };
                    return create_key(&mut lane.clients, alg, &work.folder_id, CREATE_POLL).await;
                }
            };
            match (key, lane.data.as_mut()) {
                (Some(key), Some(conn)) => {
                    (conn.unary(rpc, key.request.clone()).await.map(|()| 0), None)
                }
                _ => (
                    Err(Status::internal(
                        "no key or connection to send the request to",
                    )),
                    None,
                ),
            }
        };
        let (result, created) = match tokio::time::timeout(self.timeout, call).await {
            Ok(done) => done,
            Err(_) => (
                Err(Status::deadline_exceeded(format!(
                    "no answer within {:?} (the generator's --timeout)",
                    self.timeout
                ))),
                None,
            ),
        };
        Outcome {
            algorithm,
            result,
            created,
        }
    }

    fn note_progress(&self, ok: bool) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One worker: a closed or an open loop.
async fn worker(run: Arc<Run>, lane: Lane, open: bool) -> WorkerStats {
    if open {
        open_loop_worker(run, lane).await
    } else {
        closed_loop_worker(run, lane).await
    }
}

/// Sends requests back to back until the end of the run; a request is measured if it was sent
/// inside the window.
async fn closed_loop_worker(run: Arc<Run>, mut lane: Lane) -> WorkerStats {
    let mut stats = WorkerStats::new(run.work.algorithms.len(), &run.empty_histogram);
    let mut rng = Rng::seeded();
    loop {
        let sent = Instant::now();
        if sent >= run.end {
            break;
        }
        let outcome = run.send(&mut lane, &mut rng).await;
        let done = Instant::now();
        run.note_progress(outcome.result.is_ok());
        stats.count_finish(&run, done, outcome.result.is_ok());
        stats.created.extend(outcome.created);
        if sent >= run.warm_end {
            stats.record(outcome.result, outcome.algorithm, done - sent);
        }
    }
    stats
}

/// Takes tickets from the pacer until it closes; a request is measured if its intended send
/// time is inside the window, and its latency runs from that intended time.
async fn open_loop_worker(run: Arc<Run>, mut lane: Lane) -> WorkerStats {
    let mut stats = WorkerStats::new(run.work.algorithms.len(), &run.empty_histogram);
    let mut rng = Rng::seeded();
    let Some(schedule) = run.schedule else {
        return stats;
    };
    while let Ok(ticket) = run.tickets.acquire().await {
        ticket.forget();
        let i = run.next_ticket.fetch_add(1, Ordering::Relaxed);
        let intended = run.start + schedule.offset(i);
        let sent = Instant::now();
        let outcome = run.send(&mut lane, &mut rng).await;
        let done = Instant::now();
        run.note_progress(outcome.result.is_ok());
        stats.count_finish(&run, done, outcome.result.is_ok());
        stats.created.extend(outcome.created);
        if intended >= run.warm_end {
            record(
                &mut stats.lag,
                micros(sent.saturating_duration_since(intended)),
            );
            stats.record(
                outcome.result,
                outcome.algorithm,
                done.saturating_duration_since(intended),
            );
        }
    }
    stats
}

/// CPU time of both processes at one instant.
struct Snapshot {
    at: Instant,
    client: Duration,
    server: Result<Option<Duration>, BenchError>,
    /// Busy time of the CPUs the run uses.
    busy: Option<Duration>,
}

impl Snapshot {
    fn take(server_pid: Option<u32>, cpus: Option<&CpuList>) -> Result<Snapshot, BenchError> {
        let server = server_pid.map(system::process_cpu_time).transpose();
        let client = system::own_cpu_time()?;
        Ok(Snapshot {
            at: Instant::now(),
            client,
            server,
            busy: system::cpus_busy(cpus),
        })
    }
}

/// Runs the load: warm-up, then the measured window, then waits for the requests in flight.
/// `watch_cpus` are the CPUs whose busy time is recorded (`None`: all).
/// `lanes` holds one entry per connection; workers are spread over them in turn.
pub async fn run(
    lanes: &[Lane],
    work: Arc<Workload>,
    spec: &LoadSpec,
    server_pid: Option<u32>,
    watch_cpus: Option<&CpuList>,
    bar: &ProgressBar,
) -> Result<LoadOutcome, BenchError> {
    let algorithms = work.algorithms.len();
    let start = Instant::now();
    let warm_end = start + spec.warmup;
    let end = warm_end + spec.duration;
    let schedule = spec
        .rate
        .map(|rate| Schedule::new(rate, spec.warmup + spec.duration));
    let run = Arc::new(Run {
        work,
        start,
        warm_end,
        end,
        timeout: spec.timeout,
        schedule,
        tickets: Arc::new(Semaphore::new(0)),
        next_ticket: AtomicU64::new(0),
        empty_histogram: new_histogram()?,
        finished: AtomicU64::new(0),
        failed: AtomicU64::new(0),
    });
    let pacer = match schedule {
        Some(schedule) => Some(
            Pacer::start(schedule, start, end, Arc::clone(&run.tickets))
                .map_err(BenchError::Thread)?,
        ),
        None => None,
    };
    // One task per connection drives all the workers of that connection. Their requests are
    // then queued together between two runs of the connection's task and leave in one write;
    // with a task per worker, tokio would run the connection task right after each worker
    // (its LIFO slot), one write per request.
    let open = pacer.is_some();
    let mut drivers = JoinSet::new();
    for (i, lane) in lanes.iter().enumerate() {
        let workers =
            spec.concurrency / lanes.len() + usize::from(i < spec.concurrency % lanes.len());
        if workers == 0 {
            continue;
        }
        let run = Arc::clone(&run);
        let lane = lane.clone();
        drivers.spawn(async move {
            let mut pending: FuturesUnordered<_> = (0..workers)
                .map(|_| worker(Arc::clone(&run), lane.clone(), open))
                .collect();
            let mut done = Vec::with_capacity(workers);
            while let Some(stats) = pending.next().await {
                done.push(stats);
            }
            done
        });
    }
    let progress = tokio::spawn(show_progress(Arc::clone(&run), bar.clone()));

    tokio::time::sleep_until(warm_end.into()).await;
    let first = Snapshot::take(server_pid, watch_cpus)?;
    tokio::time::sleep_until(end.into()).await;
    let last = Snapshot::take(server_pid, watch_cpus)?;
    bar.set_message("waiting for the requests in flight");

    let mut stats = WorkerStats::new(algorithms, &run.empty_histogram);
    let mut errors: HashMap<Code, u64> = HashMap::new();
    let mut examples: HashMap<Code, String> = HashMap::new();
    let mut lag = run.empty_histogram.clone();
    let mut finished = Vec::new();
    while let Some(joined) = drivers.join_next().await {
        finished.extend(joined.map_err(|_| BenchError::ThreadPanicked)?);
    }
    for w in finished {
        stats.ok += w.ok;
        stats.window_ok += w.window_ok;
        stats.window_errors += w.window_errors;
        stats.polls += w.polls;
        stats.created.extend(w.created);
        stats
            .latency
            .add(&w.latency)
            .map_err(|_| BenchError::Histogram)?;
        lag.add(&w.lag).map_err(|_| BenchError::Histogram)?;
        for (total, part) in stats.per_algorithm.iter_mut().zip(&w.per_algorithm) {
            total.ok += part.ok;
            total.errors += part.errors;
            total
                .latency
                .add(&part.latency)
                .map_err(|_| BenchError::Histogram)?;
        }
        for (code, n) in w.errors {
            *errors.entry(code).or_insert(0) += n;
        }
        for (code, text) in w.examples {
            examples.entry(code).or_insert(text);
        }
    }
    progress.abort();

    // Open loop: requests released by the pacer that no worker took before it closed were
    // never sent. Their latency is at least the time they waited, so it is counted as that.
    let mut missed = 0;
    if let (Some(pacer), Some(schedule)) = (pacer, schedule) {
        let released = tokio::task::spawn_blocking(move || pacer.join())
            .await
            .map_err(|_| BenchError::ThreadPanicked)?
            .unwrap_or(0);
        let taken = run.next_ticket.load(Ordering::Relaxed);
        for i in taken..released {
            let intended = start + schedule.offset(i);
            if intended >= warm_end {
                missed += 1;
                record(
                    &mut stats.latency,
                    micros(end.saturating_duration_since(intended)),
                );
            }
        }
    }

    let (server_cpu, server_cpu_note) = match (first.server, last.server) {
        (Ok(Some(a)), Ok(Some(b))) => (Some(b.saturating_sub(a)), None),
        (Ok(None), Ok(None)) => (None, None),
        (Err(e), _) | (_, Err(e)) => (None, Some(e.report())),
        _ => (None, None),
    };
    Ok(LoadOutcome {
        window: last.at.saturating_duration_since(first.at),
        window_ok: stats.window_ok,
        window_errors: stats.window_errors,
        ok: stats.ok,
        errors: errors
            .iter()
            .map(|(code, n)| (code_name(*code), *n))
            .collect(),
        error_examples: examples
            .into_iter()
            .map(|(code, text)| (code_name(code), text))
            .collect(),
        latency: stats.latency,
        per_algorithm: stats.per_algorithm,
        send_lag: schedule.map(|_| lag),
        missed,
        polls: stats.polls,
        created: stats.created,
        client_cpu: last.client.saturating_sub(first.client),
        server_cpu,
        busy_cpu: last.busy.zip(first.busy).map(|(b, a)| b.saturating_sub(a)),
        server_cpu_note,
    })
}

/// Moves the progress bar along: the phase, and the rate over the last update.
async fn show_progress(run: Arc<Run>, bar: ProgressBar) {
    let mut last_count = 0u64;
    let mut last_at = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let count = run.finished.load(Ordering::Relaxed);
        let failed = run.failed.load(Ordering::Relaxed);
        let rate = (count - last_count.min(count)) as f64
            / now
                .saturating_duration_since(last_at)
                .as_secs_f64()
                .max(1e-3);
        last_count = count;
        last_at = now;
        let phase = if now < run.warm_end {
            "warm-up"
        } else {
            "measuring"
        };
        bar.set_position(
            u64::try_from(now.saturating_duration_since(run.start).as_millis()).unwrap_or(0),
        );
        bar.set_prefix(phase);
        bar.set_message(format!("{:.0} req/s, {failed} errors", rate));
        if now >= run.end {
            break;
        }
    }
}

/// Polling of `OperationService.Get` while benchmarking `create`: quick at first, so that the
/// measured time stays close to the real one, backing off so that polls do not swamp the server.
const CREATE_POLL: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(16));

/// Polling while setting up keys.
const SETUP_POLL: (Duration, Duration) = (Duration::from_millis(5), Duration::from_millis(200));

/// Creates a key and waits for its operation. Returns the number of `Get` polls, and the key's
/// id whenever the server assigned one (also when the operation then failed).
async fn create_key(
    clients: &mut Clients,
    algorithm: Algorithm,
    folder_id: &str,
    (first_poll, max_poll): (Duration, Duration),
) -> (Result<u32, Status>, Option<String>) {
    let request = CreateAsymmetricSignatureKeyRequest {
        folder_id: folder_id.to_owned(),
        name: String::new(),
        description: String::new(),
        labels: [(KEY_LABEL.0.to_owned(), KEY_LABEL.1.to_owned())].into(),
        signature_algorithm: algorithm.wire_number(),
        deletion_protection: false,
    };
    let mut op = match clients.keys.create(request).await {
        Ok(resp) => resp.into_inner(),
        Err(status) => return (Err(status), None),
    };
    let key_id = created_key_id(&op);
    let mut polls = 0u32;
    let mut delay = first_poll;
    while !op.done {
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(max_poll);
        polls += 1;
        let request = GetOperationRequest {
            operation_id: op.id.clone(),
        };
        op = match clients.operations.get(request).await {
            Ok(resp) => resp.into_inner(),
            Err(status) => return (Err(status), key_id),
        };
    }
    let result = match &op.result {
        Some(operation::Result::Response(_)) if key_id.is_some() => Ok(polls),
        Some(operation::Result::Response(_)) => Err(Status::internal(
            "the Create operation's metadata names no key",
        )),
        Some(operation::Result::Error(status)) => Err(Status::new(
            Code::from_i32(status.code),
            status.message.clone(),
        )),
        None => Err(Status::internal("the operation finished without a result")),
    };
    (result, key_id)
}

fn created_key_id(op: &Operation) -> Option<String> {
    let any = op.metadata.as_ref()?;
    let meta = CreateAsymmetricSignatureKeyMetadata::decode(any.value.as_ref()).ok()?;
    (!meta.key_id.is_empty()).then_some(meta.key_id)
}

/// Creates `per_algorithm` keys of each algorithm (a few at a time) and prepares their
/// payloads: a random `message_size`-byte message, and its digest under the key's hash.
/// Returns the keys, and the ids of all keys created (also on failure, for clean-up).
pub async fn create_keys(
    clients: &Clients,
    op: Op,
    algorithms: &[Algorithm],
    per_algorithm: usize,
    folder_id: &str,
    message_size: usize,
    bar: &ProgressBar,
) -> (Result<Vec<BenchKey>, BenchError>, Vec<String>) {
    let mut wanted = Vec::new();
    for (index, _) in algorithms.iter().enumerate() {
        wanted.extend(std::iter::repeat_n(index, per_algorithm));
    }
    let mut created = Vec::new();
    let mut keys = Vec::new();
    let mut failure = None;
    let mut tasks = JoinSet::new();
    let mut pending = wanted.into_iter();
    loop {
        while failure.is_none() && tasks.len() < SETUP_PARALLELISM {
            let Some(index) = pending.next() else { break };
            let Some(&alg) = algorithms.get(index) else {
                break;
            };
            let mut clients = clients.clone();
            let folder_id = folder_id.to_owned();
            tasks.spawn(async move {
                let created = tokio::time::timeout(
                    SETUP_KEY_TIMEOUT,
                    create_key(&mut clients, alg, &folder_id, SETUP_POLL),
                )
                .await;
                (index, alg, created)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let Ok((index, alg, created_key)) = joined else {
            failure.get_or_insert(BenchError::ThreadPanicked);
            continue;
        };
        let what = || format!("creating a key ({alg})");
        match created_key {
            Ok((Ok(_), Some(id))) => {
                created.push(id.clone());
                match request_for(op, alg, id, message_size) {
                    Ok(request) => keys.push(BenchKey {
                        algorithm: index,
                        request,
                    }),
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
                bar.inc(1);
            }
            Ok((result, id)) => {
                created.extend(id);
                let status = result
                    .err()
                    .unwrap_or_else(|| Status::internal("the operation names no key"));
                failure.get_or_insert(BenchError::Setup {
                    what: what(),
                    status,
                });
            }
            Err(_) => {
                failure.get_or_insert(BenchError::Setup {
                    what: what(),
                    status: Status::deadline_exceeded(format!(
                        "not done within {}s",
                        SETUP_KEY_TIMEOUT.as_secs()
                    )),
                });
            }
        }
    }
    // Keys in the order asked for, whatever order their operations finished in.
    keys.sort_by_key(|k| k.algorithm);
    match failure {
        Some(e) => (Err(e), created),
        None => (Ok(keys), created),
    }
}

/// The framed request `op` sends to a key: for `sign` a random `message_size`-byte message, for
/// `sign-hash` the digest of one under the key's hash.
fn request_for(
    op: Op,
    alg: Algorithm,
    key_id: String,
    message_size: usize,
) -> Result<Bytes, BenchError> {
    let mut message = vec![0u8; message_size];
    signet_crypto::fill_random(&mut message).map_err(BenchError::Random)?;
    Ok(match op {
        Op::Sign => grpc::frame(&AsymmetricSignRequest { key_id, message }),
        Op::SignHash => grpc::frame(&AsymmetricSignHashRequest {
            key_id,
            hash: alg.hash().digest(&message),
        }),
        Op::GetPublicKey | Op::Create => grpc::frame(&AsymmetricGetPublicKeyRequest { key_id }),
    })
}

/// Deletes keys, a few at a time, without waiting for the operations. Returns how many deletions
/// failed, with one example.
pub async fn delete_keys(clients: &Clients, ids: Vec<String>) -> (usize, Option<String>) {
    let mut failed = 0;
    let mut example = None;
    let mut tasks = JoinSet::new();
    let mut pending = ids.into_iter();
    loop {
        while tasks.len() < SETUP_PARALLELISM {
            let Some(key_id) = pending.next() else { break };
            let mut keys = clients.keys.clone();
            tasks.spawn(async move {
                keys.delete(DeleteAsymmetricSignatureKeyRequest { key_id })
                    .await
                    .map(drop)
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        match joined {
            Ok(Ok(())) => {}
            Ok(Err(status)) => {
                failed += 1;
                example.get_or_insert_with(|| {
                    format!("{}: {}", code_name(status.code()), status.message())
                });
            }
            Err(_) => failed += 1,
        }
    }
    (failed, example)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_spreads_uniformly() {
        let mut rng = Rng::seeded();
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            counts[rng.below(5)] += 1;
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn worker_stats_count_by_code_and_algorithm() {
        let mut s = WorkerStats::new(2, &new_histogram().unwrap());
        s.record(Ok(3), 1, Duration::from_micros(100));
        s.record(
            Err(Status::unavailable("down")),
            0,
            Duration::from_micros(5),
        );
        s.record(Err(Status::unavailable("again")), 0, Duration::ZERO);
        assert_eq!(s.ok, 1);
        assert_eq!(s.polls, 3);
        assert_eq!(s.errors[&Code::Unavailable], 2);
        assert_eq!(s.examples[&Code::Unavailable], "down");
        assert_eq!(s.per_algorithm[1].ok, 1);
        assert_eq!(s.per_algorithm[0].errors, 2);
        assert_eq!(s.latency.len(), 3);
        assert_eq!(s.per_algorithm[1].latency.len(), 1);
        // Zero is clamped to 1 µs, so every request lands in the histogram.
        assert_eq!(s.latency.min(), 1);
        // The histogram grows to hold large values rather than clamping them.
        assert_eq!(s.latency.max(), 100);
        s.record(Ok(0), 0, Duration::from_secs(10));
        assert!(s.latency.max() >= 9_990_000, "{}", s.latency.max());
    }

    #[test]
    fn created_key_id_comes_from_the_metadata() {
        let meta = CreateAsymmetricSignatureKeyMetadata {
            key_id: "abc123".into(),
        };
        let op = Operation {
            metadata: Some(signet_proto::pbjson_types::Any {
                type_url: "type.googleapis.com/x".into(),
                value: meta.encode_to_vec().into(),
            }),
            ..Operation::default()
        };
        assert_eq!(created_key_id(&op).as_deref(), Some("abc123"));
        assert_eq!(created_key_id(&Operation::default()), None);
    }

    #[test]
    fn bearer_debug_hides_the_token() {
        let b = Bearer::new("s3cret-token").unwrap();
        assert!(!format!("{b:?}").contains("s3cret"));
        assert!(Bearer::new("bad\ntoken").is_err());
    }
}
