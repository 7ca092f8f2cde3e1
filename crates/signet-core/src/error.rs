//! Domain errors. Each maps to exactly one [`ErrorKind`]; the server turns kinds into gRPC and
//! HTTP codes in one exhaustive table.

use crate::domain::Invalid;
use crate::store::StoreError;
use serde::{Deserialize, Serialize};

/// The class of an error, independent of transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Aborted,
    ResourceExhausted,
    Cancelled,
    DeadlineExceeded,
    Unimplemented,
    Unavailable,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("invalid argument: {0}")]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("permission denied")]
    PermissionDenied,
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    AlreadyExists(String),
    /// A quota or limit is used up (RESOURCE_EXHAUSTED). `quota` is its name (Yandex's where
    /// there is one, e.g. `kms.asymmetricSignatureKeys.count`), `subject` what it applies to
    /// (`folder:<id>`, `subject:<id>`, `server`).
    #[error("quota {quota} exceeded for {subject} (limit {limit})")]
    QuotaExceeded {
        quota: &'static str,
        subject: String,
        limit: u32,
    },
    #[error("the resource was modified concurrently; retry")]
    Conflict(#[source] StoreError),
    #[error("operation cancelled")]
    Cancelled,
    #[error("{0} is not implemented")]
    Unimplemented(&'static str),
    #[error("the store is unavailable")]
    Unavailable(#[source] StoreError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl CoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::Invalid(_) => ErrorKind::InvalidArgument,
            CoreError::Unauthenticated(_) => ErrorKind::Unauthenticated,
            CoreError::PermissionDenied => ErrorKind::PermissionDenied,
            CoreError::NotFound { .. } => ErrorKind::NotFound,
            CoreError::FailedPrecondition(_) => ErrorKind::FailedPrecondition,
            CoreError::AlreadyExists(_) => ErrorKind::AlreadyExists,
            CoreError::QuotaExceeded { .. } => ErrorKind::ResourceExhausted,
            CoreError::Conflict(_) => ErrorKind::Aborted,
            CoreError::Cancelled => ErrorKind::Cancelled,
            CoreError::Unimplemented(_) => ErrorKind::Unimplemented,
            CoreError::Unavailable(_) => ErrorKind::Unavailable,
            CoreError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The message a client may see. Internal and storage failures say only what class of
    /// failure it was; their causes go to the log.
    pub fn client_message(&self) -> String {
        match self {
            CoreError::Unavailable(_) => "the service is temporarily unavailable; retry".into(),
            CoreError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    pub(crate) fn not_found_key(id: &crate::domain::KeyId) -> CoreError {
        CoreError::NotFound {
            what: "asymmetric signature key",
            id: id.to_string(),
        }
    }

    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> CoreError {
        CoreError::Internal(Box::new(e))
    }

    /// Wraps any error as INTERNAL (its text goes to the log only).
    pub fn internal_from(e: impl std::error::Error + Send + Sync + 'static) -> CoreError {
        CoreError::Internal(Box::new(e))
    }
}

/// The quota on asymmetric signature keys per folder, by its Yandex name.
pub const KEYS_PER_FOLDER_QUOTA: &str = "kms.asymmetricSignatureKeys.count";

impl From<StoreError> for CoreError {
    fn from(e: StoreError) -> CoreError {
        match e {
            StoreError::Conflict(_) => CoreError::Conflict(e),
            // The store's only quota is keys per folder (`KeyWrite::InsertWithinQuota`).
            StoreError::QuotaExceeded { folder, limit } => CoreError::QuotaExceeded {
                quota: KEYS_PER_FOLDER_QUOTA,
                subject: format!("folder:{folder}"),
                limit,
            },
            StoreError::Unavailable(_) => CoreError::Unavailable(e),
            StoreError::Corrupt(_) | StoreError::Other(_) => CoreError::Internal(Box::new(e)),
        }
    }
}

impl From<signet_crypto::CryptoError> for CoreError {
    fn from(e: signet_crypto::CryptoError) -> CoreError {
        CoreError::internal(e)
    }
}
