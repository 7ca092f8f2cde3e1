//! Claims ([`Store::try_claim`]) on PostgreSQL: session-level advisory locks, all held on one
//! connection of the store's own, outside the pool, by a task that owns it.
//!
//! A claim is `pg_try_advisory_lock` on a 64-bit hash of the store's schema and the claimed
//! name (advisory locks are per database, and several deployments, or test runs, may share one
//! in different schemas). Releasing it is `pg_advisory_unlock` on the same connection. When the
//! process dies its connection closes and PostgreSQL releases every lock it held, which is what
//! makes a job or an operation whose process died claimable again at once. When the connection
//! breaks while the process lives, its claims are lost too: the task reconnects on the next
//! claim, starts a new epoch, and ignores the releases of the old one (their locks are gone,
//! and an unlock could release a lock taken again since). Until then two processes may do the
//! same work, which the port allows (claims are not locks that correctness rests on).
//!
//! The task also keeps the names it holds, so that a second claim of a name from this process
//! is refused: PostgreSQL's advisory locks are reentrant within a session.
//!
//! [`Store::try_claim`]: signet_core::store::Store::try_claim

use super::{Session, map_error};
use signet_core::store::{Claim, StoreError};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Seeds the hash of a claimed name into an advisory lock key, apart from the bindings locks
/// (`BINDINGS_LOCK_SEED`) and anyone else's.
const CLAIM_LOCK_SEED: i64 = 0x5349_474e_4554_434c; // "SIGNETCL"

const TRY_LOCK: &str =
    "SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '/' || $1, $2))";
const UNLOCK: &str =
    "SELECT pg_advisory_unlock(hashtextextended(current_schema() || '/' || $1, $2))";

enum Request {
    Claim {
        name: String,
        reply: oneshot::Sender<Result<Option<u64>, StoreError>>,
    },
    Release {
        name: String,
        epoch: u64,
    },
}

/// The handle on the task that holds the claims.
#[derive(Debug)]
pub(super) struct Claims {
    tx: mpsc::UnboundedSender<Request>,
}

#[derive(Debug, thiserror::Error)]
#[error("the claims task of the PostgreSQL store has stopped")]
struct Stopped;

/// Releases its claim when dropped.
struct Held {
    name: String,
    epoch: u64,
    tx: mpsc::UnboundedSender<Request>,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Fails only if the task has stopped, and its connection with it: nothing is held then.
        let _ = self.tx.send(Request::Release {
            name: std::mem::take(&mut self.name),
            epoch: self.epoch,
        });
    }
}

impl Claims {
    /// Starts the task (on the current Tokio runtime). It connects on the first claim.
    pub(super) fn start(
        connect: PgConnectOptions,
        session: Arc<Session>,
        connect_timeout: Duration,
    ) -> Claims {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = Task {
            connect,
            session,
            connect_timeout,
            conn: None,
            epoch: 0,
            held: HashSet::new(),
        };
        tokio::spawn(task.run(rx));
        Claims { tx }
    }

    pub(super) async fn try_claim(&self, name: &str) -> Result<Option<Claim>, StoreError> {
        let stopped = || StoreError::Unavailable(Box::new(Stopped));
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Claim {
                name: name.to_owned(),
                reply,
            })
            .map_err(|_| stopped())?;
        let epoch = answer.await.map_err(|_| stopped())??;
        Ok(epoch.map(|epoch| {
            Claim::new(Held {
                name: name.to_owned(),
                epoch,
                tx: self.tx.clone(),
            })
        }))
    }
}

struct Task {
    connect: PgConnectOptions,
    session: Arc<Session>,
    connect_timeout: Duration,
    conn: Option<PgConnection>,
    /// Counts connections: a release names the epoch its claim was taken in.
    epoch: u64,
    /// Names held in this epoch.
    held: HashSet<String>,
}

impl Task {
    /// Runs until the store and every claim are gone (every sender dropped); the connection,
    /// and any lock left on it, closes with it.
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        while let Some(request) = rx.recv().await {
            match request {
                Request::Claim { name, reply } => {
                    let claimed = self.claim(&name).await;
                    let _ = reply.send(claimed);
                }
                Request::Release { name, epoch } => {
                    if epoch == self.epoch && self.held.remove(&name) {
                        self.release(&name).await;
                    }
                }
            }
        }
    }

    async fn claim(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        if self.held.contains(name) {
            return Ok(None);
        }
        // A connection that died since its last use fails the first statement: once, try a
        // new one (losing nothing: a dead connection's locks are gone already).
        let mut retried = false;
        loop {
            let conn = self.connection().await?;
            match sqlx::query_scalar::<_, bool>(TRY_LOCK)
                .bind(name)
                .bind(CLAIM_LOCK_SEED)
                .fetch_one(conn)
                .await
            {
                Ok(true) => {
                    self.held.insert(name.to_owned());
                    return Ok(Some(self.epoch));
                }
                Ok(false) => return Ok(None),
                Err(e) => {
                    self.lose_connection();
                    if retried {
                        return Err(map_error(e));
                    }
                    retried = true;
                }
            }
        }
    }

    async fn release(&mut self, name: &str) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let unlocked = sqlx::query_scalar::<_, bool>(UNLOCK)
            .bind(name)
            .bind(CLAIM_LOCK_SEED)
            .fetch_one(conn)
            .await;
        if let Err(e) = unlocked {
            // The lock may still be held: dropping the connection is the sure way to free it.
            tracing::debug!(error = %e, "releasing a claim failed; closing its connection");
            self.lose_connection();
        }
    }

    /// The open connection, or a new one (in a new epoch).
    async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        if self.conn.is_none() {
            let mut conn = tokio::time::timeout(self.connect_timeout, self.connect.connect())
                .await
                .map_err(|elapsed| StoreError::Unavailable(Box::new(elapsed)))?
                .map_err(map_error)?;
            if let Err(e) = self.session.apply(&mut conn).await {
                let _ = conn.close().await;
                return Err(map_error(e));
            }
            self.epoch += 1;
            self.conn = Some(conn);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable(Box::new(Stopped)))
    }

    fn lose_connection(&mut self) {
        self.conn = None;
        self.held.clear();
    }
}
