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

/// One atomic write: a key change, a replacement of a resource's access bindings, and/or an
/// operation upsert, committed together and durable when `write` returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct Write<'a> {
    pub key: Option<KeyWrite<'a>>,
    pub bindings: Option<BindingsWrite<'a>>,
    /// Inserted, or replaced if an operation with the same id exists.
    pub operation: Option<&'a OperationRecord>,
}

/// Position after which a page of operations starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationCursor {
    pub created_at: Timestamp,
    pub id: OperationId,
}

#[async_trait]
pub trait Store: std::fmt::Debug + Send + Sync + 'static {
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

    /// Inserts a service account, together with its (done) operation. `Conflict` if the id, or
    /// the name within the folder, is taken.
    async fn insert_service_account(
        &self,
        account: &ServiceAccount,
        operation: &OperationRecord,
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
    /// records the operation, in one transaction. Returns false if there was no such account.
    async fn delete_service_account(
        &self,
        id: &ServiceAccountId,
        at: Timestamp,
        operation: &OperationRecord,
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
}
