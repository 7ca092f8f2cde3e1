use crate::auth::{self, Principal, Resource};
use crate::domain::{
    AuthorizedKey, AuthorizedKeyAlgorithm, AuthorizedKeyId, FolderId, Invalid, Labels, OperationId,
    OperationKind, OperationRecord, OperationResult, ServiceAccount, ServiceAccountId,
};
use crate::store::StoreError;
use crate::{CoreError, Kms, paging};
use signet_crypto::SecretBytes;

/// A validated service account creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateServiceAccount {
    pub folder_id: FolderId,
    pub name: String,
    pub description: String,
    pub labels: Labels,
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
}

/// An authorized key just created, with the private key the caller keeps (shown once).
#[derive(Debug)]
pub struct NewAuthorizedKey {
    pub key: AuthorizedKey,
    pub private_key_pem: SecretBytes,
}

fn not_found_account(id: &ServiceAccountId) -> CoreError {
    CoreError::NotFound {
        what: "service account",
        id: id.to_string(),
    }
}

impl Kms {
    /// Service accounts, their keys and tokens are managed by the deployment admin.
    async fn administer(
        &self,
        principal: &Principal,
    ) -> Result<auth::Authorized<auth::Administer>, CoreError> {
        self.authorize::<auth::Administer>(principal, Resource::Deployment)
            .await
    }

    pub async fn create_service_account(
        &self,
        principal: &Principal,
        cmd: CreateServiceAccount,
    ) -> Result<OperationRecord, CoreError> {
        let proof = self.administer(principal).await?;
        let now = self.clock.now();
        let account = ServiceAccount {
            id: ServiceAccountId::generate()?,
            folder_id: cmd.folder_id,
            created_at: now,
            name: cmd.name,
            description: cmd.description,
            labels: cmd.labels,
        };
        let op = OperationRecord {
            id: OperationId::generate()?,
            kind: OperationKind::CreateServiceAccount,
            resource_id: account.id.to_string(),
            description: OperationKind::CreateServiceAccount.description().into(),
            created_at: now,
            created_by: proof.subject_id().to_owned(),
            modified_at: now,
            result: OperationResult::ServiceAccount(account.clone()),
        };
        let record = self.call_record(principal, account.id.as_str(), None);
        match self
            .store
            .insert_service_account(&account, &op, record.as_ref())
            .await
        {
            Ok(()) => {
                Kms::committed(principal, record.as_ref());
                Ok(op)
            }
            Err(StoreError::Conflict(_)) => Err(CoreError::AlreadyExists(format!(
                "a service account named {:?} already exists in folder {}",
                account.name, account.folder_id
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_service_account(
        &self,
        principal: &Principal,
        id: &ServiceAccountId,
    ) -> Result<ServiceAccount, CoreError> {
        self.administer(principal).await?;
        self.store
            .get_service_account(id)
            .await?
            .ok_or_else(|| not_found_account(id))
    }

    pub async fn list_service_accounts(
        &self,
        principal: &Principal,
        folder: &FolderId,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<ServiceAccount>, CoreError> {
        self.administer(principal).await?;
        let scope = format!("service-accounts:{folder}");
        let after = decode_id_token(self, &scope, page_token)?.map(ServiceAccountId::from_trusted);
        let mut items = self
            .store
            .list_service_accounts(folder, after.as_ref(), page_size + 1)
            .await?;
        let next = next_token(self, &scope, &mut items, page_size, |a| a.id.as_str());
        Ok(Page {
            items,
            next_page_token: next,
        })
    }

    /// Deletes a service account, its authorized keys, and revokes its tokens at once.
    pub async fn delete_service_account(
        &self,
        principal: &Principal,
        id: &ServiceAccountId,
    ) -> Result<OperationRecord, CoreError> {
        let proof = self.administer(principal).await?;
        let now = self.clock.now();
        let op = OperationRecord {
            id: OperationId::generate()?,
            kind: OperationKind::DeleteServiceAccount,
            resource_id: id.to_string(),
            description: OperationKind::DeleteServiceAccount.description().into(),
            created_at: now,
            created_by: proof.subject_id().to_owned(),
            modified_at: now,
            result: OperationResult::Empty,
        };
        let record = self.call_record(principal, id.as_str(), None);
        if !self
            .store
            .delete_service_account(id, now, &op, record.as_ref())
            .await?
        {
            return Err(not_found_account(id));
        }
        Kms::committed(principal, record.as_ref());
        self.access.invalidate_tokens_of(id);
        Ok(op)
    }

    /// Creates an authorized key for a service account. The private key is generated here,
    /// returned once, and never stored: Signet keeps only the public key.
    pub async fn create_authorized_key(
        &self,
        principal: &Principal,
        account: &ServiceAccountId,
        description: String,
        algorithm: AuthorizedKeyAlgorithm,
    ) -> Result<NewAuthorizedKey, CoreError> {
        self.administer(principal).await?;
        if self.store.get_service_account(account).await?.is_none() {
            return Err(not_found_account(account));
        }
        let bits = match algorithm {
            AuthorizedKeyAlgorithm::Rsa2048 => 2048,
            AuthorizedKeyAlgorithm::Rsa4096 => 4096,
        };
        let credential = tokio::task::spawn_blocking(move || {
            signet_crypto::credential::generate_rsa_credential(bits)
        })
        .await
        .map_err(CoreError::internal)??;
        let key = AuthorizedKey {
            id: AuthorizedKeyId::generate()?,
            service_account_id: account.clone(),
            created_at: self.clock.now(),
            description,
            algorithm,
            public_key_pem: credential.public_key_pem,
        };
        match self.store.insert_authorized_key(&key).await {
            Ok(()) => Ok(NewAuthorizedKey {
                key,
                private_key_pem: credential.private_key_pem,
            }),
            // The account was deleted in between.
            Err(StoreError::Conflict(_)) => Err(not_found_account(account)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_authorized_key(
        &self,
        principal: &Principal,
        id: &AuthorizedKeyId,
    ) -> Result<AuthorizedKey, CoreError> {
        self.administer(principal).await?;
        self.store
            .get_authorized_key(id)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "authorized key",
                id: id.to_string(),
            })
    }

    pub async fn list_authorized_keys(
        &self,
        principal: &Principal,
        account: &ServiceAccountId,
        page_size: usize,
        page_token: &str,
    ) -> Result<Page<AuthorizedKey>, CoreError> {
        self.administer(principal).await?;
        let scope = format!("authorized-keys:{account}");
        let after = decode_id_token(self, &scope, page_token)?.map(AuthorizedKeyId::from_trusted);
        let mut items = self
            .store
            .list_authorized_keys(account, after.as_ref(), page_size + 1)
            .await?;
        let next = next_token(self, &scope, &mut items, page_size, |k| k.id.as_str());
        Ok(Page {
            items,
            next_page_token: next,
        })
    }

    pub async fn delete_authorized_key(
        &self,
        principal: &Principal,
        id: &AuthorizedKeyId,
    ) -> Result<(), CoreError> {
        self.administer(principal).await?;
        if self.store.delete_authorized_key(id).await? {
            Ok(())
        } else {
            Err(CoreError::NotFound {
                what: "authorized key",
                id: id.to_string(),
            })
        }
    }
}

fn decode_id_token(kms: &Kms, scope: &str, token: &str) -> Result<Option<String>, CoreError> {
    if token.is_empty() {
        return Ok(None);
    }
    let raw = paging::decode(kms.vault.root(), scope, "page_token", token)?;
    String::from_utf8(raw)
        .map(Some)
        .map_err(|_| Invalid::one("page_token", "is not a valid page token").into())
}

fn next_token<T>(
    kms: &Kms,
    scope: &str,
    items: &mut Vec<T>,
    page_size: usize,
    id: impl Fn(&T) -> &str,
) -> String {
    let more = items.len() > page_size;
    items.truncate(page_size);
    match (more, items.last()) {
        (true, Some(last)) => paging::encode(kms.vault.root(), scope, id(last).as_bytes()),
        _ => String::new(),
    }
}
