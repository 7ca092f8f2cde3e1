//! The writer calls await: group commit of audit records.
//!
//! A call hands its event to [`AuditTrail::append`] and waits. One writer task takes whatever
//! events are queued (up to [`AuditSettings::max_batch`]), appends them to the store in one
//! transaction ([`Store::append_audit`], one fsync), then answers every waiting call. While a
//! batch commits the next one queues, so the batch size follows the load and the commit cost is
//! shared. A failed append fails every call of its batch: the trail is fail-closed, and an
//! event is never dropped without its call knowing.
//!
//! After a batch, when [`AuditSettings::checkpoint_every`] records or
//! [`AuditSettings::checkpoint_interval`] have passed since the last checkpoint, the writer signs
//! one for the chain's head; and once more when it stops. With several servers on one store,
//! one signs at a time (the checkpoint job's claim, [`Store::try_claim`]).

use super::{AuditEvent, AuditHead, CheckpointKey};
use crate::domain::{Clock, Timestamp};
use crate::store::{AUDIT_CHECKPOINT_JOB, Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Which calls are recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuditMode {
    /// Every call (the default).
    #[default]
    All,
    /// Every call except the data plane (Sign, SignHash, GetPublicKey).
    ControlPlane,
    /// None.
    Off,
}

impl AuditMode {
    /// `all`, `control-plane` or `off`.
    pub fn parse(text: &str) -> Option<AuditMode> {
        match text {
            "all" => Some(AuditMode::All),
            "control-plane" => Some(AuditMode::ControlPlane),
            "off" => Some(AuditMode::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuditMode::All => "all",
            AuditMode::ControlPlane => "control-plane",
            AuditMode::Off => "off",
        }
    }

    /// Whether a call of this plane is recorded.
    pub fn records(self, data_plane: bool) -> bool {
        match self {
            AuditMode::All => true,
            AuditMode::ControlPlane => !data_plane,
            AuditMode::Off => false,
        }
    }
}

/// Tunables of the trail.
#[derive(Clone, Debug)]
pub struct AuditSettings {
    pub mode: AuditMode,
    /// Sign a checkpoint after this many records…
    pub checkpoint_every: u64,
    /// …or when this much time has passed since the last one and there are records since.
    pub checkpoint_interval: Duration,
    /// The most records committed in one transaction.
    pub max_batch: usize,
    /// How many events may wait for the writer before callers wait to queue.
    pub queue_capacity: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            mode: AuditMode::All,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(60),
            max_batch: 1024,
            queue_capacity: 16 * 1024,
        }
    }
}

/// Why an event could not be recorded. Its call must fail (UNAVAILABLE).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the audit trail cannot be written")]
    Write(#[source] Arc<StoreError>),
    #[error("the audit writer has stopped")]
    Stopped,
}

impl From<AuditError> for crate::CoreError {
    fn from(e: AuditError) -> Self {
        crate::CoreError::Unavailable(StoreError::Unavailable(Box::new(e)))
    }
}

struct Pending {
    /// `None`: a record was appended by a state change's own transaction ([`CallAudit`](super::CallAudit));
    /// the writer only counts it towards the next checkpoint.
    event: Option<AuditEvent>,
    done: oneshot::Sender<Result<(), AuditError>>,
}

/// A handle on the trail; cheap to clone. When the mode is `off`, it records nothing.
#[derive(Clone)]
pub struct AuditTrail {
    mode: AuditMode,
    clock: Arc<dyn Clock>,
    tx: Option<mpsc::Sender<Pending>>,
    stats: Arc<AuditStats>,
}

/// Counters of the audit writer, for metrics.
#[derive(Debug, Default)]
pub struct AuditStats {
    /// Transactions that committed a batch of records.
    pub commits: AtomicU64,
    /// Records committed.
    pub records: AtomicU64,
    /// Time spent in those commits, in nanoseconds.
    pub commit_nanos: AtomicU64,
    /// Batches that failed to commit.
    pub failures: AtomicU64,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("mode", &self.mode)
            .field("running", &self.tx.is_some())
            .finish()
    }
}

/// The writer task. [`AuditWriter::finish`] waits for it once every [`AuditTrail`] is gone.
#[derive(Debug)]
pub struct AuditWriter {
    task: Option<JoinHandle<()>>,
}

impl AuditWriter {
    /// No writer (the trail is off).
    pub fn none() -> AuditWriter {
        AuditWriter { task: None }
    }

    /// Waits (at most `limit`) for the writer to commit what is queued, sign a last checkpoint
    /// and stop. It stops when the last [`AuditTrail`] clone is dropped.
    pub async fn finish(self, limit: Duration) {
        if let Some(task) = self.task {
            match tokio::time::timeout(limit, task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "the audit writer failed"),
                Err(_) => tracing::warn!("the audit writer did not stop in time"),
            }
        }
    }
}

impl AuditTrail {
    /// A trail that records nothing.
    pub fn off(clock: Arc<dyn Clock>) -> AuditTrail {
        AuditTrail {
            mode: AuditMode::Off,
            clock,
            tx: None,
            stats: Arc::default(),
        }
    }

    /// Starts the writer (on the current Tokio runtime), unless the mode is `off`.
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        key: CheckpointKey,
        settings: AuditSettings,
    ) -> (AuditTrail, AuditWriter) {
        if settings.mode == AuditMode::Off {
            return (AuditTrail::off(clock), AuditWriter::none());
        }
        let (tx, rx) = mpsc::channel(settings.queue_capacity.max(1));
        let stats = Arc::new(AuditStats::default());
        let writer = Writer {
            stats: Arc::clone(&stats),
            store,
            clock: Arc::clone(&clock),
            key,
            every: settings.checkpoint_every.max(1),
            interval: settings.checkpoint_interval,
            max_batch: settings.max_batch.max(1),
            since_checkpoint: 0,
            head: None,
            last_checkpoint: tokio::time::Instant::now(),
        };
        let task = tokio::spawn(writer.run(rx));
        (
            AuditTrail {
                mode: settings.mode,
                clock,
                tx: Some(tx),
                stats,
            },
            AuditWriter { task: Some(task) },
        )
    }

    /// The writer's counters.
    pub fn stats(&self) -> &AuditStats {
        &self.stats
    }

    /// Events queued and not yet taken by the writer.
    pub fn queue_depth(&self) -> usize {
        self.tx
            .as_ref()
            .map_or(0, |tx| tx.max_capacity() - tx.capacity())
    }

    pub fn mode(&self) -> AuditMode {
        self.mode
    }

    /// Whether a call of this plane is to be recorded.
    pub fn records(&self, data_plane: bool) -> bool {
        self.tx.is_some() && self.mode.records(data_plane)
    }

    /// The time to stamp an event with.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Queues `event` without waiting for a place in the queue or for its commit, for a call
    /// that has no one left to answer. Returns false if it could not be queued (the queue is
    /// full or the writer stopped); true when the trail is off.
    pub fn append_detached(&self, event: AuditEvent) -> bool {
        let Some(tx) = &self.tx else {
            return true;
        };
        let (done, _) = oneshot::channel();
        tx.try_send(Pending {
            event: Some(event),
            done,
        })
        .is_ok()
    }

    /// Tells the writer that a record was appended by a state change's own transaction (see
    /// [`CallAudit`](super::CallAudit)), so that it counts towards the next checkpoint. Does
    /// not wait; if the queue is full the count is lost, and the checkpoint waits for its
    /// interval or the next record instead.
    pub fn appended_elsewhere(&self) {
        if let Some(tx) = &self.tx {
            let (done, _) = oneshot::channel();
            let _ = tx.try_send(Pending { event: None, done });
        }
    }

    /// Records `event`, returning once it is durably stored. Records nothing (and returns at
    /// once) when the trail is off.
    pub async fn append(&self, event: AuditEvent) -> Result<(), AuditError> {
        let Some(tx) = &self.tx else {
            return Ok(());
        };
        let (done, wait) = oneshot::channel();
        tx.send(Pending {
            event: Some(event),
            done,
        })
        .await
        .map_err(|_| AuditError::Stopped)?;
        wait.await.map_err(|_| AuditError::Stopped)?
    }
}

struct Writer {
    stats: Arc<AuditStats>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    key: CheckpointKey,
    every: u64,
    interval: Duration,
    max_batch: usize,
    /// Records this writer appended since its last checkpoint.
    since_checkpoint: u64,
    /// The head after this writer's last append.
    head: Option<AuditHead>,
    last_checkpoint: tokio::time::Instant,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Pending>) {
        let mut batch: Vec<Pending> = Vec::with_capacity(self.max_batch);
        loop {
            let received = if self.since_checkpoint > 0 {
                let deadline = self.last_checkpoint + self.interval;
                match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, self.max_batch))
                    .await
                {
                    Ok(n) => n,
                    Err(_) => {
                        self.checkpoint().await;
                        continue;
                    }
                }
            } else {
                rx.recv_many(&mut batch, self.max_batch).await
            };
            if received == 0 {
                break; // every sender is gone and the queue is empty
            }
            // Let the calls that are ready to run queue their events too, so that one
            // transaction carries them all: this costs nothing when idle and makes batches
            // grow with the load (fewer commits, fewer round trips to the database).
            if batch.len() < self.max_batch {
                tokio::task::yield_now().await;
                while batch.len() < self.max_batch {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
            }
            let mut appended_elsewhere = 0u64;
            let (events, waiters): (Vec<AuditEvent>, Vec<_>) = batch
                .drain(..)
                .filter_map(|p| match p.event {
                    Some(event) => Some((event, p.done)),
                    None => {
                        appended_elsewhere += 1;
                        None
                    }
                })
                .unzip();
            self.since_checkpoint = self.since_checkpoint.saturating_add(appended_elsewhere);
            if events.is_empty() {
                if self.since_checkpoint >= self.every {
                    self.checkpoint().await;
                }
                continue;
            }
            let started = std::time::Instant::now();
            let appended = self.store.append_audit(&events).await;
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.stats.commit_nanos.fetch_add(nanos, Ordering::Relaxed);
            match appended {
                Ok(head) => {
                    self.stats.commits.fetch_add(1, Ordering::Relaxed);
                    self.stats.records.fetch_add(
                        u64::try_from(events.len()).unwrap_or(u64::MAX),
                        Ordering::Relaxed,
                    );
                    tracing::trace!(
                        records = events.len(),
                        seq = head.seq,
                        "audit batch committed"
                    );
                    for w in waiters {
                        let _ = w.send(Ok(()));
                    }
                    self.head = Some(head);
                    self.since_checkpoint = self
                        .since_checkpoint
                        .saturating_add(u64::try_from(events.len()).unwrap_or(u64::MAX));
                    if self.since_checkpoint >= self.every
                        || self.last_checkpoint.elapsed() >= self.interval
                    {
                        self.checkpoint().await;
                    }
                }
                Err(e) => {
                    self.stats.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        error = %error_chain(&e),
                        records = events.len(),
                        "the audit trail cannot be written; failing the calls"
                    );
                    let e = Arc::new(e);
                    for w in waiters {
                        let _ = w.send(Err(AuditError::Write(Arc::clone(&e))));
                    }
                }
            }
        }
        if self.since_checkpoint > 0 {
            self.checkpoint().await;
        }
    }

    /// Signs and stores a checkpoint for the chain's head: this writer's last appended record,
    /// or a later one of another server sharing the store (a checkpoint covers every record up
    /// to it, whoever appended them). One server signs at a time: while another holds the
    /// job's claim, and after a failure, this one tries again after its next batch or interval
    /// (the records themselves are already durable).
    async fn checkpoint(&mut self) {
        self.last_checkpoint = tokio::time::Instant::now();
        let _claim = match self.store.try_claim(AUDIT_CHECKPOINT_JOB).await {
            Ok(Some(claim)) => claim,
            Ok(None) => {
                tracing::debug!("another server is signing an audit checkpoint; will retry");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot claim the audit checkpoint job; will retry");
                return;
            }
        };
        let head = match self.store.audit_head().await {
            Ok(stored) => match self.head {
                Some(own) if own.seq > stored.seq => own,
                _ => stored,
            },
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot read the audit chain head; will retry");
                return;
            }
        };
        if head.seq == 0 {
            return; // nothing to attest
        }
        let stored = match self.key.sign(head.seq, head.hash, self.clock.now()) {
            Ok(cp) => self
                .store
                .put_audit_checkpoint(&cp)
                .await
                .map_err(crate::CoreError::from),
            Err(e) => Err(e),
        };
        match stored {
            Ok(()) => self.since_checkpoint = 0,
            Err(e) => tracing::warn!(
                error = %error_chain(&e),
                seq = head.seq,
                "cannot store an audit checkpoint; will retry"
            ),
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
