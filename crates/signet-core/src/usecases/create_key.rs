use crate::auth::{self, Principal, Resource};
use crate::domain::{
    FolderId, KeyId, KeyRecord, KeyStatus, Labels, OperationId, OperationKind, OperationRecord,
    OperationResult,
};
use crate::store::{Claim, KeyWrite, Write, operation_claim};
use crate::{CoreError, ErrorKind, Kms};
use signet_crypto::{Algorithm, SigningKey};
use std::sync::Arc;

/// A validated CreateAsymmetricSignatureKey request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateKey {
    pub folder_id: FolderId,
    pub name: String,
    pub description: String,
    pub labels: Labels,
    pub algorithm: Algorithm,
    pub deletion_protection: bool,
}

impl Kms {
    /// Starts creating a key: the key is stored as CREATING together with a pending operation,
    /// both committed before this returns; the key pair is generated in the background and the
    /// operation completes when the sealed material is stored and the key is ACTIVE.
    pub async fn create_key(
        self: &Arc<Self>,
        principal: &Principal,
        cmd: CreateKey,
    ) -> Result<OperationRecord, CoreError> {
        let proof = self
            .authorize::<auth::CreateKey>(principal, Resource::Folder(cmd.folder_id.clone()))
            .await?;
        let now = self.clock.now();
        let key = KeyRecord {
            id: KeyId::generate()?,
            folder_id: cmd.folder_id,
            created_at: now,
            name: cmd.name,
            description: cmd.description,
            labels: cmd.labels,
            status: KeyStatus::Creating,
            algorithm: cmd.algorithm,
            deletion_protection: cmd.deletion_protection,
            public_key_pem: None,
            sealed: None,
            deleted_at: None,
            destroyed_at: None,
            version: 1,
        };
        let op = OperationRecord {
            id: OperationId::generate()?,
            kind: OperationKind::CreateKey,
            resource_id: key.id.to_string(),
            description: OperationKind::CreateKey.description().into(),
            created_at: now,
            created_by: proof.subject_id().to_owned(),
            modified_at: now,
            result: OperationResult::Pending,
        };
        // Claimed before it is committed, so that recovery on another node (which sees the
        // operation once it is) leaves it to this one. (A fresh random id is never claimed
        // already; if it were, recovery would at worst generate the key twice, and only one
        // would be stored.)
        let claim = self.store.try_claim(&operation_claim(&op.id)).await?;
        self.write_recorded(
            principal,
            key.id.as_str(),
            Some(key.algorithm),
            Write {
                bindings: None,
                // The quota is checked by the store, counted under its lock inside this write,
                // so that concurrent creations cannot together overshoot it.
                key: Some(KeyWrite::InsertWithinQuota {
                    record: &key,
                    limit: self.settings.max_keys_per_folder,
                }),
                operation: Some(&op),
                audit: None,
            },
        )
        .await?;
        self.spawn_generation(op.clone(), claim);
        Ok(op)
    }

    /// Generates the key of a pending creation in the background, holding `claim` (the
    /// operation's) until it is done.
    fn spawn_generation(self: &Arc<Self>, op: OperationRecord, claim: Option<Claim>) {
        let kms = Arc::clone(self);
        let guard = self.tasks.start();
        tokio::spawn(async move {
            let _guard = guard;
            let _claim = claim;
            if let Err(e) = kms.finish_creation(&op).await {
                tracing::error!(operation_id = %op.id, error = %e, "key creation failed");
                kms.fail_creation(&op, &e).await;
            }
        });
    }

    /// Generates, seals and stores the key material, then marks the key ACTIVE and the
    /// operation done in one write. A key that was cancelled meanwhile is left alone.
    async fn finish_creation(&self, op: &OperationRecord) -> Result<(), CoreError> {
        let key_id = KeyId::from_trusted(op.resource_id.clone());
        if !matches!(
            self.store.get_operation(&op.id).await?.map(|o| o.result),
            Some(OperationResult::Pending)
        ) {
            // Finished (or cancelled) since it was found pending: nothing to generate.
            return Ok(());
        }
        let Some(record) = self.store.get_key(&key_id).await? else {
            return Err(CoreError::Internal(
                "the key of a pending create is missing".into(),
            ));
        };
        let algorithm = record.algorithm;
        let signing = tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
            .await
            .map_err(CoreError::internal)??;
        let sealed = signet_crypto::seal_key(self.vault.root(), key_id.as_str(), &signing)?;
        let pem = signing.public_key_pem()?;
        drop(signing);

        for _ in 0..super::WRITE_ATTEMPTS {
            let Some(current) = self.store.get_key(&key_id).await? else {
                return Ok(());
            };
            let still_pending = matches!(
                self.store.get_operation(&op.id).await?.map(|o| o.result),
                Some(OperationResult::Pending)
            );
            if current.is_deleted() || current.status != KeyStatus::Creating || !still_pending {
                // Cancelled (or finished by someone else) while the key was being generated.
                return Ok(());
            }
            let mut ready = current.clone();
            ready.status = KeyStatus::Active;
            ready.sealed = Some(sealed.clone());
            ready.public_key_pem = Some(pem.clone());
            ready.version = current.version + 1;
            let mut done = op.clone();
            done.modified_at = self.clock.now();
            done.result = OperationResult::Key(ready.view());
            match self
                .store
                .write(Write {
                    bindings: None,
                    key: Some(KeyWrite::Update {
                        record: &ready,
                        expected_version: current.version,
                    }),
                    operation: Some(&done),
                    audit: None,
                })
                .await
            {
                Ok(()) => return Ok(()),
                Err(crate::store::StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoreError::Conflict(crate::store::StoreError::Conflict(
            "the key kept changing while it was being created".into(),
        )))
    }

    /// Records a failed creation: the operation carries the error, the key disappears.
    async fn fail_creation(&self, op: &OperationRecord, error: &CoreError) {
        let key_id = KeyId::from_trusted(op.resource_id.clone());
        for _ in 0..super::WRITE_ATTEMPTS {
            let current = match self.store.get_key(&key_id).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(operation_id = %op.id, error = %e, "cannot record failed creation");
                    return;
                }
            };
            let now = self.clock.now();
            let mut failed = op.clone();
            failed.modified_at = now;
            failed.result = OperationResult::Failed {
                kind: ErrorKind::Internal,
                message: format!("key creation failed: {}", error.client_message()),
            };
            let gone = current.map(|c| {
                let mut g = c.clone();
                g.deleted_at = Some(now);
                g.destroyed_at = Some(now);
                g.sealed = None;
                g.version = c.version + 1;
                (g, c.version)
            });
            let write = Write {
                bindings: None,
                key: gone.as_ref().map(|(g, v)| KeyWrite::Update {
                    record: g,
                    expected_version: *v,
                }),
                operation: Some(&failed),
                audit: None,
            };
            match self.store.write(write).await {
                Ok(()) => return,
                Err(crate::store::StoreError::Conflict(_)) => continue,
                Err(e) => {
                    tracing::error!(operation_id = %op.id, error = %e, "cannot record failed creation");
                    return;
                }
            }
        }
    }

    /// Finishes operations interrupted by a crash or restart, of this process or of another
    /// sharing the store: every pending operation that nobody has claimed (the process working
    /// on one holds its claim until it is done; a process that dies loses its claims). Each is
    /// claimed here first, so that it is finished by exactly one process. Creations are resumed
    /// in the background (the key material is generated afresh: none was ever stored for a
    /// CREATING key). Returns how many operations this call took over.
    pub async fn recover_pending_operations(self: &Arc<Self>) -> Result<usize, CoreError> {
        let pending = self.store.pending_operations().await?;
        let mut count = 0;
        for op in pending {
            let Some(claim) = self.store.try_claim(&operation_claim(&op.id)).await? else {
                continue; // in progress elsewhere
            };
            // Its worker may have finished it, and let go of the claim, since the list was
            // read (a worker stores the outcome before it releases the claim).
            let Some(op) = self.store.get_operation(&op.id).await? else {
                continue;
            };
            if op.done() {
                continue;
            }
            count += 1;
            match op.kind {
                OperationKind::CreateKey => self.spawn_generation(op, Some(claim)),
                // Every other operation is committed done in the same write as its change; a
                // pending one cannot exist, but if it does, fail it rather than leave it.
                OperationKind::UpdateKey
                | OperationKind::DeleteKey
                | OperationKind::SetKeyAccessBindings
                | OperationKind::UpdateKeyAccessBindings
                | OperationKind::SetFolderAccessBindings
                | OperationKind::UpdateFolderAccessBindings
                | OperationKind::CreateServiceAccount
                | OperationKind::DeleteServiceAccount => {
                    let mut failed = op.clone();
                    failed.modified_at = self.clock.now();
                    failed.result = OperationResult::Failed {
                        kind: ErrorKind::Internal,
                        message: "the operation was interrupted".into(),
                    };
                    self.store
                        .write(Write {
                            bindings: None,
                            key: None,
                            operation: Some(&failed),
                            audit: None,
                        })
                        .await?;
                }
            }
        }
        Ok(count)
    }
}
