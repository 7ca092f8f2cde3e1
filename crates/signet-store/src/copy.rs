//! Reading whole tables for copies between stores ([`Store::count_rows`] and
//! [`Store::export_rows`], used by `signet admin copy-store`): one set of queries for both
//! databases. Both adapters' tables have the same names and columns, both accept `$n`
//! parameters, and `CAST(labels AS TEXT)` reads PostgreSQL's JSONB labels as the text SQLite
//! stores. Writing ([`Store::import_rows`]) binds database types and lives in each adapter.
//!
//! Pages are in primary key order: ids compare bytewise in both databases (PostgreSQL's id
//! columns are `COLLATE "C"`), so a page starts after the last row of the previous one. A first
//! page starts after the empty string or sequence number 0, which no row has.
//!
//! [`Store::count_rows`]: signet_core::store::Store::count_rows
//! [`Store::export_rows`]: signet_core::store::Store::export_rows
//! [`Store::import_rows`]: signet_core::store::Store::import_rows

use crate::codec::{Columns, sql_limit};
use crate::error::{Classify, map_sqlx};
use signet_core::store::{RowKey, Rows, StoreError, Table};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

/// The `SELECT count(*)` of `table`.
fn count_sql(table: Table) -> &'static str {
    match table {
        Table::Meta => "SELECT count(*) FROM meta",
        Table::Keys => "SELECT count(*) FROM keys",
        Table::Operations => "SELECT count(*) FROM operations",
        Table::AccessBindings => "SELECT count(*) FROM access_bindings",
        Table::ServiceAccounts => "SELECT count(*) FROM service_accounts",
        Table::AuthorizedKeys => "SELECT count(*) FROM authorized_keys",
        Table::Tokens => "SELECT count(*) FROM iam_tokens",
        Table::AuditRecords => "SELECT count(*) FROM audit_records",
        Table::AuditCheckpoints => "SELECT count(*) FROM audit_checkpoints",
    }
}

/// The page query of `table`: rows after `$1` (after `$1..$4` for bindings), at most the last
/// parameter.
fn page_sql(table: Table) -> &'static str {
    match table {
        Table::Meta => "SELECT name, value FROM meta WHERE name > $1 ORDER BY name LIMIT $2",
        Table::Keys => {
            "SELECT id, folder_id, created_at, name, description, CAST(labels AS TEXT) AS labels, \
             status, algorithm, deletion_protection, public_key_pem, sealed, deleted_at, \
             destroyed_at, version FROM keys WHERE id > $1 ORDER BY id LIMIT $2"
        }
        Table::Operations => {
            "SELECT id, kind, resource_id, description, created_at, created_by, modified_at, \
             done, result FROM operations WHERE id > $1 ORDER BY id LIMIT $2"
        }
        Table::AccessBindings => {
            "SELECT target, role, subject_type, subject_id FROM access_bindings \
             WHERE (target, role, subject_type, subject_id) > ($1, $2, $3, $4) \
             ORDER BY target, role, subject_type, subject_id LIMIT $5"
        }
        Table::ServiceAccounts => {
            "SELECT id, folder_id, created_at, name, description, CAST(labels AS TEXT) AS labels \
             FROM service_accounts WHERE id > $1 ORDER BY id LIMIT $2"
        }
        Table::AuthorizedKeys => {
            "SELECT id, service_account_id, created_at, description, algorithm, public_key_pem \
             FROM authorized_keys WHERE id > $1 ORDER BY id LIMIT $2"
        }
        Table::Tokens => {
            "SELECT sha256, service_account_id, created_at, expires_at, revoked_at \
             FROM iam_tokens WHERE sha256 > $1 ORDER BY sha256 LIMIT $2"
        }
        Table::AuditRecords => {
            "SELECT seq, version, time, request_id, subject, rpc, resource_id, algorithm, \
             outcome, client_addr, message_sha256, prev_hash, hash FROM audit_records \
             WHERE seq > $1 ORDER BY seq LIMIT $2"
        }
        Table::AuditCheckpoints => {
            "SELECT seq, hash, time, signature FROM audit_checkpoints WHERE seq > $1 \
             ORDER BY seq LIMIT $2"
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a page of {table} cannot start after a row of another table")]
struct WrongRowKey {
    table: &'static str,
}

fn wrong_key(table: Table) -> StoreError {
    StoreError::Other(Box::new(WrongRowKey {
        table: table.name(),
    }))
}

pub(crate) async fn count_rows<DB>(
    pool: &Pool<DB>,
    classify: Classify,
    table: Table,
) -> Result<u64, StoreError>
where
    DB: Database,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let count: i64 = sqlx::query_scalar(count_sql(table))
        .fetch_one(pool)
        .await
        .map_err(|e| map_sqlx(e, classify, String::new))?;
    u64::try_from(count).map_err(|_| StoreError::Corrupt("a negative row count".into()))
}

pub(crate) async fn export_rows<DB>(
    pool: &Pool<DB>,
    classify: Classify,
    table: Table,
    after: Option<&RowKey>,
    limit: usize,
) -> Result<Rows, StoreError>
where
    DB: Database,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    &'static str: ColumnIndex<DB::Row>,
{
    let limit = sql_limit(limit);
    let query = sqlx::query::<DB>(page_sql(table));
    let query = match (table, after) {
        (Table::AccessBindings, None) => query.bind("").bind("").bind("").bind(""),
        (Table::AccessBindings, Some(RowKey::Binding(target, b))) => query
            .bind(target.as_str())
            .bind(b.role.id())
            .bind(b.subject.kind.wire_name())
            .bind(b.subject.id.as_str()),
        (Table::AuditRecords | Table::AuditCheckpoints, None) => query.bind(0_i64),
        (Table::AuditRecords | Table::AuditCheckpoints, Some(RowKey::Seq(seq))) => query.bind(*seq),
        (
            Table::Meta
            | Table::Keys
            | Table::Operations
            | Table::ServiceAccounts
            | Table::AuthorizedKeys
            | Table::Tokens,
            None,
        ) => query.bind(""),
        (
            Table::Meta
            | Table::Keys
            | Table::Operations
            | Table::ServiceAccounts
            | Table::AuthorizedKeys
            | Table::Tokens,
            Some(RowKey::Text(id)),
        ) => query.bind(id.as_str()),
        (_, Some(_)) => return Err(wrong_key(table)),
    };
    let rows = query
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(|e| map_sqlx(e, classify, String::new))?;
    fn all<R, T>(
        rows: &[R],
        decode: impl Fn(&R) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        rows.iter().map(decode).collect()
    }
    Ok(match table {
        Table::Meta => Rows::Meta(all(&rows, |r| Columns::meta(r, classify))?),
        Table::Keys => Rows::Keys(all(&rows, |r| Columns::key(r, classify))?),
        Table::Operations => Rows::Operations(all(&rows, |r| Columns::operation(r, classify))?),
        Table::AccessBindings => {
            Rows::AccessBindings(all(&rows, |r| Columns::target_binding(r, classify))?)
        }
        Table::ServiceAccounts => {
            Rows::ServiceAccounts(all(&rows, |r| Columns::service_account(r, classify))?)
        }
        Table::AuthorizedKeys => {
            Rows::AuthorizedKeys(all(&rows, |r| Columns::authorized_key(r, classify))?)
        }
        Table::Tokens => Rows::Tokens(all(&rows, |r| Columns::token(r, classify))?),
        Table::AuditRecords => {
            Rows::AuditRecords(all(&rows, |r| Columns::audit_record(r, classify))?)
        }
        Table::AuditCheckpoints => {
            Rows::AuditCheckpoints(all(&rows, |r| Columns::audit_checkpoint(r, classify))?)
        }
    })
}

/// The import statements that differ between the databases: PostgreSQL stores labels as JSONB
/// (the text parameter needs a cast SQLite does not know) and keeps the audit chain head in a
/// row of its own.
#[derive(Debug)]
pub(crate) struct ImportSql {
    /// `INSERT INTO keys` of every column in the order of [`page_sql`]'s, labels as JSON text.
    pub keys: &'static str,
    /// `INSERT INTO service_accounts`, likewise.
    pub service_accounts: &'static str,
    /// Run after audit records are inserted, with the last one's `seq` and `hash` (`$1`, `$2`).
    pub audit_head: Option<&'static str>,
}

/// Inserts `rows` on `conn`, inside the caller's transaction, exactly as given.
pub(crate) async fn import_rows<DB>(
    conn: &mut DB::Connection,
    classify: Classify,
    sql: &ImportSql,
    rows: &Rows,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q [u8]>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
{
    // A taken primary key names the table only: ids are not secret, but token hashes are the
    // tokens' lookup keys and stay out of messages.
    let table = rows.table().name();
    let conflict = move || format!("a row of {table} with the same primary key exists");
    let map = |e| map_sqlx(e, classify, conflict);
    match rows {
        Rows::Meta(rows) => {
            for (name, value) in rows {
                sqlx::query::<DB>("INSERT INTO meta (name, value) VALUES ($1, $2)")
                    .bind(name.as_str())
                    .bind(value.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(map)?;
            }
        }
        Rows::Keys(rows) => {
            for k in rows {
                let labels = crate::codec::encode_labels(&k.labels)?;
                sqlx::query::<DB>(sql.keys)
                    .bind(k.id.as_str())
                    .bind(k.folder_id.as_str())
                    .bind(k.created_at.as_micros())
                    .bind(k.name.as_str())
                    .bind(k.description.as_str())
                    .bind(labels.as_str())
                    .bind(i64::from(k.status.wire_number()))
                    .bind(i64::from(k.algorithm.wire_number()))
                    .bind(k.deletion_protection)
                    .bind(k.public_key_pem.as_deref())
                    .bind(k.sealed.as_ref().map(signet_crypto::SealedKey::as_bytes))
                    .bind(k.deleted_at.map(|t| t.as_micros()))
                    .bind(k.destroyed_at.map(|t| t.as_micros()))
                    .bind(k.version)
                    .execute(&mut *conn)
                    .await
                    .map_err(map)?;
            }
        }
        Rows::Operations(rows) => {
            for op in rows {
                let result = crate::codec::encode_result(&op.result)?;
                sqlx::query::<DB>(
                    "INSERT INTO operations (id, kind, resource_id, description, created_at, \
                     created_by, modified_at, done, result) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(op.id.as_str())
                .bind(op.kind.as_str())
                .bind(op.resource_id.as_str())
                .bind(op.description.as_str())
                .bind(op.created_at.as_micros())
                .bind(op.created_by.as_str())
                .bind(op.modified_at.as_micros())
                .bind(op.done())
                .bind(result.as_str())
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            }
        }
        Rows::AccessBindings(rows) => {
            for (target, b) in rows {
                sqlx::query::<DB>(
                    "INSERT INTO access_bindings (target, role, subject_type, subject_id) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(target.as_str())
                .bind(b.role.id())
                .bind(b.subject.kind.wire_name())
                .bind(b.subject.id.as_str())
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            }
        }
        Rows::ServiceAccounts(rows) => {
            for a in rows {
                let labels = crate::codec::encode_labels(&a.labels)?;
                sqlx::query::<DB>(sql.service_accounts)
                    .bind(a.id.as_str())
                    .bind(a.folder_id.as_str())
                    .bind(a.created_at.as_micros())
                    .bind(a.name.as_str())
                    .bind(a.description.as_str())
                    .bind(labels.as_str())
                    .execute(&mut *conn)
                    .await
                    .map_err(map)?;
            }
        }
        Rows::AuthorizedKeys(rows) => {
            for k in rows {
                sqlx::query::<DB>(
                    "INSERT INTO authorized_keys (id, service_account_id, created_at, \
                     description, algorithm, public_key_pem) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(k.id.as_str())
                .bind(k.service_account_id.as_str())
                .bind(k.created_at.as_micros())
                .bind(k.description.as_str())
                .bind(i64::from(k.algorithm.wire_number()))
                .bind(k.public_key_pem.as_str())
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            }
        }
        Rows::Tokens(rows) => {
            for t in rows {
                sqlx::query::<DB>(
                    "INSERT INTO iam_tokens (sha256, service_account_id, created_at, expires_at, \
                     revoked_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(t.sha256_hex.as_str())
                .bind(t.service_account_id.as_str())
                .bind(t.created_at.as_micros())
                .bind(t.expires_at.as_micros())
                .bind(t.revoked_at.map(|t| t.as_micros()))
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            }
        }
        Rows::AuditRecords(rows) => {
            for r in rows {
                let e = &r.event;
                sqlx::query::<DB>(
                    "INSERT INTO audit_records (seq, version, time, request_id, subject, rpc, \
                     resource_id, algorithm, outcome, client_addr, message_sha256, prev_hash, \
                     hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(r.seq)
                .bind(i64::from(r.version))
                .bind(e.time.as_micros())
                .bind(e.request_id.as_str())
                .bind(e.subject.as_str())
                .bind(e.rpc.as_str())
                .bind(e.resource_id.as_deref())
                .bind(e.algorithm.as_deref())
                .bind(e.outcome.as_str())
                .bind(e.client_addr.as_str())
                .bind(e.message_sha256.as_ref().map(|h| h.as_slice()))
                .bind(r.prev_hash.as_slice())
                .bind(r.hash.as_slice())
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            }
            if let (Some(head_sql), Some(last)) = (sql.audit_head, rows.last()) {
                sqlx::query::<DB>(head_sql)
                    .bind(last.seq)
                    .bind(last.hash.as_slice())
                    .execute(&mut *conn)
                    .await
                    .map_err(map)?;
            }
        }
        Rows::AuditCheckpoints(rows) => {
            for c in rows {
                sqlx::query::<DB>(
                    "INSERT INTO audit_checkpoints (seq, hash, time, signature) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(c.seq)
                .bind(c.hash.as_slice())
                .bind(c.time.as_micros())
                .bind(c.signature.as_slice())
                .execute(&mut *conn)
                .await
                .map_err(map)?;
            }
        }
    }
    Ok(())
}
