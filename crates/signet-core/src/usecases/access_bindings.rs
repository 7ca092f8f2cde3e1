use crate::auth::{self, Authorized, Principal, Resource};
use crate::domain::{
    AccessBinding, BindingAction, BindingDelta, BindingTarget, Invalid, OperationId, OperationKind,
    OperationRecord, OperationResult,
};
use crate::store::{BindingsWrite, Write};
use crate::{CoreError, Kms, paging};
use std::collections::BTreeSet;

/// A page of access bindings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingsPage {
    pub bindings: Vec<AccessBinding>,
    pub next_page_token: String,
}

impl Kms {
    /// The authorization resource of a binding target; a key must exist and not be deleted.
    async fn binding_resource(&self, target: &BindingTarget) -> Result<Resource, CoreError> {
        match target {
            BindingTarget::Key(id) => {
                let key = self.visible_key(id).await?;
                Ok(Resource::Key {
                    id: key.id,
                    folder: key.folder_id,
                })
            }
            BindingTarget::Folder(folder) => Ok(Resource::Folder(folder.clone())),
        }
    }

    pub async fn list_access_bindings(
        &self,
        principal: &Principal,
        target: &BindingTarget,
        page_size: usize,
        page_token: &str,
    ) -> Result<BindingsPage, CoreError> {
        let resource = self.binding_resource(target).await?;
        self.authorize::<auth::ViewBindings>(principal, resource)
            .await?;
        let scope = format!("bindings:{}", target.storage_key());
        let start = if page_token.is_empty() {
            0
        } else {
            let raw = paging::decode(self.vault.root(), &scope, "page_token", page_token)?;
            let bytes: [u8; 4] = raw
                .as_slice()
                .try_into()
                .map_err(|_| Invalid::one("page_token", "is not a valid page token"))?;
            u32::from_be_bytes(bytes) as usize
        };
        let mut all = self
            .store
            .get_access_bindings(&target.storage_key())
            .await?;
        all.sort();
        let end = (start + page_size).min(all.len());
        let bindings = all.get(start..end).map(<[_]>::to_vec).unwrap_or_default();
        let next_page_token = if end < all.len() {
            let pos = u32::try_from(end).unwrap_or(u32::MAX);
            paging::encode(self.vault.root(), &scope, &pos.to_be_bytes())
        } else {
            String::new()
        };
        Ok(BindingsPage {
            bindings,
            next_page_token,
        })
    }

    /// Replaces all bindings of a resource. In force (caches invalidated) before the returned,
    /// already done, operation reaches the caller.
    pub async fn set_access_bindings(
        &self,
        principal: &Principal,
        target: &BindingTarget,
        bindings: Vec<AccessBinding>,
    ) -> Result<OperationRecord, CoreError> {
        let resource = self.binding_resource(target).await?;
        let proof = self
            .authorize::<auth::SetBindings>(principal, resource)
            .await?;
        let unique: BTreeSet<AccessBinding> = bindings.into_iter().collect();
        let bindings: Vec<AccessBinding> = unique.into_iter().collect();
        let kind = match target {
            BindingTarget::Key(_) => OperationKind::SetKeyAccessBindings,
            BindingTarget::Folder(_) => OperationKind::SetFolderAccessBindings,
        };
        let _serial = self.bindings_lock.lock().await;
        self.commit_bindings(target, &bindings, kind, &proof, principal)
            .await
    }

    /// Applies ADD/REMOVE deltas. A delta list that repeats a binding, or both adds and removes
    /// it, is INVALID_ARGUMENT.
    pub async fn update_access_bindings(
        &self,
        principal: &Principal,
        target: &BindingTarget,
        deltas: Vec<BindingDelta>,
    ) -> Result<OperationRecord, CoreError> {
        let mut seen = BTreeSet::new();
        for d in &deltas {
            if !seen.insert(d.binding.clone()) {
                return Err(Invalid::one(
                    "access_binding_deltas",
                    format!(
                        "the binding of {} to {} appears more than once",
                        d.binding.role.id(),
                        d.binding.subject
                    ),
                )
                .into());
            }
        }
        let resource = self.binding_resource(target).await?;
        let proof = self
            .authorize::<auth::SetBindings>(principal, resource)
            .await?;
        let _serial = self.bindings_lock.lock().await;
        let mut current: BTreeSet<AccessBinding> = self
            .store
            .get_access_bindings(&target.storage_key())
            .await?
            .into_iter()
            .collect();
        for d in deltas {
            match d.action {
                BindingAction::Add => current.insert(d.binding),
                BindingAction::Remove => current.remove(&d.binding),
            };
        }
        let kind = match target {
            BindingTarget::Key(_) => OperationKind::UpdateKeyAccessBindings,
            BindingTarget::Folder(_) => OperationKind::UpdateFolderAccessBindings,
        };
        let bindings: Vec<AccessBinding> = current.into_iter().collect();
        self.commit_bindings(target, &bindings, kind, &proof, principal)
            .await
    }

    async fn commit_bindings(
        &self,
        target: &BindingTarget,
        bindings: &[AccessBinding],
        kind: OperationKind,
        proof: &Authorized<auth::SetBindings>,
        principal: &Principal,
    ) -> Result<OperationRecord, CoreError> {
        let now = self.clock.now();
        let resource_id = match target {
            BindingTarget::Key(id) => id.to_string(),
            BindingTarget::Folder(id) => id.to_string(),
        };
        let op = OperationRecord {
            id: OperationId::generate()?,
            kind,
            resource_id: resource_id.clone(),
            description: kind.description().into(),
            created_at: now,
            created_by: proof.subject_id().to_owned(),
            modified_at: now,
            result: OperationResult::Empty,
        };
        let key = target.storage_key();
        let write = Write {
            key: None,
            bindings: Some(BindingsWrite {
                target: &key,
                bindings,
            }),
            operation: Some(&op),
            audit: None,
        };
        self.write_recorded(principal, &resource_id, None, write)
            .await?;
        self.access.invalidate_bindings(target);
        Ok(op)
    }
}
