//! Following the store's change feed ([`Store::watch_changes`]): changes committed by other
//! servers sharing the store invalidate this one's caches as soon as they are heard of, well
//! within the caches' maximum age (which stays the safety net). The same task notices when an
//! unreachable store is back.
//!
//! [`Store::watch_changes`]: crate::store::Store::watch_changes

use crate::Kms;
use crate::store::Change;
use std::sync::{Arc, Weak};
use tokio::task::JoinHandle;

/// How often the store is tried while it is unreachable.
const STORE_PROBE: std::time::Duration = std::time::Duration::from_millis(500);

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
            let mut probe = tokio::time::interval(STORE_PROBE);
            probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    change = feed.recv() => {
                        let (Some(change), Some(kms)) = (change, kms.upgrade()) else {
                            return;
                        };
                        kms.apply_change(&change);
                    }
                    _ = probe.tick() => {
                        let Some(kms) = kms.upgrade() else {
                            return;
                        };
                        kms.probe_store().await;
                    }
                }
            }
        })))
    }

    /// While the caches use stale entries because the store was unreachable, finds out whether
    /// it is back (so that callers do not each wait for the store's timeout to find out).
    async fn probe_store(&self) {
        if self.cache_policy.store_down()
            && self
                .store
                .get_meta(crate::bootstrap::META_ROOT_KEY_CHECK)
                .await
                .is_ok()
        {
            tracing::info!("the store is reachable again");
            self.cache_policy.store_up();
        }
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
