use crate::auth::{self, Principal, Resource};
use crate::domain::{
    KeyId, KeyStatus, Labels, OperationId, OperationKind, OperationRecord, OperationResult,
};
use crate::store::{KeyWrite, StoreError, Write};
use crate::{CoreError, Kms};

/// A field that an update may change (the allowed `update_mask` paths).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UpdateField {
    Name,
    Description,
    Labels,
    Status,
    DeletionProtection,
}

impl UpdateField {
    /// Parses a mask path (snake_case, as gRPC clients send it).
    pub fn parse(path: &str) -> Option<UpdateField> {
        match path {
            "name" => Some(UpdateField::Name),
            "description" => Some(UpdateField::Description),
            "labels" => Some(UpdateField::Labels),
            "status" => Some(UpdateField::Status),
            "deletion_protection" => Some(UpdateField::DeletionProtection),
            _ => None,
        }
    }
}

/// A validated UpdateAsymmetricSignatureKey request. Only the fields in `mask` are applied;
/// `status`, when in the mask, is ACTIVE or INACTIVE (checked at the wire boundary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateKey {
    pub key_id: KeyId,
    pub mask: Vec<UpdateField>,
    pub name: String,
    pub description: String,
    pub labels: Labels,
    pub status: Option<KeyStatus>,
    pub deletion_protection: bool,
}

impl Kms {
    /// Applies an update. The change and its (done) operation are committed together, so the
    /// returned operation is already done.
    pub async fn update_key(
        &self,
        principal: &Principal,
        cmd: UpdateKey,
    ) -> Result<OperationRecord, CoreError> {
        for _ in 0..super::WRITE_ATTEMPTS {
            let current = self.visible_key(&cmd.key_id).await?;
            let resource = Resource::Key {
                id: current.id.clone(),
                folder: current.folder_id.clone(),
            };
            let proof = self
                .authorize::<auth::UpdateKey>(principal, resource.clone())
                .await?;
            if cmd.mask.contains(&UpdateField::Status) {
                self.authorize::<auth::ChangeKeyStatus>(principal, resource)
                    .await?;
            }
            if current.status == KeyStatus::Creating {
                return Err(CoreError::FailedPrecondition(
                    "the key is still being created; wait for its operation to finish".into(),
                ));
            }
            let mut next = current.clone();
            for field in &cmd.mask {
                match field {
                    UpdateField::Name => next.name = cmd.name.clone(),
                    UpdateField::Description => next.description = cmd.description.clone(),
                    UpdateField::Labels => next.labels = cmd.labels.clone(),
                    UpdateField::DeletionProtection => {
                        next.deletion_protection = cmd.deletion_protection
                    }
                    UpdateField::Status => {
                        if let Some(status) = cmd.status {
                            next.status = status;
                        }
                    }
                }
            }
            next.version = current.version + 1;
            let now = self.clock.now();
            let op = OperationRecord {
                id: OperationId::generate()?,
                kind: OperationKind::UpdateKey,
                resource_id: current.id.to_string(),
                description: OperationKind::UpdateKey.description().into(),
                created_at: now,
                created_by: proof.subject_id().to_owned(),
                modified_at: now,
                result: OperationResult::Key(next.view()),
            };
            let write = Write {
                bindings: None,
                key: Some(KeyWrite::Update {
                    record: &next,
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
