//! The change feed ([`Store::watch_changes`]) on PostgreSQL: `NOTIFY` in the transaction of
//! every write that caches elsewhere must hear of, `LISTEN` on a connection of the store's
//! pool.
//!
//! Notifications are delivered when (and only if) their transaction commits, in commit order,
//! to every session listening on the channel. The channel is per schema (`signet_changes_` and
//! 16 hex digits of the schema name's MD5), since notifications are per database and several
//! deployments may share one. A payload is `key:ID`, `bindings:TARGET` or `tokens:ACCOUNT`:
//! identifiers only, never a token hash.
//!
//! The listener task reports [`Change::Missed`] whenever notifications may have been lost: when
//! its connection breaks, and again once it listens anew (changes committed in between were
//! not heard). It stops when the store is dropped or nobody reads the feed any more.
//!
//! [`Store::watch_changes`]: signet_core::store::Store::watch_changes

use super::map_error;
use signet_core::domain::{KeyId, ServiceAccountId};
use signet_core::store::{Change, StoreError};
use sqlx::postgres::{PgConnection, PgListener, PgPool};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Changes buffered for a slow reader before the listener waits for it.
const FEED_CAPACITY: usize = 1024;
/// Waits between attempts to listen again after the connection broke.
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// The channel of the connection's schema, as both ends compute it.
pub(super) const CHANNEL_SQL: &str =
    "SELECT 'signet_changes_' || left(md5(coalesce(current_schema(), '')), 16)";

/// A change's notification payload.
fn payload(change: &Change) -> String {
    match change {
        Change::Key(id) => format!("key:{id}"),
        Change::Bindings(target) => format!("bindings:{target}"),
        Change::TokensOf(account) => format!("tokens:{account}"),
        Change::Missed => "missed:".to_owned(),
    }
}

/// The change a payload names; anything unknown counts as missed changes.
fn parse(payload: &str) -> Change {
    match payload.split_once(':') {
        Some(("key", id)) => Change::Key(KeyId::from_trusted(id.to_owned())),
        Some(("bindings", target)) => Change::Bindings(target.to_owned()),
        Some(("tokens", account)) => {
            Change::TokensOf(ServiceAccountId::from_trusted(account.to_owned()))
        }
        _ => Change::Missed,
    }
}

/// Queues `change`'s notification in the transaction on `conn`.
pub(super) async fn notify(
    conn: &mut PgConnection,
    channel: &str,
    change: &Change,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload(change))
        .execute(conn)
        .await
        .map(drop)
        .map_err(map_error)
}

async fn listen(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}

/// Starts listening on `channel` and returns the feed.
pub(super) async fn watch(
    pool: &PgPool,
    channel: &str,
    stop: watch::Receiver<()>,
) -> Result<mpsc::Receiver<Change>, StoreError> {
    let listener = listen(pool, channel).await.map_err(map_error)?;
    let (tx, rx) = mpsc::channel(FEED_CAPACITY);
    tokio::spawn(run(
        pool.clone(),
        channel.to_owned(),
        Some(listener),
        tx,
        stop,
    ));
    Ok(rx)
}

async fn run(
    pool: PgPool,
    channel: String,
    mut listener: Option<PgListener>,
    tx: mpsc::Sender<Change>,
    mut stop: watch::Receiver<()>,
) {
    let mut retry = RETRY_FIRST;
    loop {
        let change = match listener.as_mut() {
            Some(l) => {
                let next = tokio::select! {
                    _ = stop.changed() => return,
                    _ = tx.closed() => return,
                    next = l.try_recv() => next,
                };
                match next {
                    Ok(Some(notification)) => parse(notification.payload()),
                    // The connection broke and was replaced: what was sent meanwhile is lost.
                    Ok(None) => Change::Missed,
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        tracing::debug!(error = %e, "the change feed's connection failed");
                        listener = None;
                        Change::Missed
                    }
                }
            }
            None => {
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tx.closed() => return,
                    () = tokio::time::sleep(retry) => {}
                }
                match listen(&pool, &channel).await {
                    Ok(l) => {
                        listener = Some(l);
                        retry = RETRY_FIRST;
                        // Changes committed while nobody listened were not heard.
                        Change::Missed
                    }
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot listen for changes yet; will retry");
                        retry = (retry * 2).min(RETRY_MAX);
                        continue;
                    }
                }
            }
        };
        if tx.send(change).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        for change in [
            Change::Key(KeyId::from_trusted("abjkey".into())),
            Change::Bindings("key:abjkey".into()),
            Change::Bindings("folder:default".into()),
            Change::TokensOf(ServiceAccountId::from_trusted("ajeacc".into())),
            Change::Missed,
        ] {
            assert_eq!(parse(&payload(&change)), change);
        }
        assert_eq!(parse("something else"), Change::Missed);
    }
}
