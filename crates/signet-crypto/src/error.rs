use crate::Algorithm;
use std::path::PathBuf;

/// Everything that can go wrong in the signing core. No variant carries secret material.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("{algorithm} signs a {expected}-byte digest, but {actual} bytes were given")]
    DigestLength {
        algorithm: Algorithm,
        expected: usize,
        actual: usize,
    },
    #[error("key generation failed for {0}")]
    KeyGeneration(Algorithm),
    #[error("signing with a {0} key failed")]
    Signing(Algorithm),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the public key is not a valid {0} SubjectPublicKeyInfo")]
    MalformedPublicKey(Algorithm),
    #[error("the PEM text is not a single PUBLIC KEY block")]
    MalformedPem,
    #[error("the private key is not a valid {0} PKCS#8 document")]
    MalformedPrivateKey(Algorithm),
    #[error("the random number generator failed")]
    Random,
    #[error("sealed key material is malformed: {0}")]
    MalformedEnvelope(&'static str),
    #[error("sealed key material has unsupported format version {0}")]
    UnsupportedEnvelopeVersion(u8),
    /// Authentication of a sealed blob failed: the root key differs, the blob belongs to another
    /// key or algorithm, or the bytes were altered. Which of these it was is deliberately unknown.
    #[error(
        "sealed key material could not be opened (wrong root key, wrong key binding, or tampered data)"
    )]
    Unseal,
    #[error(transparent)]
    RootKey(#[from] RootKeyError),
}

/// Problems loading or storing the root key.
#[derive(Debug, thiserror::Error)]
pub enum RootKeyError {
    #[error("cannot read root key file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write root key file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "root key file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("root key from {origin} must be 32 raw bytes or base64 of 32 bytes")]
    Format { origin: String },
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
}
