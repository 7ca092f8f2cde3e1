//! Wire ⇄ domain conversions. Every request is validated here, once, into the commands of
//! `signet-core`; every rule of the wire contract (required fields, lengths, patterns, sizes,
//! ranges) answers with the field it concerns. Nothing downstream re-checks strings.

use crate::pbjson_types::Timestamp as WireTimestamp;
use crate::signet::audit::v1 as audit;
use crate::yandex::cloud::kms::v1::asymmetricsignature as kms;
use crate::yandex::cloud::operation as op;
use signet_core::audit::{AuditCheckpoint, AuditEvent, AuditRecord};
use signet_core::domain::key::{MAX_DESCRIPTION_LEN, MAX_NAME_LEN, check_text};
use signet_core::domain::{
    FolderId, Invalid, KeyId, KeyStatus, KeyView, Labels, OperationId, Timestamp, Violations,
};
use signet_core::{
    AuditHeadView, CreateKey, ListAuditRecords, ListKeys, ListOperations, UpdateField, UpdateKey,
    paging,
};
use signet_crypto::Algorithm;

/// Largest message `Sign` accepts, in bytes.
pub const MAX_SIGN_MESSAGE: usize = 32768;
/// Largest digest `SignHash` accepts before the exact per-algorithm check, in bytes.
pub const MAX_SIGN_HASH: usize = 4096;
const MAX_KEYS_PAGE_TOKEN: usize = 256;
const MAX_OPERATIONS_PAGE_TOKEN: usize = 100;
const MAX_AUDIT_PAGE_TOKEN: usize = 256;

pub fn key_id(field: &str, value: &str) -> Result<KeyId, Invalid> {
    KeyId::parse(field, value)
}

pub fn operation_id(field: &str, value: &str) -> Result<OperationId, Invalid> {
    OperationId::parse(field, value)
}

fn algorithm(field: &str, value: i32) -> Result<Algorithm, Invalid> {
    if value == 0 {
        return Err(Invalid::one(
            field,
            "is required: ASYMMETRIC_SIGNATURE_ALGORITHM_UNSPECIFIED is not accepted",
        ));
    }
    Algorithm::from_wire_number(value)
        .ok_or_else(|| Invalid::one(field, format!("{value} is not a known algorithm")))
}

fn page_token(field: &str, value: &str, max: usize) -> Result<String, Invalid> {
    if value.chars().count() > max {
        return Err(Invalid::one(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

pub fn create_key(req: kms::CreateAsymmetricSignatureKeyRequest) -> Result<CreateKey, Invalid> {
    let mut v = Violations::new();
    let folder_id = v.take(FolderId::parse("folder_id", &req.folder_id));
    let name = v.take(check_text("name", &req.name, MAX_NAME_LEN));
    let description = v.take(check_text(
        "description",
        &req.description,
        MAX_DESCRIPTION_LEN,
    ));
    let labels = v.take(Labels::parse("labels", &req.labels));
    let algorithm = v.take(algorithm("signature_algorithm", req.signature_algorithm));
    v.finish(|| {
        Some(CreateKey {
            folder_id: folder_id?,
            name: name?,
            description: description?,
            labels: labels?,
            algorithm: algorithm?,
            deletion_protection: req.deletion_protection,
        })
    })
}

pub fn list_keys(req: kms::ListAsymmetricSignatureKeysRequest) -> Result<ListKeys, Invalid> {
    let mut v = Violations::new();
    let folder_id = v.take(FolderId::parse("folder_id", &req.folder_id));
    let page_size = v.take(paging::page_size("page_size", req.page_size));
    let token = v.take(page_token(
        "page_token",
        &req.page_token,
        MAX_KEYS_PAGE_TOKEN,
    ));
    v.finish(|| {
        Some(ListKeys {
            folder_id: folder_id?,
            page_size: page_size?,
            page_token: token?,
        })
    })
}

pub fn update_key(req: kms::UpdateAsymmetricSignatureKeyRequest) -> Result<UpdateKey, Invalid> {
    let mut v = Violations::new();
    let key_id = v.take(key_id("key_id", &req.key_id));
    let mut mask = Vec::new();
    match &req.update_mask {
        None => v.add("update_mask", "is required"),
        Some(m) if m.paths.is_empty() => v.add("update_mask", "must name at least one field"),
        Some(m) => {
            for path in &m.paths {
                match UpdateField::parse(path) {
                    Some(f) if !mask.contains(&f) => mask.push(f),
                    Some(_) => {}
                    None => v.add(
                        "update_mask",
                        format!(
                            "{path:?} cannot be updated; allowed: name, description, labels, \
                             status, deletion_protection"
                        ),
                    ),
                }
            }
        }
    }
    let name = v.take(check_text("name", &req.name, MAX_NAME_LEN));
    let description = v.take(check_text(
        "description",
        &req.description,
        MAX_DESCRIPTION_LEN,
    ));
    let labels = v.take(Labels::parse("labels", &req.labels));
    let status = if mask.contains(&UpdateField::Status) {
        match KeyStatus::from_wire_number(req.status) {
            Some(s @ (KeyStatus::Active | KeyStatus::Inactive)) => Some(s),
            _ => {
                v.add("status", "only ACTIVE or INACTIVE can be set");
                None
            }
        }
    } else {
        None
    };
    v.finish(|| {
        Some(UpdateKey {
            key_id: key_id?,
            mask,
            name: name?,
            description: description?,
            labels: labels?,
            status,
            deletion_protection: req.deletion_protection,
        })
    })
}

pub fn list_operations(
    req: kms::ListAsymmetricSignatureKeyOperationsRequest,
) -> Result<ListOperations, Invalid> {
    let mut v = Violations::new();
    let key_id = v.take(key_id("key_id", &req.key_id));
    let page_size = v.take(paging::page_size("page_size", req.page_size));
    let token = v.take(page_token(
        "page_token",
        &req.page_token,
        MAX_OPERATIONS_PAGE_TOKEN,
    ));
    v.finish(|| {
        Some(ListOperations {
            key_id: key_id?,
            page_size: page_size?,
            page_token: token?,
        })
    })
}

/// Key id and message of a Sign request.
pub fn sign(req: &kms::AsymmetricSignRequest) -> Result<KeyId, Invalid> {
    let mut v = Violations::new();
    let id = v.take(key_id("key_id", &req.key_id));
    if req.message.is_empty() {
        v.add("message", "is required");
    } else if req.message.len() > MAX_SIGN_MESSAGE {
        v.add(
            "message",
            format!(
                "must be at most {MAX_SIGN_MESSAGE} bytes (got {}); hash larger data and use SignHash",
                req.message.len()
            ),
        );
    }
    v.finish(|| id)
}

/// Key id of a SignHash request; the digest's exact length is checked against the key's
/// algorithm by the use case.
pub fn sign_hash(req: &kms::AsymmetricSignHashRequest) -> Result<KeyId, Invalid> {
    let mut v = Violations::new();
    let id = v.take(key_id("key_id", &req.key_id));
    if req.hash.is_empty() {
        v.add("hash", "is required");
    } else if req.hash.len() > MAX_SIGN_HASH {
        v.add("hash", format!("must be at most {MAX_SIGN_HASH} bytes"));
    }
    v.finish(|| id)
}

/// A folder id that may be absent (the audit reader's filter): empty means none.
fn optional_folder_id(field: &str, value: &str) -> Result<Option<FolderId>, Invalid> {
    if value.is_empty() {
        Ok(None)
    } else {
        FolderId::parse(field, value).map(Some)
    }
}

/// A wire time as microseconds since the epoch: exact to the microsecond (finer digits are
/// dropped), within the range RFC 3339 can write (years 1–9999).
pub fn wire_time(field: &str, t: &WireTimestamp) -> Result<Timestamp, Invalid> {
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, as the proto3 JSON mapping bounds them.
    const MIN_SECONDS: i64 = -62_135_596_800;
    const MAX_SECONDS: i64 = 253_402_300_799;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&t.seconds) || !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Invalid::one(field, "is not a valid timestamp"));
    }
    Ok(Timestamp::from_micros(
        t.seconds * 1_000_000 + i64::from(t.nanos / 1000),
    ))
}

pub fn list_audit_records(
    req: audit::ListAuditRecordsRequest,
) -> Result<ListAuditRecords, Invalid> {
    let mut v = Violations::new();
    let folder_id = v.take(optional_folder_id("folder_id", &req.folder_id));
    let since = match &req.since {
        None => Some(None),
        Some(t) => v.take(wire_time("since", t)).map(Some),
    };
    if req.after_seq < 0 {
        v.add("after_seq", "must not be negative");
    }
    let page_size = v.take(paging::page_size("page_size", req.page_size));
    let token = v.take(page_token(
        "page_token",
        &req.page_token,
        MAX_AUDIT_PAGE_TOKEN,
    ));
    v.finish(|| {
        Some(ListAuditRecords {
            folder_id: folder_id?,
            since: since?,
            after_seq: req.after_seq,
            page_size: page_size?,
            page_token: token?,
        })
    })
}

pub fn get_audit_head(req: &audit::GetAuditHeadRequest) -> Result<Option<FolderId>, Invalid> {
    optional_folder_id("folder_id", &req.folder_id)
}

/// A record as served, every field its hash covers included.
pub fn audit_record(r: &AuditRecord) -> audit::AuditRecord {
    let e = &r.event;
    audit::AuditRecord {
        seq: r.seq,
        version: u32::from(r.version),
        time: Some(timestamp(e.time)),
        request_id: e.request_id.clone(),
        subject: e.subject.clone(),
        rpc: e.rpc.clone(),
        resource_id: e.resource_id.clone(),
        algorithm: e.algorithm.clone(),
        outcome: e.outcome.clone(),
        client_addr: e.client_addr.clone(),
        message_sha256: e.message_sha256.map(|h| h.to_vec()),
        prev_hash: r.prev_hash.to_vec(),
        hash: r.hash.to_vec(),
    }
}

/// A served record back as the core's (for clients: exports and verification). The hash is
/// taken as given, not recomputed: checking it is the reader's business.
pub fn audit_record_from_wire(r: &audit::AuditRecord) -> Result<AuditRecord, Invalid> {
    let mut v = Violations::new();
    let version =
        v.take(u8::try_from(r.version).map_err(|_| Invalid::one("version", "is too large")));
    let time = match &r.time {
        None => {
            v.add("time", "is required");
            None
        }
        Some(t) => v.take(wire_time("time", t)),
    };
    let message_sha256 = match &r.message_sha256 {
        None => Some(None),
        Some(h) => v.take(hash32("message_sha256", h)).map(Some),
    };
    let prev_hash = v.take(hash32("prev_hash", &r.prev_hash));
    let hash = v.take(hash32("hash", &r.hash));
    v.finish(|| {
        Some(AuditRecord {
            seq: r.seq,
            version: version?,
            event: AuditEvent {
                time: time?,
                request_id: r.request_id.clone(),
                subject: r.subject.clone(),
                rpc: r.rpc.clone(),
                resource_id: r.resource_id.clone(),
                algorithm: r.algorithm.clone(),
                outcome: r.outcome.clone(),
                client_addr: r.client_addr.clone(),
                message_sha256: message_sha256?,
            },
            prev_hash: prev_hash?,
            hash: hash?,
        })
    })
}

fn hash32(field: &str, bytes: &[u8]) -> Result<[u8; 32], Invalid> {
    bytes
        .try_into()
        .map_err(|_| Invalid::one(field, "must be 32 bytes"))
}

pub fn audit_checkpoint(c: &AuditCheckpoint) -> audit::AuditCheckpoint {
    audit::AuditCheckpoint {
        seq: c.seq,
        hash: c.hash.to_vec(),
        time: Some(timestamp(c.time)),
        signature: c.signature.clone(),
    }
}

pub fn audit_head(view: &AuditHeadView) -> audit::AuditHead {
    audit::AuditHead {
        seq: view.head.seq,
        hash: view.head.hash.to_vec(),
        last_checkpoint: view.last_checkpoint.as_ref().map(audit_checkpoint),
        checkpoint_public_key_pem: view.checkpoint_public_key_pem.clone().unwrap_or_default(),
    }
}

pub fn timestamp(t: Timestamp) -> WireTimestamp {
    let (seconds, nanos) = t.seconds_and_nanos();
    WireTimestamp { seconds, nanos }
}

pub fn key(view: &KeyView) -> kms::AsymmetricSignatureKey {
    kms::AsymmetricSignatureKey {
        id: view.id.to_string(),
        folder_id: view.folder_id.to_string(),
        created_at: Some(timestamp(view.created_at)),
        name: view.name.clone(),
        description: view.description.clone(),
        labels: view
            .labels
            .as_map()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        status: view.status.wire_number(),
        signature_algorithm: view.algorithm_wire,
        deletion_protection: view.deletion_protection,
    }
}

/// A service account's wire form.
pub fn service_account(
    a: &signet_core::domain::ServiceAccount,
) -> crate::yandex::cloud::iam::v1::ServiceAccount {
    use crate::yandex::cloud::iam::v1 as iam;
    iam::ServiceAccount {
        id: a.id.to_string(),
        folder_id: a.folder_id.to_string(),
        created_at: Some(timestamp(a.created_at)),
        name: a.name.clone(),
        description: a.description.clone(),
        labels: a
            .labels
            .as_map()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        last_authenticated_at: None,
        status: iam::service_account::Status::Active as i32,
        expires_at: None,
    }
}

/// An authorized key's wire form (public part only: there is nothing else).
pub fn authorized_key(
    k: &signet_core::domain::AuthorizedKey,
) -> crate::yandex::cloud::iam::v1::Key {
    use crate::yandex::cloud::iam::v1 as iam;
    iam::Key {
        id: k.id.to_string(),
        created_at: Some(timestamp(k.created_at)),
        description: k.description.clone(),
        key_algorithm: k.algorithm.wire_number(),
        public_key: k.public_key_pem.clone(),
        last_used_at: None,
        subject: Some(iam::key::Subject::ServiceAccountId(
            k.service_account_id.to_string(),
        )),
    }
}

/// Packs a message into `google.protobuf.Any` with its `type.googleapis.com/...` URL.
pub fn pack<M: prost::Message + prost::Name>(message: &M) -> crate::pbjson_types::Any {
    crate::pbjson_types::Any {
        type_url: M::type_url(),
        value: message.encode_to_vec().into(),
    }
}

/// The operation's wire form. `error_code` maps a failed operation's error kind to its gRPC
/// code number (the server's error table decides).
pub fn operation(
    record: &signet_core::domain::OperationRecord,
    error_code: impl Fn(signet_core::ErrorKind) -> i32,
) -> op::Operation {
    use crate::yandex::cloud::access as acc;
    use crate::yandex::cloud::iam::v1 as iam;
    use signet_core::domain::{OperationKind, OperationResult};
    let id = record.resource_id.clone();
    let metadata = match record.kind {
        OperationKind::CreateKey => pack(&kms::CreateAsymmetricSignatureKeyMetadata { key_id: id }),
        OperationKind::UpdateKey => pack(&kms::UpdateAsymmetricSignatureKeyMetadata { key_id: id }),
        OperationKind::DeleteKey => pack(&kms::DeleteAsymmetricSignatureKeyMetadata { key_id: id }),
        OperationKind::SetKeyAccessBindings | OperationKind::SetFolderAccessBindings => {
            pack(&acc::SetAccessBindingsMetadata { resource_id: id })
        }
        OperationKind::UpdateKeyAccessBindings | OperationKind::UpdateFolderAccessBindings => {
            pack(&acc::UpdateAccessBindingsMetadata { resource_id: id })
        }
        OperationKind::CreateServiceAccount => pack(&iam::CreateServiceAccountMetadata {
            service_account_id: id,
        }),
        OperationKind::DeleteServiceAccount => pack(&iam::DeleteServiceAccountMetadata {
            service_account_id: id,
        }),
    };
    let result = match &record.result {
        OperationResult::Pending => None,
        OperationResult::Failed { kind, message } => {
            Some(op::operation::Result::Error(crate::google::rpc::Status {
                code: error_code(*kind),
                message: message.clone(),
                details: Vec::new(),
            }))
        }
        OperationResult::Key(view) => Some(op::operation::Result::Response(pack(&key(view)))),
        OperationResult::ServiceAccount(account) => Some(op::operation::Result::Response(pack(
            &service_account(account),
        ))),
        OperationResult::Empty => Some(op::operation::Result::Response(crate::pbjson_types::Any {
            type_url: "type.googleapis.com/google.protobuf.Empty".to_owned(),
            value: Vec::new().into(),
        })),
    };
    op::Operation {
        id: record.id.to_string(),
        description: record.description.clone(),
        created_at: Some(timestamp(record.created_at)),
        created_by: record.created_by.clone(),
        modified_at: Some(timestamp(record.modified_at)),
        done: record.done(),
        metadata: Some(metadata),
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wkt::FieldMask;
    use std::collections::HashMap;

    fn create_req() -> kms::CreateAsymmetricSignatureKeyRequest {
        kms::CreateAsymmetricSignatureKeyRequest {
            folder_id: "default".into(),
            name: "n".into(),
            description: "d".into(),
            labels: HashMap::from([("env".to_owned(), "prod".to_owned())]),
            signature_algorithm: 10,
            deletion_protection: true,
        }
    }

    fn fields(e: &Invalid) -> Vec<&str> {
        e.0.iter().map(|v| v.field.as_str()).collect()
    }

    #[test]
    fn create_key_validation_names_each_field() {
        let ok = create_key(create_req()).unwrap();
        assert_eq!(ok.algorithm, Algorithm::EcdsaP256Sha256);
        let mut bad = create_req();
        bad.folder_id = String::new();
        bad.name = "x".repeat(101);
        bad.description = "x".repeat(1025);
        bad.labels.insert("1bad".into(), "v".into());
        bad.signature_algorithm = 0;
        let e = create_key(bad).unwrap_err();
        assert_eq!(
            fields(&e),
            [
                "folder_id",
                "name",
                "description",
                "labels",
                "signature_algorithm"
            ]
        );
        for alg in [14, 9999, -1] {
            let mut r = create_req();
            r.signature_algorithm = alg;
            assert_eq!(fields(&create_key(r).unwrap_err()), ["signature_algorithm"]);
        }
    }

    #[test]
    fn update_mask_rules() {
        let base = kms::UpdateAsymmetricSignatureKeyRequest {
            key_id: "abjkey".into(),
            update_mask: Some(FieldMask {
                paths: vec!["name".into(), "status".into()],
            }),
            name: "new".into(),
            status: 3,
            ..Default::default()
        };
        let ok = update_key(base.clone()).unwrap();
        assert_eq!(ok.mask, vec![UpdateField::Name, UpdateField::Status]);
        assert_eq!(ok.status, Some(KeyStatus::Inactive));

        let mut none = base.clone();
        none.update_mask = None;
        assert_eq!(fields(&update_key(none).unwrap_err()), ["update_mask"]);
        for bad_path in ["id", "folder_id", "signature_algorithm", "nme"] {
            let mut r = base.clone();
            r.update_mask = Some(FieldMask {
                paths: vec![bad_path.into()],
            });
            assert_eq!(
                fields(&update_key(r).unwrap_err()),
                ["update_mask"],
                "{bad_path}"
            );
        }
        for bad_status in [0, 1, 4] {
            let mut r = base.clone();
            r.status = bad_status;
            assert_eq!(
                fields(&update_key(r).unwrap_err()),
                ["status"],
                "{bad_status}"
            );
        }
    }

    #[test]
    fn sign_limits() {
        let mut r = kms::AsymmetricSignRequest {
            key_id: "abjkey".into(),
            message: vec![0u8; MAX_SIGN_MESSAGE],
        };
        assert!(sign(&r).is_ok());
        r.message = vec![0u8; MAX_SIGN_MESSAGE + 1];
        assert_eq!(fields(&sign(&r).unwrap_err()), ["message"]);
        r.message = Vec::new();
        assert_eq!(fields(&sign(&r).unwrap_err()), ["message"]);
        let h = kms::AsymmetricSignHashRequest {
            key_id: String::new(),
            hash: vec![0u8; MAX_SIGN_HASH + 1],
        };
        assert_eq!(fields(&sign_hash(&h).unwrap_err()), ["key_id", "hash"]);
    }

    #[test]
    fn list_limits() {
        let r = kms::ListAsymmetricSignatureKeysRequest {
            folder_id: "f".into(),
            page_size: 1001,
            page_token: "x".repeat(257),
        };
        assert_eq!(
            fields(&list_keys(r).unwrap_err()),
            ["page_size", "page_token"]
        );
        let r = kms::ListAsymmetricSignatureKeyOperationsRequest {
            key_id: "k".into(),
            page_size: -1,
            page_token: "x".repeat(101),
        };
        assert_eq!(
            fields(&list_operations(r).unwrap_err()),
            ["page_size", "page_token"]
        );
    }

    #[test]
    fn audit_records_round_trip_and_keep_absent_apart_from_empty() {
        let record = AuditRecord {
            seq: 7,
            version: 1,
            event: AuditEvent {
                time: Timestamp::from_micros(1_700_000_000_123_456),
                request_id: "r".into(),
                subject: String::new(),
                rpc: "/p.S/M".into(),
                resource_id: Some(String::new()),
                algorithm: None,
                outcome: "OK".into(),
                client_addr: "127.0.0.1:1".into(),
                message_sha256: Some([9; 32]),
            },
            prev_hash: [1; 32],
            hash: [2; 32],
        };
        let wire = audit_record(&record);
        assert_eq!(wire.resource_id.as_deref(), Some(""));
        assert_eq!(wire.algorithm, None);
        assert_eq!(audit_record_from_wire(&wire).unwrap(), record);
        let mut bad = wire.clone();
        bad.hash.pop();
        bad.version = 256;
        bad.time = None;
        let e = audit_record_from_wire(&bad).unwrap_err();
        assert_eq!(fields(&e), ["version", "time", "hash"]);
    }

    #[test]
    fn audit_listing_validation() {
        let ok = list_audit_records(audit::ListAuditRecordsRequest {
            since: Some(WireTimestamp {
                seconds: 1,
                nanos: 2_999,
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.folder_id, None);
        assert_eq!(ok.since, Some(Timestamp::from_micros(1_000_002)));
        assert_eq!(ok.page_size, 100);
        let e = list_audit_records(audit::ListAuditRecordsRequest {
            folder_id: "Bad Folder".into(),
            since: Some(WireTimestamp {
                seconds: 0,
                nanos: -1,
            }),
            after_seq: -1,
            page_size: 1001,
            page_token: "x".repeat(257),
        })
        .unwrap_err();
        assert_eq!(
            fields(&e),
            ["folder_id", "since", "after_seq", "page_size", "page_token"]
        );
    }

    #[test]
    fn any_packing_uses_type_googleapis_urls() {
        let any = pack(&kms::CreateAsymmetricSignatureKeyMetadata { key_id: "k".into() });
        assert_eq!(
            any.type_url,
            "type.googleapis.com/yandex.cloud.kms.v1.asymmetricsignature.CreateAsymmetricSignatureKeyMetadata"
        );
    }
}

/// Validated access-binding requests.
pub mod access {
    use crate::yandex::cloud::access as wire;
    use signet_core::domain::{
        AccessBinding, BindingAction, BindingDelta, Invalid, Role, Subject, Violations,
    };
    use signet_core::paging;

    const MAX_RESOURCE_ID: usize = 64;
    const MAX_BINDINGS: usize = 1000;
    const MAX_BINDINGS_PAGE_TOKEN: usize = 2000;

    fn binding(field: &str, b: &wire::AccessBinding) -> Result<AccessBinding, Invalid> {
        let mut v = Violations::new();
        let role = if b.role_id.is_empty() {
            v.add(format!("{field}.role_id"), "is required");
            None
        } else if b.role_id.chars().count() > 64 {
            v.add(format!("{field}.role_id"), "must be at most 64 characters");
            None
        } else {
            v.take(Role::parse(&format!("{field}.role_id"), &b.role_id))
        };
        let subject = match &b.subject {
            None => {
                v.add(format!("{field}.subject"), "is required");
                None
            }
            Some(s) => v.take(Subject::parse(
                &format!("{field}.subject"),
                &s.r#type,
                &s.id,
            )),
        };
        v.finish(|| {
            Some(AccessBinding {
                role: role?,
                subject: subject?,
            })
        })
    }

    pub fn to_wire(b: &AccessBinding) -> wire::AccessBinding {
        wire::AccessBinding {
            role_id: b.role.id().to_owned(),
            subject: Some(wire::Subject {
                id: b.subject.id.clone(),
                r#type: b.subject.kind.wire_name().to_owned(),
            }),
        }
    }

    /// The resource id string, checked for presence and length (the caller parses it into a
    /// key or folder id).
    pub fn resource_id(value: &str) -> Result<&str, Invalid> {
        if value.is_empty() {
            return Err(Invalid::one("resource_id", "is required"));
        }
        if value.chars().count() > MAX_RESOURCE_ID {
            return Err(Invalid::one("resource_id", "must be at most 64 characters"));
        }
        Ok(value)
    }

    /// Page size and token of a ListAccessBindings request.
    pub fn list(req: &wire::ListAccessBindingsRequest) -> Result<(usize, String), Invalid> {
        let mut v = Violations::new();
        let size = v.take(paging::page_size("page_size", req.page_size));
        if req.page_token.chars().count() > MAX_BINDINGS_PAGE_TOKEN {
            v.add("page_token", "must be at most 2000 characters");
        }
        v.finish(|| Some((size?, req.page_token.clone())))
    }

    pub fn set(req: &wire::SetAccessBindingsRequest) -> Result<Vec<AccessBinding>, Invalid> {
        if req.access_bindings.len() > MAX_BINDINGS {
            return Err(Invalid::one("access_bindings", "at most 1000 bindings"));
        }
        let mut v = Violations::new();
        let parsed: Vec<Option<AccessBinding>> = req
            .access_bindings
            .iter()
            .enumerate()
            .map(|(i, b)| v.take(binding(&format!("access_bindings[{i}]"), b)))
            .collect();
        v.finish(|| parsed.into_iter().collect())
    }

    pub fn update(req: &wire::UpdateAccessBindingsRequest) -> Result<Vec<BindingDelta>, Invalid> {
        let n = req.access_binding_deltas.len();
        if n == 0 || n > MAX_BINDINGS {
            return Err(Invalid::one(
                "access_binding_deltas",
                "must hold between 1 and 1000 deltas",
            ));
        }
        let mut v = Violations::new();
        let parsed: Vec<Option<BindingDelta>> = req
            .access_binding_deltas
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let field = format!("access_binding_deltas[{i}]");
                let action = match wire::AccessBindingAction::try_from(d.action) {
                    Ok(wire::AccessBindingAction::Add) => Some(BindingAction::Add),
                    Ok(wire::AccessBindingAction::Remove) => Some(BindingAction::Remove),
                    _ => {
                        v.add(format!("{field}.action"), "must be ADD or REMOVE");
                        None
                    }
                };
                let b = match &d.access_binding {
                    Some(b) => v.take(binding(&format!("{field}.access_binding"), b)),
                    None => {
                        v.add(format!("{field}.access_binding"), "is required");
                        None
                    }
                };
                Some(BindingDelta {
                    action: action?,
                    binding: b?,
                })
            })
            .collect();
        v.finish(|| parsed.into_iter().collect())
    }
}
