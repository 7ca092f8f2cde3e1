//! Following the store's change feed ([`Store::watch_changes`]): changes committed by other
//! servers sharing the store invalidate this one's caches as soon as they are heard of, well
//! within the caches' maximum age (which stays the safety net).
//!
//! [`Store::watch_changes`]: crate::store::Store::watch_changes

use crate::Kms;
use crate::store::Change;
use std::sync::{Arc, Weak};
use tokio::task::JoinHandle;

impl Kms {
    /// Starts applying the store's change feed to the caches, if the store has one. The task
    /// ends when the feed does (the store is dropped) or when this `Kms` is gone.
    pub async fn follow_store_changes(
        self: &Arc<Self>,
    ) -> Result<Option<JoinHandle<()>>, crate::CoreError> {
        let Some(mut feed) = self.store.watch_changes().await? else {
            return Ok(None);
        };
        let kms: Weak<Kms> = Arc::downgrade(self);
        Ok(Some(tokio::spawn(async move {
            while let Some(change) = feed.recv().await {
                let Some(kms) = kms.upgrade() else {
                    return;
                };
                kms.apply_change(&change);
            }
        })))
    }

    /// Invalidates what `change` makes stale.
    pub fn apply_change(&self, change: &Change) {
        match change {
            Change::Key(id) => self.vault.invalidate(id),
            Change::Bindings(target) => self.access.invalidate_bindings_of(target),
            Change::TokensOf(account) => self.access.invalidate_tokens_of(account),
            Change::Missed => {
                tracing::debug!("the change feed may have missed changes; expiring the caches");
                self.cache_policy.expire_all();
            }
        }
    }
}
