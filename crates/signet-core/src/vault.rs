//! The only door to usable key material: unsealing under the root key, behind an
//! [`Authorized<UseKey>`] proof, with a bounded cache of unsealed keys.
//!
//! The cache keeps the sign path off the database and off the unsealing code. Entries are
//! dropped (and their key memory wiped by the backend) on eviction and whenever the key is
//! updated, deleted or restored, here or (through the store's change feed) elsewhere. A load
//! that raced with an invalidation is not cached. How long an entry is trusted is the
//! [`CachePolicy`]'s.

use crate::CoreError;
use crate::auth::{Authorized, Resource, UseKey};
use crate::cache::{CachePolicy, Cached, TimedLru};
use crate::domain::{FolderId, KeyId, KeyRecord, KeyStatus};
use parking_lot::Mutex;
use signet_crypto::{Algorithm, RootKey, SigningKey};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Keys unused for this long are dropped by [`KeyVault::sweep`] (and their memory wiped):
/// reloading one means a read and an unsealing, so they are kept longer than bindings.
pub const KEY_CACHE_IDLE: Duration = Duration::from_secs(600);

/// What the sign path needs to know about a key, without touching the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyMeta {
    pub id: KeyId,
    pub folder_id: FolderId,
    pub algorithm: Algorithm,
    pub status: KeyStatus,
    pub version: i64,
    pub public_key_pem: String,
}

/// An unsealed key and its metadata as of `meta.version`.
pub struct LoadedKey {
    pub meta: KeyMeta,
    signing: SigningKey,
}

impl fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedKey")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl LoadedKey {
    /// The signing key, for the key the proof is about and no other.
    pub fn signer(&self, proof: &Authorized<UseKey>) -> Result<&SigningKey, CoreError> {
        match proof.resource() {
            Resource::Key { id, .. } if *id == self.meta.id => Ok(&self.signing),
            _ => Err(CoreError::PermissionDenied),
        }
    }
}

/// Cache statistics, for metrics.
#[derive(Debug, Default)]
pub struct VaultStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

pub struct KeyVault {
    root: Arc<RootKey>,
    cache: Mutex<TimedLru<KeyId, Arc<LoadedKey>>>,
    /// How long entries are trusted (see [`CachePolicy`]).
    policy: Arc<CachePolicy>,
    /// Bumped by every invalidation; a load that saw another value when it started is not
    /// cached, so a stale record can never be re-inserted after an update.
    epoch: AtomicU64,
    pub stats: VaultStats,
}

impl fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVault")
            .field("cached", &self.cache.lock().len())
            .finish_non_exhaustive()
    }
}

impl KeyVault {
    pub fn new(root: Arc<RootKey>, capacity: usize, policy: Arc<CachePolicy>) -> KeyVault {
        KeyVault {
            root,
            cache: Mutex::new(TimedLru::new(capacity)),
            policy,
            epoch: AtomicU64::new(0),
            stats: VaultStats::default(),
        }
    }

    pub fn root(&self) -> &RootKey {
        &self.root
    }

    /// A cached key, if it is fresh. Needs no proof: only [`LoadedKey::signer`] hands out
    /// material, and that needs one.
    pub fn cached_meta(&self, id: &KeyId) -> Option<Arc<LoadedKey>> {
        self.cached(id).fresh()
    }

    /// A cached key, fresh or stale (see [`CachePolicy`]). An entry too old to use is dropped.
    pub fn cached(&self, id: &KeyId) -> Cached<Arc<LoadedKey>> {
        let found = self.cache.lock().get(&self.policy, id);
        match &found {
            Cached::Fresh(_) => self.stats.hits.fetch_add(1, Ordering::Relaxed),
            Cached::Stale(_) | Cached::Missing => self.stats.misses.fetch_add(1, Ordering::Relaxed),
        };
        found
    }

    /// Trusts `key` afresh, without unsealing it again, when the store still holds the version
    /// it was loaded at and no invalidation happened since `epoch_at_read`.
    pub fn renew(&self, key: &Arc<LoadedKey>, epoch_at_read: u64) {
        let mut cache = self.cache.lock();
        if self.epoch.load(Ordering::SeqCst) == epoch_at_read {
            cache.put(&self.policy, key.meta.id.clone(), Arc::clone(key));
        }
    }

    /// The current epoch; pass it to [`KeyVault::unseal`] for a record read after this call.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Unseals `record` for the holder of `proof`, and caches it unless an invalidation
    /// happened since `epoch_at_read`.
    pub fn unseal(
        &self,
        proof: &Authorized<UseKey>,
        record: &KeyRecord,
        epoch_at_read: u64,
    ) -> Result<Arc<LoadedKey>, CoreError> {
        match proof.resource() {
            Resource::Key { id, .. } if *id == record.id => {}
            _ => return Err(CoreError::PermissionDenied),
        }
        let sealed = record.sealed.as_ref().ok_or_else(|| {
            CoreError::FailedPrecondition("the key has no usable material".into())
        })?;
        let signing =
            signet_crypto::open_key(&self.root, record.id.as_str(), record.algorithm, sealed)?;
        let loaded = Arc::new(LoadedKey {
            meta: KeyMeta {
                id: record.id.clone(),
                folder_id: record.folder_id.clone(),
                algorithm: record.algorithm,
                status: record.status,
                version: record.version,
                public_key_pem: record.public_key_pem.clone().unwrap_or_default(),
            },
            signing,
        });
        let mut cache = self.cache.lock();
        if self.epoch.load(Ordering::SeqCst) == epoch_at_read {
            cache.put(&self.policy, record.id.clone(), Arc::clone(&loaded));
        }
        Ok(loaded)
    }

    /// Drops a key from the cache; call after every change to the key.
    pub fn invalidate(&self, id: &KeyId) {
        let mut cache = self.cache.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        cache.pop(id);
    }

    /// Drops the keys unused for `idle` (and those too old to use); a key's memory is wiped
    /// once the last call using it is done. Returns how many were dropped.
    pub fn sweep(&self, idle: Duration, now: Instant) -> usize {
        self.cache.lock().sweep(&self.policy, idle, now)
    }

    pub fn len(&self) -> usize {
        self.cache.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
