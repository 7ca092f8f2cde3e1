use crate::auth::{self, Principal, Resource};
use crate::domain::{KeyId, KeyView};
use crate::{CoreError, Kms};

impl Kms {
    pub async fn get_key(&self, principal: &Principal, id: &KeyId) -> Result<KeyView, CoreError> {
        let record = self.visible_key(id).await?;
        self.authorize::<auth::ViewKey>(
            principal,
            Resource::Key {
                id: record.id.clone(),
                folder: record.folder_id.clone(),
            },
        )
        .await?;
        Ok(record.view())
    }
}
