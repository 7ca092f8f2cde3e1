//! Signet's signing core.
//!
//! Owns the algorithm table, key generation, `sign` / `sign_digest` / `verify`, SubjectPublicKeyInfo
//! PEM, secret types, the root key and the envelope that seals private keys at rest. It is
//! synchronous and does no I/O beyond reading a root key file; it knows nothing of async, gRPC,
//! SQL or HTTP. The cryptographic backends (AWS-LC via `aws-lc-rs`, RustCrypto `k256`) are
//! private to this crate: no other crate in the workspace may depend on them.

mod algorithm;
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
