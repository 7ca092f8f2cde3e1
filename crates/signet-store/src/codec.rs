//! The mapping between domain records and column values, shared by every adapter.
//!
//! Adapters read a row into the plain column structs below and call `decode`; they bind the
//! `encode_*` helpers' output when writing. Any value that does not decode becomes
//! [`StoreError::Corrupt`] naming the table, the row id and the column, never the value: rows hold
//! sealed key material, and error text ends up in logs.

use signet_core::domain::{
    FolderId, KeyId, KeyRecord, KeyStatus, Labels, OperationId, OperationKind, OperationRecord,
    OperationResult, Timestamp,
};
use signet_core::store::StoreError;
use signet_crypto::{Algorithm, SealedKey};
use std::collections::BTreeMap;

/// The columns of a `keys` row, as the database returns them. (No `Debug`: `sealed` is here.)
pub(crate) struct KeyColumns {
    pub(crate) id: String,
    pub(crate) folder_id: String,
    pub(crate) created_at: i64,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) labels: String,
    pub(crate) status: i64,
    pub(crate) algorithm: i64,
    pub(crate) deletion_protection: bool,
    pub(crate) public_key_pem: Option<String>,
    pub(crate) sealed: Option<Vec<u8>>,
    pub(crate) deleted_at: Option<i64>,
    pub(crate) destroyed_at: Option<i64>,
    pub(crate) version: i64,
}

impl KeyColumns {
    pub(crate) fn decode(self) -> Result<KeyRecord, StoreError> {
        let corrupt = |column: &str| corrupt("keys", &self.id, column);
        let labels = decode_labels(&self.labels).ok_or_else(|| corrupt("labels"))?;
        let status = i32::try_from(self.status)
            .ok()
            .and_then(KeyStatus::from_wire_number)
            .ok_or_else(|| corrupt("status"))?;
        let algorithm = i32::try_from(self.algorithm)
            .ok()
            .and_then(Algorithm::from_wire_number)
            .ok_or_else(|| corrupt("algorithm"))?;
        Ok(KeyRecord {
            id: KeyId::from_trusted(self.id),
            folder_id: FolderId::from_trusted(self.folder_id),
            created_at: Timestamp::from_micros(self.created_at),
            name: self.name,
            description: self.description,
            labels,
            status,
            algorithm,
            deletion_protection: self.deletion_protection,
            public_key_pem: self.public_key_pem,
            sealed: self.sealed.map(SealedKey::from_bytes),
            deleted_at: self.deleted_at.map(Timestamp::from_micros),
            destroyed_at: self.destroyed_at.map(Timestamp::from_micros),
            version: self.version,
        })
    }
}

/// The columns of an `operations` row, as the database returns them.
pub(crate) struct OperationColumns {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) resource_id: String,
    pub(crate) description: String,
    pub(crate) created_at: i64,
    pub(crate) created_by: String,
    pub(crate) modified_at: i64,
    pub(crate) done: bool,
    pub(crate) result: String,
}

impl OperationColumns {
    pub(crate) fn decode(self) -> Result<OperationRecord, StoreError> {
        let corrupt = |column: &str| corrupt("operations", &self.id, column);
        let kind = OperationKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?;
        let result = OperationResult::from_json(&self.result).map_err(|_| corrupt("result"))?;
        // `done` is derived from `result` on every write; disagreement means the row was edited.
        if matches!(result, OperationResult::Pending) == self.done {
            return Err(corrupt("done"));
        }
        Ok(OperationRecord {
            id: OperationId::from_trusted(self.id),
            kind,
            resource_id: self.resource_id,
            description: self.description,
            created_at: Timestamp::from_micros(self.created_at),
            created_by: self.created_by,
            modified_at: Timestamp::from_micros(self.modified_at),
            result,
        })
    }
}

/// The error for a column that does not decode. Names the row, never prints its values.
pub(crate) fn corrupt(table: &str, id: &str, column: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "{table} row {id:?}: column {column} does not decode"
    ))
}

pub(crate) fn encode_labels(labels: &Labels) -> Result<String, StoreError> {
    serde_json::to_string(labels.as_map()).map_err(|e| StoreError::Other(Box::new(e)))
}

fn decode_labels(json: &str) -> Option<Labels> {
    serde_json::from_str::<BTreeMap<String, String>>(json)
        .ok()
        .map(Labels::from_trusted)
}

pub(crate) fn encode_result(result: &OperationResult) -> Result<String, StoreError> {
    result.to_json().map_err(|e| StoreError::Other(Box::new(e)))
}

/// A page size as a SQL `LIMIT` (a limit beyond `i64::MAX` is no limit at all).
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_columns() -> KeyColumns {
        KeyColumns {
            id: "abjkey".into(),
            folder_id: "folder".into(),
            created_at: 1,
            name: "n".into(),
            description: "d".into(),
            labels: r#"{"env":"prod"}"#.into(),
            status: 2,
            algorithm: i64::from(Algorithm::ALL[0].wire_number()),
            deletion_protection: true,
            public_key_pem: None,
            sealed: Some(b"SEALED-SECRET".to_vec()),
            deleted_at: None,
            destroyed_at: None,
            version: 1,
        }
    }

    fn assert_corrupt_without_secret(result: Result<KeyRecord, StoreError>, column: &str) {
        let err = result.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(matches!(err, StoreError::Corrupt(_)), "{text}");
        assert!(text.contains(column), "{text}");
        assert!(!text.contains("SEALED-SECRET"), "{text}");
    }

    #[test]
    fn a_good_row_decodes() {
        let record = key_columns().decode().unwrap();
        assert_eq!(record.labels.as_map()["env"], "prod");
        assert_eq!(record.status, KeyStatus::Active);
    }

    #[test]
    fn undecodable_key_columns_are_corrupt_and_not_echoed() {
        let mut c = key_columns();
        c.status = 9;
        assert_corrupt_without_secret(c.decode(), "status");
        let mut c = key_columns();
        c.status = i64::MAX;
        assert_corrupt_without_secret(c.decode(), "status");
        let mut c = key_columns();
        c.algorithm = 999;
        assert_corrupt_without_secret(c.decode(), "algorithm");
        let mut c = key_columns();
        c.labels = "[1,2".into();
        assert_corrupt_without_secret(c.decode(), "labels");
        let mut c = key_columns();
        c.labels = r#"{"env":1}"#.into();
        assert_corrupt_without_secret(c.decode(), "labels");
    }

    #[test]
    fn undecodable_operation_columns_are_corrupt() {
        let good = || OperationColumns {
            id: "abjop".into(),
            kind: "create_key".into(),
            resource_id: "abjkey".into(),
            description: "d".into(),
            created_at: 1,
            created_by: "u".into(),
            modified_at: 2,
            done: false,
            result: encode_result(&OperationResult::Pending).unwrap(),
        };
        assert!(good().decode().is_ok());
        for (column, broken) in [
            (
                "kind",
                OperationColumns {
                    kind: "rotate".into(),
                    ..good()
                },
            ),
            (
                "result",
                OperationColumns {
                    result: "{".into(),
                    ..good()
                },
            ),
            (
                "result",
                OperationColumns {
                    result: r#""Done""#.into(),
                    ..good()
                },
            ),
            (
                "done",
                OperationColumns {
                    done: true,
                    ..good()
                },
            ),
        ] {
            let err = broken.decode().unwrap_err();
            assert!(
                matches!(&err, StoreError::Corrupt(m) if m.contains(column)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn limits_saturate() {
        assert_eq!(sql_limit(0), 0);
        assert_eq!(sql_limit(usize::MAX), i64::MAX);
    }
}
