//! Authentication of tokens and authorization decisions, with the caches that keep both off the
//! database on the sign path. Both caches are invalidated by the writes that change what they
//! hold (binding changes, token revocation, service account deletion), before those writes'
//! operations are reported done.

use crate::auth::{self, Authorized, Decision, Permission, Principal, Resource};
use crate::domain::{AccessBinding, BindingTarget, ServiceAccountId, TokenRecord};
use crate::{CoreError, Kms};
use lru::LruCache;
use parking_lot::Mutex;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CACHE_ENTRIES: usize = 100_000;

fn cache<K: std::hash::Hash + Eq, V>() -> Mutex<LruCache<K, V>> {
    Mutex::new(LruCache::new(
        NonZeroUsize::new(CACHE_ENTRIES).unwrap_or(NonZeroUsize::MIN),
    ))
}

/// Bindings and tokens, cached.
/// A cache whose entries remember when they were loaded.
type Timed<V> = Mutex<LruCache<String, (Instant, V)>>;

pub struct AccessCache {
    bindings: Timed<Arc<Vec<AccessBinding>>>,
    tokens: Timed<TokenRecord>,
    /// As for the key vault: entries older than this are reloaded (shared stores).
    max_age: Option<Duration>,
}

impl std::fmt::Debug for AccessCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessCache { .. }")
    }
}

impl AccessCache {
    pub fn new(max_age: Option<Duration>) -> AccessCache {
        AccessCache {
            bindings: cache(),
            tokens: cache(),
            max_age,
        }
    }

    fn fresh(&self, at: &Instant) -> bool {
        self.max_age.is_none_or(|m| at.elapsed() < m)
    }

    pub fn invalidate_bindings(&self, target: &BindingTarget) {
        self.bindings.lock().pop(&target.storage_key());
    }

    pub fn invalidate_token(&self, sha256_hex: &str) {
        self.tokens.lock().pop(sha256_hex);
    }

    /// Drops every cached token of a service account.
    pub fn invalidate_tokens_of(&self, account: &ServiceAccountId) {
        let mut tokens = self.tokens.lock();
        let stale: Vec<String> = tokens
            .iter()
            .filter(|(_, (_, t))| &t.service_account_id == account)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            tokens.pop(&k);
        }
    }
}

impl Kms {
    /// Authenticates the value of an `authorization` header: the admin token (compared in
    /// constant time with its stored hash), or an unexpired, unrevoked IAM token (looked up by its
    /// SHA-256). Anything else is UNAUTHENTICATED with one message.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, CoreError> {
        let token = auth::bearer_token(authorization)?;
        if let Some(admin) = self.authenticator.admin(token) {
            return Ok(admin);
        }
        if !token.starts_with(auth::IAM_TOKEN_PREFIX) {
            return Err(auth::BAD_TOKEN);
        }
        let hash = auth::token_hash_hex(token);
        let cached = {
            let mut tokens = self.access.tokens.lock();
            match tokens.get(&hash) {
                Some((at, r)) if self.access.fresh(at) => Some(r.clone()),
                _ => None,
            }
        };
        let record = match cached {
            Some(r) => r,
            None => {
                let Some(r) = self.store.get_token(&hash).await? else {
                    return Err(auth::BAD_TOKEN);
                };
                self.access
                    .tokens
                    .lock()
                    .put(hash, (Instant::now(), r.clone()));
                r
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
        {
            let mut bindings = self.access.bindings.lock();
            if let Some((at, b)) = bindings.get(&key)
                && self.access.fresh(at)
            {
                return Ok(Arc::clone(b));
            }
        }
        let loaded = Arc::new(self.store.get_access_bindings(&key).await?);
        self.access
            .bindings
            .lock()
            .put(key, (Instant::now(), Arc::clone(&loaded)));
        Ok(loaded)
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
        let mut bindings: Vec<AccessBinding> = Vec::new();
        match &resource {
            Resource::Key { id, folder } => {
                bindings.extend(
                    self.bindings_of(&BindingTarget::Key(id.clone()))
                        .await?
                        .iter()
                        .cloned(),
                );
                bindings.extend(
                    self.bindings_of(&BindingTarget::Folder(folder.clone()))
                        .await?
                        .iter()
                        .cloned(),
                );
            }
            Resource::Folder(folder) => {
                bindings.extend(
                    self.bindings_of(&BindingTarget::Folder(folder.clone()))
                        .await?
                        .iter()
                        .cloned(),
                );
            }
            Resource::Deployment => {}
        }
        match auth::decide(principal, P::KIND, &bindings) {
            Decision::Allow => Ok(auth::grant(principal, resource)),
            Decision::NoAccess => match resource {
                Resource::Key { id, .. } => Err(CoreError::not_found_key(&id)),
                Resource::Folder(_) | Resource::Deployment => Err(CoreError::PermissionDenied),
            },
            Decision::Deny => Err(CoreError::PermissionDenied),
        }
    }
}
