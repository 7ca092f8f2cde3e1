//! The mapping between domain records and column values, shared by every adapter.
//!
//! Adapters select the columns named in the decoders of [`Columns`] (`key`, `operation`,
//! `service_account`, `authorized_key`, `token`, `access_bindings`) with the same names and
//! these Rust types: text as `String`, integers as `i64`, flags as `bool`, bytes as `Vec<u8>`.
//! When writing they bind the `encode_*` helpers' output, and enums by their stable form
//! (`Role::id`, `SubjectType::wire_name`, `AuthorizedKeyAlgorithm::wire_number`). Any value that
//! does not decode becomes [`StoreError::Corrupt`] naming the table, the row and the column,
//! never the value: rows hold sealed key material and token hashes, and error text ends up in
//! logs.

use crate::error::{Classify, map_sqlx};
use signet_core::audit::{AuditCheckpoint, AuditEvent, AuditHead, AuditRecord};
use signet_core::domain::{
    AccessBinding, AuthorizedKey, AuthorizedKeyAlgorithm, AuthorizedKeyId, FolderId, KeyId,
    KeyRecord, KeyStatus, Labels, OperationId, OperationKind, OperationRecord, OperationResult,
    Role, ServiceAccount, ServiceAccountId, Subject, SubjectType, Timestamp, TokenRecord,
};
use signet_core::store::StoreError;
use signet_crypto::{Algorithm, SealedKey};
use sqlx::{ColumnIndex, Decode, Row, Type};
use std::collections::BTreeMap;

/// Reads one row's columns by name, reporting a column that does not decode as `Corrupt`.
pub(crate) struct Columns<'r, R> {
    row: &'r R,
    table: &'static str,
    id: String,
    classify: Classify,
}

impl<'r, R> Columns<'r, R>
where
    R: Row,
    &'static str: ColumnIndex<R>,
{
    /// A reader for a row of `table` known by `id` (for error messages).
    pub(crate) fn new(row: &'r R, table: &'static str, id: String, classify: Classify) -> Self {
        Columns {
            row,
            table,
            id,
            classify,
        }
    }

    pub(crate) fn get<T>(&self, column: &'static str) -> Result<T, StoreError>
    where
        T: Decode<'r, R::Database> + Type<R::Database>,
    {
        self.row.try_get(column).map_err(|e| match e {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                corrupt(self.table, &self.id, column)
            }
            // A missing column: a bug in the adapter's query, not in the data.
            e => map_sqlx(e, self.classify, || {
                "a unique constraint was violated".into()
            }),
        })
    }
}

impl<'r, R> Columns<'r, R>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    /// Starts with the row's `id` column.
    fn with_id(row: &'r R, table: &'static str, classify: Classify) -> Result<Self, StoreError> {
        let id = Columns::new(row, table, String::new(), classify).get("id")?;
        Ok(Columns::new(row, table, id, classify))
    }

    /// Decodes a `keys` row.
    pub(crate) fn key(row: &'r R, classify: Classify) -> Result<KeyRecord, StoreError> {
        let c = Columns::with_id(row, "keys", classify)?;
        KeyColumns {
            folder_id: c.get("folder_id")?,
            created_at: c.get("created_at")?,
            name: c.get("name")?,
            description: c.get("description")?,
            labels: c.get("labels")?,
            status: c.get("status")?,
            algorithm: c.get("algorithm")?,
            deletion_protection: c.get("deletion_protection")?,
            public_key_pem: c.get("public_key_pem")?,
            sealed: c.get("sealed")?,
            deleted_at: c.get("deleted_at")?,
            destroyed_at: c.get("destroyed_at")?,
            version: c.get("version")?,
            id: c.id,
        }
        .decode()
    }

    /// Decodes an `operations` row.
    pub(crate) fn operation(row: &'r R, classify: Classify) -> Result<OperationRecord, StoreError> {
        let c = Columns::with_id(row, "operations", classify)?;
        OperationColumns {
            kind: c.get("kind")?,
            resource_id: c.get("resource_id")?,
            description: c.get("description")?,
            created_at: c.get("created_at")?,
            created_by: c.get("created_by")?,
            modified_at: c.get("modified_at")?,
            done: c.get("done")?,
            result: c.get("result")?,
            id: c.id,
        }
        .decode()
    }

    /// Decodes a `service_accounts` row.
    pub(crate) fn service_account(
        row: &'r R,
        classify: Classify,
    ) -> Result<ServiceAccount, StoreError> {
        let c = Columns::with_id(row, "service_accounts", classify)?;
        ServiceAccountColumns {
            folder_id: c.get("folder_id")?,
            created_at: c.get("created_at")?,
            name: c.get("name")?,
            description: c.get("description")?,
            labels: c.get("labels")?,
            id: c.id,
        }
        .decode()
    }

    /// Decodes an `authorized_keys` row.
    pub(crate) fn authorized_key(
        row: &'r R,
        classify: Classify,
    ) -> Result<AuthorizedKey, StoreError> {
        let c = Columns::with_id(row, "authorized_keys", classify)?;
        AuthorizedKeyColumns {
            service_account_id: c.get("service_account_id")?,
            created_at: c.get("created_at")?,
            description: c.get("description")?,
            algorithm: c.get("algorithm")?,
            public_key_pem: c.get("public_key_pem")?,
            id: c.id,
        }
        .decode()
    }

    /// Decodes an `iam_tokens` row. Errors name the row by a prefix of its hash only.
    pub(crate) fn token(row: &'r R, classify: Classify) -> Result<TokenRecord, StoreError> {
        let sha256_hex: String =
            Columns::new(row, "iam_tokens", String::new(), classify).get("sha256")?;
        let c = Columns::new(row, "iam_tokens", token_row_name(&sha256_hex), classify);
        Ok(TokenRecord {
            service_account_id: ServiceAccountId::from_trusted(c.get("service_account_id")?),
            created_at: Timestamp::from_micros(c.get("created_at")?),
            expires_at: Timestamp::from_micros(c.get("expires_at")?),
            revoked_at: c
                .get::<Option<i64>>("revoked_at")?
                .map(Timestamp::from_micros),
            sha256_hex,
        })
    }

    /// Decodes one `access_bindings` row (its `target` names it in errors).
    pub(crate) fn access_binding(
        row: &'r R,
        classify: Classify,
    ) -> Result<AccessBinding, StoreError> {
        let target = Columns::new(row, "access_bindings", String::new(), classify).get("target")?;
        let c = Columns::new(row, "access_bindings", target, classify);
        BindingColumns {
            role: c.get("role")?,
            subject_type: c.get("subject_type")?,
            subject_id: c.get("subject_id")?,
            target: c.id,
        }
        .decode()
    }

    /// Decodes an `access_bindings` row with its target.
    pub(crate) fn target_binding(
        row: &'r R,
        classify: Classify,
    ) -> Result<(String, AccessBinding), StoreError> {
        let target = Columns::new(row, "access_bindings", String::new(), classify).get("target")?;
        Ok((target, Columns::access_binding(row, classify)?))
    }

    /// Decodes a `meta` row into `(name, value)`.
    pub(crate) fn meta(row: &'r R, classify: Classify) -> Result<(String, String), StoreError> {
        let name: String = Columns::new(row, "meta", String::new(), classify).get("name")?;
        let c = Columns::new(row, "meta", name, classify);
        let value = c.get("value")?;
        Ok((c.id, value))
    }

    /// Decodes an `audit_records` row. Errors name the row by its `seq`.
    pub(crate) fn audit_record(row: &'r R, classify: Classify) -> Result<AuditRecord, StoreError> {
        let seq: i64 = Columns::new(row, "audit_records", String::new(), classify).get("seq")?;
        let c = Columns::new(row, "audit_records", seq.to_string(), classify);
        let version = u8::try_from(c.get::<i64>("version")?)
            .map_err(|_| corrupt("audit_records", &c.id, "version"))?;
        let message_sha256 = c
            .get::<Option<Vec<u8>>>("message_sha256")?
            .map(|v| hash32("audit_records", &c.id, "message_sha256", &v))
            .transpose()?;
        Ok(AuditRecord {
            seq,
            version,
            event: AuditEvent {
                time: Timestamp::from_micros(c.get("time")?),
                request_id: c.get("request_id")?,
                subject: c.get("subject")?,
                rpc: c.get("rpc")?,
                resource_id: c.get("resource_id")?,
                algorithm: c.get("algorithm")?,
                outcome: c.get("outcome")?,
                client_addr: c.get("client_addr")?,
                message_sha256,
            },
            prev_hash: hash32(
                "audit_records",
                &c.id,
                "prev_hash",
                &c.get::<Vec<u8>>("prev_hash")?,
            )?,
            hash: hash32("audit_records", &c.id, "hash", &c.get::<Vec<u8>>("hash")?)?,
        })
    }

    /// Decodes an `audit_checkpoints` row.
    pub(crate) fn audit_checkpoint(
        row: &'r R,
        classify: Classify,
    ) -> Result<AuditCheckpoint, StoreError> {
        let seq: i64 =
            Columns::new(row, "audit_checkpoints", String::new(), classify).get("seq")?;
        let c = Columns::new(row, "audit_checkpoints", seq.to_string(), classify);
        Ok(AuditCheckpoint {
            seq,
            hash: hash32(
                "audit_checkpoints",
                &c.id,
                "hash",
                &c.get::<Vec<u8>>("hash")?,
            )?,
            time: Timestamp::from_micros(c.get("time")?),
            signature: c.get("signature")?,
        })
    }

    /// Decodes a chain head (`seq`, `hash`): PostgreSQL's `audit_head` row, or SQLite's last
    /// `audit_records` row.
    pub(crate) fn audit_head(row: &'r R, classify: Classify) -> Result<AuditHead, StoreError> {
        let c = Columns::new(row, "audit head", "head".to_owned(), classify);
        Ok(AuditHead {
            seq: c.get("seq")?,
            hash: hash32("audit_head", &c.id, "hash", &c.get::<Vec<u8>>("hash")?)?,
        })
    }

    /// Decodes the `access_bindings` rows of one target into the order every adapter returns:
    /// [`AccessBinding`]'s `Ord`, which does not depend on the database's collation.
    pub(crate) fn access_bindings(
        rows: &'r [R],
        classify: Classify,
    ) -> Result<Vec<AccessBinding>, StoreError> {
        let mut bindings = rows
            .iter()
            .map(|row| Columns::access_binding(row, classify))
            .collect::<Result<Vec<_>, _>>()?;
        bindings.sort_unstable();
        bindings.dedup();
        Ok(bindings)
    }
}

/// The columns of a `keys` row, as the database returns them. (No `Debug`: `sealed` is here.)
struct KeyColumns {
    id: String,
    folder_id: String,
    created_at: i64,
    name: String,
    description: String,
    labels: String,
    status: i64,
    algorithm: i64,
    deletion_protection: bool,
    public_key_pem: Option<String>,
    sealed: Option<Vec<u8>>,
    deleted_at: Option<i64>,
    destroyed_at: Option<i64>,
    version: i64,
}

impl KeyColumns {
    fn decode(self) -> Result<KeyRecord, StoreError> {
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
struct OperationColumns {
    id: String,
    kind: String,
    resource_id: String,
    description: String,
    created_at: i64,
    created_by: String,
    modified_at: i64,
    done: bool,
    result: String,
}

impl OperationColumns {
    fn decode(self) -> Result<OperationRecord, StoreError> {
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

/// The columns of a `service_accounts` row, as the database returns them.
struct ServiceAccountColumns {
    id: String,
    folder_id: String,
    created_at: i64,
    name: String,
    description: String,
    labels: String,
}

impl ServiceAccountColumns {
    fn decode(self) -> Result<ServiceAccount, StoreError> {
        let labels = decode_labels(&self.labels)
            .ok_or_else(|| corrupt("service_accounts", &self.id, "labels"))?;
        Ok(ServiceAccount {
            id: ServiceAccountId::from_trusted(self.id),
            folder_id: FolderId::from_trusted(self.folder_id),
            created_at: Timestamp::from_micros(self.created_at),
            name: self.name,
            description: self.description,
            labels,
        })
    }
}

/// The columns of an `authorized_keys` row, as the database returns them.
struct AuthorizedKeyColumns {
    id: String,
    service_account_id: String,
    created_at: i64,
    description: String,
    algorithm: i64,
    public_key_pem: String,
}

impl AuthorizedKeyColumns {
    fn decode(self) -> Result<AuthorizedKey, StoreError> {
        let algorithm = i32::try_from(self.algorithm)
            .ok()
            .and_then(AuthorizedKeyAlgorithm::from_wire_number)
            .ok_or_else(|| corrupt("authorized_keys", &self.id, "algorithm"))?;
        Ok(AuthorizedKey {
            id: AuthorizedKeyId::from_trusted(self.id),
            service_account_id: ServiceAccountId::from_trusted(self.service_account_id),
            created_at: Timestamp::from_micros(self.created_at),
            description: self.description,
            algorithm,
            public_key_pem: self.public_key_pem,
        })
    }
}

/// The columns of an `access_bindings` row, as the database returns them.
struct BindingColumns {
    target: String,
    role: String,
    subject_type: String,
    subject_id: String,
}

/// Every subject type, for decoding by wire name.
const SUBJECT_TYPES: [SubjectType; 3] = [
    SubjectType::ServiceAccount,
    SubjectType::UserAccount,
    SubjectType::System,
];

impl BindingColumns {
    fn decode(self) -> Result<AccessBinding, StoreError> {
        let corrupt = |column: &str| corrupt("access_bindings", &self.target, column);
        let role = Role::parse("role", &self.role).map_err(|_| corrupt("role"))?;
        let kind = SUBJECT_TYPES
            .into_iter()
            .find(|t| t.wire_name() == self.subject_type)
            .ok_or_else(|| corrupt("subject_type"))?;
        Ok(AccessBinding {
            role,
            subject: Subject {
                kind,
                id: self.subject_id,
            },
        })
    }
}

/// How a token row is named in errors: enough of the hash to find the row, not the whole
/// lookup key.
fn token_row_name(sha256_hex: &str) -> String {
    let prefix: String = sha256_hex.chars().take(8).collect();
    format!("{prefix}…")
}

/// The error for a column that does not decode. Names the row, never prints its values.
pub(crate) fn corrupt(table: &str, id: &str, column: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "{table} row {id:?}: column {column} does not decode"
    ))
}

/// A 32-byte hash column.
fn hash32(table: &str, id: &str, column: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| corrupt(table, id, column))
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

    #[track_caller]
    fn assert_corrupt_without<T: std::fmt::Debug>(
        result: Result<T, StoreError>,
        column: &str,
        secret: &str,
    ) {
        let err = result.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains(column)),
            "{text}"
        );
        assert!(!text.contains(secret), "{text}");
    }

    #[test]
    fn identity_rows_decode_or_are_corrupt() {
        let account = || ServiceAccountColumns {
            id: "ajeacc".into(),
            folder_id: "f".into(),
            created_at: -1,
            name: "robot".into(),
            description: String::new(),
            labels: "{}".into(),
        };
        assert_eq!(account().decode().unwrap().created_at.as_micros(), -1);
        assert_corrupt_without(
            ServiceAccountColumns {
                labels: r#"{"SECRET":"#.into(),
                ..account()
            }
            .decode(),
            "labels",
            "SECRET",
        );

        let key = |algorithm: i64| AuthorizedKeyColumns {
            id: "ajekey".into(),
            service_account_id: "ajeacc".into(),
            created_at: 0,
            description: "d".into(),
            algorithm,
            public_key_pem: "pem".into(),
        };
        assert_eq!(
            key(2).decode().unwrap().algorithm,
            AuthorizedKeyAlgorithm::Rsa4096
        );
        for bad in [0, 3, -1, i64::MAX] {
            assert_corrupt_without(key(bad).decode(), "algorithm", "pem");
        }

        let binding = |role: &str, subject_type: &str| BindingColumns {
            target: "key:abjk".into(),
            role: role.into(),
            subject_type: subject_type.into(),
            subject_id: "ajeacc".into(),
        };
        for t in SUBJECT_TYPES {
            for r in Role::ALL {
                let b = binding(r.id(), t.wire_name()).decode().unwrap();
                assert_eq!((b.role, b.subject.kind), (r, t));
            }
        }
        assert_corrupt_without(binding("kms.SECRET", "system").decode(), "role", "SECRET");
        assert_corrupt_without(
            binding("viewer", "SECRETgroup").decode(),
            "subject_type",
            "SECRET",
        );
    }

    #[test]
    fn token_rows_are_named_by_a_hash_prefix() {
        let hash = "0123456789abcdef".repeat(4);
        let name = token_row_name(&hash);
        assert!(name.starts_with("01234567"), "{name}");
        assert!(!name.contains("89abcdef"), "{name}");
        assert_eq!(token_row_name(""), "…");
    }

    #[test]
    fn limits_saturate() {
        assert_eq!(sql_limit(0), 0);
        assert_eq!(sql_limit(usize::MAX), i64::MAX);
    }
}
