//! Store states that only a crash leaves behind, planted directly through the store port.

use signet_core::domain::{
    FolderId, KeyId, KeyRecord, KeyStatus, Labels, OperationId, OperationKind, OperationRecord,
    OperationResult, Timestamp,
};
use signet_core::store::{KeyWrite, Store, Write};
use signet_crypto::Algorithm;

/// A key left CREATING in folder `default` with its pending operation, as a server that died in
/// the middle of key generation leaves them. Returns the operation (its `resource_id` is the
/// key's id).
pub async fn interrupted_creation(
    store: &dyn Store,
    now: Timestamp,
    algorithm: Algorithm,
) -> OperationRecord {
    let key = KeyRecord {
        id: KeyId::generate().unwrap(),
        folder_id: FolderId::from_trusted("default".into()),
        created_at: now,
        name: "interrupted".into(),
        description: String::new(),
        labels: Labels::default(),
        status: KeyStatus::Creating,
        algorithm,
        deletion_protection: false,
        public_key_pem: None,
        sealed: None,
        deleted_at: None,
        destroyed_at: None,
        version: 1,
    };
    let op = OperationRecord {
        id: OperationId::generate().unwrap(),
        kind: OperationKind::CreateKey,
        resource_id: key.id.to_string(),
        description: OperationKind::CreateKey.description().into(),
        created_at: now,
        created_by: "admin".into(),
        modified_at: now,
        result: OperationResult::Pending,
    };
    store
        .write(Write {
            bindings: None,
            key: Some(KeyWrite::Insert(&key)),
            operation: Some(&op),
            audit: None,
        })
        .await
        .unwrap();
    op
}
