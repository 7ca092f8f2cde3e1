//! Asymmetric signature keys: their metadata, state and stored form.

use super::ids::{FolderId, KeyId};
use super::time::Timestamp;
use super::validation::{Invalid, Violations};
use serde::{Deserialize, Serialize};
use signet_crypto::{Algorithm, SealedKey};
use std::collections::BTreeMap;

/// Lifecycle status of a key (ADR 0004). `Creating` is set only by Signet while the key
/// material is being generated; clients may set only `Active` or `Inactive`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyStatus {
    Creating,
    Active,
    Inactive,
}

impl KeyStatus {
    /// The wire number (`AsymmetricSignatureKey.Status`).
    pub const fn wire_number(self) -> i32 {
        match self {
            KeyStatus::Creating => 1,
            KeyStatus::Active => 2,
            KeyStatus::Inactive => 3,
        }
    }

    pub fn from_wire_number(n: i32) -> Option<KeyStatus> {
        match n {
            1 => Some(KeyStatus::Creating),
            2 => Some(KeyStatus::Active),
            3 => Some(KeyStatus::Inactive),
            _ => None,
        }
    }
}

pub const MAX_LABELS: usize = 64;
pub const MAX_LABEL_LEN: usize = 63;
pub const MAX_NAME_LEN: usize = 100;
pub const MAX_DESCRIPTION_LEN: usize = 1024;

/// Validated labels: at most 64; keys `[a-z][-_0-9a-z]*` of 1–63 characters; values
/// `[-_0-9a-z]*` of 0–63 characters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Labels(BTreeMap<String, String>);

impl Labels {
    pub fn parse<'a>(
        field: &str,
        entries: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<Labels, Invalid> {
        let mut v = Violations::new();
        let mut map = BTreeMap::new();
        for (k, val) in entries {
            let key_ok = k.len() <= MAX_LABEL_LEN
                && k.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && k.bytes().all(label_char);
            if !key_ok {
                v.add(
                    field,
                    format!(
                        "label key {:?} must match [a-z][-_0-9a-z]* and be at most 63 characters",
                        truncate_for_message(k)
                    ),
                );
            }
            if val.len() > MAX_LABEL_LEN || !val.bytes().all(label_char) {
                v.add(
                    field,
                    format!(
                        "label value for {:?} must match [-_0-9a-z]* and be at most 63 characters",
                        truncate_for_message(k)
                    ),
                );
            }
            map.insert(k.clone(), val.clone());
        }
        if map.len() > MAX_LABELS {
            v.add(field, "at most 64 labels are allowed");
        }
        v.finish(|| Some(Labels(map)))
    }

    pub fn from_trusted(map: BTreeMap<String, String>) -> Labels {
        Labels(map)
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

fn label_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
}

fn truncate_for_message(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Checks a free-text field's length in characters.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    if value.chars().count() > max {
        return Err(Invalid::one(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    // Control characters (NUL above all, which PostgreSQL cannot store) have no place in a name
    // or description; line breaks and tabs in descriptions do.
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Invalid::one(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// The public view of a key: everything a client may see. Also the snapshot stored as an
/// operation's response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: KeyId,
    pub folder_id: FolderId,
    pub created_at: Timestamp,
    pub name: String,
    pub description: String,
    pub labels: Labels,
    pub status: KeyStatus,
    pub algorithm_wire: i32,
    pub deletion_protection: bool,
}

impl KeyView {
    pub fn algorithm(&self) -> Option<Algorithm> {
        Algorithm::from_wire_number(self.algorithm_wire)
    }
}

/// A key as stored. `sealed` holds the private key sealed under the root key (never plaintext);
/// it is `None` while the key is being created and after its material is destroyed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: KeyId,
    pub folder_id: FolderId,
    pub created_at: Timestamp,
    pub name: String,
    pub description: String,
    pub labels: Labels,
    pub status: KeyStatus,
    pub algorithm: Algorithm,
    pub deletion_protection: bool,
    pub public_key_pem: Option<String>,
    pub sealed: Option<SealedKey>,
    /// Set when the key was deleted: from then on it is invisible to clients.
    pub deleted_at: Option<Timestamp>,
    /// Set when the sealed material was destroyed after the deletion window.
    pub destroyed_at: Option<Timestamp>,
    /// Incremented by every write; writes are conditional on the version they read.
    pub version: i64,
}

impl KeyRecord {
    pub fn view(&self) -> KeyView {
        KeyView {
            id: self.id.clone(),
            folder_id: self.folder_id.clone(),
            created_at: self.created_at,
            name: self.name.clone(),
            description: self.description.clone(),
            labels: self.labels.clone(),
            status: self.status,
            algorithm_wire: self.algorithm.wire_number(),
            deletion_protection: self.deletion_protection,
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Result<Labels, Invalid> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Labels::parse("labels", &map)
    }

    #[test]
    fn text_rules() {
        assert!(check_text("description", "line one\nline two\ttab", 100).is_ok());
        assert!(check_text("name", "nul\0byte", 100).is_err());
        assert!(check_text("name", "bell\u{7}", 100).is_err());
        assert!(check_text("name", &"é".repeat(100), 100).is_ok());
        assert!(check_text("name", &"é".repeat(101), 100).is_err());
    }

    #[test]
    fn label_rules() {
        assert!(labels(&[("env", "prod"), ("a-b_c1", ""), ("x", "0-_")]).is_ok());
        for bad in [
            vec![("1env", "x")],
            vec![("Env", "x")],
            vec![("", "x")],
            vec![("env", "Prod")],
            vec![("env", "a b")],
        ] {
            assert!(labels(&bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(64);
        assert!(labels(&[(long.as_str(), "x")]).is_err());
        assert!(labels(&[("k", long.as_str())]).is_err());
        let ok63 = "a".repeat(63);
        assert!(labels(&[(ok63.as_str(), ok63.as_str())]).is_ok());
        let many: BTreeMap<String, String> =
            (0..65).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(Labels::parse("labels", &many).is_err());
        let max: BTreeMap<String, String> =
            (0..64).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(Labels::parse("labels", &max).is_ok());
    }
}
