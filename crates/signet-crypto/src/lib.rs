//! Signet's signing core.
//!
//! Owns the algorithm table, key generation, `sign` / `sign_digest` / `verify`, SubjectPublicKeyInfo
//! PEM, secret types, the root key and the envelope that seals private keys at rest. It is
//! synchronous and does no I/O beyond reading a root key file; it knows nothing of async, gRPC,
//! SQL or HTTP. The cryptographic backends (AWS-LC via `aws-lc-rs`, RustCrypto `k256`) are
//! private to this crate: no other crate in the workspace may depend on them.

mod algorithm;
pub mod credential;
mod error;
mod keys;
mod pem;
mod root_key;
mod seal;
mod secret;

pub use algorithm::{Algorithm, HashAlgorithm, KeySpec};
pub use error::{CryptoError, RootKeyError};
pub use keys::{SigningKey, verify, verify_digest};
pub use pem::{spki_der_to_pem, spki_pem_to_der};
pub use root_key::{EnvRootKey, FileRootKey, ROOT_KEY_LEN, RootKey, RootKeySource};
pub use seal::{SealedKey, open_bytes, open_key, seal_bytes, seal_key};
pub use secret::SecretBytes;

/// Fills `buf` from the operating system's CSPRNG (through AWS-LC). For identifiers, tokens and
/// nonces outside this crate.
pub fn fill_random(buf: &mut [u8]) -> Result<(), CryptoError> {
    use aws_lc_rs::rand::SecureRandom;
    aws_lc_rs::rand::SystemRandom::new()
        .fill(buf)
        .map_err(|_| CryptoError::Random)
}

/// SHA-256 of `data`. For fingerprints and token hashes outside this crate.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref());
    out
}

/// Constant-time equality of two byte strings (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// HMAC-SHA-256 keyed by a key derived from the root key for `purpose`; for values that must not
/// be forgeable by clients (page tokens), never for key material.
pub fn root_derived_mac(root: &RootKey, purpose: &str, data: &[u8]) -> [u8; 32] {
    root.derived_mac(purpose, data)
}
