use crate::auth::{self, Principal, Resource};
use crate::domain::{
    KeyId, KeyStatus, OperationId, OperationKind, OperationRecord, OperationResult,
};
use crate::store::{KeyWrite, StoreError, Write};
use crate::{CoreError, Kms};

impl Kms {
    /// Deletes a key: from this moment it is NOT_FOUND to every call. Its sealed material is
    /// kept for the deletion window (restorable by an admin), then destroyed.
    pub async fn delete_key(
        &self,
        principal: &Principal,
        id: &KeyId,
    ) -> Result<OperationRecord, CoreError> {
        for _ in 0..super::WRITE_ATTEMPTS {
            let current = self.visible_key(id).await?;
            let proof = self
                .authorize::<auth::DeleteKey>(
                    principal,
                    Resource::Key {
                        id: current.id.clone(),
                        folder: current.folder_id.clone(),
                    },
                )
                .await?;
            if current.deletion_protection {
                return Err(CoreError::FailedPrecondition(
                    "the key has deletion protection; clear it with Update first".into(),
                ));
            }
            if current.status == KeyStatus::Creating {
                return Err(CoreError::FailedPrecondition(
                    "the key is still being created; cancel its operation instead".into(),
                ));
            }
            let now = self.clock.now();
            let mut deleted = current.clone();
            deleted.deleted_at = Some(now);
            deleted.version = current.version + 1;
            let op = OperationRecord {
                id: OperationId::generate()?,
                kind: OperationKind::DeleteKey,
                resource_id: current.id.to_string(),
                description: OperationKind::DeleteKey.description().into(),
                created_at: now,
                created_by: proof.subject_id().to_owned(),
                modified_at: now,
                result: OperationResult::Key(current.view()),
            };
            let write = Write {
                bindings: None,
                key: Some(KeyWrite::Update {
                    record: &deleted,
                    expected_version: current.version,
                }),
                operation: Some(&op),
                audit: None,
            };
            match self
                .write_recorded(principal, current.id.as_str(), None, write)
                .await
            {
                Ok(()) => {
                    self.vault.invalidate(&current.id);
                    return Ok(op);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict(StoreError::Conflict(
            "the key is being changed concurrently".into(),
        )))
    }
}
