use crate::auth::{self, Principal, Resource};
use crate::domain::{KeyId, OperationId, OperationRecord, Timestamp};
use crate::store::OperationCursor;
use crate::{CoreError, Kms, paging};

/// A validated ListAsymmetricSignatureKeyOperations request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOperations {
    pub key_id: KeyId,
    pub page_size: usize,
    pub page_token: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationPage {
    pub operations: Vec<OperationRecord>,
    pub next_page_token: String,
}

impl Kms {
    pub async fn list_operations(
        &self,
        principal: &Principal,
        req: ListOperations,
    ) -> Result<OperationPage, CoreError> {
        let key = self.visible_key(&req.key_id).await?;
        auth::authorize::<auth::ViewKey>(
            principal,
            Resource::Key {
                id: key.id.clone(),
                folder: key.folder_id.clone(),
            },
        )?;
        let scope = format!("operations:{}", key.id);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let (micros, id): (i64, String) =
                paging::decode(self.vault.root(), &scope, "page_token", &req.page_token)?;
            Some(OperationCursor {
                created_at: Timestamp::from_micros(micros),
                id: OperationId::from_trusted(id),
            })
        };
        let mut ops = self
            .store
            .list_operations(key.id.as_str(), after.as_ref(), req.page_size + 1)
            .await?;
        let more = ops.len() > req.page_size;
        ops.truncate(req.page_size);
        let next_page_token = match (more, ops.last()) {
            (true, Some(last)) => paging::encode(
                self.vault.root(),
                &scope,
                &(last.created_at.as_micros(), last.id.to_string()),
            ),
            _ => String::new(),
        };
        Ok(OperationPage {
            operations: ops,
            next_page_token,
        })
    }
}
