//! Identifiers. Each is parsed once, at the wire boundary, and trusted afterwards.
//!
//! Server-generated ids are 20 characters: a 3-letter prefix (`abj`, as Yandex KMS uses) and 17
//! random characters from the lowercase base32hex alphabet `0-9a-v`, i.e. 85 random bits
//! (docs/adr/0003-ids.md). Ids sent by clients are accepted if they are 1–50 characters of
//! `[a-z0-9]`, so that ids minted elsewhere (or by a future format) still parse.

use super::validation::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
/// Prefix of key and operation ids.
pub const ID_PREFIX: &str = "abj";
const RANDOM_CHARS: usize = 17;
const MAX_ID_LEN: usize = 50;

/// Prefix of service account and authorized key ids (as Yandex IAM uses).
pub const IAM_ID_PREFIX: &str = "aje";

fn generate_id(prefix: &str) -> Result<String, signet_crypto::CryptoError> {
    let mut bytes = [0u8; RANDOM_CHARS];
    signet_crypto::fill_random(&mut bytes)?;
    let mut id = String::with_capacity(prefix.len() + RANDOM_CHARS);
    id.push_str(prefix);
    // 256 is a multiple of 32, so `b % 32` is uniform.
    id.extend(
        bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b % 32)])),
    );
    Ok(id)
}

fn check_id(field: &str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(Invalid::one(field, "is required"));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(Invalid::one(field, "must be at most 50 characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(Invalid::one(
            field,
            "must contain only lowercase Latin letters and digits",
        ));
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses a client-supplied id; `field` names it in the error.
            pub fn parse(field: &str, value: &str) -> Result<$name, Invalid> {
                check_id(field, value)?;
                Ok($name(value.to_owned()))
            }

            /// A fresh server-generated id.
            pub fn generate() -> Result<$name, signet_crypto::CryptoError> {
                generate_id($prefix).map($name)
            }

            /// Trusts a value read back from Signet's own store.
            pub fn from_trusted(value: String) -> $name {
                $name(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// The id of an asymmetric signature key.
    KeyId,
    ID_PREFIX
);
id_type!(
    /// The id of a long-running operation.
    OperationId,
    ID_PREFIX
);
id_type!(
    /// The id of a service account.
    ServiceAccountId,
    IAM_ID_PREFIX
);
id_type!(
    /// The id of a service account's authorized key.
    AuthorizedKeyId,
    IAM_ID_PREFIX
);

/// A folder: the container keys live in and are listed by. Folders are not managed objects in
/// Signet; any id of 1–50 characters `[a-z0-9][a-z0-9_-]*` names one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FolderId(String);

impl FolderId {
    pub fn parse(field: &str, value: &str) -> Result<FolderId, Invalid> {
        if value.is_empty() {
            return Err(Invalid::one(field, "is required"));
        }
        if value.chars().count() > MAX_ID_LEN {
            return Err(Invalid::one(field, "must be at most 50 characters"));
        }
        let mut bytes = value.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let rest_ok =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !(first_ok && rest_ok) {
            return Err(Invalid::one(
                field,
                "must match [a-z0-9][a-z0-9_-]* (lowercase letters, digits, '-' and '_')",
            ));
        }
        Ok(FolderId(value.to_owned()))
    }

    pub fn from_trusted(value: String) -> FolderId {
        FolderId(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FolderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_the_documented_shape() {
        for _ in 0..200 {
            let id = KeyId::generate().unwrap();
            let s = id.as_str();
            assert_eq!(s.len(), 20);
            assert!(s.starts_with("abj"));
            assert!(s.bytes().all(|b| ALPHABET.contains(&b)));
            assert_eq!(KeyId::parse("key_id", s).unwrap(), id);
        }
        assert_ne!(KeyId::generate().unwrap(), KeyId::generate().unwrap());
    }

    #[test]
    fn bad_ids_are_rejected_with_the_field_name() {
        for bad in [
            "",
            "ABC",
            "abj'; drop table keys;--",
            "../etc/passwd",
            "a b",
            &"a".repeat(51),
            "abé",
        ] {
            let err = KeyId::parse("key_id", bad).unwrap_err();
            assert_eq!(err.0[0].field, "key_id", "{bad}");
        }
        assert!(KeyId::parse("key_id", &"a".repeat(50)).is_ok());
    }

    #[test]
    fn folder_ids() {
        assert!(FolderId::parse("folder_id", "b1g-team_1").is_ok());
        for bad in ["", "-x", "Folder", "a/b", &"f".repeat(51)] {
            assert!(FolderId::parse("folder_id", bad).is_err(), "{bad}");
        }
    }
}
