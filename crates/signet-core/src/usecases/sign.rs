use crate::auth::{Authorized, Principal, Resource, UseKey};
use crate::cache::Cached;
use crate::domain::{Invalid, KeyId, KeyStatus};
use crate::vault::LoadedKey;
use crate::{CoreError, Kms};
use signet_crypto::{Algorithm, CryptoError};
use std::sync::Arc;

/// A signature and what made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub key_id: KeyId,
    pub algorithm: Algorithm,
    pub signature: Vec<u8>,
}

impl Kms {
    /// Hashes `message` with the key's hash function and signs it.
    pub async fn sign(
        &self,
        principal: &Principal,
        id: &KeyId,
        message: &[u8],
    ) -> Result<Signature, CoreError> {
        let (key, proof) = self.key_for_signing(principal, id).await?;
        let signature = key.signer(&proof)?.sign(message)?;
        Ok(Signature {
            key_id: key.meta.id.clone(),
            algorithm: key.meta.algorithm,
            signature,
        })
    }

    /// Signs a digest computed by the caller. Its length must be the key's hash length.
    pub async fn sign_hash(
        &self,
        principal: &Principal,
        id: &KeyId,
        digest: &[u8],
    ) -> Result<Signature, CoreError> {
        let (key, proof) = self.key_for_signing(principal, id).await?;
        let signature = match key.signer(&proof)?.sign_digest(digest) {
            Ok(sig) => sig,
            Err(CryptoError::DigestLength {
                algorithm,
                expected,
                actual,
            }) => {
                return Err(Invalid::one(
                    "hash",
                    format!(
                        "{algorithm} needs a {expected}-byte {} digest, got {actual} bytes",
                        algorithm.hash().name()
                    ),
                )
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Signature {
            key_id: key.meta.id.clone(),
            algorithm: key.meta.algorithm,
            signature,
        })
    }

    /// The unsealed key (from the vault's cache when possible) and the proof that `principal`
    /// may use it. Only ACTIVE keys are returned. When the store cannot be reached, a stale
    /// cached key is used within the cache policy's outage grace.
    async fn key_for_signing(
        &self,
        principal: &Principal,
        id: &KeyId,
    ) -> Result<(Arc<LoadedKey>, Authorized<UseKey>), CoreError> {
        let stale = match self.vault.cached(id) {
            Cached::Fresh(key) => return self.usable(principal, key).await,
            Cached::Stale(key) => Some(key),
            Cached::Missing => None,
        };
        let epoch = self.vault.epoch();
        let loaded = self
            .cache_policy
            .reload(stale.clone().map(Reload::Cached), async {
                self.visible_key(id)
                    .await
                    .map(|r| Reload::Stored(Box::new(r)))
            })
            .await?;
        let record = match loaded {
            // The store could not be reached: the stale key, within the outage grace.
            (Reload::Cached(key), _) => return self.usable(principal, key).await,
            (Reload::Stored(record), _) => *record,
        };
        if let Some(key) = stale.filter(|k| k.meta.version == record.version) {
            // Unchanged since it was cached: trust it again without unsealing.
            self.vault.renew(&key, epoch);
            return self.usable(principal, key).await;
        }
        let proof = self
            .authorize::<UseKey>(
                principal,
                Resource::Key {
                    id: record.id.clone(),
                    folder: record.folder_id.clone(),
                },
            )
            .await?;
        if record.status == KeyStatus::Creating {
            return Err(CoreError::FailedPrecondition(
                "the key is still being created".into(),
            ));
        }
        let key = self.vault.unseal(&proof, &record, epoch)?;
        active(key, proof)
    }

    /// Authorizes `principal` on a cached key, which must be ACTIVE.
    async fn usable(
        &self,
        principal: &Principal,
        key: Arc<LoadedKey>,
    ) -> Result<(Arc<LoadedKey>, Authorized<UseKey>), CoreError> {
        let proof = self
            .authorize::<UseKey>(
                principal,
                Resource::Key {
                    id: key.meta.id.clone(),
                    folder: key.meta.folder_id.clone(),
                },
            )
            .await?;
        active(key, proof)
    }
}

/// A key to sign with: one the store returned, or the stale cached one.
enum Reload {
    Stored(Box<crate::domain::KeyRecord>),
    Cached(Arc<LoadedKey>),
}

/// The key and its proof if the key is ACTIVE.
fn active(
    key: Arc<LoadedKey>,
    proof: Authorized<UseKey>,
) -> Result<(Arc<LoadedKey>, Authorized<UseKey>), CoreError> {
    match key.meta.status {
        KeyStatus::Active => Ok((key, proof)),
        KeyStatus::Inactive => Err(CoreError::FailedPrecondition(
            "the key is INACTIVE; activate it to sign".into(),
        )),
        KeyStatus::Creating => Err(CoreError::FailedPrecondition(
            "the key is still being created".into(),
        )),
    }
}
