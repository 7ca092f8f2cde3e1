//! [`Kms`]: the use cases' shared state. Each use case is an `impl Kms` block in its own file
//! under `usecases/`.

use crate::audit::AuditEvent;
use crate::auth::{Authenticator, Principal};
use crate::cache::CachePolicy;
use crate::domain::Clock;
use crate::store::{Store, StoreError, Write};
use crate::vault::KeyVault;
use signet_crypto::{Algorithm, RootKey};
use std::sync::Arc;
use std::time::Duration;

/// Tunables of the core.
#[derive(Clone, Debug)]
pub struct KmsSettings {
    /// How long a deleted key's sealed material is kept (and the key restorable) before it is
    /// destroyed. Default 72 hours, as in Yandex KMS.
    pub deletion_window: Duration,
    /// How many unsealed keys the vault keeps.
    pub key_cache_capacity: usize,
    /// Lifetime of IAM tokens (at most 12 hours).
    pub token_lifetime: Duration,
    /// `aud` values accepted in JWTs exchanged for IAM tokens.
    pub jwt_audiences: Vec<String>,
    /// Clock skew tolerated on a JWT's `iat` and `exp`.
    pub jwt_leeway: Duration,
    /// How long cached keys, bindings and tokens are trusted before they are re-read. `None` when
    /// this node is the store's only user (every change goes through it and invalidates the
    /// caches); with a store shared by several nodes it is the bound on how long a change made
    /// elsewhere (deactivation, deletion, binding change, revocation) can go unseen here.
    pub cache_max_age: Option<Duration>,
    /// How much longer than `cache_max_age` a cached entry may still be used while the store
    /// cannot be reached (see [`crate::cache::CachePolicy`]).
    pub cache_outage_grace: Duration,
    /// How many asymmetric signature keys that are not deleted a folder may hold (CREATING
    /// ones included). Default 100, Yandex's quota `kms.asymmetricSignatureKeys.count`.
    pub max_keys_per_folder: u32,
}

/// Yandex's default quota of asymmetric signature keys per folder.
pub const DEFAULT_MAX_KEYS_PER_FOLDER: u32 = 100;

/// The audience Yandex's own SDKs put in JWTs by default.
pub const CANONICAL_JWT_AUDIENCE: &str = "https://iam.api.cloud.yandex.net/iam/v1/tokens";

/// The audience the Python SDK derives from its endpoint argument (`host:port`).
pub fn endpoint_jwt_audience(endpoint: &str) -> String {
    format!("https://iam.{endpoint}/iam/v1/tokens")
}

impl Default for KmsSettings {
    fn default() -> Self {
        KmsSettings {
            deletion_window: Duration::from_secs(72 * 3600),
            key_cache_capacity: 100_000,
            token_lifetime: Duration::from_secs(12 * 3600),
            jwt_audiences: vec![CANONICAL_JWT_AUDIENCE.to_owned()],
            jwt_leeway: Duration::from_secs(300),
            cache_max_age: None,
            cache_outage_grace: Duration::ZERO,
            max_keys_per_folder: DEFAULT_MAX_KEYS_PER_FOLDER,
        }
    }
}

#[derive(Debug)]
pub struct Kms {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) vault: KeyVault,
    pub(crate) authenticator: Authenticator,
    pub(crate) access: crate::access::AccessCache,
    pub(crate) cache_policy: Arc<CachePolicy>,
    pub(crate) settings: KmsSettings,
    /// Serializes read-modify-write changes of access bindings on this node.
    pub(crate) bindings_lock: tokio::sync::Mutex<()>,
    /// Background tasks (key generation) in flight, so shutdown and tests can wait for them.
    pub(crate) tasks: tokio_util_lite::TaskTracker,
}

impl Kms {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        root: Arc<RootKey>,
        authenticator: Authenticator,
        settings: KmsSettings,
    ) -> Arc<Kms> {
        let policy = Arc::new(CachePolicy::new(
            settings.cache_max_age,
            settings.cache_outage_grace,
        ));
        Arc::new(Kms {
            store,
            clock,
            vault: KeyVault::new(root, settings.key_cache_capacity, Arc::clone(&policy)),
            authenticator,
            access: crate::access::AccessCache::new(Arc::clone(&policy)),
            cache_policy: policy,
            bindings_lock: tokio::sync::Mutex::new(()),
            settings,
            tasks: tokio_util_lite::TaskTracker::default(),
        })
    }

    /// The principal of offline admin commands (see [`Principal`]).
    pub fn local_admin(&self) -> Principal {
        Principal::local_admin()
    }

    pub fn vault(&self) -> &KeyVault {
        &self.vault
    }

    pub fn settings(&self) -> &KmsSettings {
        &self.settings
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Background tasks (key generations) running now.
    pub fn operations_in_flight(&self) -> usize {
        self.tasks.running()
    }

    /// Waits until no background task (key generation) is running.
    pub async fn wait_idle(&self) {
        self.tasks.wait_idle().await;
    }

    /// Commits `write`, a state change made by `principal`'s call on `resource_id`, together
    /// with that call's audit record when the call is recorded ([`Principal::serving`]): one
    /// transaction, so a change never stands without its record (ADR 0006). The call is then
    /// marked recorded, and the server appends nothing more for it.
    pub(crate) async fn write_recorded(
        &self,
        principal: &Principal,
        resource_id: &str,
        algorithm: Option<Algorithm>,
        write: Write<'_>,
    ) -> Result<(), StoreError> {
        let record = self.call_record(principal, resource_id, algorithm);
        self.store
            .write(Write {
                audit: record.as_ref(),
                ..write
            })
            .await?;
        Self::committed(principal, record.as_ref());
        Ok(())
    }

    /// The audit record of `principal`'s call succeeding on `resource_id`, to be committed with
    /// the change the call makes; `None` when the call is not recorded or has its record.
    pub(crate) fn call_record(
        &self,
        principal: &Principal,
        resource_id: &str,
        algorithm: Option<Algorithm>,
    ) -> Option<AuditEvent> {
        principal.call_audit().and_then(|call| {
            call.success(
                self.clock.now(),
                principal.subject_id(),
                resource_id,
                algorithm,
            )
        })
    }

    /// Notes that `record` (from [`Kms::call_record`]) was committed.
    pub(crate) fn committed(principal: &Principal, record: Option<&AuditEvent>) {
        if let (Some(call), Some(_)) = (principal.call_audit(), record) {
            call.mark_recorded();
        }
    }
}

/// A minimal task tracker: counts running tasks and wakes waiters when the count is zero.
pub(crate) mod tokio_util_lite {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    #[derive(Debug, Default)]
    pub struct TaskTracker {
        inner: Arc<Inner>,
    }

    #[derive(Debug, Default)]
    struct Inner {
        running: AtomicUsize,
        idle: Notify,
    }

    pub struct Guard(Arc<Inner>);

    impl Drop for Guard {
        fn drop(&mut self) {
            if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
                self.0.idle.notify_waiters();
            }
        }
    }

    impl TaskTracker {
        pub fn start(&self) -> Guard {
            self.inner.running.fetch_add(1, Ordering::SeqCst);
            Guard(Arc::clone(&self.inner))
        }

        pub fn running(&self) -> usize {
            self.inner.running.load(Ordering::SeqCst)
        }

        pub async fn wait_idle(&self) {
            loop {
                let notified = self.inner.idle.notified();
                if self.inner.running.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        }
    }
}
