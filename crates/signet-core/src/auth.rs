//! Authentication and authorization as values (ADR 0005).
//!
//! * A [`Principal`] is built only by authentication ([`crate::Kms::authenticate`]): the
//!   deployment admin (admin token), or a service account (IAM token).
//! * An [`Authorized<P>`] proof is built only by [`crate::Kms::authorize`], after [`decide`]
//!   allowed it; only the proof for [`UseKey`] opens key material ([`crate::vault::KeyVault`]).
//!   Forgetting a check therefore does not compile into a signature.
//! * Default deny: a service account may do only what a role bound to it (on the key, or on the
//!   key's folder) grants.

use crate::CoreError;
use crate::audit::CallAudit;
use crate::domain::access::{ALL_AUTHENTICATED_USERS, ALL_USERS, PermissionKind};
use crate::domain::{FolderId, KeyId, Subject, SubjectType};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// Prefix of the admin tokens Signet mints (`sgt1.` + 43 base64url characters = 256 bits).
pub const ADMIN_TOKEN_PREFIX: &str = "sgt1.";
/// Prefix of IAM tokens (as Yandex's: `t1.` + 43 base64url characters = 256 bits).
pub const IAM_TOKEN_PREFIX: &str = "t1.";

/// Who is calling. Built only by authentication ([`crate::Kms::authenticate`]).
#[derive(Clone)]
pub struct Principal {
    subject_id: String,
    /// The subject role bindings are matched against; `None` for the deployment admin.
    subject: Option<Subject>,
    is_admin: bool,
    /// The call being served, when its audit record is to be written by the state change it
    /// makes (see [`CallAudit`]); not part of who is calling.
    call: Option<Arc<CallAudit>>,
}

/// Two principals are equal when they are the same caller, whatever call each serves.
impl PartialEq for Principal {
    fn eq(&self, other: &Self) -> bool {
        self.subject_id == other.subject_id
            && self.subject == other.subject
            && self.is_admin == other.is_admin
    }
}

impl Eq for Principal {}

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

    pub fn is_admin(&self) -> bool {
        self.is_admin
    }

    /// This principal serving `call`: a state change it makes writes the call's audit record
    /// in its own transaction (ADR 0006).
    pub fn serving(mut self, call: Arc<CallAudit>) -> Principal {
        self.call = Some(call);
        self
    }

    /// The call this principal is serving, if its record is written with its state changes.
    pub fn call_audit(&self) -> Option<&CallAudit> {
        self.call.as_deref()
    }

    pub(crate) fn admin() -> Principal {
        Principal {
            subject_id: "admin".into(),
            subject: None,
            is_admin: true,
            call: None,
        }
    }

    pub(crate) fn service_account(id: &crate::domain::ServiceAccountId) -> Principal {
        Principal {
            subject_id: id.to_string(),
            subject: Some(Subject::service_account(id.as_str())),
            is_admin: false,
            call: None,
        }
    }

    /// Whether a binding's subject designates this principal.
    pub fn matches(&self, subject: &Subject) -> bool {
        match subject.kind {
            SubjectType::System => subject.id == ALL_AUTHENTICATED_USERS || subject.id == ALL_USERS,
            SubjectType::ServiceAccount | SubjectType::UserAccount => {
                self.subject.as_ref() == Some(subject)
            }
        }
    }

    /// The identity of offline admin commands run against the data directory itself (for
    /// example `signet admin restore-key`). Reachable only through [`crate::Kms`], which cannot
    /// be built without the root key.
    pub(crate) fn local_admin() -> Principal {
        Principal {
            subject_id: "local-admin".into(),
            subject: None,
            is_admin: true,
            call: None,
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
    hex::encode(signet_crypto::sha256(token.as_bytes()))
}

/// Mints a new admin token.
pub fn mint_admin_token() -> Result<NewToken, CoreError> {
    mint_token(ADMIN_TOKEN_PREFIX)
}

/// Mints a new token with `prefix` and 256 random bits.
pub fn mint_token(prefix: &str) -> Result<NewToken, CoreError> {
    use base64::Engine as _;
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    signet_crypto::fill_random(raw.as_mut())?;
    let text = format!(
        "{prefix}{}",
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

    /// Checks the admin token: `Some(admin)` if `token` is it (compared in constant time).
    pub fn admin(&self, token: &str) -> Option<Principal> {
        self.admin_by_digest(&signet_crypto::sha256(token.as_bytes()))
    }

    /// Like [`Authenticator::admin`], given the token's SHA-256 (computed once per call).
    pub fn admin_by_digest(&self, presented: &[u8; 32]) -> Option<Principal> {
        signet_crypto::constant_time_eq(presented, &self.admin_token_sha256).then(Principal::admin)
    }
}

/// Extracts the token of an `authorization: Bearer <token>` header.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, CoreError> {
    let header = authorization.ok_or(CoreError::Unauthenticated(
        "the call needs an `authorization: Bearer <token>` header",
    ))?;
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(CoreError::Unauthenticated(
            "the authorization header must be `Bearer <token>`",
        ))
}

/// The error for every unknown, expired or revoked token: the same message, so a caller learns
/// nothing about which.
pub const BAD_TOKEN: CoreError = CoreError::Unauthenticated("the token is invalid or has expired");

impl Authenticator {}

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
    /// What a role must grant; `None` for permissions only the deployment admin holds.
    const KIND: Option<PermissionKind>;
}

macro_rules! permissions {
    ($($(#[$doc:meta])* $name:ident = $text:literal, $kind:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl Permission for $name {
            const NAME: &'static str = $text;
            const KIND: Option<PermissionKind> = $kind;
        }
    )*};
}

permissions! {
    /// Create keys in a folder.
    CreateKey = "kms.asymmetricSignatureKeys.create", Some(PermissionKind::CreateKeys);
    /// Read key metadata and list keys.
    ViewKey = "kms.asymmetricSignatureKeys.get", Some(PermissionKind::ViewKeys);
    /// List and read a key's operations.
    ViewOperations = "kms.asymmetricSignatureKeys.listOperations", Some(PermissionKind::ViewOperations);
    /// Change name, description, labels, deletion protection.
    UpdateKey = "kms.asymmetricSignatureKeys.update", Some(PermissionKind::UpdateKeys);
    /// Activate or deactivate.
    ChangeKeyStatus = "kms.asymmetricSignatureKeys.updateStatus", Some(PermissionKind::ChangeKeyStatus);
    DeleteKey = "kms.asymmetricSignatureKeys.delete", Some(PermissionKind::DeleteKeys);
    /// Sign and sign-hash: the only permission that opens key material.
    UseKey = "kms.asymmetricSignatureKeys.sign", Some(PermissionKind::UseKeys);
    GetPublicKey = "kms.asymmetricSignatureKeys.getPublicKey", Some(PermissionKind::GetPublicKeys);
    /// List a resource's access bindings.
    ViewBindings = "kms.asymmetricSignatureKeys.listAccessBindings", Some(PermissionKind::ViewBindings);
    /// Set or update a resource's access bindings.
    SetBindings = "kms.asymmetricSignatureKeys.setAccessBindings", Some(PermissionKind::SetBindings);
    /// Read the audit trail: a folder's records (`kms.auditor` on it), or all of them (the
    /// deployment admin).
    ReadAuditTrail = "kms.auditor.readTrail", Some(PermissionKind::ReadAuditTrail);
    /// Restore deleted keys; manage service accounts, their keys and tokens.
    Administer = "signet.admin", None;
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

/// Builds the proof once a decision is made (see [`crate::Kms::authorize`]).
pub(crate) fn grant<P: Permission>(principal: &Principal, resource: Resource) -> Authorized<P> {
    Authorized {
        subject_id: principal.subject_id.clone(),
        resource,
        _permission: PhantomData,
    }
}

/// The decision, as a pure function of the caller and the bindings in force on the resource
/// (its own and its folder's). Default deny: nothing but a matching binding allows.
pub fn decide<'a>(
    principal: &Principal,
    kind: Option<PermissionKind>,
    bindings: impl IntoIterator<Item = &'a crate::domain::AccessBinding>,
) -> Decision {
    if principal.is_admin {
        return Decision::Allow;
    }
    let mut any_role = false;
    for binding in bindings
        .into_iter()
        .filter(|b| principal.matches(&b.subject))
    {
        any_role = true;
        if kind.is_some_and(|k| binding.role.grants(k)) {
            return Decision::Allow;
        }
    }
    if any_role {
        Decision::Deny
    } else {
        Decision::NoAccess
    }
}

/// Outcome of [`decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The caller holds some role here, but not one that allows this: PERMISSION_DENIED.
    Deny,
    /// The caller holds no role here at all: for keys, NOT_FOUND (existence is not revealed).
    NoAccess,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_are_lowercase_hex_of_sha256() {
        // FIPS 180-2's "abc" vector.
        assert_eq!(
            token_hash_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn admin_token_round_trip_and_rejections() {
        let token = mint_admin_token().unwrap();
        assert!(token.expose().starts_with(ADMIN_TOKEN_PREFIX));
        assert_eq!(token.expose().len(), ADMIN_TOKEN_PREFIX.len() + 43);
        let auth = Authenticator::new(&token_hash_hex(token.expose())).unwrap();
        let header = format!("Bearer {}", token.expose());
        let presented = bearer_token(Some(&header)).unwrap();
        assert_eq!(auth.admin(presented).unwrap().subject_id(), "admin");
        assert!(auth.admin("sgt1.wrong").is_none());
        for bad in [
            None,
            Some(""),
            Some("Bearer "),
            Some(token.expose()),
            Some("Basic abc"),
        ] {
            assert!(matches!(
                bearer_token(bad),
                Err(CoreError::Unauthenticated(_))
            ));
        }
        let printed = format!("{token:?} {auth:?}");
        assert!(!printed.contains(token.expose()));
    }

    #[test]
    fn decisions_follow_bindings() {
        use crate::domain::{AccessBinding, Role, ServiceAccountId};
        let sa = Principal::service_account(&ServiceAccountId::from_trusted("ajeaaa".into()));
        let other = Principal::service_account(&ServiceAccountId::from_trusted("ajebbb".into()));
        let bind = |role, subject: Subject| AccessBinding { role, subject };
        let signer = [bind(Role::KmsSigner, Subject::service_account("ajeaaa"))];
        assert_eq!(
            decide(&sa, Some(PermissionKind::UseKeys), &signer),
            Decision::Allow
        );
        assert_eq!(
            decide(&sa, Some(PermissionKind::GetPublicKeys), &signer),
            Decision::Deny
        );
        assert_eq!(
            decide(&other, Some(PermissionKind::UseKeys), &signer),
            Decision::NoAccess
        );
        assert_eq!(
            decide(&sa, None, &signer),
            Decision::Deny,
            "admin-only needs the admin"
        );
        let everyone = [bind(
            Role::KmsViewer,
            Subject {
                kind: SubjectType::System,
                id: ALL_AUTHENTICATED_USERS.into(),
            },
        )];
        assert_eq!(
            decide(&other, Some(PermissionKind::ViewKeys), &everyone),
            Decision::Allow
        );
        assert_eq!(decide(&Principal::admin(), None, &[]), Decision::Allow);
        assert_eq!(
            decide(&sa, Some(PermissionKind::ViewKeys), &[]),
            Decision::NoAccess
        );
    }

    #[test]
    fn malformed_stored_hash_is_an_error() {
        assert!(Authenticator::new("xyz").is_err());
        assert!(Authenticator::new(&"g".repeat(64)).is_err());
    }
}
