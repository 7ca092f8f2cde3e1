use crate::auth::{self, Principal, Resource};
use crate::domain::{KeyId, KeyView};
use crate::store::{KeyWrite, StoreError, Write};
use crate::{CoreError, Kms};

impl Kms {
    /// Undoes a deletion within the deletion window (an admin-only extension: Yandex offers this
    /// only through support). The key comes back with the status it had.
    pub async fn restore_key(
        &self,
        principal: &Principal,
        id: &KeyId,
    ) -> Result<KeyView, CoreError> {
        self.authorize::<auth::Administer>(principal, Resource::Deployment)
            .await?;
        let current = self
            .store
            .get_key(id)
            .await?
            .ok_or_else(|| CoreError::not_found_key(id))?;
        if !current.is_deleted() {
            return Err(CoreError::FailedPrecondition(
                "the key is not deleted".into(),
            ));
        }
        if current.destroyed_at.is_some() || current.sealed.is_none() {
            return Err(CoreError::FailedPrecondition(
                "the key's material was already destroyed; it cannot be restored".into(),
            ));
        }
        let mut restored = current.clone();
        restored.deleted_at = None;
        restored.version = current.version + 1;
        match self
            .store
            .write(Write {
                bindings: None,
                key: Some(KeyWrite::Update {
                    record: &restored,
                    expected_version: current.version,
                }),
                operation: None,
                audit: None,
            })
            .await
        {
            Ok(()) => {
                self.vault.invalidate(id);
                Ok(restored.view())
            }
            Err(e @ StoreError::Conflict(_)) => Err(CoreError::Conflict(e)),
            Err(e) => Err(e.into()),
        }
    }
}
