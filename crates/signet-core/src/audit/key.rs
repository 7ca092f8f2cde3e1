//! The checkpoint key: a P-256 key made on a deployment's first start with the trail on, kept
//! in the store's meta table sealed under the root key (like every other private key), with its
//! public key beside it in the clear so that `signet audit verify` needs no root key.

use super::{AuditCheckpoint, checkpoint_message};
use crate::CoreError;
use crate::domain::Timestamp;
use crate::store::Store;
use base64::Engine as _;
use signet_crypto::{Algorithm, RootKey, SealedKey, SigningKey};
use std::fmt;

/// The key id the checkpoint key is sealed for (the envelope's AAD binds it).
pub const CHECKPOINT_KEY_ID: &str = "audit-checkpoint-key";
/// The checkpoint key's algorithm.
pub const CHECKPOINT_KEY_ALGORITHM: Algorithm = Algorithm::EcdsaP256Sha256;
/// Meta entry: the sealed checkpoint key, base64.
pub const META_CHECKPOINT_KEY_SEALED: &str = "audit_checkpoint_key_sealed";
/// Meta entry: the checkpoint key's public key, SPKI PEM.
pub const META_CHECKPOINT_PUBLIC_KEY: &str = "audit_checkpoint_public_key";

#[derive(Debug, thiserror::Error)]
enum KeyError {
    #[error("the stored audit checkpoint key is not valid base64")]
    Encoding,
    #[error(
        "the recorded audit checkpoint public key does not belong to the sealed checkpoint key; \
         the store's meta table was changed"
    )]
    Mismatch,
}

/// The key that signs checkpoints. No `Clone`; `Debug` shows only the public half's size.
pub struct CheckpointKey {
    key: SigningKey,
    public_key_der: Vec<u8>,
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey").finish_non_exhaustive()
    }
}

impl CheckpointKey {
    /// Opens the deployment's checkpoint key, making (and recording) it if there is none. Of
    /// several servers starting at once on one store, one key wins and all use it. Refuses a
    /// store whose recorded public key does not match its sealed key.
    pub async fn load_or_create(store: &dyn Store, root: &RootKey) -> Result<Self, CoreError> {
        let sealed = match store.get_meta(META_CHECKPOINT_KEY_SEALED).await? {
            Some(v) => v,
            None => {
                let key = SigningKey::generate(CHECKPOINT_KEY_ALGORITHM)?;
                let sealed = signet_crypto::seal_key(root, CHECKPOINT_KEY_ID, &key)?;
                let text = base64::engine::general_purpose::STANDARD.encode(sealed.as_bytes());
                store
                    .put_meta_if_absent(META_CHECKPOINT_KEY_SEALED, &text)
                    .await?;
                // Another server may have won; use whatever is recorded.
                store
                    .get_meta(META_CHECKPOINT_KEY_SEALED)
                    .await?
                    .unwrap_or(text)
            }
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed.trim())
            .map_err(|_| CoreError::internal(KeyError::Encoding))?;
        let key = signet_crypto::open_key(
            root,
            CHECKPOINT_KEY_ID,
            CHECKPOINT_KEY_ALGORITHM,
            &SealedKey::from_bytes(bytes),
        )?;
        let pem = key.public_key_pem()?;
        store
            .put_meta_if_absent(META_CHECKPOINT_PUBLIC_KEY, &pem)
            .await?;
        let recorded = store.get_meta(META_CHECKPOINT_PUBLIC_KEY).await?;
        if recorded.as_deref() != Some(pem.as_str()) {
            return Err(CoreError::internal(KeyError::Mismatch));
        }
        let public_key_der = key.public_key_der()?;
        Ok(CheckpointKey {
            key,
            public_key_der,
        })
    }

    /// Signs a checkpoint for record `seq` with hash `hash`, made at `time`.
    pub fn sign(
        &self,
        seq: i64,
        hash: [u8; 32],
        time: Timestamp,
    ) -> Result<AuditCheckpoint, CoreError> {
        let signature = self.key.sign(&checkpoint_message(seq, &hash, time))?;
        Ok(AuditCheckpoint {
            seq,
            hash,
            time,
            signature,
        })
    }

    /// The public key, DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }
}

/// The recorded checkpoint public key (DER SPKI), if the trail was ever started. Needs no root
/// key.
pub async fn checkpoint_public_key(store: &dyn Store) -> Result<Option<Vec<u8>>, CoreError> {
    match store.get_meta(META_CHECKPOINT_PUBLIC_KEY).await? {
        None => Ok(None),
        Some(pem) => Ok(Some(signet_crypto::spki_pem_to_der(&pem)?)),
    }
}
