//! One file per use case, each an `impl Kms` block.

mod access_bindings;
mod cancel_operation;
mod create_key;
mod delete_key;
mod destroy_keys;
mod get_key;
mod get_operation;
mod get_public_key;
mod identities;
mod list_keys;
mod list_operations;
mod read_audit;
mod restore_key;
mod sign;
mod tokens;
mod update_key;

pub use access_bindings::BindingsPage;
pub use create_key::CreateKey;
pub use identities::{CreateServiceAccount, NewAuthorizedKey, Page};
pub use list_keys::{KeyPage, ListKeys};
pub use list_operations::{ListOperations, OperationPage};
pub use read_audit::{AuditHeadView, AuditPage, ListAuditRecords, SCAN_FACTOR};
pub use sign::Signature;
pub use tokens::IssuedToken;
pub use update_key::{UpdateField, UpdateKey};

use crate::domain::{KeyId, KeyRecord};
use crate::{CoreError, Kms};

/// How many times a use case re-reads and re-applies a change that lost a version race.
pub(crate) const WRITE_ATTEMPTS: usize = 5;

impl Kms {
    /// The key, if it exists and is not deleted; NOT_FOUND otherwise.
    pub(crate) async fn visible_key(&self, id: &KeyId) -> Result<KeyRecord, CoreError> {
        match self.store.get_key(id).await? {
            Some(record) if !record.is_deleted() => Ok(record),
            _ => Err(CoreError::not_found_key(id)),
        }
    }
}
