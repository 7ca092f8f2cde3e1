//! Authentication and authorization as values (ADR 0005).
//!
//! * A [`Principal`] can only be built by the [`Authenticator`], from a presented bearer token.
//! * An [`Authorized<P>`] proof can only be built by [`authorize`], and only the proof for
//!   [`UseKey`] opens key material ([`crate::vault::KeyVault`]). Forgetting a check therefore
//!   does not compile into a signature.
//!
//! Until identities and roles arrive, the only principal is the deployment's admin, who holds
//! every right; any other principal is denied everything (default deny).

use crate::CoreError;
use crate::domain::{FolderId, KeyId};
use std::fmt;
use std::marker::PhantomData;

/// Prefix of the admin tokens Signet mints (`sgt1.` + 43 base64url characters = 256 bits).
pub const ADMIN_TOKEN_PREFIX: &str = "sgt1.";

/// Who is calling. Built only by [`Authenticator::authenticate`].
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    subject_id: String,
    is_admin: bool,
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject_id", &self.subject_id)
            .field("is_admin", &self.is_admin)
            .finish()
    }
}

impl Principal {
    pub fn subject_id(&self) -> &str {
        &self.subject_id
    }

    /// The identity of offline admin commands run against the data directory itself (for
    /// example `signet admin restore-key`). Reachable only through [`crate::Kms`], which cannot
    /// be built without the root key.
    pub(crate) fn local_admin() -> Principal {
        Principal {
            subject_id: "local-admin".into(),
            is_admin: true,
        }
    }
}

/// A freshly minted admin token. Shown to the operator once; only its hash is stored.
pub struct NewToken(signet_crypto::SecretBytes);

impl NewToken {
    /// The token text. Write it to a 0600 file or print it once; never log it.
    pub fn expose(&self) -> &str {
        std::str::from_utf8(self.0.expose()).unwrap_or_default()
    }
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewToken([REDACTED])")
    }
}

/// Hex SHA-256 of a token: the only form in which tokens are stored.
pub fn token_hash_hex(token: &str) -> String {
    signet_crypto::sha256(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Mints a new admin token.
pub fn mint_admin_token() -> Result<NewToken, CoreError> {
    use base64::Engine as _;
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    signet_crypto::fill_random(raw.as_mut())?;
    let text = format!(
        "{ADMIN_TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref())
    );
    Ok(NewToken(signet_crypto::SecretBytes::new(text.into_bytes())))
}

/// Checks bearer tokens. Holds only the SHA-256 of the admin token.
#[derive(Clone)]
pub struct Authenticator {
    admin_token_sha256: [u8; 32],
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Authenticator { .. }")
    }
}

impl Authenticator {
    /// `admin_token_hash_hex` is the stored [`token_hash_hex`] of the admin token.
    pub fn new(admin_token_hash_hex: &str) -> Result<Authenticator, CoreError> {
        let bytes = decode_hex32(admin_token_hash_hex).ok_or_else(|| {
            CoreError::Internal("the stored admin token hash is malformed".into())
        })?;
        Ok(Authenticator {
            admin_token_sha256: bytes,
        })
    }

    /// Authenticates the value of an `authorization` header (or its absence).
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, CoreError> {
        let header = authorization.ok_or(CoreError::Unauthenticated(
            "the call needs an `authorization: Bearer <token>` header",
        ))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(CoreError::Unauthenticated(
                "the authorization header must be `Bearer <token>`",
            ))?;
        let presented = signet_crypto::sha256(token.as_bytes());
        if signet_crypto::constant_time_eq(&presented, &self.admin_token_sha256) {
            return Ok(Principal {
                subject_id: "admin".into(),
                is_admin: true,
            });
        }
        Err(CoreError::Unauthenticated(
            "the token is invalid or has expired",
        ))
    }
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

/// What an authorization decision is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    Folder(FolderId),
    Key {
        id: KeyId,
        folder: FolderId,
    },
    /// Deployment-wide administration (restore, destruction).
    Deployment,
}

/// A permission, as a type so that proofs cannot be mixed up.
pub trait Permission: fmt::Debug {
    const NAME: &'static str;
}

macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident = $text:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Permission for $name {
            const NAME: &'static str = $text;
        }
    )*};
}

permissions! {
    /// Create keys in a folder.
    CreateKey = "kms.asymmetricSignatureKeys.create";
    /// Read key metadata, list keys and their operations.
    ViewKey = "kms.asymmetricSignatureKeys.get";
    /// Change name, description, labels, deletion protection.
    UpdateKey = "kms.asymmetricSignatureKeys.update";
    /// Activate or deactivate.
    ChangeKeyStatus = "kms.asymmetricSignatureKeys.updateStatus";
    DeleteKey = "kms.asymmetricSignatureKeys.delete";
    /// Sign and sign-hash: the only permission that opens key material.
    UseKey = "kms.asymmetricSignatureKeys.sign";
    GetPublicKey = "kms.asymmetricSignatureKeys.getPublicKey";
    /// Restore deleted keys, destroy material.
    Administer = "signet.admin";
}

/// Proof that `subject` may do `P` on `resource`. No public constructor.
pub struct Authorized<P: Permission> {
    subject_id: String,
    resource: Resource,
    _permission: PhantomData<P>,
}

impl<P: Permission> fmt::Debug for Authorized<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorized")
            .field("permission", &P::NAME)
            .field("subject_id", &self.subject_id)
            .field("resource", &self.resource)
            .finish()
    }
}

impl<P: Permission> Authorized<P> {
    pub fn subject_id(&self) -> &str {
        &self.subject_id
    }

    pub fn resource(&self) -> &Resource {
        &self.resource
    }
}

/// Decides whether `principal` may do `P` on `resource`. Default deny.
pub fn authorize<P: Permission>(
    principal: &Principal,
    resource: Resource,
) -> Result<Authorized<P>, CoreError> {
    if principal.is_admin {
        return Ok(Authorized {
            subject_id: principal.subject_id.clone(),
            resource,
            _permission: PhantomData,
        });
    }
    Err(CoreError::PermissionDenied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_token_round_trip_and_rejections() {
        let token = mint_admin_token().unwrap();
        assert!(token.expose().starts_with(ADMIN_TOKEN_PREFIX));
        assert_eq!(token.expose().len(), ADMIN_TOKEN_PREFIX.len() + 43);
        let auth = Authenticator::new(&token_hash_hex(token.expose())).unwrap();
        let p = auth
            .authenticate(Some(&format!("Bearer {}", token.expose())))
            .unwrap();
        assert_eq!(p.subject_id(), "admin");

        for bad in [
            None,
            Some(""),
            Some("Bearer "),
            Some(token.expose()),
            Some("Basic abc"),
            Some("Bearer sgt1.wrong"),
        ] {
            assert!(matches!(
                auth.authenticate(bad),
                Err(CoreError::Unauthenticated(_))
            ));
        }
        let printed = format!("{token:?} {auth:?}");
        assert!(!printed.contains(token.expose()));
    }

    #[test]
    fn malformed_stored_hash_is_an_error() {
        assert!(Authenticator::new("xyz").is_err());
        assert!(Authenticator::new(&"g".repeat(64)).is_err());
    }
}
