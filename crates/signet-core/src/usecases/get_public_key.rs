use crate::auth::{self, Principal, Resource};
use crate::domain::{KeyId, KeyStatus};
use crate::{CoreError, Kms};

impl Kms {
    /// The key's public key as PEM SubjectPublicKeyInfo. Like signing, it needs an ACTIVE key.
    pub async fn get_public_key(
        &self,
        principal: &Principal,
        id: &KeyId,
    ) -> Result<(KeyId, String), CoreError> {
        let (key_id, folder, status, pem) = match self.vault.cached_meta(id) {
            Some(k) => (
                k.meta.id.clone(),
                k.meta.folder_id.clone(),
                k.meta.status,
                k.meta.public_key_pem.clone(),
            ),
            None => {
                let r = self.visible_key(id).await?;
                let pem = r.public_key_pem.clone().unwrap_or_default();
                (r.id, r.folder_id, r.status, pem)
            }
        };
        self.authorize::<auth::GetPublicKey>(
            principal,
            Resource::Key {
                id: key_id.clone(),
                folder,
            },
        )
        .await?;
        match status {
            KeyStatus::Active if !pem.is_empty() => Ok((key_id, pem)),
            KeyStatus::Inactive => Err(CoreError::FailedPrecondition(
                "the key is INACTIVE; activate it to use it".into(),
            )),
            _ => Err(CoreError::FailedPrecondition(
                "the key is still being created".into(),
            )),
        }
    }
}
