use crate::auth::{self, Principal, Resource};
use crate::domain::{FolderId, KeyId, OperationId, OperationKind, OperationRecord};
use crate::{CoreError, Kms};

impl Kms {
    pub async fn get_operation(
        &self,
        principal: &Principal,
        id: &OperationId,
    ) -> Result<OperationRecord, CoreError> {
        let not_found = || CoreError::NotFound {
            what: "operation",
            id: id.to_string(),
        };
        let op = self.store.get_operation(id).await?.ok_or_else(not_found)?;
        // An operation is visible to whoever may view what it acts on (deleted keys included,
        // so that a Delete can be polled to completion).
        match op.kind {
            OperationKind::CreateKey | OperationKind::UpdateKey | OperationKind::DeleteKey => {
                let key = self
                    .store
                    .get_key(&KeyId::from_trusted(op.resource_id.clone()))
                    .await?
                    .ok_or_else(not_found)?;
                self.authorize::<auth::ViewOperations>(
                    principal,
                    Resource::Key {
                        id: key.id.clone(),
                        folder: key.folder_id.clone(),
                    },
                )
                .await
                .map_err(|e| hide(e, &not_found))?;
            }
            OperationKind::SetKeyAccessBindings | OperationKind::UpdateKeyAccessBindings => {
                let key = self
                    .store
                    .get_key(&KeyId::from_trusted(op.resource_id.clone()))
                    .await?
                    .ok_or_else(not_found)?;
                self.authorize::<auth::ViewBindings>(
                    principal,
                    Resource::Key {
                        id: key.id.clone(),
                        folder: key.folder_id.clone(),
                    },
                )
                .await
                .map_err(|e| hide(e, &not_found))?;
            }
            OperationKind::SetFolderAccessBindings | OperationKind::UpdateFolderAccessBindings => {
                self.authorize::<auth::ViewBindings>(
                    principal,
                    Resource::Folder(FolderId::from_trusted(op.resource_id.clone())),
                )
                .await
                .map_err(|e| hide(e, &not_found))?;
            }
            OperationKind::CreateServiceAccount | OperationKind::DeleteServiceAccount => {
                self.authorize::<auth::Administer>(principal, Resource::Deployment)
                    .await
                    .map_err(|e| hide(e, &not_found))?;
            }
        }
        Ok(op)
    }
}

/// A caller with no role on what the operation acts on learns only that the operation is not
/// there; a caller with some role, but not the one needed, gets PERMISSION_DENIED.
fn hide(e: CoreError, not_found: &impl Fn() -> CoreError) -> CoreError {
    match e {
        CoreError::NotFound { .. } => not_found(),
        other => other,
    }
}
