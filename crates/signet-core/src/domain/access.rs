//! Subjects, roles and access bindings, as in Yandex Cloud's access model.

use super::validation::Invalid;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of subject a role can be bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SubjectType {
    ServiceAccount,
    UserAccount,
    System,
}

impl SubjectType {
    pub const fn wire_name(self) -> &'static str {
        match self {
            SubjectType::ServiceAccount => "serviceAccount",
            SubjectType::UserAccount => "userAccount",
            SubjectType::System => "system",
        }
    }
}

/// The id of `system` subjects that matches every authenticated caller.
pub const ALL_AUTHENTICATED_USERS: &str = "allAuthenticatedUsers";
/// The id of `system` subjects that matches every caller. Signet has no anonymous access, so in
/// practice this is every authenticated caller too.
pub const ALL_USERS: &str = "allUsers";

/// Who a binding is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subject {
    pub kind: SubjectType,
    pub id: String,
}

impl Subject {
    /// Parses a wire subject (`type`, `id`). `field` prefixes the violated field names.
    pub fn parse(field: &str, kind: &str, id: &str) -> Result<Subject, Invalid> {
        let kind = match kind {
            "serviceAccount" => SubjectType::ServiceAccount,
            "userAccount" => SubjectType::UserAccount,
            "system" => SubjectType::System,
            "" => return Err(Invalid::one(format!("{field}.type"), "is required")),
            other => {
                return Err(Invalid::one(
                    format!("{field}.type"),
                    format!(
                        "{:?} is not a supported subject type (serviceAccount, userAccount, system)",
                        truncate(other)
                    ),
                ));
            }
        };
        let id_field = format!("{field}.id");
        match kind {
            SubjectType::System => {
                if id != ALL_AUTHENTICATED_USERS && id != ALL_USERS {
                    return Err(Invalid::one(
                        id_field,
                        "a system subject is allAuthenticatedUsers or allUsers",
                    ));
                }
            }
            SubjectType::ServiceAccount | SubjectType::UserAccount => {
                if id.is_empty() {
                    return Err(Invalid::one(id_field, "is required"));
                }
                if id.len() > 50
                    || !id
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                {
                    return Err(Invalid::one(
                        id_field,
                        "must be 1-50 lowercase Latin letters and digits",
                    ));
                }
            }
        }
        Ok(Subject {
            kind,
            id: id.to_owned(),
        })
    }

    pub fn service_account(id: &str) -> Subject {
        Subject {
            kind: SubjectType::ServiceAccount,
            id: id.to_owned(),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.wire_name(), self.id)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Something a role can allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermissionKind {
    /// Get and List keys.
    ViewKeys,
    /// ListOperations and polling operations.
    ViewOperations,
    /// ListAccessBindings.
    ViewBindings,
    CreateKeys,
    /// Name, description, labels, deletion protection.
    UpdateKeys,
    /// ACTIVE ⇄ INACTIVE.
    ChangeKeyStatus,
    DeleteKeys,
    /// SetAccessBindings and UpdateAccessBindings.
    SetBindings,
    /// Sign and SignHash.
    UseKeys,
    GetPublicKeys,
    /// Read the audit trail's records about a folder and its keys (Signet's `kms.auditor`).
    ReadAuditTrail,
}

use PermissionKind as P;

/// The roles Signet knows. Inheritance follows Yandex's graph: auditor ⊂ viewer ⊂ editor ⊂
/// admin; signer ⊂ editor; publicKeyViewer ⊂ editor; signer and publicKeyViewer are disjoint;
/// the primitive roles grant what the matching `kms.*` role grants (primitive `editor` cannot
/// delete keys or change bindings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    KmsSigner,
    KmsPublicKeyViewer,
    KmsAuditor,
    KmsViewer,
    KmsEditor,
    KmsAdmin,
    Viewer,
    Editor,
    Admin,
}

const AUDITOR: &[PermissionKind] = &[P::ViewKeys, P::ViewBindings, P::ReadAuditTrail];
const VIEWER: &[PermissionKind] = &[
    P::ViewKeys,
    P::ViewBindings,
    P::ReadAuditTrail,
    P::ViewOperations,
];
const EDITOR: &[PermissionKind] = &[
    P::ViewKeys,
    P::ViewBindings,
    P::ReadAuditTrail,
    P::ViewOperations,
    P::CreateKeys,
    P::UpdateKeys,
    P::UseKeys,
    P::GetPublicKeys,
];
const ADMIN: &[PermissionKind] = &[
    P::ViewKeys,
    P::ViewBindings,
    P::ReadAuditTrail,
    P::ViewOperations,
    P::CreateKeys,
    P::UpdateKeys,
    P::UseKeys,
    P::GetPublicKeys,
    P::ChangeKeyStatus,
    P::DeleteKeys,
    P::SetBindings,
];

impl Role {
    pub const ALL: [Role; 9] = [
        Role::KmsSigner,
        Role::KmsPublicKeyViewer,
        Role::KmsAuditor,
        Role::KmsViewer,
        Role::KmsEditor,
        Role::KmsAdmin,
        Role::Viewer,
        Role::Editor,
        Role::Admin,
    ];

    pub const fn id(self) -> &'static str {
        match self {
            Role::KmsSigner => "kms.asymmetricSignatureKeys.signer",
            Role::KmsPublicKeyViewer => "kms.asymmetricSignatureKeys.publicKeyViewer",
            Role::KmsAuditor => "kms.auditor",
            Role::KmsViewer => "kms.viewer",
            Role::KmsEditor => "kms.editor",
            Role::KmsAdmin => "kms.admin",
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(field: &str, id: &str) -> Result<Role, Invalid> {
        Role::ALL.into_iter().find(|r| r.id() == id).ok_or_else(|| {
            Invalid::one(
                field,
                format!("{:?} is not a role Signet knows", truncate(id)),
            )
        })
    }

    pub const fn permissions(self) -> &'static [PermissionKind] {
        match self {
            Role::KmsSigner => &[P::UseKeys],
            Role::KmsPublicKeyViewer => &[P::GetPublicKeys],
            Role::KmsAuditor => AUDITOR,
            Role::KmsViewer | Role::Viewer => VIEWER,
            Role::KmsEditor | Role::Editor => EDITOR,
            Role::KmsAdmin | Role::Admin => ADMIN,
        }
    }

    pub fn grants(self, p: PermissionKind) -> bool {
        self.permissions().contains(&p)
    }
}

/// One role for one subject on one resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessBinding {
    pub role: Role,
    pub subject: Subject,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BindingAction {
    Add,
    Remove,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingDelta {
    pub action: BindingAction,
    pub binding: AccessBinding,
}

/// The resource a set of bindings is attached to, as the store names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingTarget {
    Key(super::KeyId),
    Folder(super::FolderId),
}

impl BindingTarget {
    /// Stable store key, e.g. `key:abj…` or `folder:default`.
    pub fn storage_key(&self) -> String {
        match self {
            BindingTarget::Key(id) => format!("key:{id}"),
            BindingTarget::Folder(id) => format!("folder:{id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_graph() {
        // signer and publicKeyViewer are disjoint; both are in editor.
        assert!(Role::KmsSigner.grants(P::UseKeys));
        assert!(!Role::KmsSigner.grants(P::GetPublicKeys));
        assert!(!Role::KmsPublicKeyViewer.grants(P::UseKeys));
        for p in Role::KmsAuditor.permissions() {
            assert!(Role::KmsViewer.grants(*p));
        }
        for p in Role::KmsViewer.permissions() {
            assert!(Role::KmsEditor.grants(*p));
        }
        for p in Role::KmsEditor.permissions() {
            assert!(Role::KmsAdmin.grants(*p));
        }
        assert!(Role::KmsEditor.grants(P::UseKeys) && Role::KmsEditor.grants(P::GetPublicKeys));
        // Primitive editor cannot delete keys or assign roles.
        assert!(!Role::Editor.grants(P::DeleteKeys));
        assert!(!Role::Editor.grants(P::SetBindings));
        assert!(!Role::KmsEditor.grants(P::ChangeKeyStatus));
        assert!(Role::Admin.grants(P::DeleteKeys));
        // The trail: auditor and every role that includes it, nothing else.
        for r in Role::ALL {
            let expected = !matches!(r, Role::KmsSigner | Role::KmsPublicKeyViewer);
            assert_eq!(r.grants(P::ReadAuditTrail), expected, "{r:?}");
        }
        for r in Role::ALL {
            assert_eq!(Role::parse("role_id", r.id()).unwrap(), r);
        }
        assert!(Role::parse("role_id", "kms.superuser").is_err());
    }

    #[test]
    fn subjects() {
        assert!(Subject::parse("s", "serviceAccount", "aje123").is_ok());
        assert!(Subject::parse("s", "system", "allAuthenticatedUsers").is_ok());
        assert!(Subject::parse("s", "system", "root").is_err());
        assert!(Subject::parse("s", "group", "x").is_err());
        assert!(Subject::parse("s", "serviceAccount", "").is_err());
        assert!(Subject::parse("s", "serviceAccount", "A B").is_err());
    }
}
