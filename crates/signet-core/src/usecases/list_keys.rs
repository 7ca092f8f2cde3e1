use crate::auth::{self, Principal, Resource};
use crate::domain::{FolderId, Invalid, KeyId, KeyView};
use crate::{CoreError, Kms, paging};

/// A validated ListAsymmetricSignatureKeys request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListKeys {
    pub folder_id: FolderId,
    /// Already resolved: 1..=1000.
    pub page_size: usize,
    /// The raw token; checked against this listing here.
    pub page_token: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPage {
    pub keys: Vec<KeyView>,
    pub next_page_token: String,
}

impl Kms {
    pub async fn list_keys(
        &self,
        principal: &Principal,
        req: ListKeys,
    ) -> Result<KeyPage, CoreError> {
        self.authorize::<auth::ViewKey>(principal, Resource::Folder(req.folder_id.clone()))
            .await?;
        let scope = format!("keys:{}", req.folder_id);
        let after: Option<KeyId> = if req.page_token.is_empty() {
            None
        } else {
            let raw = paging::decode(self.vault.root(), &scope, "page_token", &req.page_token)?;
            let id = String::from_utf8(raw)
                .map_err(|_| Invalid::one("page_token", "is not a valid page token"))?;
            Some(KeyId::from_trusted(id))
        };
        let mut records = self
            .store
            .list_keys(&req.folder_id, after.as_ref(), req.page_size + 1)
            .await?;
        let more = records.len() > req.page_size;
        records.truncate(req.page_size);
        let next_page_token = match (more, records.last()) {
            (true, Some(last)) => {
                paging::encode(self.vault.root(), &scope, last.id.as_str().as_bytes())
            }
            _ => String::new(),
        };
        Ok(KeyPage {
            keys: records.iter().map(|r| r.view()).collect(),
            next_page_token,
        })
    }
}
