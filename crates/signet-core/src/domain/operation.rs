//! Long-running operations, as stored.

use super::identity::ServiceAccount;
use super::ids::OperationId;
use super::key::KeyView;
use super::time::Timestamp;
use crate::ErrorKind;
use serde::{Deserialize, Serialize};

/// What an operation does; decides its metadata and response types on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationKind {
    CreateKey,
    UpdateKey,
    DeleteKey,
    SetKeyAccessBindings,
    UpdateKeyAccessBindings,
    SetFolderAccessBindings,
    UpdateFolderAccessBindings,
    CreateServiceAccount,
    DeleteServiceAccount,
}

impl OperationKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            OperationKind::CreateKey => "create_key",
            OperationKind::UpdateKey => "update_key",
            OperationKind::DeleteKey => "delete_key",
            OperationKind::SetKeyAccessBindings => "set_key_access_bindings",
            OperationKind::UpdateKeyAccessBindings => "update_key_access_bindings",
            OperationKind::SetFolderAccessBindings => "set_folder_access_bindings",
            OperationKind::UpdateFolderAccessBindings => "update_folder_access_bindings",
            OperationKind::CreateServiceAccount => "create_service_account",
            OperationKind::DeleteServiceAccount => "delete_service_account",
        }
    }

    pub const ALL: [OperationKind; 9] = [
        OperationKind::CreateKey,
        OperationKind::UpdateKey,
        OperationKind::DeleteKey,
        OperationKind::SetKeyAccessBindings,
        OperationKind::UpdateKeyAccessBindings,
        OperationKind::SetFolderAccessBindings,
        OperationKind::UpdateFolderAccessBindings,
        OperationKind::CreateServiceAccount,
        OperationKind::DeleteServiceAccount,
    ];

    pub fn parse(s: &str) -> Option<OperationKind> {
        OperationKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Human-readable description, as in Yandex's operation list.
    pub const fn description(self) -> &'static str {
        match self {
            OperationKind::CreateKey => "Create asymmetric signature key",
            OperationKind::UpdateKey => "Update asymmetric signature key",
            OperationKind::DeleteKey => "Delete asymmetric signature key",
            OperationKind::SetKeyAccessBindings => {
                "Set access bindings for asymmetric signature key"
            }
            OperationKind::UpdateKeyAccessBindings => {
                "Update access bindings for asymmetric signature key"
            }
            OperationKind::SetFolderAccessBindings => "Set access bindings for folder",
            OperationKind::UpdateFolderAccessBindings => "Update access bindings for folder",
            OperationKind::CreateServiceAccount => "Create service account",
            OperationKind::DeleteServiceAccount => "Delete service account",
        }
    }
}

/// Where an operation stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationResult {
    /// Not done yet.
    Pending,
    /// Done, with an error. `message` is safe to show to the client.
    Failed { kind: ErrorKind, message: String },
    /// Done; the key as it was when the operation finished.
    Key(KeyView),
    /// Done; the service account created.
    ServiceAccount(ServiceAccount),
    /// Done, with no response body (`google.protobuf.Empty`).
    Empty,
}

impl OperationResult {
    /// Serialized form for the store (JSON; the schema is this enum's serde form).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    pub fn from_json(s: &str) -> Result<OperationResult, serde_json::Error> {
        serde_json::from_str(s)
    }
}

/// An operation as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationRecord {
    pub id: OperationId,
    pub kind: OperationKind,
    /// The resource the operation acts on (its metadata's id: a key, folder or service account).
    pub resource_id: String,
    pub description: String,
    pub created_at: Timestamp,
    pub created_by: String,
    pub modified_at: Timestamp,
    pub result: OperationResult,
}

impl OperationRecord {
    pub fn done(&self) -> bool {
        !matches!(self.result, OperationResult::Pending)
    }
}
