//! The authorization matrix: every RPC × every role × where the role is bound (on the key, on
//! its folder, nowhere) × how the subject is named (the service account itself, or
//! `system:allAuthenticatedUsers`), each asserting allow or the exact denial code. The expected
//! outcomes are written out here, independently of the server's role table. Plus the token
//! lifecycle (expiry with an injected clock, immediate revocation) and JWT exchange.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet_crypto::Algorithm;
use signet_proto::signet::audit::v1::{GetAuditHeadRequest, ListAuditRecordsRequest};
use signet_proto::wkt::FieldMask;
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_proto::yandex::cloud::operation::GetOperationRequest;
use signet_testkit::TestServer;
use std::time::Duration;
use tonic::Code;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rpc {
    Get,
    List,
    Create,
    UpdateMetadata,
    UpdateStatus,
    ListOperations,
    GetOperation,
    ListAccessBindings,
    SetAccessBindings,
    UpdateAccessBindings,
    Sign,
    SignHash,
    GetPublicKey,
    ListAuditRecords,
    GetAuditHead,
    Delete,
}

const RPCS: [Rpc; 16] = [
    Rpc::Get,
    Rpc::List,
    Rpc::Create,
    Rpc::UpdateMetadata,
    Rpc::UpdateStatus,
    Rpc::ListOperations,
    Rpc::GetOperation,
    Rpc::ListAccessBindings,
    Rpc::SetAccessBindings,
    Rpc::UpdateAccessBindings,
    Rpc::Sign,
    Rpc::SignHash,
    Rpc::GetPublicKey,
    Rpc::ListAuditRecords,
    Rpc::GetAuditHead,
    Rpc::Delete, // last: it removes the key
];

const ROLES: [&str; 9] = [
    "kms.asymmetricSignatureKeys.signer",
    "kms.asymmetricSignatureKeys.publicKeyViewer",
    "kms.auditor",
    "kms.viewer",
    "kms.editor",
    "kms.admin",
    "viewer",
    "editor",
    "admin",
];

/// What each role allows, written from Yandex's role descriptions (spec §2.1).
fn allowed(role: &str, rpc: Rpc) -> bool {
    use Rpc::*;
    // Reading the audit trail is kms.auditor's, and so every role that includes it.
    let view = [
        Get,
        List,
        ListAccessBindings,
        ListAuditRecords,
        GetAuditHead,
    ];
    let viewer = [
        Get,
        List,
        ListAccessBindings,
        ListAuditRecords,
        GetAuditHead,
        ListOperations,
        GetOperation,
    ];
    let editor = [
        Get,
        List,
        ListAccessBindings,
        ListAuditRecords,
        GetAuditHead,
        ListOperations,
        GetOperation,
        Create,
        UpdateMetadata,
        Sign,
        SignHash,
        GetPublicKey,
    ];
    match role {
        "kms.asymmetricSignatureKeys.signer" => matches!(rpc, Sign | SignHash),
        "kms.asymmetricSignatureKeys.publicKeyViewer" => rpc == GetPublicKey,
        "kms.auditor" => view.contains(&rpc),
        "kms.viewer" | "viewer" => viewer.contains(&rpc),
        "kms.editor" | "editor" => editor.contains(&rpc),
        "kms.admin" | "admin" => true,
        other => panic!("unknown role {other}"),
    }
}

fn is_folder_rpc(rpc: Rpc) -> bool {
    matches!(
        rpc,
        Rpc::List | Rpc::Create | Rpc::ListAuditRecords | Rpc::GetAuditHead
    )
}

#[derive(Clone, Copy, Debug)]
enum Placement {
    Key,
    Folder,
    Nowhere,
}

#[derive(Clone, Copy, Debug)]
enum SubjectKind {
    ServiceAccount,
    AllAuthenticatedUsers,
}

fn binding(role: &str, kind: SubjectKind, sa: &str) -> access::AccessBinding {
    let (t, id) = match kind {
        SubjectKind::ServiceAccount => ("serviceAccount", sa.to_owned()),
        SubjectKind::AllAuthenticatedUsers => ("system", "allAuthenticatedUsers".to_owned()),
    };
    access::AccessBinding {
        role_id: role.into(),
        subject: Some(access::Subject {
            id,
            r#type: t.into(),
        }),
    }
}

async fn create_key(server: &TestServer, folder: &str) -> (String, String) {
    use prost::Message;
    let op = server
        .keys()
        .create(CreateAsymmetricSignatureKeyRequest {
            folder_id: folder.into(),
            signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let op_id = op.id.clone();
    let done = server.wait(op).await;
    let Some(signet_proto::yandex::cloud::operation::operation::Result::Response(any)) =
        done.result
    else {
        panic!("create failed");
    };
    (
        AsymmetricSignatureKey::decode(any.value.as_ref())
            .unwrap()
            .id,
        op_id,
    )
}

/// Calls `rpc` as `token`; Ok(()) if it succeeded, Err(code) otherwise.
async fn call(
    server: &TestServer,
    token: &str,
    rpc: Rpc,
    key: &str,
    folder: &str,
    op_id: &str,
    sa: &str,
) -> Result<(), Code> {
    let mut keys = server.keys_as(Some(token));
    let mut crypto = server.crypto_as(Some(token));
    let r: Result<(), tonic::Status> = match rpc {
        Rpc::Get => keys
            .get(GetAsymmetricSignatureKeyRequest { key_id: key.into() })
            .await
            .map(drop),
        Rpc::List => keys
            .list(ListAsymmetricSignatureKeysRequest {
                folder_id: folder.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::Create => keys
            .create(CreateAsymmetricSignatureKeyRequest {
                folder_id: folder.into(),
                signature_algorithm: Algorithm::EcdsaP256Sha256.wire_number(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::UpdateMetadata => keys
            .update(UpdateAsymmetricSignatureKeyRequest {
                key_id: key.into(),
                update_mask: Some(FieldMask {
                    paths: vec!["description".into()],
                }),
                description: "changed".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::UpdateStatus => keys
            .update(UpdateAsymmetricSignatureKeyRequest {
                key_id: key.into(),
                update_mask: Some(FieldMask {
                    paths: vec!["status".into()],
                }),
                status: asymmetric_signature_key::Status::Active as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::ListOperations => keys
            .list_operations(ListAsymmetricSignatureKeyOperationsRequest {
                key_id: key.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::GetOperation => server
            .operations_as(Some(token))
            .get(GetOperationRequest {
                operation_id: op_id.into(),
            })
            .await
            .map(drop),
        Rpc::ListAccessBindings => keys
            .list_access_bindings(access::ListAccessBindingsRequest {
                resource_id: key.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::SetAccessBindings => {
            // Re-set what is there, so the matrix row keeps its meaning.
            let current = server
                .keys()
                .list_access_bindings(access::ListAccessBindingsRequest {
                    resource_id: key.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .access_bindings;
            keys.set_access_bindings(access::SetAccessBindingsRequest {
                resource_id: key.into(),
                access_bindings: current,
            })
            .await
            .map(drop)
        }
        Rpc::UpdateAccessBindings => keys
            .update_access_bindings(access::UpdateAccessBindingsRequest {
                resource_id: key.into(),
                access_binding_deltas: vec![access::AccessBindingDelta {
                    action: access::AccessBindingAction::Add as i32,
                    access_binding: Some(binding(
                        "kms.auditor",
                        SubjectKind::ServiceAccount,
                        &format!("{sa}x"),
                    )),
                }],
            })
            .await
            .map(drop),
        Rpc::Sign => crypto
            .sign(AsymmetricSignRequest {
                key_id: key.into(),
                message: b"m".to_vec(),
            })
            .await
            .map(drop),
        Rpc::SignHash => crypto
            .sign_hash(AsymmetricSignHashRequest {
                key_id: key.into(),
                hash: vec![7u8; 32],
            })
            .await
            .map(drop),
        Rpc::GetPublicKey => crypto
            .get_public_key(AsymmetricGetPublicKeyRequest { key_id: key.into() })
            .await
            .map(drop),
        Rpc::ListAuditRecords => server
            .audit_trail_as(Some(token))
            .list_records(ListAuditRecordsRequest {
                folder_id: folder.into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::GetAuditHead => server
            .audit_trail_as(Some(token))
            .get_head(GetAuditHeadRequest {
                folder_id: folder.into(),
            })
            .await
            .map(drop),
        Rpc::Delete => keys
            .delete(DeleteAsymmetricSignatureKeyRequest { key_id: key.into() })
            .await
            .map(drop),
    };
    r.map_err(|s| s.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_by_every_role_placement_and_subject() {
    let server = TestServer::builder().start().await;
    let sa = server
        .create_service_account("iam-folder", "matrix-caller")
        .await;
    let token = server.token_for(&sa).await;
    let mut checked = 0;
    let mut failures = Vec::new();
    for (i, role) in ROLES.iter().enumerate() {
        for placement in [Placement::Key, Placement::Folder, Placement::Nowhere] {
            for subject in [
                SubjectKind::ServiceAccount,
                SubjectKind::AllAuthenticatedUsers,
            ] {
                if matches!(placement, Placement::Nowhere)
                    && matches!(subject, SubjectKind::AllAuthenticatedUsers)
                {
                    continue; // nothing bound: the subject kind does not matter
                }
                let folder = format!("f{i}-{placement:?}-{subject:?}").to_lowercase();
                let (key, op_id) = create_key(&server, &folder).await;
                let b = binding(role, subject, &sa);
                match placement {
                    Placement::Key => {
                        server
                            .keys()
                            .set_access_bindings(access::SetAccessBindingsRequest {
                                resource_id: key.clone(),
                                access_bindings: vec![b],
                            })
                            .await
                            .unwrap();
                    }
                    Placement::Folder => {
                        server
                            .folders()
                            .set_access_bindings(access::SetAccessBindingsRequest {
                                resource_id: folder.clone(),
                                access_bindings: vec![b],
                            })
                            .await
                            .unwrap();
                    }
                    Placement::Nowhere => {}
                }
                for rpc in RPCS {
                    let expected: Result<(), Code> = match placement {
                        Placement::Nowhere if is_folder_rpc(rpc) => Err(Code::PermissionDenied),
                        Placement::Nowhere => Err(Code::NotFound),
                        // Folder-level RPCs need the role on the folder.
                        Placement::Key if is_folder_rpc(rpc) => Err(Code::PermissionDenied),
                        _ if allowed(role, rpc) => Ok(()),
                        _ => Err(Code::PermissionDenied),
                    };
                    let got = call(&server, &token, rpc, &key, &folder, &op_id, &sa).await;
                    checked += 1;
                    if got != expected {
                        failures.push(format!("{role} on {placement:?} as {subject:?}: {rpc:?} gave {got:?}, expected {expected:?}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, 9 * 5 * RPCS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_changes_are_in_force_when_their_operation_returns() {
    let server = TestServer::builder().start().await;
    let sa = server.create_service_account("default", "signer").await;
    let token = server.token_for(&sa).await;
    let (key, _) = create_key(&server, "default").await;
    let sign = || {
        let mut c = server.crypto_as(Some(&token));
        let key = key.clone();
        async move {
            c.sign(AsymmetricSignRequest {
                key_id: key,
                message: b"m".to_vec(),
            })
            .await
            .map(drop)
            .map_err(|s| s.code())
        }
    };
    assert_eq!(sign().await, Err(Code::NotFound));
    let op = server
        .keys()
        .update_access_bindings(access::UpdateAccessBindingsRequest {
            resource_id: key.clone(),
            access_binding_deltas: vec![access::AccessBindingDelta {
                action: access::AccessBindingAction::Add as i32,
                access_binding: Some(binding(
                    "kms.asymmetricSignatureKeys.signer",
                    SubjectKind::ServiceAccount,
                    &sa,
                )),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(op.done);
    assert_eq!(
        sign().await,
        Ok(()),
        "allowed as soon as the operation is done"
    );
    server
        .keys()
        .update_access_bindings(access::UpdateAccessBindingsRequest {
            resource_id: key.clone(),
            access_binding_deltas: vec![access::AccessBindingDelta {
                action: access::AccessBindingAction::Remove as i32,
                access_binding: Some(binding(
                    "kms.asymmetricSignatureKeys.signer",
                    SubjectKind::ServiceAccount,
                    &sa,
                )),
            }],
        })
        .await
        .unwrap();
    assert_eq!(
        sign().await,
        Err(Code::NotFound),
        "denied as soon as the binding is removed"
    );

    // Bad deltas: duplicates, unknown roles and subject types are INVALID_ARGUMENT.
    let dup = access::AccessBindingDelta {
        action: access::AccessBindingAction::Add as i32,
        access_binding: Some(binding("kms.viewer", SubjectKind::ServiceAccount, &sa)),
    };
    let mut remove_same = dup.clone();
    remove_same.action = access::AccessBindingAction::Remove as i32;
    for deltas in [
        vec![dup.clone(), dup.clone()],
        vec![dup.clone(), remove_same],
    ] {
        let e = server
            .keys()
            .update_access_bindings(access::UpdateAccessBindingsRequest {
                resource_id: key.clone(),
                access_binding_deltas: deltas,
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
    }
    let mut unknown_role = dup.clone();
    unknown_role.access_binding.as_mut().unwrap().role_id = "kms.superuser".into();
    let mut unknown_type = dup.clone();
    unknown_type
        .access_binding
        .as_mut()
        .unwrap()
        .subject
        .as_mut()
        .unwrap()
        .r#type = "robot".into();
    let mut no_action = dup.clone();
    no_action.action = 0;
    for d in [unknown_role, unknown_type, no_action] {
        let e = server
            .keys()
            .update_access_bindings(access::UpdateAccessBindingsRequest {
                resource_id: key.clone(),
                access_binding_deltas: vec![d],
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_by_the_clock_and_revocation_is_immediate() {
    let server = TestServer::builder().start().await;
    let sa = server
        .create_service_account("default", "short-lived")
        .await;
    // Bound on the folder, so the checks below are about the token, not the role.
    server
        .folders()
        .set_access_bindings(access::SetAccessBindingsRequest {
            resource_id: "default".into(),
            access_bindings: vec![binding("kms.viewer", SubjectKind::ServiceAccount, &sa)],
        })
        .await
        .unwrap();
    let list = |t: String| {
        let mut k = server.keys_as(Some(&t));
        async move {
            k.list(ListAsymmetricSignatureKeysRequest {
                folder_id: "default".into(),
                ..Default::default()
            })
            .await
            .map(drop)
            .map_err(|s| s.code())
        }
    };
    let token = server.token_for(&sa).await;
    assert!(token.starts_with("t1."));
    assert_eq!(list(token.clone()).await, Ok(()));
    server.clock.advance(Duration::from_secs(12 * 3600 - 60));
    assert_eq!(
        list(token.clone()).await,
        Ok(()),
        "still valid just before 12 h"
    );
    server.clock.advance(Duration::from_secs(61));
    assert_eq!(
        list(token.clone()).await,
        Err(Code::Unauthenticated),
        "expired after 12 h"
    );

    let fresh = server.token_for(&sa).await;
    assert_eq!(list(fresh.clone()).await, Ok(()));
    let revoked = server
        .iam_tokens()
        .revoke(
            signet_proto::yandex::cloud::iam::v1::RevokeIamTokenRequest {
                iam_token: fresh.clone(),
            },
        )
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.subject_id, sa);
    assert_eq!(
        list(fresh).await,
        Err(Code::Unauthenticated),
        "revocation is immediate"
    );

    // Deleting the service account revokes its tokens.
    let another = server.token_for(&sa).await;
    assert_eq!(list(another.clone()).await, Ok(()));
    server
        .service_accounts()
        .delete(
            signet_proto::yandex::cloud::iam::v1::DeleteServiceAccountRequest {
                service_account_id: sa.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(list(another).await, Err(Code::Unauthenticated));

    // Only the admin manages identities.
    let other = server.create_service_account("default", "not-admin").await;
    let t = server.token_for(&other).await;
    let e = signet_proto::yandex::cloud::iam::v1::service_account_service_client::ServiceAccountServiceClient::with_interceptor(
        server.channel.clone(),
        signet_testkit::Bearer::new(Some(&t)),
    )
    .create(signet_proto::yandex::cloud::iam::v1::CreateServiceAccountRequest {
        folder_id: "default".into(),
        name: "sneaky".into(),
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}
