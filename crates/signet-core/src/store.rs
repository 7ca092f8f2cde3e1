//! The storage port. Adapters (SQLite, PostgreSQL) live in `signet-store` and must all pass its
//! conformance suite. A store only ever holds *sealed* key material.

use crate::audit::{AuditCheckpoint, AuditEvent, AuditHead, AuditRecord};
use crate::domain::{
    AccessBinding, AuthorizedKey, AuthorizedKeyId, FolderId, KeyId, KeyRecord, OperationId,
    OperationRecord, ServiceAccount, ServiceAccountId, Timestamp, TokenRecord,
};
use async_trait::async_trait;

/// Errors a store can report. Callers map them: `Conflict` to a retry or ABORTED,
/// `Unavailable` to UNAVAILABLE, the rest to INTERNAL (their text is logged, never sent).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the key's version changed, or an inserted id already exists.
    #[error("write conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or is busy beyond the configured timeout.
    #[error("store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data does not decode (a bug or corruption).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A [`KeyWrite::InsertWithinQuota`] found its folder full; nothing was written.
    #[error("folder {folder} already holds {limit} keys")]
    QuotaExceeded { folder: String, limit: u32 },
    /// Any other database error.
    #[error("store error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Connections of a store's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: u32,
}

/// How a key row is written.
#[derive(Debug, Clone, Copy)]
pub enum KeyWrite<'a> {
    /// Insert a new key; `Conflict` if the id exists. The record's version should be 1.
    Insert(&'a KeyRecord),
    /// Insert a new key as [`KeyWrite::Insert`] does, but only if its folder holds fewer than
    /// `limit` keys that are not deleted (CREATING ones count); `QuotaExceeded` otherwise. The
    /// count and the insert happen under one lock on the folder's keys, held until the write
    /// commits, so concurrent inserts, on this node or another sharing the database, cannot
    /// together exceed the limit.
    InsertWithinQuota { record: &'a KeyRecord, limit: u32 },
    /// Replace the key whose stored version is `expected_version`; `Conflict` otherwise
    /// (including when the key does not exist). The record carries the new version.
    Update {
        record: &'a KeyRecord,
        expected_version: i64,
    },
}

/// Replaces all access bindings of one resource.
#[derive(Debug, Clone, Copy)]
pub struct BindingsWrite<'a> {
    /// `BindingTarget::storage_key()`, e.g. `key:abj…` or `folder:default`.
    pub target: &'a str,
    pub bindings: &'a [AccessBinding],
}

/// One atomic write: a key change, a replacement of a resource's access bindings, an
/// operation upsert, and/or the audit record of the call that made the change, committed
/// together and durable when `write` returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Write<'a> {
    pub key: Option<KeyWrite<'a>>,
    pub bindings: Option<BindingsWrite<'a>>,
    /// Inserted, or replaced if an operation with the same id exists.
    pub operation: Option<&'a OperationRecord>,
    /// Appended to the audit chain in the same transaction, after the head under the chain's
    /// lock exactly as [`Store::append_audit`] appends (ADR 0006): the record of a state change
    /// exists if and only if the change does.
    pub audit: Option<&'a AuditEvent>,
}

impl Write<'_> {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.key.is_none()
            && self.bindings.is_none()
            && self.operation.is_none()
            && self.audit.is_none()
    }
}

/// The tables of a store, for bulk copies between stores (`signet admin copy-store`, see
/// [`crate::copy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// Deployment facts: the root key check value, the admin token hash, the checkpoint key.
    Meta,
    Keys,
    Operations,
    /// Access bindings, as `(target, binding)` rows.
    AccessBindings,
    ServiceAccounts,
    AuthorizedKeys,
    /// IAM tokens (their hashes).
    Tokens,
    AuditRecords,
    AuditCheckpoints,
}

impl Table {
    /// Every table, in the order a copy fills them: service accounts before the authorized keys
    /// that refer to them, and the deployment facts last, so that a copy cut short is a store
    /// that was never initialized and that `bootstrap` refuses to adopt.
    pub const COPY_ORDER: [Table; 9] = [
        Table::ServiceAccounts,
        Table::AuthorizedKeys,
        Table::Tokens,
        Table::Keys,
        Table::AccessBindings,
        Table::Operations,
        Table::AuditRecords,
        Table::AuditCheckpoints,
        Table::Meta,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Keys => "keys",
            Table::Operations => "operations",
            Table::AccessBindings => "access bindings",
            Table::ServiceAccounts => "service accounts",
            Table::AuthorizedKeys => "authorized keys",
            Table::Tokens => "IAM tokens",
            Table::AuditRecords => "audit records",
            Table::AuditCheckpoints => "audit checkpoints",
        }
    }
}

/// Rows of one table, exactly as stored: sealed key material as the sealed bytes (a copy never
/// unseals), audit records with their stored numbers and hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rows {
    /// `(name, value)`.
    Meta(Vec<(String, String)>),
    Keys(Vec<KeyRecord>),
    Operations(Vec<OperationRecord>),
    /// `(target, binding)`, the target being `BindingTarget::storage_key()`.
    AccessBindings(Vec<(String, AccessBinding)>),
    ServiceAccounts(Vec<ServiceAccount>),
    AuthorizedKeys(Vec<AuthorizedKey>),
    Tokens(Vec<TokenRecord>),
    AuditRecords(Vec<AuditRecord>),
    AuditCheckpoints(Vec<AuditCheckpoint>),
}

/// Where a page of [`Store::export_rows`] starts: after the row with this primary key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowKey {
    /// The text primary key: a meta name, a key, operation, service account or authorized key
    /// id, a token hash.
    Text(String),
    /// An access binding row: its target and binding.
    Binding(String, AccessBinding),
    /// An audit record's or checkpoint's sequence number.
    Seq(i64),
}

impl Rows {
    /// No rows of `table`.
    pub fn empty(table: Table) -> Rows {
        match table {
            Table::Meta => Rows::Meta(Vec::new()),
            Table::Keys => Rows::Keys(Vec::new()),
            Table::Operations => Rows::Operations(Vec::new()),
            Table::AccessBindings => Rows::AccessBindings(Vec::new()),
            Table::ServiceAccounts => Rows::ServiceAccounts(Vec::new()),
            Table::AuthorizedKeys => Rows::AuthorizedKeys(Vec::new()),
            Table::Tokens => Rows::Tokens(Vec::new()),
            Table::AuditRecords => Rows::AuditRecords(Vec::new()),
            Table::AuditCheckpoints => Rows::AuditCheckpoints(Vec::new()),
        }
    }

    pub fn table(&self) -> Table {
        match self {
            Rows::Meta(_) => Table::Meta,
            Rows::Keys(_) => Table::Keys,
            Rows::Operations(_) => Table::Operations,
            Rows::AccessBindings(_) => Table::AccessBindings,
            Rows::ServiceAccounts(_) => Table::ServiceAccounts,
            Rows::AuthorizedKeys(_) => Table::AuthorizedKeys,
            Rows::Tokens(_) => Table::Tokens,
            Rows::AuditRecords(_) => Table::AuditRecords,
            Rows::AuditCheckpoints(_) => Table::AuditCheckpoints,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Rows::Meta(r) => r.len(),
            Rows::Keys(r) => r.len(),
            Rows::Operations(r) => r.len(),
            Rows::AccessBindings(r) => r.len(),
            Rows::ServiceAccounts(r) => r.len(),
            Rows::AuthorizedKeys(r) => r.len(),
            Rows::Tokens(r) => r.len(),
            Rows::AuditRecords(r) => r.len(),
            Rows::AuditCheckpoints(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `more`'s rows if it is of the same table; returns whether it was.
    pub fn extend(&mut self, more: Rows) -> bool {
        match (self, more) {
            (Rows::Meta(a), Rows::Meta(b)) => a.extend(b),
            (Rows::Keys(a), Rows::Keys(b)) => a.extend(b),
            (Rows::Operations(a), Rows::Operations(b)) => a.extend(b),
            (Rows::AccessBindings(a), Rows::AccessBindings(b)) => a.extend(b),
            (Rows::ServiceAccounts(a), Rows::ServiceAccounts(b)) => a.extend(b),
            (Rows::AuthorizedKeys(a), Rows::AuthorizedKeys(b)) => a.extend(b),
            (Rows::Tokens(a), Rows::Tokens(b)) => a.extend(b),
            (Rows::AuditRecords(a), Rows::AuditRecords(b)) => a.extend(b),
            (Rows::AuditCheckpoints(a), Rows::AuditCheckpoints(b)) => a.extend(b),
            _ => return false,
        }
        true
    }

    /// The primary key of the last row: where the next page starts.
    pub fn last_key(&self) -> Option<RowKey> {
        match self {
            Rows::Meta(r) => r.last().map(|(name, _)| RowKey::Text(name.clone())),
            Rows::Keys(r) => r.last().map(|k| RowKey::Text(k.id.to_string())),
            Rows::Operations(r) => r.last().map(|o| RowKey::Text(o.id.to_string())),
            Rows::AccessBindings(r) => r
                .last()
                .map(|(target, b)| RowKey::Binding(target.clone(), b.clone())),
            Rows::ServiceAccounts(r) => r.last().map(|a| RowKey::Text(a.id.to_string())),
            Rows::AuthorizedKeys(r) => r.last().map(|k| RowKey::Text(k.id.to_string())),
            Rows::Tokens(r) => r.last().map(|t| RowKey::Text(t.sha256_hex.clone())),
            Rows::AuditRecords(r) => r.last().map(|a| RowKey::Seq(a.seq)),
            Rows::AuditCheckpoints(r) => r.last().map(|c| RowKey::Seq(c.seq)),
        }
    }
}

/// Proof that this process holds a claim taken with [`Store::try_claim`]. Dropping it releases
/// the claim.
pub struct Claim {
    _held: Box<dyn Send + Sync>,
}

impl Claim {
    /// Wraps an adapter's guard, whose `Drop` releases the claim.
    pub fn new(guard: impl Send + Sync + 'static) -> Claim {
        Claim {
            _held: Box::new(guard),
        }
    }
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Claim")
    }
}

/// A change that the caches of other processes sharing the store must not miss (see
/// [`Store::watch_changes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// The key was updated (its status, its material, its deletion…).
    Key(KeyId),
    /// The access bindings of a target (`BindingTarget::storage_key()`) were replaced.
    Bindings(String),
    /// Tokens of the service account were revoked (one of them, or all, with the account).
    TokensOf(ServiceAccountId),
    /// Changes may have been missed (the feed was interrupted): every cached entry is suspect.
    Missed,
}

/// The claim of the job that destroys the material of keys deleted longer ago than the deletion
/// window.
pub const DESTRUCTION_JOB: &str = "job:destroy-expired-keys";
/// The claim of the job that signs audit checkpoints.
pub const AUDIT_CHECKPOINT_JOB: &str = "job:audit-checkpoint";

/// The claim of the work on one operation (generating a key for a pending creation): held by the
/// process that does it, so that recovery elsewhere leaves it alone.
pub fn operation_claim(id: &OperationId) -> String {
    format!("operation:{id}")
}

/// Position after which a page of operations starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationCursor {
    pub created_at: Timestamp,
    pub id: OperationId,
}

#[async_trait]
pub trait Store: std::fmt::Debug + Send + Sync + 'static {
    /// Connections of the adapter's pool, for metrics; `None` if it has no pool to report.
    fn pool_stats(&self) -> Option<PoolStats> {
        None
    }

    /// Closes the store's connections, waiting for calls in progress. Calls made afterwards
    /// fail. A server calls it last when it stops. (With SQLite, the last connection's checkpoint
    /// and removal of the write-ahead log were still seen to finish after it returned, now and
    /// then: copy a stopped server's database through SQLite, not file by file.)
    async fn close(&self) {}

    /// A small key/value table for deployment facts (the root key check value, the admin token
    /// hash). Returns `None` if unset.
    async fn get_meta(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Sets `name` only if it has no value yet. Returns whether it was set.
    async fn put_meta_if_absent(&self, name: &str, value: &str) -> Result<bool, StoreError>;

    /// The key with this id, deleted or not.
    async fn get_key(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError>;

    /// Keys of a folder that are not deleted, ordered by id, starting after `after`.
    async fn list_keys(
        &self,
        folder: &FolderId,
        after: Option<&KeyId>,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// Commits `write` atomically and durably.
    async fn write(&self, write: Write<'_>) -> Result<(), StoreError>;

    async fn get_operation(&self, id: &OperationId) -> Result<Option<OperationRecord>, StoreError>;

    /// Operations on a resource, ordered by `(created_at, id)`, starting after `after`.
    async fn list_operations(
        &self,
        resource_id: &str,
        after: Option<&OperationCursor>,
        limit: usize,
    ) -> Result<Vec<OperationRecord>, StoreError>;

    /// Operations that are not done, oldest first (used to finish them after a restart).
    async fn pending_operations(&self) -> Result<Vec<OperationRecord>, StoreError>;

    /// Deleted keys whose `deleted_at` is at or before `deleted_before` and whose sealed material
    /// still exists, oldest deletion first.
    async fn keys_due_for_destruction(
        &self,
        deleted_before: Timestamp,
        limit: usize,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    /// The access bindings of a resource (`BindingTarget::storage_key()`), in a stable order.
    async fn get_access_bindings(&self, target: &str) -> Result<Vec<AccessBinding>, StoreError>;

    /// Inserts a service account, together with its (done) operation and, if given, the audit
    /// record of the call (appended as [`Write::audit`] is). `Conflict` if the id, or the name
    /// within the folder, is taken.
    async fn insert_service_account(
        &self,
        account: &ServiceAccount,
        operation: &OperationRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<(), StoreError>;

    async fn get_service_account(
        &self,
        id: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>, StoreError>;

    /// Service accounts of a folder, ordered by id, starting after `after`.
    async fn list_service_accounts(
        &self,
        folder: &FolderId,
        after: Option<&ServiceAccountId>,
        limit: usize,
    ) -> Result<Vec<ServiceAccount>, StoreError>;

    /// Deletes a service account with its authorized keys, revokes its tokens (at `at`) and
    /// records the operation and, if given, the call's audit record, in one transaction.
    /// Returns false if there was no such account (and then appends no record).
    async fn delete_service_account(
        &self,
        id: &ServiceAccountId,
        at: Timestamp,
        operation: &OperationRecord,
        audit: Option<&AuditEvent>,
    ) -> Result<bool, StoreError>;

    /// `Conflict` if the id is taken; `Conflict` too if the service account does not exist.
    async fn insert_authorized_key(&self, key: &AuthorizedKey) -> Result<(), StoreError>;

    async fn get_authorized_key(
        &self,
        id: &AuthorizedKeyId,
    ) -> Result<Option<AuthorizedKey>, StoreError>;

    /// Authorized keys of a service account, ordered by id, starting after `after`.
    async fn list_authorized_keys(
        &self,
        account: &ServiceAccountId,
        after: Option<&AuthorizedKeyId>,
        limit: usize,
    ) -> Result<Vec<AuthorizedKey>, StoreError>;

    /// Returns false if there was no such key.
    async fn delete_authorized_key(&self, id: &AuthorizedKeyId) -> Result<bool, StoreError>;

    /// `Conflict` if a token with the same hash exists.
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError>;

    async fn get_token(&self, sha256_hex: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Marks a token revoked at `at` (idempotent). Returns false if there is no such token.
    async fn revoke_token(&self, sha256_hex: &str, at: Timestamp) -> Result<bool, StoreError>;

    /// Appends `events`, in order, to the audit chain (ADR 0006) in one durable transaction:
    /// links each event after the stored chain head with [`AuditHead::link`] and inserts the
    /// records, so that they extend the one chain without a gap or a fork whatever the number
    /// of appenders, other processes on a shared database included (by reading the head under a
    /// lock, or optimistically with a taken record number failing the append, which is then
    /// redone under the lock). All or nothing. Returns the new head; an empty batch changes
    /// nothing.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<AuditHead, StoreError>;

    /// The stored chain head: [`AuditHead::GENESIS`] for an empty chain.
    async fn audit_head(&self) -> Result<AuditHead, StoreError>;

    /// Audit records with `seq >= from`, in `seq` order, at most `limit`.
    async fn audit_records(&self, from: i64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Audit records with `time >= since` and `seq > after`, in `seq` order, at most `limit`.
    async fn audit_records_since(
        &self,
        since: Timestamp,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    /// Stores a checkpoint. If one for the same `seq` exists, it is kept and this one dropped.
    async fn put_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError>;

    /// Checkpoints with `seq > after`, in `seq` order, at most `limit`.
    async fn audit_checkpoints(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AuditCheckpoint>, StoreError>;

    /// Claims `name` (a background job, an operation) for this process, so that it is done by
    /// one process at a time among all that share the store: `None` if another holder, in this
    /// process or another, has it. Held until the [`Claim`] is dropped, or until this process
    /// dies or loses its connection to the database. A claim keeps work from being done twice
    /// in the normal case; it is not a lock that correctness may rest on: every job must stay
    /// correct if a lost claim lets two run at once (conditional writes settle it).
    async fn try_claim(&self, name: &str) -> Result<Option<Claim>, StoreError>;

    /// A feed of the changes committed through any store on the same database, this one's
    /// included, for cache invalidation. `None` when the store has no other users to hear from
    /// (the embedded SQLite store). The feed delivers a change after it is committed; when it
    /// loses changes (its connection broke) it sends [`Change::Missed`], and it ends when the
    /// store is dropped. It is an accelerator: caches still expire on their own, so that a lost
    /// notification cannot leave them stale for longer than their maximum age.
    async fn watch_changes(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<Change>>, StoreError>;

    /// How many rows `table` holds (every key, deleted or destroyed ones included).
    async fn count_rows(&self, table: Table) -> Result<u64, StoreError>;

    /// Up to `limit` rows of `table` whose primary key is after `after`, in primary key order
    /// (bytewise for text; `(target, role, subject type, subject id)` for bindings): every row,
    /// deleted keys and revoked tokens included, exactly as stored. An `after` of another
    /// table's kind is `Other`.
    async fn export_rows(
        &self,
        table: Table,
        after: Option<&RowKey>,
        limit: usize,
    ) -> Result<Rows, StoreError>;

    /// Inserts `rows` exactly as given, in one transaction: `Conflict` (and nothing inserted)
    /// if a row's primary key is taken. Audit records keep their numbers and hashes (they are
    /// not linked again), and the stored chain head moves to the last of them if it is newer.
    async fn import_rows(&self, rows: &Rows) -> Result<(), StoreError>;
}
