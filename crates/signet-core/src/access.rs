//! Authentication of tokens and authorization decisions, with the caches that keep both off the
//! database on the sign path. Both caches are invalidated by the writes that change what they
//! hold (binding changes, token revocation, service account deletion), before those writes'
//! operations are reported done, and by the store's change feed for writes made elsewhere. How
//! long an entry is trusted is the [`CachePolicy`]'s; a load that raced with an invalidation is
//! not cached.

use crate::auth::{self, Authorized, Decision, Permission, Principal, Resource};
use crate::cache::{CachePolicy, Cached, TimedLru};
use crate::domain::{AccessBinding, BindingTarget, ServiceAccountId, TokenRecord};
use crate::{CoreError, Kms};
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Resources whose bindings are cached (keys and folders).
const BINDING_CACHE_ENTRIES: usize = 100_000;
/// IAM tokens cached after their first use. Clients reuse a token for up to 12 hours, so the
/// tokens in use at once are far fewer than those ever issued; a miss costs one indexed read.
const TOKEN_CACHE_ENTRIES: usize = 10_000;
/// Bindings and tokens unused for this long are dropped by [`AccessCache::sweep`]: reloading
/// one costs one indexed read, so the caches need hold only what is in use.
pub const ACCESS_CACHE_IDLE: Duration = Duration::from_secs(60);

/// A cache whose entries remember when they were loaded and last used.
type Timed<V> = Mutex<TimedLru<String, V>>;

/// Bindings and tokens, cached.
pub struct AccessCache {
    bindings: Timed<Arc<Vec<AccessBinding>>>,
    tokens: Timed<Arc<TokenRecord>>,
    policy: Arc<CachePolicy>,
    /// Bumped by every invalidation; a load that saw another value when it started is not
    /// cached (as in the key vault).
    epoch: AtomicU64,
}

impl std::fmt::Debug for AccessCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessCache { .. }")
    }
}

impl AccessCache {
    pub fn new(policy: Arc<CachePolicy>) -> AccessCache {
        AccessCache {
            bindings: Mutex::new(TimedLru::new(BINDING_CACHE_ENTRIES)),
            tokens: Mutex::new(TimedLru::new(TOKEN_CACHE_ENTRIES)),
            policy,
            epoch: AtomicU64::new(0),
        }
    }

    fn lookup<V: Clone>(&self, cache: &Timed<V>, key: &str) -> Cached<V> {
        cache.lock().get(&self.policy, key)
    }

    /// Caches `value`, loaded after `epoch_at_read`, unless an invalidation happened since.
    fn remember<V: Clone>(&self, cache: &Timed<V>, key: String, value: V, epoch_at_read: u64) {
        let mut cache = cache.lock();
        if self.epoch.load(Ordering::SeqCst) == epoch_at_read {
            cache.put(&self.policy, key, value);
        }
    }

    fn forget<V: Clone>(&self, cache: &Timed<V>, key: &str) {
        let mut cache = cache.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        cache.pop(key);
    }

    pub fn invalidate_bindings(&self, target: &BindingTarget) {
        self.invalidate_bindings_of(&target.storage_key());
    }

    /// Like [`AccessCache::invalidate_bindings`], by `BindingTarget::storage_key()`.
    pub fn invalidate_bindings_of(&self, storage_key: &str) {
        self.forget(&self.bindings, storage_key);
    }

    pub fn invalidate_token(&self, sha256_hex: &str) {
        self.forget(&self.tokens, sha256_hex);
    }

    /// Drops every cached token of a service account.
    pub fn invalidate_tokens_of(&self, account: &ServiceAccountId) {
        let mut tokens = self.tokens.lock();
        self.epoch.fetch_add(1, Ordering::SeqCst);
        tokens.remove_where(|t| &t.service_account_id == account);
    }

    /// Drops the bindings and tokens unused for `idle` (and those too old to use). Dropping an
    /// entry is always safe: the next use reloads it.
    pub fn sweep(&self, idle: Duration, now: Instant) -> usize {
        let bindings = self.bindings.lock().sweep(&self.policy, idle, now);
        let tokens = self.tokens.lock().sweep(&self.policy, idle, now);
        bindings + tokens
    }

    /// How many bindings and tokens are cached.
    pub fn entries(&self) -> (usize, usize) {
        (self.bindings.lock().len(), self.tokens.lock().len())
    }
}

impl Kms {
    /// Drops cached keys, bindings and tokens that nobody has used for a while
    /// ([`crate::vault::KEY_CACHE_IDLE`], [`ACCESS_CACHE_IDLE`]) as of `now`; the server runs it
    /// periodically. Returns how many entries were dropped.
    pub fn sweep_caches(&self, now: Instant) -> usize {
        self.vault.sweep(crate::vault::KEY_CACHE_IDLE, now)
            + self.access.sweep(ACCESS_CACHE_IDLE, now)
    }

    /// Cached (keys, bindings, tokens), for metrics and tests.
    pub fn cached_entries(&self) -> (usize, usize, usize) {
        let (bindings, tokens) = self.access.entries();
        (self.vault.len(), bindings, tokens)
    }

    /// Authenticates the value of an `authorization` header: the admin token (compared in
    /// constant time with its stored hash), or an unexpired, unrevoked IAM token (looked up by its
    /// SHA-256). Anything else is UNAUTHENTICATED with one message.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, CoreError> {
        let token = auth::bearer_token(authorization)?;
        let digest = signet_crypto::sha256(token.as_bytes());
        if let Some(admin) = self.authenticator.admin_by_digest(&digest) {
            return Ok(admin);
        }
        if !token.starts_with(auth::IAM_TOKEN_PREFIX) {
            return Err(auth::BAD_TOKEN);
        }
        let hash = hex::encode(digest);
        let record = match self.access.lookup(&self.access.tokens, &hash) {
            Cached::Fresh(record) => record,
            cached => {
                let epoch = self.access.epoch.load(Ordering::SeqCst);
                let load = async { Ok(self.store.get_token(&hash).await?.map(Arc::new)) };
                let (found, loaded) = self
                    .cache_policy
                    .reload(cached.any().map(Some), load)
                    .await?;
                let Some(record) = found else {
                    return Err(auth::BAD_TOKEN);
                };
                if loaded {
                    self.access
                        .remember(&self.access.tokens, hash, Arc::clone(&record), epoch);
                }
                record
            }
        };
        if record.revoked_at.is_some() || record.expires_at <= self.clock.now() {
            return Err(auth::BAD_TOKEN);
        }
        Ok(Principal::service_account(&record.service_account_id))
    }

    /// The bindings in force on a target, from the cache or the store.
    pub(crate) async fn bindings_of(
        &self,
        target: &BindingTarget,
    ) -> Result<Arc<Vec<AccessBinding>>, CoreError> {
        let key = target.storage_key();
        let stale = match self.access.lookup(&self.access.bindings, &key) {
            Cached::Fresh(bindings) => return Ok(bindings),
            cached => cached.any(),
        };
        let epoch = self.access.epoch.load(Ordering::SeqCst);
        let load = async { Ok(Arc::new(self.store.get_access_bindings(&key).await?)) };
        let (bindings, loaded) = self.cache_policy.reload(stale, load).await?;
        if loaded {
            self.access
                .remember(&self.access.bindings, key, Arc::clone(&bindings), epoch);
        }
        Ok(bindings)
    }

    /// Decides whether `principal` may do `P` on `resource`, returning the proof. A caller with
    /// no role at all on a key gets NOT_FOUND, so a key's existence is never revealed to someone
    /// who could not even view it; a caller with some role gets PERMISSION_DENIED.
    pub async fn authorize<P: Permission>(
        &self,
        principal: &Principal,
        resource: Resource,
    ) -> Result<Authorized<P>, CoreError> {
        if principal.is_admin() {
            return Ok(auth::grant(principal, resource));
        }
        // The key's bindings and its folder's, as cached (shared, not copied).
        let (on_key, on_folder) = match &resource {
            Resource::Key { id, folder } => (
                Some(self.bindings_of(&BindingTarget::Key(id.clone())).await?),
                Some(
                    self.bindings_of(&BindingTarget::Folder(folder.clone()))
                        .await?,
                ),
            ),
            Resource::Folder(folder) => (
                None,
                Some(
                    self.bindings_of(&BindingTarget::Folder(folder.clone()))
                        .await?,
                ),
            ),
            Resource::Deployment => (None, None),
        };
        let bindings = on_key.iter().chain(on_folder.iter()).flat_map(|b| b.iter());
        match auth::decide(principal, P::KIND, bindings) {
            Decision::Allow => Ok(auth::grant(principal, resource)),
            Decision::NoAccess => match resource {
                Resource::Key { id, .. } => Err(CoreError::not_found_key(&id)),
                Resource::Folder(_) | Resource::Deployment => Err(CoreError::PermissionDenied),
            },
            Decision::Deny => Err(CoreError::PermissionDenied),
        }
    }
}
