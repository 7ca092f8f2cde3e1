//! Long-running operations, as stored.

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
}

impl OperationKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            OperationKind::CreateKey => "create_key",
            OperationKind::UpdateKey => "update_key",
            OperationKind::DeleteKey => "delete_key",
        }
    }

    pub fn parse(s: &str) -> Option<OperationKind> {
        match s {
            "create_key" => Some(OperationKind::CreateKey),
            "update_key" => Some(OperationKind::UpdateKey),
            "delete_key" => Some(OperationKind::DeleteKey),
            _ => None,
        }
    }

    /// Human-readable description, as in Yandex's operation list.
    pub const fn description(self) -> &'static str {
        match self {
            OperationKind::CreateKey => "Create asymmetric signature key",
            OperationKind::UpdateKey => "Update asymmetric signature key",
            OperationKind::DeleteKey => "Delete asymmetric signature key",
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
    /// The key the operation acts on (its metadata's `key_id`).
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
