use crate::auth::{self, Principal, Resource};
use crate::domain::{OperationId, OperationRecord};
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
        // Operations are visible to whoever may view the key they act on (deleted keys
        // included, so that a Delete can be polled to completion).
        let key = self
            .store
            .get_key(&crate::domain::KeyId::from_trusted(op.resource_id.clone()))
            .await?
            .ok_or_else(not_found)?;
        auth::authorize::<auth::ViewKey>(
            principal,
            Resource::Key {
                id: key.id.clone(),
                folder: key.folder_id.clone(),
            },
        )?;
        Ok(op)
    }
}
