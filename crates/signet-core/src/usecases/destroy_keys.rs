use crate::domain::KeyId;
use crate::store::{DESTRUCTION_JOB, KeyWrite, StoreError, Write};
use crate::{CoreError, Kms};

/// How many keys one pass of the destruction job handles.
const BATCH: usize = 500;

impl Kms {
    /// Destroys the sealed material of keys deleted longer ago than the deletion window.
    /// Run periodically by the server; time comes from the injected clock. Returns the ids of
    /// the keys destroyed in this pass. With a store shared by several servers one of them
    /// runs it at a time: a pass finds nothing to do while another holds the job's claim.
    pub async fn destroy_expired_keys(&self) -> Result<Vec<KeyId>, CoreError> {
        let Some(_claim) = self.store.try_claim(DESTRUCTION_JOB).await? else {
            tracing::debug!("another server is destroying expired keys");
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        let cutoff = now.saturating_sub(self.settings.deletion_window);
        let due = self.store.keys_due_for_destruction(cutoff, BATCH).await?;
        let mut destroyed = Vec::with_capacity(due.len());
        for record in due {
            let mut gone = record.clone();
            gone.sealed = None;
            gone.destroyed_at = Some(now);
            gone.version = record.version + 1;
            match self
                .store
                .write(Write {
                    bindings: None,
                    key: Some(KeyWrite::Update {
                        record: &gone,
                        expected_version: record.version,
                    }),
                    operation: None,
                    audit: None,
                })
                .await
            {
                Ok(()) => {
                    self.vault.invalidate(&record.id);
                    tracing::info!(key_id = %record.id, "destroyed the material of a deleted key");
                    destroyed.push(record.id);
                }
                // Restored or changed meanwhile: the next pass looks again.
                Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(destroyed)
    }
}
