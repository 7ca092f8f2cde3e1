use crate::auth::{self, Principal, Resource};
use crate::domain::{KeyId, OperationId, OperationKind, OperationRecord, OperationResult};
use crate::store::{KeyWrite, StoreError, Write};
use crate::{CoreError, ErrorKind, Kms};

impl Kms {
    /// Cancels what can still be cancelled: a key creation whose material is not stored yet
    /// (the key disappears, the operation fails with CANCELLED). A finished operation is
    /// returned unchanged.
    pub async fn cancel_operation(
        &self,
        principal: &Principal,
        id: &OperationId,
    ) -> Result<OperationRecord, CoreError> {
        for _ in 0..super::WRITE_ATTEMPTS {
            let op = self.get_operation(principal, id).await?;
            if op.done() || op.kind != OperationKind::CreateKey {
                return Ok(op);
            }
            let key_id = KeyId::from_trusted(op.resource_id.clone());
            let Some(key) = self.store.get_key(&key_id).await? else {
                return Ok(op);
            };
            self.authorize::<auth::DeleteKey>(
                principal,
                Resource::Key {
                    id: key.id.clone(),
                    folder: key.folder_id.clone(),
                },
            )
            .await?;
            let now = self.clock.now();
            let mut gone = key.clone();
            gone.deleted_at = Some(now);
            gone.destroyed_at = Some(now);
            gone.sealed = None;
            gone.version = key.version + 1;
            let mut cancelled = op.clone();
            cancelled.modified_at = now;
            cancelled.result = OperationResult::Failed {
                kind: ErrorKind::Cancelled,
                message: "the operation was cancelled".into(),
            };
            let write = Write {
                bindings: None,
                key: Some(KeyWrite::Update {
                    record: &gone,
                    expected_version: key.version,
                }),
                operation: Some(&cancelled),
                audit: None,
            };
            match self
                .write_recorded(principal, op.id.as_str(), None, write)
                .await
            {
                Ok(()) => {
                    self.vault.invalidate(&key_id);
                    return Ok(cancelled);
                }
                // The creation finished in the meantime: read again and report that.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict(StoreError::Conflict(
            "the operation is changing concurrently".into(),
        )))
    }
}
