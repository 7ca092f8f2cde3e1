//! Identities: service accounts, their authorized keys, and the IAM tokens they exchange a
//! signed JWT for.

use super::ids::{AuthorizedKeyId, FolderId, ServiceAccountId};
use super::key::Labels;
use super::time::Timestamp;
use serde::{Deserialize, Serialize};

/// A service account: the identity machines use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub id: ServiceAccountId,
    pub folder_id: FolderId,
    pub created_at: Timestamp,
    pub name: String,
    pub description: String,
    pub labels: Labels,
}

/// Key size of an authorized key (the wire's `yandex.cloud.iam.v1.Key.Algorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthorizedKeyAlgorithm {
    Rsa2048,
    Rsa4096,
}

impl AuthorizedKeyAlgorithm {
    pub const fn wire_number(self) -> i32 {
        match self {
            AuthorizedKeyAlgorithm::Rsa2048 => 1,
            AuthorizedKeyAlgorithm::Rsa4096 => 2,
        }
    }

    pub fn from_wire_number(n: i32) -> Option<AuthorizedKeyAlgorithm> {
        match n {
            1 => Some(AuthorizedKeyAlgorithm::Rsa2048),
            2 => Some(AuthorizedKeyAlgorithm::Rsa4096),
            _ => None,
        }
    }

    /// The signature algorithm JWTs signed with this key are checked with (PS256).
    pub const fn jwt_algorithm(self) -> signet_crypto::Algorithm {
        match self {
            AuthorizedKeyAlgorithm::Rsa2048 => signet_crypto::Algorithm::Rsa2048PssSha256,
            AuthorizedKeyAlgorithm::Rsa4096 => signet_crypto::Algorithm::Rsa4096PssSha256,
        }
    }
}

/// An authorized key of a service account. Signet keeps only the public half: the private key
/// is returned once, to the caller that created it, and never stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedKey {
    pub id: AuthorizedKeyId,
    pub service_account_id: ServiceAccountId,
    pub created_at: Timestamp,
    pub description: String,
    pub algorithm: AuthorizedKeyAlgorithm,
    pub public_key_pem: String,
}

/// An IAM token as stored: only its SHA-256 (hex), never the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub sha256_hex: String,
    pub service_account_id: ServiceAccountId,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}
