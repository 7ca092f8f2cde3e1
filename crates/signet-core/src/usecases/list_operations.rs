use crate::auth::{self, Principal, Resource};
use crate::domain::{Invalid, KeyId, OperationId, OperationRecord, Timestamp};
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
        self.authorize::<auth::ViewOperations>(
            principal,
            Resource::Key {
                id: key.id.clone(),
                folder: key.folder_id.clone(),
            },
        )
        .await?;
        let scope = format!("operations:{}", key.id);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let raw = paging::decode(self.vault.root(), &scope, "page_token", &req.page_token)?;
            let bad = || Invalid::one("page_token", "is not a valid page token");
            let (micros, id) = raw.split_at_checked(8).ok_or_else(bad)?;
            let micros = i64::from_be_bytes(micros.try_into().map_err(|_| bad())?);
            let id = String::from_utf8(id.to_vec()).map_err(|_| bad())?;
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
            (true, Some(last)) => {
                let mut position = last.created_at.as_micros().to_be_bytes().to_vec();
                position.extend_from_slice(last.id.as_str().as_bytes());
                paging::encode(self.vault.root(), &scope, &position)
            }
            _ => String::new(),
        };
        Ok(OperationPage {
            operations: ops,
            next_page_token,
        })
    }
}
