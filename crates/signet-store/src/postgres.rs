//! The PostgreSQL adapter: a store shared by several server processes, in one schema of a
//! database.
//!
//! Concurrency: every write is one transaction at READ COMMITTED (asked for explicitly, so that a
//! server whose default is stricter does not turn version conflicts into serialization
//! failures). Its key part is an `INSERT` or an `UPDATE … WHERE id = $1 AND version = $n`; then
//! comes the operation upsert. An update that finds the row locked by a concurrent writer waits
//! for it, and after that writer commits PostgreSQL re-checks the `WHERE` against the new row
//! version: of many writers at one version exactly one matches and the others update no row,
//! which is `Conflict` — no lost update and no retry loop. Concurrent inserts of one id wait on
//! the primary key and the losers get a unique violation, also `Conflict`. SERIALIZABLE would buy
//! nothing here, since a write touches one key row by primary key and one operation row, and it
//! would add retries and serialization failures to classify. Transactions take their locks in
//! one order (a key row, then a bindings target, then an operation row; a service account before
//! its keys and tokens), so they cannot deadlock one another. An audit append locks only the
//! audit chain's head row (`SELECT … FOR UPDATE`, held to commit), which numbers and links the
//! records of every server sharing the database into one chain (docs/adr/0006-audit-chain.md).
//!
//! Session settings ([`PostgresOptions`]) are applied to every pooled connection when it is
//! opened: the `search_path` (the store's schema), a `lock_timeout` (so that a row lock held
//! elsewhere is `Unavailable` after a while, like SQLite's busy timeout), and
//! `synchronous_commit` raised from `off` to `on`, because the port promises that a write is
//! durable when it returns.

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
use sqlx::postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow, Postgres,
};
use sqlx::{ConnectOptions, Connection};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The `keys` columns as the codec reads them (labels are JSONB, read as text).
macro_rules! select_key_columns {
    () => {
        "id, folder_id, created_at, name, description, labels::text AS labels, status, \
         algorithm, deletion_protection, public_key_pem, sealed, deleted_at, destroyed_at, \
         version"
    };
}

macro_rules! operation_columns {
    () => {
        "id, kind, resource_id, description, created_at, created_by, modified_at, done, result"
    };
}

/// The `service_accounts` columns as the codec reads them.
macro_rules! select_service_account_columns {
    () => {
        "id, folder_id, created_at, name, description, labels::text AS labels"
    };
}

macro_rules! audit_record_columns {
    () => {
        "seq, version, time, request_id, subject, rpc, resource_id, algorithm, outcome, \
         client_addr, message_sha256, prev_hash, hash"
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

mod changes;
mod claims;

/// Tuning for [`PostgresStore::connect_with`]. The defaults suit one server process.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The schema that holds Signet's tables, created if missing and set as the only entry of
    /// every connection's `search_path`, so that several stores (or test runs) can share a
    /// database. `None` keeps the `search_path` of the server or of the URL (`options[search_path]=…`),
    /// normally `"$user", public`. At most 63 bytes (PostgreSQL would silently truncate a longer
    /// name), no NUL; any other character is allowed and quoted. Signet should have a schema of
    /// its own: the migrator records what it applied in the schema's `_sqlx_migrations` table,
    /// which another sqlx-migrated application in the same schema would share.
    pub schema: Option<String>,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// How long a call waits for a connection (a free one from the pool, or a new one to the
    /// server) before it fails with [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// How long a statement waits for a lock held by another transaction (another process, in
    /// practice) before the call fails with [`StoreError::Unavailable`]. Rounded down to
    /// milliseconds; zero waits forever.
    pub lock_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(10),
        }
    }
}

/// A [`Store`] in a PostgreSQL database, in one schema.
pub struct PostgresStore {
    pool: PgPool,
    /// Claims (`try_claim`), held on a connection of their own.
    claims: claims::Claims,
    /// The schema's change notification channel (see `changes`).
    channel: String,
    /// Dropped with the store, which stops its change feeds.
    stop: tokio::sync::watch::Sender<()>,
    host: String,
    port: u16,
    database: Option<String>,
    user: String,
    schema: Option<String>,
}

impl fmt::Debug for PostgresStore {
    // Where the data is, never how to log in: no password, no connect options, no rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a PostgreSQL schema name must be 1 to 63 bytes long and contain no NUL character")]
struct BadSchemaName;

/// The settings every connection gets before it is used.
#[derive(Debug)]
struct Session {
    /// The quoted schema name, if the store has one.
    search_path: Option<String>,
    /// Milliseconds, as `set_config` wants it.
    lock_timeout: String,
}

impl Session {
    async fn apply(&self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        // One round trip. `set_config` takes the values as parameters, so nothing is spliced
        // into SQL; a NULL search path leaves the server's in place.
        sqlx::query(
            "SELECT set_config('lock_timeout', $1, false), \
             set_config('search_path', coalesce($2, current_setting('search_path')), false), \
             CASE current_setting('synchronous_commit') \
                 WHEN 'off' THEN set_config('synchronous_commit', 'on', false) \
             END",
        )
        .bind(&self.lock_timeout)
        .bind(self.search_path.as_deref())
        .execute(conn)
        .await
        .map(drop)
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database?…`,
    /// libpq's `PG*` environment variables filling what it omits) with default options, and
    /// applies any pending migration.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect_with(url, &PostgresOptions::default()).await
    }

    /// Like [`PostgresStore::connect`], with explicit options. Creates the schema if it is set
    /// and missing (which needs the `CREATE` privilege on the database).
    pub async fn connect_with(
        url: &str,
        options: &PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        if let Some(schema) = &options.schema
            && (schema.is_empty() || schema.len() > 63 || schema.contains('\0'))
        {
            return Err(StoreError::Other(Box::new(BadSchemaName)));
        }
        let mut connect: PgConnectOptions = url.parse().map_err(map_error)?;
        if connect.get_application_name().is_none() {
            // So that an administrator can tell Signet's sessions apart in pg_stat_activity.
            connect = connect.application_name("signet");
        }
        let session = Arc::new(Session {
            search_path: options.schema.as_deref().map(quote_ident),
            lock_timeout: options.lock_timeout.as_millis().to_string(),
        });

        // A first connection of our own, outside the pool: the pool retries a refused
        // connection until its acquire timeout and logs and retries a failing session setup,
        // where a store that cannot start should say why, at once. It creates the schema.
        let mut first = tokio::time::timeout(options.acquire_timeout, connect.connect())
            .await
            .map_err(|elapsed| StoreError::Unavailable(Box::new(elapsed)))?
            .map_err(map_error)?;
        let created = async {
            session.apply(&mut first).await.map_err(map_error)?;
            match options.schema.as_deref() {
                Some(schema) => create_schema(&mut first, schema).await,
                None => Ok(()),
            }
        }
        .await;
        if let Err(e) = first.close().await {
            tracing::debug!(error = %e, "closing the first connection failed");
        }
        created?;

        let pool_session = Arc::clone(&session);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _| {
                let session = Arc::clone(&pool_session);
                Box::pin(async move { session.apply(conn).await })
            })
            .connect_lazy_with(connect.clone());
        // sqlx's migrator holds a session-level advisory lock while it works; if it fails half
        // way the lock would stay with a pooled connection, so the pool is closed at once.
        if let Err(e) = migrate(&pool).await {
            pool.close().await;
            return Err(e);
        }

        let channel: String = match sqlx::query_scalar(changes::CHANNEL_SQL)
            .fetch_one(&pool)
            .await
        {
            Ok(channel) => channel,
            Err(e) => {
                pool.close().await;
                return Err(map_error(e));
            }
        };
        let store = PostgresStore {
            channel,
            stop: tokio::sync::watch::channel(()).0,
            claims: claims::Claims::start(
                connect.clone(),
                Arc::clone(&session),
                options.acquire_timeout,
            ),
            pool,
            host: connect.get_host().to_owned(),
            port: connect.get_port(),
            database: connect.get_database().map(str::to_owned),
            user: connect.get_username().to_owned(),
            schema: options.schema.clone(),
        };
        tracing::debug!(store = ?store, "connected the PostgreSQL store");
        Ok(store)
    }

    /// The schema the store works in, if one was set.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Closes every connection, waiting for calls in progress. Later calls fail with
    /// [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Applies pending migrations, on a connection from `pool`.
async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let migrator = migrations::migrator(migrations::POSTGRES)
        .await
        .map_err(|e| map_migrate(e, classify))?;
    migrator
        .run(pool)
        .await
        .map_err(|e| map_migrate(e, classify))
}

async fn create_schema(conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
    // Look first: `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege on the database even
    // when the schema exists, and a deployment may have created it for a less privileged user.
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *conn)
            .await
            .map_err(map_error)?;
    if exists {
        return Ok(());
    }
    let sql = format!("CREATE SCHEMA {}", quote_ident(schema));
    // `raw_sql` would be the natural call, but its future trips the compiler's `Send` check
    // for callers that need one (a higher-ranked lifetime error); a one-off unprepared query
    // does the same.
    match sqlx::query(&sql)
        .persistent(false)
        .execute(&mut *conn)
        .await
    {
        Ok(_) => {
            tracing::info!(schema, "created the PostgreSQL schema");
            Ok(())
        }
        // Another store created it since we looked (42P06, or a unique violation on the
        // catalog when both ran at once).
        Err(sqlx::Error::Database(e))
            if e.code().as_deref() == Some(DUPLICATE_SCHEMA)
                || e.kind() == ErrorKind::UniqueViolation =>
        {
            Ok(())
        }
        Err(e) => Err(map_error(e)),
    }
}

/// An SQL identifier in double quotes, inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[async_trait]
impl Store for PostgresStore {
    async fn close(&self) {
        PostgresStore::close(self).await;
    }

    fn pool_stats(&self) -> Option<signet_core::store::PoolStats> {
        Some(signet_core::store::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        })
    }

    async fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM meta WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        row.map(|row| Columns::new(&row, "meta", name.to_owned(), classify).get("value"))
            .transpose()
    }

    async fn put_meta_if_absent(&self, name: &str, value: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            select_key_columns!(),
            " FROM keys WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
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
                select_key_columns!(),
                " FROM keys WHERE folder_id = $1 AND deleted_at IS NULL",
                " ORDER BY id LIMIT $2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit)),
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                select_key_columns!(),
                " FROM keys WHERE folder_id = $1 AND deleted_at IS NULL AND id > $3",
                " ORDER BY id LIMIT $2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit))
            .bind(after.as_str()),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(map_error)?;
        rows.iter().map(decode_key).collect()
    }

    async fn write(&self, write: Write<'_>) -> Result<(), StoreError> {
        if write.is_empty() {
            return Ok(());
        }
        // Encode before taking a connection.
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

        // Dropping `tx` on any early return rolls the whole write back.
        let mut tx = self.begin().await?;

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
                changes::notify(&mut tx, &self.channel, &Change::Key(record.id.clone())).await?;
            }
        }

        if let Some(bindings) = write.bindings {
            replace_bindings(&mut tx, bindings.target, bindings.bindings).await?;
            let change = Change::Bindings(bindings.target.to_owned());
            changes::notify(&mut tx, &self.channel, &change).await?;
        }

        if let Some((op, result)) = &operation {
            upsert_operation(&mut tx, op, result).await?;
        }

        // Last, so that the chain's lock is held for the shortest time.
        if let Some(event) = write.audit {
            append_audit_in(&mut tx, std::slice::from_ref(event)).await?;
        }

        tx.commit().await.map_err(map_error)
    }

    async fn get_operation(&self, id: &OperationId) -> Result<Option<OperationRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            operation_columns!(),
            " FROM operations WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
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
                " FROM operations WHERE resource_id = $1",
                " ORDER BY created_at, id LIMIT $2"
            ))
            .bind(resource_id)
            .bind(sql_limit(limit)),
            // A row comparison, which the (resource_id, created_at, id) index serves directly.
            Some(cursor) => sqlx::query(concat!(
                "SELECT ",
                operation_columns!(),
                " FROM operations WHERE resource_id = $1 AND (created_at, id) > ($3, $4)",
                " ORDER BY created_at, id LIMIT $2"
            ))
            .bind(resource_id)
            .bind(sql_limit(limit))
            .bind(cursor.created_at.as_micros())
            .bind(cursor.id.as_str()),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(map_error)?;
        rows.iter().map(decode_operation).collect()
    }

    async fn pending_operations(&self) -> Result<Vec<OperationRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            operation_columns!(),
            " FROM operations WHERE NOT done ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
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
            select_key_columns!(),
            " FROM keys WHERE deleted_at IS NOT NULL AND sealed IS NOT NULL",
            " AND deleted_at <= $1 ORDER BY deleted_at, id LIMIT $2"
        ))
        .bind(deleted_before.as_micros())
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        rows.iter().map(decode_key).collect()
    }

    async fn get_access_bindings(&self, target: &str) -> Result<Vec<AccessBinding>, StoreError> {
        let rows = sqlx::query(
            "SELECT target, role, subject_type, subject_id FROM access_bindings WHERE target = $1",
        )
        .bind(target)
        .fetch_all(&self.pool)
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
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO service_accounts (id, folder_id, created_at, name, description, labels) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        )
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
        if let Some(event) = audit {
            append_audit_in(&mut tx, std::slice::from_ref(event)).await?;
        }
        tx.commit().await.map_err(map_error)
    }

    async fn get_service_account(
        &self,
        id: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            select_service_account_columns!(),
            " FROM service_accounts WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
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
                select_service_account_columns!(),
                " FROM service_accounts WHERE folder_id = $1 ORDER BY id LIMIT $2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit)),
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                select_service_account_columns!(),
                " FROM service_accounts WHERE folder_id = $1 AND id > $3 ORDER BY id LIMIT $2"
            ))
            .bind(folder.as_str())
            .bind(sql_limit(limit))
            .bind(after.as_str()),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(map_error)?;
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
        // Dropping `tx` on any early return (including "no such account") rolls it all back.
        let mut tx = self.begin().await?;
        // Lock the account first. An authorized key being added to it at the same time then
        // waits for this transaction (its foreign key check needs the row) and fails with
        // `Conflict` once the account is gone, instead of failing this deletion.
        let found = sqlx::query("SELECT 1 FROM service_accounts WHERE id = $1 FOR UPDATE")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_error)?;
        if found.is_none() {
            return Ok(false);
        }
        // Keys first: the foreign key refuses to orphan them.
        sqlx::query("DELETE FROM authorized_keys WHERE service_account_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        sqlx::query(
            "UPDATE iam_tokens SET revoked_at = $2 \
             WHERE service_account_id = $1 AND revoked_at IS NULL",
        )
        .bind(id.as_str())
        .bind(at.as_micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
        sqlx::query("DELETE FROM service_accounts WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(map_error)?;
        changes::notify(&mut tx, &self.channel, &Change::TokensOf(id.clone())).await?;
        upsert_operation(&mut tx, operation, &result).await?;
        if let Some(event) = audit {
            append_audit_in(&mut tx, std::slice::from_ref(event)).await?;
        }
        tx.commit().await.map_err(map_error)?;
        Ok(true)
    }

    async fn insert_authorized_key(&self, key: &AuthorizedKey) -> Result<(), StoreError> {
        let done = sqlx::query(concat!(
            "INSERT INTO authorized_keys (",
            authorized_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(key.id.as_str())
        .bind(key.service_account_id.as_str())
        .bind(key.created_at.as_micros())
        .bind(key.description.as_str())
        .bind(i64::from(key.algorithm.wire_number()))
        .bind(key.public_key_pem.as_str())
        .execute(&self.pool)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.kind() == ErrorKind::ForeignKeyViolation => {
                Err(StoreError::Conflict(format!(
                    "service account {} does not exist",
                    key.service_account_id
                )))
            }
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
            " FROM authorized_keys WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
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
                " FROM authorized_keys WHERE service_account_id = $1 ORDER BY id LIMIT $2"
            ))
            .bind(account.as_str())
            .bind(sql_limit(limit)),
            Some(after) => sqlx::query(concat!(
                "SELECT ",
                authorized_key_columns!(),
                " FROM authorized_keys WHERE service_account_id = $1 AND id > $3",
                " ORDER BY id LIMIT $2"
            ))
            .bind(account.as_str())
            .bind(sql_limit(limit))
            .bind(after.as_str()),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::authorized_key(row, classify))
            .collect()
    }

    async fn delete_authorized_key(&self, id: &AuthorizedKeyId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM authorized_keys WHERE id = $1")
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO iam_tokens (",
            token_columns!(),
            ") VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(token.sha256_hex.as_str())
        .bind(token.service_account_id.as_str())
        .bind(token.created_at.as_micros())
        .bind(token.expires_at.as_micros())
        .bind(token.revoked_at.map(Timestamp::as_micros))
        .execute(&self.pool)
        .await
        // Not even the hash goes into the message: it is the token's lookup key.
        .map_err(|e| map_sqlx(e, classify, || "a token with this hash exists".into()))?;
        Ok(())
    }

    async fn get_token(&self, sha256_hex: &str) -> Result<Option<TokenRecord>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM iam_tokens WHERE sha256 = $1"
        ))
        .bind(sha256_hex)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_error)?
        .map(|row| Columns::token(&row, classify))
        .transpose()
    }

    async fn revoke_token(&self, sha256_hex: &str, at: Timestamp) -> Result<bool, StoreError> {
        // The UPDATE returns every row its WHERE matches, also when COALESCE keeps the old
        // value, so an already revoked token still reports true and keeps its first revocation
        // time. One statement, so the notification commits with the revocation; it names the
        // account, not the token.
        let revoked = sqlx::query(
            "WITH revoked AS (UPDATE iam_tokens SET revoked_at = COALESCE(revoked_at, $2) \
             WHERE sha256 = $1 RETURNING service_account_id) \
             SELECT pg_notify($3, 'tokens:' || service_account_id) FROM revoked",
        )
        .bind(sha256_hex)
        .bind(at.as_micros())
        .bind(&self.channel)
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(revoked.len() == 1)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<AuditHead, StoreError> {
        let mut tx = self.begin().await?;
        let head = append_audit_in(&mut tx, events).await?;
        tx.commit().await.map_err(map_error)?;
        Ok(head)
    }

    async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        match row {
            Some(row) => Columns::audit_head(&row, classify),
            None => Err(StoreError::Corrupt("the audit_head row is missing".into())),
        }
    }

    async fn audit_records(&self, from: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            audit_record_columns!(),
            " FROM audit_records WHERE seq >= $1 ORDER BY seq LIMIT $2"
        ))
        .bind(from)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
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
            " FROM audit_records WHERE time >= $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(since.as_micros())
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::audit_record(row, classify))
            .collect()
    }

    async fn put_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, time, signature) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(checkpoint.seq)
        .bind(checkpoint.hash.as_slice())
        .bind(checkpoint.time.as_micros())
        .bind(checkpoint.signature.as_slice())
        .execute(&self.pool)
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
            "SELECT seq, hash, time, signature FROM audit_checkpoints WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(sql_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        rows.iter()
            .map(|row| Columns::audit_checkpoint(row, classify))
            .collect()
    }

    async fn try_claim(&self, name: &str) -> Result<Option<Claim>, StoreError> {
        self.claims.try_claim(name).await
    }

    async fn watch_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<Change>>, StoreError> {
        changes::watch(&self.pool, &self.channel, self.stop.subscribe())
            .await
            .map(Some)
    }

    async fn count_rows(&self, table: Table) -> Result<u64, StoreError> {
        crate::copy::count_rows(&self.pool, classify, table).await
    }

    async fn export_rows(
        &self,
        table: Table,
        after: Option<&RowKey>,
        limit: usize,
    ) -> Result<Rows, StoreError> {
        crate::copy::export_rows(&self.pool, classify, table, after, limit).await
    }

    async fn import_rows(&self, rows: &Rows) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        crate::copy::import_rows::<Postgres>(&mut tx, classify, &IMPORT_SQL, rows).await?;
        tx.commit().await.map_err(map_error)
    }
}

/// The statements of [`Store::import_rows`] that differ from SQLite's: labels are JSONB, and
/// imported audit records move the chain's head row (taking its lock, like an append).
const IMPORT_SQL: crate::copy::ImportSql = crate::copy::ImportSql {
    keys: INSERT_KEY,
    service_accounts: "INSERT INTO service_accounts (id, folder_id, created_at, name, \
        description, labels) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
    audit_head: Some("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1 AND seq < $1"),
};

impl PostgresStore {
    /// Starts a write transaction. See the module docs for why READ COMMITTED.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(map_error)
    }
}

/// Fails with `QuotaExceeded` if `record`'s folder already holds `limit` keys that are not
/// deleted. Called inside the write's transaction. At READ COMMITTED two transactions could
/// both count below the limit and both insert; a lock on the folder's quota (held to commit)
/// orders them, whichever node they run on, and the count that follows it sees every insert
/// committed before. A hash collision between two folders only makes them wait for each other.
async fn check_key_quota(
    conn: &mut PgConnection,
    record: &KeyRecord,
    limit: u32,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind(record.folder_id.as_str())
        .bind(KEY_QUOTA_LOCK_SEED)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
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
    conn: &mut PgConnection,
    target: &str,
    bindings: &[AccessBinding],
) -> Result<(), StoreError> {
    // Two replacements of one target must not interleave: at READ COMMITTED the second one's
    // DELETE would not see the first one's new rows, and the target would end up with the
    // union of both sets. A lock on the target (held to commit) orders them; a hash collision
    // between two targets only makes them wait for each other.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, $2))")
        .bind(target)
        .bind(BINDINGS_LOCK_SEED)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    sqlx::query("DELETE FROM access_bindings WHERE target = $1")
        .bind(target)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    for binding in bindings {
        sqlx::query(
            "INSERT INTO access_bindings (target, role, subject_type, subject_id) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
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

/// Seeds the hash of a binding target into an advisory lock key, so that these locks are
/// unlikely to meet anyone else's advisory locks in the same database.
const BINDINGS_LOCK_SEED: i64 = 0x5349_474e_4554_4142; // "SIGNETAB"
/// Seed of the advisory lock on a folder's key quota (see `KeyWrite::InsertWithinQuota`).
const KEY_QUOTA_LOCK_SEED: i64 = 0x5349_474e_4554_4b51; // "SIGNETKQ"

/// Inserts `op`, or replaces the operation with its id. `result` is its encoded result.
async fn upsert_operation(
    conn: &mut PgConnection,
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
    "SELECT COUNT(*) FROM keys WHERE folder_id = $1 AND deleted_at IS NULL";

const INSERT_KEY: &str = "INSERT INTO keys (id, folder_id, created_at, name, description, \
    labels, status, algorithm, deletion_protection, public_key_pem, sealed, deleted_at, \
    destroyed_at, version) \
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12, $13, $14)";

const UPDATE_KEY: &str = "UPDATE keys SET folder_id = $2, created_at = $3, name = $4, \
    description = $5, labels = $6::jsonb, status = $7, algorithm = $8, \
    deletion_protection = $9, public_key_pem = $10, sealed = $11, deleted_at = $12, \
    destroyed_at = $13, version = $14 \
    WHERE id = $1 AND version = $15";

const UPSERT_OPERATION: &str = concat!(
    "INSERT INTO operations (",
    operation_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET ",
    "kind = excluded.kind, resource_id = excluded.resource_id, ",
    "description = excluded.description, created_at = excluded.created_at, ",
    "created_by = excluded.created_by, modified_at = excluded.modified_at, ",
    "done = excluded.done, result = excluded.result"
);

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Binds `$1`..`$14` in the column order of [`INSERT_KEY`].
fn bind_key<'q>(query: Query<'q>, record: &'q KeyRecord, labels: &'q str) -> Query<'q> {
    query
        .bind(record.id.as_str())
        .bind(record.folder_id.as_str())
        .bind(record.created_at.as_micros())
        .bind(record.name.as_str())
        .bind(record.description.as_str())
        .bind(labels)
        .bind(i64::from(record.status.wire_number()))
        .bind(i64::from(record.algorithm.wire_number()))
        .bind(record.deletion_protection)
        .bind(record.public_key_pem.as_deref())
        .bind(record.sealed.as_ref().map(SealedKey::as_bytes))
        .bind(record.deleted_at.map(Timestamp::as_micros))
        .bind(record.destroyed_at.map(Timestamp::as_micros))
        .bind(record.version)
}

fn decode_key(row: &PgRow) -> Result<KeyRecord, StoreError> {
    Columns::key(row, classify)
}

fn decode_operation(row: &PgRow) -> Result<OperationRecord, StoreError> {
    Columns::operation(row, classify)
}

fn map_error(e: sqlx::Error) -> StoreError {
    map_sqlx(e, classify, || "a unique constraint was violated".into())
}

// SQLSTATE codes (https://www.postgresql.org/docs/current/errcodes-appendix.html).
/// Class 08: connection exception.
const CLASS_CONNECTION_EXCEPTION: &str = "08";
/// Class 53: insufficient resources (disk full, out of memory, too many connections).
const CLASS_INSUFFICIENT_RESOURCES: &str = "53";
const READ_ONLY_SQL_TRANSACTION: &str = "25006";
const SERIALIZATION_FAILURE: &str = "40001";
const DEADLOCK_DETECTED: &str = "40P01";
const LOCK_NOT_AVAILABLE: &str = "55P03";
const QUERY_CANCELED: &str = "57014";
const ADMIN_SHUTDOWN: &str = "57P01";
const CRASH_SHUTDOWN: &str = "57P02";
const CANNOT_CONNECT_NOW: &str = "57P03";
const IDLE_SESSION_TIMEOUT: &str = "57P05";
const DUPLICATE_SCHEMA: &str = "42P06";
const DATA_CORRUPTED: &str = "XX001";
const INDEX_CORRUPTED: &str = "XX002";

fn classify(e: &dyn DatabaseError) -> DbClass {
    let Some(code) = e.code() else {
        return DbClass::Other;
    };
    let code = code.as_ref();
    if code.starts_with(CLASS_CONNECTION_EXCEPTION)
        || code.starts_with(CLASS_INSUFFICIENT_RESOURCES)
    {
        return DbClass::Transient;
    }
    match code {
        // The server is going away, restarting, or not accepting connections yet; a standby
        // promoted after a failover answers read-only until it is; a lock or statement timeout
        // expired; or a serialization failure or deadlock that this adapter does not retry
        // (READ COMMITTED writes should never see one). All worth retrying later.
        ADMIN_SHUTDOWN
        | CRASH_SHUTDOWN
        | CANNOT_CONNECT_NOW
        | IDLE_SESSION_TIMEOUT
        | READ_ONLY_SQL_TRANSACTION
        | LOCK_NOT_AVAILABLE
        | QUERY_CANCELED
        | SERIALIZATION_FAILURE
        | DEADLOCK_DETECTED => DbClass::Transient,
        DATA_CORRUPTED | INDEX_CORRUPTED => DbClass::Corrupt,
        _ => DbClass::Other,
    }
}

/// Appends `events` to the chain inside `tx`: takes the head row's lock (held until `tx` ends),
/// links the events after the head, inserts them and moves the head.
async fn append_audit_in(
    tx: &mut PgConnection,
    events: &[AuditEvent],
) -> Result<AuditHead, StoreError> {
    // The head row's lock, held to commit, orders the appends of every server sharing this
    // database into one chain: a concurrent append waits here and then reads the head this
    // one leaves (READ COMMITTED re-reads a locked row once its locker commits).
    let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .fetch_one(&mut *tx)
        .await
        .map_err(map_error)?;
    let start = Columns::audit_head(&row, classify)?;
    if events.is_empty() {
        return Ok(start);
    }
    let n = events.len();
    let mut seqs = Vec::with_capacity(n);
    let mut prev_hashes = Vec::with_capacity(n);
    let mut hashes = Vec::with_capacity(n);
    let mut head = start;
    for event in events {
        let next = head.link(event);
        seqs.push(next.seq);
        prev_hashes.push(head.hash);
        hashes.push(next.hash);
        head = next;
    }
    // One statement for the whole batch: each column is bound as an array and UNNEST
    // zips them back into rows.
    sqlx::query(concat!(
        "INSERT INTO audit_records (",
        audit_record_columns!(),
        ") SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], \
         $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
         $11::bytea[], $12::bytea[], $13::bytea[])"
    ))
    .bind(&seqs)
    .bind(vec![i64::from(RECORD_VERSION); n])
    .bind(
        events
            .iter()
            .map(|e| e.time.as_micros())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.request_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.subject.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|e| e.rpc.as_str()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.resource_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.algorithm.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.outcome.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.client_addr.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.message_sha256.as_ref().map(|h| h.as_slice()))
            .collect::<Vec<_>>(),
    )
    .bind(prev_hashes.iter().map(|h| h.as_slice()).collect::<Vec<_>>())
    .bind(hashes.iter().map(|h| h.as_slice()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .map_err(|e| map_sqlx(e, classify, || "an audit record number is taken".into()))?;
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(head.seq)
        .bind(head.hash.as_slice())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("signet"), "\"signet\"");
        assert_eq!(quote_ident("a\"b; DROP"), "\"a\"\"b; DROP\"");
    }

    #[tokio::test]
    async fn bad_schema_names_are_refused_before_connecting() {
        for schema in [String::new(), "x".repeat(64), "a\0b".to_owned()] {
            let options = PostgresOptions {
                schema: Some(schema),
                ..PostgresOptions::default()
            };
            // The URL is never used: the name is checked first.
            let err = PostgresStore::connect_with("postgres://nowhere.invalid/x", &options)
                .await
                .unwrap_err();
            assert!(
                matches!(&err, StoreError::Other(e) if e.is::<BadSchemaName>()),
                "{err:?}"
            );
        }
    }
}
