//! Reading the audit trail online (`signet.audit.v1.AuditTrailService`, ADR 0006 "Reading it"):
//! the admin reads everything; `kms.auditor` on a folder reads the records about that folder
//! and its keys (deleted ones and their operations included) and nothing else; other callers
//! are refused like everywhere else; bad arguments and forged tokens are INVALID_ARGUMENT;
//! `since` and paging work; what is served is the stored chain, whose hashes recompute.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet_core::audit::{AuditRecord, record_hash};
use signet_core::domain::{Clock, ManualClock, Timestamp};
use signet_crypto::Algorithm;
use signet_proto::convert;
use signet_proto::signet::audit::v1::{GetAuditHeadRequest, ListAuditRecordsRequest};
use signet_proto::yandex::cloud::access;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature::*;
use signet_testkit::{AuditTrailClient, TestServer};
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Code;

const LIST_RECORDS: &str = "/signet.audit.v1.AuditTrailService/ListRecords";

/// Adds a binding of `role` for `sa` on `folder` (keeping the others).
async fn bind(server: &TestServer, folder: &str, role: &str, sa: &str) {
    server
        .folders()
        .update_access_bindings(access::UpdateAccessBindingsRequest {
            resource_id: folder.into(),
            access_binding_deltas: vec![access::AccessBindingDelta {
                action: access::AccessBindingAction::Add as i32,
                access_binding: Some(access::AccessBinding {
                    role_id: role.into(),
                    subject: Some(access::Subject {
                        id: sa.into(),
                        r#type: "serviceAccount".into(),
                    }),
                }),
            }],
        })
        .await
        .unwrap();
}

async fn sign(server: &TestServer, key: &str) {
    server
        .crypto()
        .sign(AsymmetricSignRequest {
            key_id: key.into(),
            message: b"m".to_vec(),
        })
        .await
        .unwrap();
}

/// Every record `client` may read with `folder` (and `since`), page after page.
async fn read_all(
    client: &mut AuditTrailClient,
    folder: &str,
    since: Option<Timestamp>,
    page_size: i64,
) -> Vec<AuditRecord> {
    let mut out = Vec::new();
    let mut page_token = String::new();
    for _ in 0..10_000 {
        let page = client
            .list_records(ListAuditRecordsRequest {
                folder_id: folder.into(),
                since: since.map(convert::timestamp),
                page_size,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.records.len() <= page_size.max(1) as usize);
        for r in &page.records {
            out.push(convert::audit_record_from_wire(r).unwrap());
        }
        if page.next_page_token.is_empty() {
            return out;
        }
        page_token = page.next_page_token;
    }
    panic!("paging did not end");
}

fn code<T>(r: Result<T, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

/// Records that are consecutive in the chain link, and every hash recomputes.
fn assert_chain_segment(records: &[AuditRecord]) {
    for r in records {
        assert_eq!(
            record_hash(r.version, r.seq, &r.event, &r.prev_hash),
            r.hash,
            "record {} does not hash to what it claims",
            r.seq
        );
    }
    for pair in records.windows(2) {
        assert!(pair[0].seq < pair[1].seq, "chain order");
        if pair[1].seq == pair[0].seq + 1 {
            assert_eq!(pair[1].prev_hash, pair[0].hash, "link at {}", pair[1].seq);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_reads_its_folder_and_nothing_else() {
    let server = TestServer::builder().start().await;
    let key_a = server
        .create_key("folder-a", Algorithm::EcdsaP256Sha256)
        .await;
    let gone_a = server
        .create_key("folder-a", Algorithm::EcdsaP256Sha256)
        .await;
    let key_b = server
        .create_key("folder-b", Algorithm::EcdsaP256Sha256)
        .await;
    sign(&server, &key_a).await;
    sign(&server, &key_b).await;
    // A key deleted since: its records still belong to folder A, its deletion operation too.
    let op = server
        .keys()
        .delete(DeleteAsymmetricSignatureKeyRequest {
            key_id: gone_a.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let delete_op = op.id.clone();
    server.wait(op).await;

    let auditor = server.create_service_account("iam", "auditor").await;
    let auditor_token = server.token_for(&auditor).await;
    bind(&server, "folder-a", "kms.auditor", &auditor).await;
    let viewer = server.create_service_account("iam", "viewer").await;
    let viewer_token = server.token_for(&viewer).await;
    bind(&server, "folder-a", "viewer", &viewer).await;
    let signer = server.create_service_account("iam", "signer").await;
    let signer_token = server.token_for(&signer).await;
    bind(
        &server,
        "folder-a",
        "kms.asymmetricSignatureKeys.signer",
        &signer,
    )
    .await;
    let nobody = server.create_service_account("iam", "nobody").await;
    let nobody_token = server.token_for(&nobody).await;

    // The admin reads the whole trail, which is the stored chain.
    let all = read_all(&mut server.audit_trail(), "", None, 7).await;
    let stored = server
        .kms()
        .store()
        .audit_records(1, 100_000)
        .await
        .unwrap();
    assert_eq!(
        all[..],
        stored[..all.len()],
        "the admin's pages are the stored chain"
    );
    assert_eq!(all[0].seq, 1);
    assert!(all.len() > 20, "{}", all.len());
    assert_chain_segment(&all);
    let about = |records: &[AuditRecord], id: &str| {
        records
            .iter()
            .filter(|r| r.event.resource_id.as_deref() == Some(id))
            .count()
    };
    assert!(about(&all, &key_b) > 0);

    // The auditor: exactly the records about folder A (the folder, its keys, the deleted one,
    // operations on them), nothing of folder B's; a chain segment whose hashes recompute.
    let store = server.kms().store();
    let mut folder_a: BTreeSet<String> = ["folder-a", key_a.as_str(), gone_a.as_str()]
        .into_iter()
        .map(String::from)
        .collect();
    for r in &all {
        let Some(id) = r.event.resource_id.as_deref() else {
            continue;
        };
        let op = signet_core::domain::OperationId::from_trusted(id.to_owned());
        if let Some(op) = store.get_operation(&op).await.unwrap()
            && folder_a.contains(&op.resource_id)
        {
            folder_a.insert(id.to_owned());
        }
    }
    let mut as_auditor = server.audit_trail_as(Some(&auditor_token));
    let seen = read_all(&mut as_auditor, "folder-a", None, 3).await;
    assert_chain_segment(&seen);
    let known = all.last().unwrap().seq;
    let expected: Vec<&AuditRecord> = all
        .iter()
        .filter(|r| {
            r.event
                .resource_id
                .as_ref()
                .is_some_and(|id| folder_a.contains(id))
        })
        .collect();
    let seen_then: Vec<&AuditRecord> = seen.iter().filter(|r| r.seq <= known).collect();
    assert_eq!(seen_then, expected);
    assert!(about(&seen, &key_a) >= 2, "its creation and a signature");
    assert!(about(&seen, &gone_a) >= 2, "create and delete");
    assert_eq!(about(&seen, &key_b), 0);
    assert!(
        seen.iter()
            .all(|r| r.event.resource_id.as_deref() != Some("folder-b"))
    );
    // Polling the deletion's operation is recorded under the operation id: it belongs too.
    server
        .operations()
        .get(
            signet_proto::yandex::cloud::operation::GetOperationRequest {
                operation_id: delete_op.clone(),
            },
        )
        .await
        .unwrap();
    let seen = read_all(&mut as_auditor, "folder-a", None, 100).await;
    assert_eq!(about(&seen, &delete_op), 1, "{seen:#?}");
    // Its own reads are recorded, under the folder read.
    assert!(seen.iter().any(|r| r.event.rpc == LIST_RECORDS
        && r.event.subject == auditor
        && r.event.outcome == "OK"));
    // The same records, filtered by the admin for folder A.
    let by_admin = read_all(&mut server.audit_trail(), "folder-a", None, 1000).await;
    assert_eq!(by_admin[..seen.len()], seen[..]);

    // A folder named like folder B's key is not that key: the auditor of such a folder sees
    // none of the key's records (nor anything else: every record naming that id is the key's).
    bind(&server, &key_b, "kms.auditor", &auditor).await;
    let lookalike = read_all(&mut as_auditor, &key_b, None, 100).await;
    assert!(lookalike.is_empty(), "{lookalike:#?}");

    // viewer includes kms.auditor.
    let as_viewer = read_all(
        &mut server.audit_trail_as(Some(&viewer_token)),
        "folder-a",
        None,
        50,
    )
    .await;
    assert!(about(&as_viewer, &key_a) > 0);

    // Refusals: folder B (no role), the whole trail (the admin's only), a signer, nobody.
    let list = |token: &str, folder: &str| {
        let mut c = server.audit_trail_as(Some(token));
        let folder = folder.to_owned();
        async move {
            c.list_records(ListAuditRecordsRequest {
                folder_id: folder,
                ..Default::default()
            })
            .await
        }
    };
    assert_eq!(
        code(list(&auditor_token, "folder-b").await),
        Code::PermissionDenied
    );
    assert_eq!(code(list(&auditor_token, "").await), Code::PermissionDenied);
    assert_eq!(
        code(list(&signer_token, "folder-a").await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(list(&nobody_token, "folder-a").await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            server
                .audit_trail_as(None)
                .list_records(ListAuditRecordsRequest::default())
                .await
        ),
        Code::Unauthenticated
    );
    assert_eq!(
        code(
            server
                .audit_trail_as(Some(&signer_token))
                .get_head(GetAuditHeadRequest {
                    folder_id: "folder-a".into()
                })
                .await
        ),
        Code::PermissionDenied
    );
    // The refused reads are recorded too.
    let all = read_all(&mut server.audit_trail(), "", None, 1000).await;
    assert!(all.iter().any(|r| r.event.rpc == LIST_RECORDS
        && r.event.subject == signer
        && r.event.outcome == "PERMISSION_DENIED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_and_forged_tokens_are_invalid_argument() {
    let server = TestServer::builder().start().await;
    let key = server
        .create_key("default", Algorithm::EcdsaP256Sha256)
        .await;
    for _ in 0..5 {
        sign(&server, &key).await;
    }
    let mut admin = server.audit_trail();
    let list = |req: ListAuditRecordsRequest| {
        let mut c = server.audit_trail();
        async move { c.list_records(req).await }
    };
    for page_size in [-1, 1001] {
        let err = list(ListAuditRecordsRequest {
            page_size,
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{page_size}");
        assert!(err.message().contains("page_size"), "{}", err.message());
    }
    assert_eq!(
        code(
            list(ListAuditRecordsRequest {
                after_seq: -1,
                ..Default::default()
            })
            .await
        ),
        Code::InvalidArgument
    );
    assert_eq!(
        code(
            list(ListAuditRecordsRequest {
                folder_id: "Not A Folder".into(),
                ..Default::default()
            })
            .await
        ),
        Code::InvalidArgument
    );
    // A real token, then forged ones, one of another filter, and one with after_seq.
    let first = admin
        .list_records(ListAuditRecordsRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.records.len(), 2);
    assert_eq!(first.last_scanned_seq, 2);
    let token = first.next_page_token;
    assert!(!token.is_empty());
    let mut forged = token.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(forged).unwrap(),
        "AAAAAAAAAAAAAAAAAAAAAAAA".into(),
        "%%".into(),
    ] {
        let err = list(ListAuditRecordsRequest {
            page_size: 2,
            page_token: bad.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{bad}");
        assert!(err.message().contains("page_token"), "{}", err.message());
    }
    assert_eq!(
        code(
            list(ListAuditRecordsRequest {
                folder_id: "default".into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
        ),
        Code::InvalidArgument,
        "a token of the unfiltered listing is not one of folder default's"
    );
    assert_eq!(
        code(
            list(ListAuditRecordsRequest {
                page_size: 2,
                page_token: token.clone(),
                after_seq: 1,
                ..Default::default()
            })
            .await
        ),
        Code::InvalidArgument
    );
    let second = list(ListAuditRecordsRequest {
        page_size: 2,
        page_token: token,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    let seqs: Vec<i64> = second.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [3, 4]);
    // after_seq starts after a given record.
    let after = list(ListAuditRecordsRequest {
        page_size: 1,
        after_seq: 4,
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(after.records[0].seq, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_filters_by_time_and_a_sparse_folder_pages_by_bounded_scans() {
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-03-01T00:00:00Z").unwrap());
    let server = TestServer::builder()
        .clock(clock.clone())
        .audit_checkpoint_records(50)
        .start()
        .await;
    let quiet = server.create_key("quiet", Algorithm::EcdsaP256Sha256).await;
    let busy = server.create_key("busy", Algorithm::EcdsaP256Sha256).await;
    clock.advance(Duration::from_secs(3600));
    let cut = clock.now();
    // Many calls elsewhere between two calls on the quiet folder's key.
    sign(&server, &quiet).await;
    for _ in 0..120 {
        sign(&server, &busy).await;
    }
    sign(&server, &quiet).await;

    let since = read_all(&mut server.audit_trail(), "", Some(cut), 1000).await;
    assert!(since.iter().all(|r| r.event.time >= cut));
    assert_eq!(since.len(), 122, "the two creations are before the cut");

    // page_size 2 scans at most 20 records a page: pages come back short or empty, but
    // paging progresses to the end and finds both.
    let mut client = server.audit_trail();
    let mut found = Vec::new();
    let mut pages = 0;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_records(ListAuditRecordsRequest {
                folder_id: "quiet".into(),
                since: Some(convert::timestamp(cut)),
                page_size: 2,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        assert!(pages < 1000, "paging does not end");
        // This listing's own calls are about the folder too; leave them out.
        found.extend(
            page.records
                .iter()
                .filter(|r| r.rpc != LIST_RECORDS)
                .map(|r| r.seq),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let quiet_signs: Vec<i64> = since
        .iter()
        .filter(|r| r.event.resource_id.as_deref() == Some(quiet.as_str()))
        .map(|r| r.seq)
        .collect();
    assert_eq!(quiet_signs.len(), 2);
    assert_eq!(found, quiet_signs);
    assert!(pages >= 6, "{pages} pages: each scans at most 20 records");

    // The head is the last record before the call, and the last checkpoint attests a stored
    // record's hash.
    let head = server
        .audit_trail()
        .get_head(GetAuditHeadRequest::default())
        .await
        .unwrap()
        .into_inner();
    let store = server.kms().store();
    let stored = store.audit_head().await.unwrap();
    assert_eq!(
        head.seq,
        stored.seq - 1,
        "the GetHead call itself came after"
    );
    let record = |seq| {
        let store = store.clone();
        async move { store.audit_records(seq, 1).await.unwrap().remove(0) }
    };
    assert_eq!(head.hash, record(head.seq).await.hash.to_vec());
    let cp = head.last_checkpoint.expect("a checkpoint every 50 records");
    assert!(cp.seq >= 50, "{}", cp.seq);
    assert_eq!(cp.hash, record(cp.seq).await.hash.to_vec());
    assert!(!cp.signature.is_empty());
    assert!(head.checkpoint_public_key_pem.contains("PUBLIC KEY"));
}
