//! The SQLite adapter: the embedded default store, one database file.
//!
//! Concurrency: SQLite admits one writer at a time, and a deferred transaction that upgrades
//! from reading to writing can fail with `SQLITE_BUSY` at once, whatever the busy timeout. So
//! every write goes through a pool of exactly one connection (writers in this process queue
//! for it, bounded by the acquire timeout) and starts with `BEGIN IMMEDIATE`, which takes the
//! write lock up front and waits the busy timeout for another process's writer. Reads go
//! through a separate pool of query-only connections; in WAL mode they never block the writer
//! nor wait for it, and each read sees the last committed state.
//!
//! The audit chain (ADR 0006) is appended in one `INSERT` of the whole batch, numbered and linked
//! after the head (the last record) this store last wrote. If another process appended
//! meanwhile, the first number is taken and the statement fails whole; the append is then redone
//! in a `BEGIN IMMEDIATE` transaction that reads the head under the write lock, which is the
//! chain's lock across processes sharing the file.

use crate::codec::{Columns, encode_labels, encode_result, sql_limit};
use crate::error::{DbClass, map_migrate, map_sqlx};
use crate::migrations;
use async_trait::async_trait;
use signet_core::audit::{AuditCheckpoint, AuditEvent, AuditHead, AuditRecord, RECORD_VERSION};
use signet_core::domain::{
    AccessBinding, AuthorizedKey, AuthorizedKeyId, FolderId, KeyId, KeyRecord, OperationId,
    OperationRecord, ServiceAccount, ServiceAccountId, Timestamp, TokenRecord,
};
use signet_core::store::{
    Change, Claim, KeyWrite, OperationCursor, RowKey, Rows, Store, StoreError, Table, Write,
};
use signet_crypto::SealedKey;
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteConnection};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

macro_rules! key_columns {
    () => {
        "id, folder_id, created_at, name, description, labels, status, algorithm, \
         deletion_protection, public_key_pem, sealed, deleted_at, destroyed_at, version"
    };
}

macro_rules! operation_columns {
    () => {
        "id, kind, resource_id, description, created_at, created_by, modified_at, done, result"
    };
}

macro_rules! audit_record_columns {
    () => {
        "seq, version, time, request_id, subject, rpc, resource_id, algorithm, outcome, \
         client_addr, message_sha256, prev_hash, hash"
    };
}

macro_rules! service_account_columns {
    () => {
        "id, folder_id, created_at, name, description, labels"
    };
}

macro_rules! authorized_key_columns {
    () => {
        "id, service_account_id, created_at, description, algorithm, public_key_pem"
    };
}

macro_rules! token_columns {
    () => {
        "sha256, service_account_id, created_at, expires_at, revoked_at"
    };
}

/// Tuning for [`SqliteStore::open_with`]. The defaults suit one server process.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How long a statement waits for a lock held by another connection (another process, in
    /// practice) before the call fails with [`StoreError::Unavailable`].
    pub busy_timeout: Duration,
    /// How long a call waits for a free connection, e.g. for its turn at the single writer
    /// connection, before it fails with [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// The number of read connections.
    pub max_readers: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(10),
            acquire_timeout: Duration::from_secs(30),
            max_readers: 4,
        }
    }
}

/// A [`Store`] in one SQLite database file (WAL mode, `synchronous=FULL`: a write is durable
/// when [`Store::write`] returns).
pub struct SqliteStore {
    path: PathBuf,
    /// Exactly one connection: see the module docs.
    writer: SqlitePool,
    readers: SqlitePool,
    /// The audit chain's head as this store last appended or read it (see `append_audit`).
    audit_head: std::sync::Mutex<Option<AuditHead>>,
    /// Serializes this store's own audit appends, so that only another process can race one.
    audit_lock: tokio::sync::Mutex<()>,
    /// The names claimed through this store (see `try_claim`).
    claims: Arc<std::sync::Mutex<HashSet<String>>>,
}

impl fmt::Debug for SqliteStore {
    // Only the location: pools and rows are nobody's business in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens the database at `path` with default options, creating the file if it is missing,
    /// and applies any pending migration.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, &SqliteOptions::default()).await
    }

    /// Like [`SqliteStore::open`], with explicit options.
    pub async fn open_with(
        path: &Path,
        options: &SqliteOptions,
    ) -> Result<SqliteStore, StoreError> {
        let common = SqliteConnectOptions::new()
            .filename(path)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout);

        // One bootstrap connection creates the file, switches it to WAL (a property of the file,
        // and a switch needs an exclusive lock that the busy timeout does not cover, so pooled
        // connections never try) and migrates it. Pooled connections do not create the file:
        // one reconnecting after the file vanished must fail, not start an empty database.
        // (A pool of one rather than a bare connection: sqlx's migrator runs on a pool.)
        let boot = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(
                common
                    .clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await
            .map_err(map_error)?;
        let prepared = prepare(&boot).await;
        boot.close().await;
        prepared?;

        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            // A local file's connection does not go stale; the pool's ping before every use
            // would cost every write (every audit batch) a round trip to the connection's
            // thread.
            .test_before_acquire(false)
            .connect_with(common.clone())
            .await
            .map_err(map_error)?;
        let readers = SqlitePoolOptions::new()
            .max_connections(options.max_readers.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(common.pragma("query_only", "ON"))
            .await
            .map_err(map_error)?;

        tracing::debug!(path = %path.display(), "opened the SQLite store");
        Ok(SqliteStore {
            path: path.to_owned(),
            writer,
            readers,
            audit_head: std::sync::Mutex::new(None),
            audit_lock: tokio::sync::Mutex::new(()),
            claims: Arc::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, waiting for calls in progress. Later calls fail with
    /// [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}

/// Checks that the database is in WAL mode and applies pending migrations.
async fn prepare(pool: &SqlitePool) -> Result<(), StoreError> {
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .map_err(map_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Other(
            format!("the database could not be switched to WAL mode (it is in {mode} mode)").into(),
        ));
    }
    let migrator = migrations::migrator(migrations::SQLITE)
        .await
        .map_err(|e| map_migrate(e, classify))?;
    migrator
        .run(pool)
        .await
        .map_err(|e| map_migrate(e, classify))
}

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        SqliteStore::close(self).await;
    }

    /// The reader pool (the writer is always exactly one connection).
    fn pool_stats(&self) -> Option<signet_core::store::PoolStats> {
        Some(signet_core::store::PoolStats {
            size: self.readers.size(),
            idle: u32::try_from(self.readers.num_idle()).unwrap_or(u32::MAX),
        })
    }

    async fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM meta WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.readers)
            .await
            .map_err(map_error)?;
        row.map(|row| Columns::new(&row, "meta", name.to_owned(), classify).get("value"))
            .transpose()
    }

    async fn put_meta_if_absent(&self, name: &str, value: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.writer)
        .await
        .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM keys WHERE id = ?1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.readers)
        .await
        .map_err(map_error)?
        .map(|row| decode_key(&row))
        .transpose()
    }

    async fn list_keys(
        &self,
        folder: &FolderId,
        after: Option<&KeyId>,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        // `deleted_at IS NULL` is spelled out so that the partial index `keys_by_folder` applies.
        let query = match after {
            None => sqlx::query(concat!(
                "SELECT ",
                key_columns!(),
                " FROM keys WHERE folder_id = ?1 AND deleted_at IS NULL",
                " ORDER BY id LIMIT ?2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit)),
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                key_columns!(),
                " FROM keys WHERE folder_id = ?1 AND deleted_at IS NULL AND id > ?3",
                " ORDER BY id LIMIT ?2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit))
            .bind(after.as_str()),
        };
        let rows = query.fetch_all(&self.readers).await.map_err(map_error)?;
        rows.iter().map(decode_key).collect()
    }

    async fn write(&self, write: Write<'_>) -> Result<(), StoreError> {
        if write.is_empty() {
            return Ok(());
        }
        // Encode before taking the write lock.
        let key = write
            .key
            .map(|key| {
                let (KeyWrite::Insert(record)
                | KeyWrite::InsertWithinQuota { record, .. }
                | KeyWrite::Update { record, .. }) = key;
                encode_labels(&record.labels).map(|labels| (key, labels))
            })
            .transpose()?;
        let operation = write
            .operation
            .map(|op| encode_result(&op.result).map(|result| (op, result)))
            .transpose()?;

        let _appending = self.lock_for_record(write.audit).await;

        // Dropping `tx` on any early return rolls the whole write back.
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_error)?;

        match &key {
            None => {}
            Some((
                write @ (KeyWrite::Insert(record) | KeyWrite::InsertWithinQuota { record, .. }),
                labels,
            )) => {
                if let KeyWrite::InsertWithinQuota { limit, .. } = write {
                    check_key_quota(&mut tx, record, *limit).await?;
                }
                bind_key(sqlx::query(INSERT_KEY), record, labels)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        map_sqlx(e, classify, || format!("key {} already exists", record.id))
                    })?;
            }
            Some((
                KeyWrite::Update {
                    record,
                    expected_version,
                },
                labels,
            )) => {
                let done = bind_key(sqlx::query(UPDATE_KEY), record, labels)
                    .bind(*expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_error)?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict(format!(
                        "key {} is missing or no longer at version {expected_version}",
                        record.id
                    )));
                }
            }
        }

        if let Some(bindings) = write.bindings {
            replace_bindings(&mut tx, bindings.target, bindings.bindings).await?;
        }

        if let Some((op, result)) = &operation {
            upsert_operation(&mut tx, op, result).await?;
        }

        self.commit_with_record(tx, write.audit).await
    }

    async fn get_operation(&self, id: &OperationId) -> Result<Option<OperationRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            operation_columns!(),
            " FROM operations WHERE id = ?1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.readers)
        .await
        .map_err(map_error)?
        .map(|row| decode_operation(&row))
        .transpose()
    }

    async fn list_operations(
        &self,
        resource_id: &str,
        after: Option<&OperationCursor>,
        limit: usize,
    ) -> Result<Vec<OperationRecord>, StoreError> {
        let query = match after {
            None => sqlx::query(concat!(
                "SELECT ",
                operation_columns!(),
                " FROM operations WHERE resource_id = ?1",
                " ORDER BY created_at, id LIMIT ?2"
            ))
            .bind(resource_id)
            .bind(sql_limit(limit)),
            // A row-value comparison, so that the (resource_id, created_at, id) index is used.
            Some(cursor) => sqlx::query(concat!(
                "SELECT ",
                operation_columns!(),
                " FROM operations WHERE resource_id = ?1 AND (created_at, id) > (?3, ?4)",
                " ORDER BY created_at, id LIMIT ?2"
            ))
            .bind(resource_id)
            .bind(sql_limit(limit))
            .bind(cursor.created_at.as_micros())
            .bind(cursor.id.as_str()),
        };
        let rows = query.fetch_all(&self.readers).await.map_err(map_error)?;
        rows.iter().map(decode_operation).collect()
    }

    async fn pending_operations(&self) -> Result<Vec<OperationRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            operation_columns!(),
            " FROM operations WHERE done = 0 ORDER BY created_at, id"
        ))
        .fetch_all(&self.readers)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_operation).collect()
    }

    async fn keys_due_for_destruction(
        &self,
        deleted_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        // The first two conditions are the partial index `keys_by_deletion`'s.
        let rows = sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM keys WHERE deleted_at IS NOT NULL AND sealed IS NOT NULL",
            " AND deleted_at <= ?1 ORDER BY deleted_at, id LIMIT ?2"
        ))
        .bind(deleted_before.as_micros())
        .bind(sql_limit(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_key).collect()
    }

    async fn get_access_bindings(&self, target: &str) -> Result<Vec<AccessBinding>, StoreError> {
        let rows = sqlx::query(
            "SELECT target, role, subject_type, subject_id FROM access_bindings WHERE target = ?1",
        )
        .bind(target)
        .fetch_all(&self.readers)
        .await
        .map_err(map_error)?;
        Columns::access_bindings(&rows, classify)
    }

    async fn insert_service_account(
        &self,
        account: &ServiceAccount,
        operation: &OperationRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        let labels = encode_labels(&account.labels)?;
        let result = encode_result(&operation.result)?;
        let _appending = self.lock_for_record(audit).await;
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_error)?;
        sqlx::query(concat!(
            "INSERT INTO service_accounts (",
            service_account_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))
        .bind(account.id.as_str())
        .bind(account.folder_id.as_str())
        .bind(account.created_at.as_micros())
        .bind(account.name.as_str())
        .bind(account.description.as_str())
        .bind(labels)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            // The name is the caller's text: say which constraint, not what it held.
            map_sqlx(e, classify, || {
                format!(
                    "service account {}: the id, or the name within folder {}, is taken",
                    account.id, account.folder_id
                )
            })
        })?;
        upsert_operation(&mut tx, operation, &result).await?;
        self.commit_with_record(tx, audit).await
    }

    async fn get_service_account(
        &self,
        id: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            service_account_columns!(),
            " FROM service_accounts WHERE id = ?1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.readers)
        .await
        .map_err(map_error)?
        .map(|row| Columns::service_account(&row, classify))
        .transpose()
    }

    async fn list_service_accounts(
        &self,
        folder: &FolderId,
        after: Option<&ServiceAccountId>,
        limit: usize,
    ) -> Result<Vec<ServiceAccount>, StoreError> {
        let query = match after {
            None => sqlx::query(concat!(
                "SELECT ",
                service_account_columns!(),
                " FROM service_accounts WHERE folder_id = ?1 ORDER BY id LIMIT ?2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit)),
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                service_account_columns!(),
                " FROM service_accounts WHERE folder_id = ?1 AND id > ?3 ORDER BY id LIMIT ?2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit))
            .bind(after.as_str()),
        };
        let rows = query.fetch_all(&self.readers).await.map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::service_account(row, classify))
            .collect()
    }

    async fn delete_service_account(
        &self,
        id: &ServiceAccountId,
        at: Timestamp,
        operation: &OperationRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError> {
        let result = encode_result(&operation.result)?;
        let _appending = self.lock_for_record(audit).await;
        // Dropping `tx` on any early return (including "no such account") rolls it all back.
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(map_error)?;
        // Keys first: the foreign key refuses to orphan them.
        sqlx::query("DELETE FROM authorized_keys WHERE service_account_id = ?1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        sqlx::query(
            "UPDATE iam_tokens SET revoked_at = ?2 \
             WHERE service_account_id = ?1 AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(at.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        let deleted = sqlx::query("DELETE FROM service_accounts WHERE id = ?1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        if deleted.rows_affected() != 1 {
            return Ok(false);
        }
        upsert_operation(&mut tx, operation, &result).await?;
        self.commit_with_record(tx, audit).await?;
        Ok(true)
    }

    async fn insert_authorized_key(&self, key: &AuthorizedKey) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO authorized_keys (",
            authorized_key_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
        ))
        .bind(key.id.as_str())
        .bind(key.service_account_id.as_str())
        .bind(key.created_at.as_micros())
        .bind(key.description.as_str())
        .bind(key.algorithm.wire_number())
        .bind(key.public_key_pem.as_str())
        .execute(&self.writer)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::Conflict(format!(
                "service account {} does not exist",
                key.service_account_id
            ))),
            Err(e) => Err(map_sqlx(e, classify, || {
                format!("authorized key {} already exists", key.id)
            })),
        }
    }

    async fn get_authorized_key(
        &self,
        id: &AuthorizedKeyId,
    ) -> Result<Option<AuthorizedKey>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            authorized_key_columns!(),
            " FROM authorized_keys WHERE id = ?1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.readers)
        .await
        .map_err(map_error)?
        .map(|row| Columns::authorized_key(&row, classify))
        .transpose()
    }

    async fn list_authorized_keys(
        &self,
        account: &ServiceAccountId,
        after: Option<&AuthorizedKeyId>,
        limit: usize,
    ) -> Result<Vec<AuthorizedKey>, StoreError> {
        let query = match after {
            None => sqlx::query(concat!(
                "SELECT ",
                authorized_key_columns!(),
                " FROM authorized_keys WHERE service_account_id = ?1 ORDER BY id LIMIT ?2"
            ))
            .bind(account.as_str())
            .bind(sql_limit(limit)),
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                authorized_key_columns!(),
                " FROM authorized_keys WHERE service_account_id = ?1 AND id > ?3",
                " ORDER BY id LIMIT ?2"
            ))
            .bind(account.as_str())
            .bind(sql_limit(limit))
            .bind(after.as_str()),
        };
        let rows = query.fetch_all(&self.readers).await.map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::authorized_key(row, classify))
            .collect()
    }

    async fn delete_authorized_key(&self, id: &AuthorizedKeyId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM authorized_keys WHERE id = ?1")
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO iam_tokens (",
            token_columns!(),
            ") VALUES (?1, ?2, ?3, ?4, ?5)"
        ))
        .bind(token.sha256_hex.as_str())
        .bind(token.service_account_id.as_str())
        .bind(token.created_at.as_micros())
        .bind(token.expires_at.as_micros())
        .bind(token.revoked_at.map(Timestamp::as_micros))
        .execute(&self.writer)
        .await
        // Not even the hash goes into the message: it is the token's lookup key.
        .map_err(|e| map_sqlx(e, classify, || "a token with this hash exists".into()))?;
        Ok(())
    }

    async fn get_token(&self, sha256_hex: &str) -> Result<Option<TokenRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM iam_tokens WHERE sha256 = ?1"
        ))
        .bind(sha256_hex)
        .fetch_optional(&self.readers)
        .await
        .map_err(map_error)?
        .map(|row| Columns::token(&row, classify))
        .transpose()
    }

    async fn revoke_token(&self, sha256_hex: &str, at: Timestamp) -> Result<bool, StoreError> {
        // SQLite counts a matched row as changed even when COALESCE keeps the old value, so an
        // already revoked token still reports true.
        let done = sqlx::query(
            "UPDATE iam_tokens SET revoked_at = COALESCE(revoked_at, ?2) WHERE sha256 = ?1",
        )
        .bind(sha256_hex)
        .bind(at.as_micros())
        .execute(&self.writer)
        .await
        .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<AuditHead, StoreError> {
        let _appending = self.audit_lock.lock().await;
        // Fast path: one statement, one implicit transaction, one round trip to the database,
        // after the head this store left. If another process appended since, the first record
        // number is taken: the statement fails as a whole and the slow path below, which locks
        // before it reads, takes over.
        let cached = *self
            .audit_head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(start) = cached
            && !events.is_empty()
            && events.len() <= AUDIT_ROWS_PER_INSERT
        {
            let links = link_all(start, events);
            match bind_audit_rows(sqlx::query(audit_insert_sql(events.len())), events, &links)
                .execute(&self.writer)
                .await
                .map_err(|e| map_sqlx(e, classify, || "an audit record number is taken".into()))
            {
                Ok(_) => return Ok(self.remember_audit_head(end_of(start, &links))),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => {
                    self.forget_audit_head();
                    return Err(e);
                }
            }
        }
        // Slow path: BEGIN IMMEDIATE takes the database's write lock before the head is read:
        // it is the chain head's lock, across processes.
        let appended = async {
            let mut tx = self
                .writer
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(map_error)?;
            let start = last_audit_record(&mut tx).await?;
            let links = link_all(start, events);
            for (chunk_events, chunk_links) in events
                .chunks(AUDIT_ROWS_PER_INSERT)
                .zip(links.chunks(AUDIT_ROWS_PER_INSERT))
            {
                bind_audit_rows(
                    sqlx::query(audit_insert_sql(chunk_events.len())),
                    chunk_events,
                    chunk_links,
                )
                .execute(&mut *tx)
                .await
                .map_err(|e| map_sqlx(e, classify, || "an audit record number is taken".into()))?;
            }
            tx.commit().await.map_err(map_error)?;
            Ok(end_of(start, &links))
        }
        .await;
        match appended {
            Ok(head) => Ok(self.remember_audit_head(head)),
            Err(e) => {
                self.forget_audit_head();
                Err(e)
            }
        }
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let mut conn = self.readers.acquire().await.map_err(map_error)?;
        last_audit_record(&mut conn).await
    }

    async fn audit_records(&self, from: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_record_columns!(),
            " FROM audit_records WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
        ))
        .bind(from)
        .bind(sql_limit(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::audit_record(row, classify))
            .collect()
    }

    async fn audit_records_since(
        &self,
        since: Timestamp,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_record_columns!(),
            " FROM audit_records WHERE time >= ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))
        .bind(since.as_micros())
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::audit_record(row, classify))
            .collect()
    }

    async fn put_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(checkpoint.seq)
        .bind(checkpoint.hash.as_slice())
        .bind(checkpoint.time.as_micros())
        .bind(checkpoint.signature.as_slice())
        .execute(&self.writer)
        .await
        .map_err(map_error)?;
        Ok(())
    }

    async fn audit_checkpoints(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditCheckpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, hash, time, signature FROM audit_checkpoints WHERE seq > ?1 \
             ORDER BY seq LIMIT ?2",
        )
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&self.readers)
        .await
        .map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::audit_checkpoint(row, classify))
            .collect()
    }
    /// Claims are kept in this store's memory: the embedded store serves one process. (Several
    /// processes on one file do not see each other's claims; their jobs stay correct, and may
    /// run twice.)
    async fn try_claim(&self, name: &str) -> Result<Option<Claim>, StoreError> {
        let mut claims = self
            .claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !claims.insert(name.to_owned()) {
            return Ok(None);
        }
        Ok(Some(Claim::new(Claimed {
            name: name.to_owned(),
            claims: Arc::clone(&self.claims),
        })))
    }

    /// None: the embedded store has no other server to hear from.
    async fn watch_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<Change>>, StoreError> {
        Ok(None)
    }

    async fn count_rows(&self, table: Table) -> Result<u64, StoreError> {
        crate::copy::count_rows(&self.readers, classify, table).await
    }

    async fn export_rows(
        &self,
        table: Table,
        after: Option<&RowKey>,
        limit: usize,
    ) -> Result<Rows, StoreError> {
        crate::copy::export_rows(&self.readers, classify, table, after, limit).await
    }

    async fn import_rows(&self, rows: &Rows) -> Result<(), StoreError> {
        // Imported audit records move the head under the cache of `append_audit`: forget it,
        // holding its lock so that no append uses it meanwhile.
        let _appending = self.audit_lock.lock().await;
        let imported = async {
            let mut tx = self
                .writer
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(map_error)?;
            crate::copy::import_rows::<Sqlite>(&mut tx, classify, &IMPORT_SQL, rows).await?;
            tx.commit().await.map_err(map_error)
        }
        .await;
        self.forget_audit_head();
        imported
    }
}

/// A claim of this store's; dropping it releases the name.
struct Claimed {
    name: String,
    claims: Arc<std::sync::Mutex<HashSet<String>>>,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.name);
    }
}

/// The statements of [`Store::import_rows`] that differ from PostgreSQL's.
const IMPORT_SQL: crate::copy::ImportSql = crate::copy::ImportSql {
    keys: concat!(
        "INSERT INTO keys (",
        key_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ),
    service_accounts: concat!(
        "INSERT INTO service_accounts (",
        service_account_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6)"
    ),
    audit_head: None,
};

/// The row slots of the audit `INSERT` statements: a batch of `n` records uses the smallest
/// that holds it, its unused slots bound to NULL and filtered out. A few fixed statements stay
/// prepared in the connection's cache, where one statement per batch size would be parsed and
/// planned again and again. The largest holds a whole batch of the trail's writer (1024 rows of
/// 13 parameters: 13312, below SQLite's limit of 32766).
const AUDIT_INSERT_SLOTS: [usize; 6] = [1, 4, 16, 64, 256, 1024];

/// The most rows one audit `INSERT` takes.
const AUDIT_ROWS_PER_INSERT: usize = AUDIT_INSERT_SLOTS[AUDIT_INSERT_SLOTS.len() - 1];

/// Parameters per audit row, in [`audit_record_columns!`] order.
const AUDIT_COLUMNS: usize = 13;

/// The chain head: the last record's number and hash (SQLite keeps no separate head row: every
/// append would have to move it, row by row, and the head is the last record anyway).
async fn last_audit_record(conn: &mut SqliteConnection) -> Result<AuditHead, StoreError> {
    let row = sqlx::query("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")
        .fetch_optional(conn)
        .await
        .map_err(map_error)?;
    match row {
        Some(row) => Columns::audit_head(&row, classify),
        None => Ok(AuditHead::GENESIS),
    }
}

impl SqliteStore {
    /// Takes this process's append lock if `record` is to be appended: a write that appends a
    /// record takes it first, as `append_audit` does (same order: the lock, then the writer
    /// connection), so that the head it leaves is the one the next append starts from.
    async fn lock_for_record(
        &self,
        record: Option<&AuditEvent>,
    ) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match record {
            Some(_) => Some(self.audit_lock.lock().await),
            None => None,
        }
    }

    /// Appends `record` (the audit record of the call that made the change) in `tx`, and
    /// commits. `tx` began with BEGIN IMMEDIATE, so it holds the database's write lock, the
    /// chain head's lock across processes: the head read here is the last record. The caller
    /// holds [`SqliteStore::lock_for_record`]'s guard.
    async fn commit_with_record(
        &self,
        mut tx: sqlx::Transaction<'_, Sqlite>,
        record: Option<&AuditEvent>,
    ) -> Result<(), StoreError> {
        let Some(event) = record else {
            return tx.commit().await.map_err(map_error);
        };
        let events = std::slice::from_ref(event);
        let start = last_audit_record(&mut tx).await?;
        let links = link_all(start, events);
        bind_audit_rows(sqlx::query(audit_insert_sql(1)), events, &links)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_sqlx(e, classify, || "an audit record number is taken".into()))?;
        match tx.commit().await.map_err(map_error) {
            Ok(()) => {
                self.remember_audit_head(end_of(start, &links));
                Ok(())
            }
            Err(e) => {
                // Whether the commit happened is unknown: read the head afresh next time.
                self.forget_audit_head();
                Err(e)
            }
        }
    }

    fn remember_audit_head(&self, head: AuditHead) -> AuditHead {
        *self
            .audit_head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(head);
        head
    }

    fn forget_audit_head(&self) {
        *self
            .audit_head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// Each event's `(prev_hash, link)` after `start`, in order.
fn link_all(start: AuditHead, events: &[AuditEvent]) -> Vec<([u8; 32], AuditHead)> {
    let mut head = start;
    events
        .iter()
        .map(|event| {
            let next = head.link(event);
            let prev = std::mem::replace(&mut head, next);
            (prev.hash, next)
        })
        .collect()
}

/// The head after `links` (`start` if there are none).
fn end_of(start: AuditHead, links: &[([u8; 32], AuditHead)]) -> AuditHead {
    links.last().map_or(start, |(_, head)| *head)
}

/// Binds the rows of [`audit_insert_sql`] for `events` and their links.
fn bind_audit_rows<'q>(
    mut query: Query<'q>,
    events: &'q [AuditEvent],
    links: &'q [([u8; 32], AuditHead)],
) -> Query<'q> {
    for (event, (prev_hash, link)) in events.iter().zip(links) {
        query = query
            .bind(link.seq)
            .bind(i64::from(RECORD_VERSION))
            .bind(event.time.as_micros())
            .bind(event.request_id.as_str())
            .bind(event.subject.as_str())
            .bind(event.rpc.as_str())
            .bind(event.resource_id.as_deref())
            .bind(event.algorithm.as_deref())
            .bind(event.outcome.as_str())
            .bind(event.client_addr.as_str())
            .bind(event.message_sha256.as_ref().map(|h| h.as_slice()))
            .bind(prev_hash.as_slice())
            .bind(link.hash.as_slice());
    }
    for _ in 0..(audit_slots(events.len()) - events.len()) * AUDIT_COLUMNS {
        query = query.bind(None::<i64>);
    }
    query
}

/// The slots of the statement for `rows` rows (at most [`AUDIT_ROWS_PER_INSERT`]).
fn audit_slots(rows: usize) -> usize {
    AUDIT_INSERT_SLOTS
        .into_iter()
        .find(|&slots| slots >= rows)
        .unwrap_or(AUDIT_ROWS_PER_INSERT)
}

/// The `INSERT` for `rows` rows (at most [`AUDIT_ROWS_PER_INSERT`]): `INSERT INTO audit_records
/// (…) SELECT * FROM (VALUES (?, …), …) WHERE column1 IS NOT NULL`, with [`audit_slots`] rows
/// of parameters.
fn audit_insert_sql(rows: usize) -> &'static str {
    static STATEMENTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let statements = STATEMENTS.get_or_init(|| {
        AUDIT_INSERT_SLOTS
            .iter()
            .map(|&slots| {
                let mut sql = String::from(concat!(
                    "INSERT INTO audit_records (",
                    audit_record_columns!(),
                    ") SELECT * FROM (VALUES "
                ));
                for i in 0..slots {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
                }
                sql.push_str(") WHERE column1 IS NOT NULL");
                sql
            })
            .collect()
    });
    let slots = audit_slots(rows);
    let index = AUDIT_INSERT_SLOTS
        .iter()
        .position(|&s| s == slots)
        .unwrap_or(AUDIT_INSERT_SLOTS.len() - 1);
    statements.get(index).map_or("", String::as_str)
}

/// Fails with `QuotaExceeded` if `record`'s folder already holds `limit` keys that are not
/// deleted. Called inside the write's transaction: BEGIN IMMEDIATE holds the database's write
/// lock from the start, so no other writer (in this process or another) can insert between the
/// count and the insert.
async fn check_key_quota(
    conn: &mut SqliteConnection,
    record: &KeyRecord,
    limit: u32,
) -> Result<(), StoreError> {
    let held: i64 = sqlx::query_scalar(COUNT_LIVE_KEYS_IN_FOLDER)
        .bind(record.folder_id.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(map_error)?;
    if held >= i64::from(limit) {
        return Err(StoreError::QuotaExceeded {
            folder: record.folder_id.to_string(),
            limit,
        });
    }
    Ok(())
}

/// Replaces every binding of `target` with `bindings` (duplicates collapse: a target's bindings
/// are a set).
async fn replace_bindings(
    conn: &mut SqliteConnection,
    target: &str,
    bindings: &[AccessBinding],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM access_bindings WHERE target = ?1")
        .bind(target)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    for binding in bindings {
        sqlx::query(
            "INSERT INTO access_bindings (target, role, subject_type, subject_id) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        )
        .bind(target)
        .bind(binding.role.id())
        .bind(binding.subject.kind.wire_name())
        .bind(binding.subject.id.as_str())
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    }
    Ok(())
}

/// Inserts `op`, or replaces the operation with its id. `result` is its encoded result.
async fn upsert_operation(
    conn: &mut SqliteConnection,
    op: &OperationRecord,
    result: &str,
) -> Result<(), StoreError> {
    sqlx::query(UPSERT_OPERATION)
        .bind(op.id.as_str())
        .bind(op.kind.as_str())
        .bind(op.resource_id.as_str())
        .bind(op.description.as_str())
        .bind(op.created_at.as_micros())
        .bind(op.created_by.as_str())
        .bind(op.modified_at.as_micros())
        .bind(op.done())
        .bind(result)
        .execute(conn)
        .await
        .map_err(map_error)?;
    Ok(())
}

/// Keys of a folder that are not deleted (served by the `keys_by_folder` partial index).
const COUNT_LIVE_KEYS_IN_FOLDER: &str =
    "SELECT COUNT(*) FROM keys WHERE folder_id = ?1 AND deleted_at IS NULL";

const INSERT_KEY: &str = concat!(
    "INSERT INTO keys (",
    key_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
);

const UPDATE_KEY: &str = "UPDATE keys SET folder_id = ?2, created_at = ?3, name = ?4, \
    description = ?5, labels = ?6, status = ?7, algorithm = ?8, deletion_protection = ?9, \
    public_key_pem = ?10, sealed = ?11, deleted_at = ?12, destroyed_at = ?13, version = ?14 \
    WHERE id = ?1 AND version = ?15";

const UPSERT_OPERATION: &str = concat!(
    "INSERT INTO operations (",
    operation_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO UPDATE SET ",
    "kind = excluded.kind, resource_id = excluded.resource_id, ",
    "description = excluded.description, created_at = excluded.created_at, ",
    "created_by = excluded.created_by, modified_at = excluded.modified_at, ",
    "done = excluded.done, result = excluded.result"
);

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// Binds `?1`..`?14` in [`key_columns!`] order.
fn bind_key<'q>(query: Query<'q>, record: &'q KeyRecord, labels: &'q str) -> Query<'q> {
    query
        .bind(record.id.as_str())
        .bind(record.folder_id.as_str())
        .bind(record.created_at.as_micros())
        .bind(record.name.as_str())
        .bind(record.description.as_str())
        .bind(labels)
        .bind(record.status.wire_number())
        .bind(record.algorithm.wire_number())
        .bind(record.deletion_protection)
        .bind(record.public_key_pem.as_deref())
        .bind(record.sealed.as_ref().map(SealedKey::as_bytes))
        .bind(record.deleted_at.map(Timestamp::as_micros))
        .bind(record.destroyed_at.map(Timestamp::as_micros))
        .bind(record.version)
}

fn decode_key(row: &SqliteRow) -> Result<KeyRecord, StoreError> {
    Columns::key(row, classify)
}

fn decode_operation(row: &SqliteRow) -> Result<OperationRecord, StoreError> {
    Columns::operation(row, classify)
}

fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.kind() == ErrorKind::ForeignKeyViolation)
}

fn map_error(e: sqlx::Error) -> StoreError {
    map_sqlx(e, classify, || "a unique constraint was violated".into())
}

// SQLite primary result codes (https://sqlite.org/rescode.html); extended codes carry the
// primary one in their low byte.
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CORRUPT: i64 = 11;
const SQLITE_FULL: i64 = 13;
const SQLITE_CANTOPEN: i64 = 14;
const SQLITE_PROTOCOL: i64 = 15;
const SQLITE_NOTADB: i64 = 26;

fn classify(e: &dyn DatabaseError) -> DbClass {
    let primary = e
        .code()
        .and_then(|code| code.parse::<i64>().ok())
        .map(|code| code & 0xff);
    match primary {
        Some(
            SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN
            | SQLITE_PROTOCOL,
        ) => DbClass::Transient,
        Some(SQLITE_CORRUPT | SQLITE_NOTADB) => DbClass::Corrupt,
        _ => DbClass::Other,
    }
}
