//! Envelope sealing of private key material under the root key (docs/adr/0002-sealed-key-format.md).
//!
//! Format, version 1:
//!
//! ```text
//! sealed = version (1 byte, = 1) || nonce (12 bytes, random) || AES-256-GCM ciphertext || tag (16 bytes)
//! aad    = "signet/sealed-key" || version || u16be(len(key_id)) || key_id || i32be(algorithm wire number)
//! ```
//!
//! The AAD binds the blob to its format version, its key id and its algorithm, so a blob moved
//! onto another key's row (or relabelled with another algorithm) fails authentication.

use crate::{Algorithm, CryptoError, RootKey, SecretBytes, SigningKey};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use std::fmt;

const VERSION_1: u8 = 1;
const AAD_LABEL: &[u8] = b"signet/sealed-key";
const TAG_LEN: usize = 16;

/// Sealed (encrypted and authenticated) private key material. Safe to store and log by length;
/// useless without the root key.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey(Vec<u8>);

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedKey({} bytes)", self.0.len())
    }
}

impl SealedKey {
    /// Wraps bytes read back from storage. Nothing is checked until [`open`].
    pub fn from_bytes(bytes: Vec<u8>) -> SealedKey {
        SealedKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn aad(version: u8, key_id: &str, algorithm: Algorithm) -> Result<Vec<u8>, CryptoError> {
    let id = key_id.as_bytes();
    let id_len =
        u16::try_from(id.len()).map_err(|_| CryptoError::MalformedEnvelope("key id too long"))?;
    let mut aad = Vec::with_capacity(AAD_LABEL.len() + 1 + 2 + id.len() + 4);
    aad.extend_from_slice(AAD_LABEL);
    aad.push(version);
    aad.extend_from_slice(&id_len.to_be_bytes());
    aad.extend_from_slice(id);
    aad.extend_from_slice(&algorithm.wire_number().to_be_bytes());
    Ok(aad)
}

fn aead_key(root: &RootKey) -> Result<LessSafeKey, CryptoError> {
    let unbound = UnboundKey::new(&AES_256_GCM, root.expose())
        .map_err(|_| CryptoError::MalformedEnvelope("root key rejected by AES-256-GCM"))?;
    Ok(LessSafeKey::new(unbound))
}

/// Seals raw secret bytes (normally PKCS#8) for `key_id` and `algorithm`.
pub fn seal_bytes(
    root: &RootKey,
    key_id: &str,
    algorithm: Algorithm,
    plaintext: &SecretBytes,
) -> Result<SealedKey, CryptoError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| CryptoError::Random)?;
    let aad = aad(VERSION_1, key_id, algorithm)?;

    let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.push(VERSION_1);
    out.extend_from_slice(&nonce);
    let body_start = out.len();
    out.extend_from_slice(plaintext.expose());
    let mut body = out.split_off(body_start);
    aead_key(root)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut body,
        )
        .map_err(|_| CryptoError::MalformedEnvelope("encryption failed"))?;
    out.extend_from_slice(&body);
    Ok(SealedKey(out))
}

/// Opens a sealed blob, checking that it was sealed for `key_id` and `algorithm` under `root`.
pub fn open_bytes(
    root: &RootKey,
    key_id: &str,
    algorithm: Algorithm,
    sealed: &SealedKey,
) -> Result<SecretBytes, CryptoError> {
    let bytes = sealed.as_bytes();
    let (&version, rest) = bytes
        .split_first()
        .ok_or(CryptoError::MalformedEnvelope("empty"))?;
    if version != VERSION_1 {
        return Err(CryptoError::UnsupportedEnvelopeVersion(version));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::MalformedEnvelope("too short"));
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| CryptoError::MalformedEnvelope("bad nonce"))?;
    let aad = aad(version, key_id, algorithm)?;
    // Decrypt in a buffer that is wiped whatever happens.
    let mut buffer = SecretBytes::copy_from(ciphertext);
    let plaintext_len = {
        aead_key(root)?
            .open_in_place(nonce, Aad::from(aad), buffer.expose_mut())
            .map_err(|_| CryptoError::Unseal)?
            .len()
    };
    Ok(SecretBytes::copy_from(&buffer.expose()[..plaintext_len]))
}

/// Seals a signing key: PKCS#8-encodes it and seals the encoding.
pub fn seal_key(root: &RootKey, key_id: &str, key: &SigningKey) -> Result<SealedKey, CryptoError> {
    let pkcs8 = key.to_pkcs8()?;
    seal_bytes(root, key_id, key.algorithm(), &pkcs8)
}

/// Opens a sealed signing key.
pub fn open_key(
    root: &RootKey,
    key_id: &str,
    algorithm: Algorithm,
    sealed: &SealedKey,
) -> Result<SigningKey, CryptoError> {
    let pkcs8 = open_bytes(root, key_id, algorithm, sealed)?;
    SigningKey::from_pkcs8(algorithm, &pkcs8)
}
