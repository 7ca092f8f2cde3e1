//! What the call layer needs to write an audit record (ADR 0006): the note a handler fills in
//! about its call, the facts each request type contributes, which RPCs are the data plane, and
//! gRPC code names.
//!
//! The record itself is written by [`crate::context::CallLayer`], which every gRPC call passes
//! through; a handler cannot skip it. What only a handler can know (the principal, the resource,
//! the algorithm, the SHA-256 of what was signed) it adds to the call's [`AuditNote`]: the
//! request's own facts through [`Audited`], which [`crate::context::CallContext::authenticate`]
//! requires of every request type, and results through the `CallContext` helpers.

use signet_core::audit::AuditEvent;
use signet_core::domain::{FolderId, Timestamp};
use signet_crypto::Algorithm;
use std::sync::{Arc, Mutex, PoisonError};

/// RPCs that use keys rather than manage them: not recorded in `control-plane` mode.
pub const DATA_PLANE_RPCS: [&str; 3] = [
    "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign",
    "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/SignHash",
    "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/GetPublicKey",
];

/// The longest RPC path recorded (a client can send any path; unknown ones are recorded too).
const MAX_RPC_LEN: usize = 200;

pub fn is_data_plane(rpc: &str) -> bool {
    DATA_PLANE_RPCS.contains(&rpc)
}

/// The RPC path as recorded: at most [`MAX_RPC_LEN`] characters of it.
pub(crate) fn audited_rpc(rpc: &str) -> String {
    rpc.chars().take(MAX_RPC_LEN).collect()
}

/// The call's facts a handler adds to its audit record. Shared between the call layer (which
/// puts a note in the request's extensions and reads it when the handler is done) and the
/// handler. A note for a call that is not recorded keeps only the algorithm (for metrics) and
/// ignores the rest, so that nothing is hashed for a record that will not be written; a
/// detached note ignores everything.
#[derive(Clone, Debug, Default)]
pub struct AuditNote(Option<Arc<Note>>);

#[derive(Debug, Default)]
struct Note {
    /// Whether the call is recorded (else only the algorithm is kept).
    recorded: bool,
    facts: Mutex<Facts>,
}

#[derive(Debug, Default)]
struct Facts {
    subject: String,
    resource_id: Option<String>,
    algorithm: Option<&'static str>,
    message_sha256: Option<[u8; 32]>,
}

impl AuditNote {
    /// A note for a call that is recorded.
    pub(crate) fn recording() -> AuditNote {
        AuditNote(Some(Arc::new(Note {
            recorded: true,
            facts: Mutex::default(),
        })))
    }

    /// A note for a call that is not recorded: it keeps the algorithm, for metrics, only.
    pub(crate) fn for_metrics() -> AuditNote {
        AuditNote(Some(Arc::default()))
    }

    /// A note for a call that is not recorded.
    pub fn detached() -> AuditNote {
        AuditNote(None)
    }

    /// The note the call layer attached to `request`, or a detached one.
    pub fn of<T>(request: &tonic::Request<T>) -> AuditNote {
        request
            .extensions()
            .get::<AuditNote>()
            .cloned()
            .unwrap_or_default()
    }

    /// Applies `f` to the facts of a recorded call.
    fn with(&self, f: impl FnOnce(&mut Facts)) {
        if let Some(note) = &self.0
            && note.recorded
        {
            f(&mut note.facts.lock().unwrap_or_else(PoisonError::into_inner));
        }
    }

    /// The authenticated principal's subject id.
    pub fn subject(&self, subject: &str) {
        self.with(|f| subject.clone_into(&mut f.subject));
    }

    /// The resource the call is about (replaces an earlier one: a Create names the folder
    /// first, then what it made).
    pub fn resource(&self, id: impl ToString) {
        self.with(|f| f.resource_id = Some(id.to_string()));
    }

    /// The algorithm the call used: kept whether or not the call is recorded (metrics label
    /// latencies with it).
    pub fn algorithm(&self, algorithm: Algorithm) {
        if let Some(note) = &self.0 {
            note.facts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .algorithm = Some(algorithm.wire_name());
        }
    }

    /// The algorithm noted so far, if any.
    pub(crate) fn algorithm_name(&self) -> Option<&'static str> {
        self.0.as_ref().and_then(|n| {
            n.facts
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .algorithm
        })
    }

    /// Records the SHA-256 of `data` (the message or digest to be signed); never `data`.
    pub fn signed_data(&self, data: &[u8]) {
        self.with(|f| f.message_sha256 = Some(signet_crypto::sha256(data)));
    }

    /// The record for a finished call.
    pub(crate) fn into_event(
        self,
        time: Timestamp,
        request_id: String,
        rpc: &str,
        outcome: &str,
        client_addr: String,
    ) -> AuditEvent {
        let mut facts = Facts::default();
        self.with(|f| facts = std::mem::take(f));
        AuditEvent {
            time,
            request_id,
            subject: facts.subject,
            rpc: audited_rpc(rpc),
            resource_id: facts.resource_id,
            algorithm: facts.algorithm.map(str::to_owned),
            outcome: outcome.to_owned(),
            client_addr,
            message_sha256: facts.message_sha256,
        }
    }
}

/// What a request names that belongs in its audit record. Every request type that reaches
/// [`crate::context::CallContext::authenticate`] implements it, so a new RPC does not compile
/// until it says what it records. Ids are recorded only if well-formed; nothing secret (tokens,
/// messages) ever is.
pub trait Audited {
    fn note(&self, note: &AuditNote);
}

/// `raw` if it is shaped like an id (every Signet id is a valid folder id), else nothing: a
/// malformed value is the client's text and stays out of the trail.
fn id(raw: &str) -> Option<String> {
    FolderId::parse("id", raw)
        .ok()
        .map(|f| f.as_str().to_owned())
}

macro_rules! audited {
    ($($ty:ty => |$r:ident, $n:ident| $body:expr;)*) => {$(
        impl Audited for $ty {
            #[allow(unused_variables)]
            fn note(&self, $n: &AuditNote) {
                let $r = self;
                $body
            }
        }
    )*};
}

/// Notes `raw` as the resource if it is id-shaped.
fn resource(note: &AuditNote, raw: &str) {
    if let Some(id) = id(raw) {
        note.resource(id);
    }
}

use signet_proto::signet::audit::v1 as trail;
use signet_proto::yandex::cloud::access as acc;
use signet_proto::yandex::cloud::iam::v1 as iam;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature as kms;
use signet_proto::yandex::cloud::operation as op;
use signet_proto::yandex::cloud::resourcemanager::v1 as rm;

audited! {
    kms::CreateAsymmetricSignatureKeyRequest => |r, n| {
        resource(n, &r.folder_id);
        if let Some(a) = Algorithm::from_wire_number(r.signature_algorithm) {
            n.algorithm(a);
        }
    };
    kms::GetAsymmetricSignatureKeyRequest => |r, n| resource(n, &r.key_id);
    kms::ListAsymmetricSignatureKeysRequest => |r, n| resource(n, &r.folder_id);
    kms::UpdateAsymmetricSignatureKeyRequest => |r, n| resource(n, &r.key_id);
    kms::DeleteAsymmetricSignatureKeyRequest => |r, n| resource(n, &r.key_id);
    kms::ListAsymmetricSignatureKeyOperationsRequest => |r, n| resource(n, &r.key_id);
    kms::AsymmetricSignRequest => |r, n| {
        resource(n, &r.key_id);
        n.signed_data(&r.message);
    };
    kms::AsymmetricSignHashRequest => |r, n| {
        resource(n, &r.key_id);
        n.signed_data(&r.hash);
    };
    kms::AsymmetricGetPublicKeyRequest => |r, n| resource(n, &r.key_id);
    op::GetOperationRequest => |r, n| resource(n, &r.operation_id);
    op::CancelOperationRequest => |r, n| resource(n, &r.operation_id);
    acc::ListAccessBindingsRequest => |r, n| resource(n, &r.resource_id);
    acc::SetAccessBindingsRequest => |r, n| resource(n, &r.resource_id);
    acc::UpdateAccessBindingsRequest => |r, n| resource(n, &r.resource_id);
    acc::ListAccessPolicyBindingsRequest => |r, n| resource(n, &r.resource_id);
    acc::BindAccessPolicyRequest => |r, n| resource(n, &r.resource_id);
    acc::UnbindAccessPolicyRequest => |r, n| resource(n, &r.resource_id);
    acc::UpdateAccessPolicyBindingParametersRequest => |r, n| resource(n, &r.resource_id);
    // The token being revoked or exchanged is a secret: only the outcome is recorded (and, for
    // an exchange, the service account it was for).
    iam::CreateIamTokenRequest => |r, n| ();
    iam::RevokeIamTokenRequest => |r, n| ();
    iam::CreateIamTokenForServiceAccountRequest => |r, n| resource(n, &r.service_account_id);
    iam::GetServiceAccountRequest => |r, n| resource(n, &r.service_account_id);
    iam::ListServiceAccountsRequest => |r, n| resource(n, &r.folder_id);
    iam::CreateServiceAccountRequest => |r, n| resource(n, &r.folder_id);
    iam::UpdateServiceAccountRequest => |r, n| resource(n, &r.service_account_id);
    iam::DeleteServiceAccountRequest => |r, n| resource(n, &r.service_account_id);
    iam::ListServiceAccountOperationsRequest => |r, n| resource(n, &r.service_account_id);
    iam::SuspendServiceAccountRequest => |r, n| resource(n, &r.service_account_id);
    iam::ReactivateServiceAccountRequest => |r, n| resource(n, &r.service_account_id);
    iam::GetKeyRequest => |r, n| resource(n, &r.key_id);
    iam::ListKeysRequest => |r, n| resource(n, &r.service_account_id);
    iam::CreateKeyRequest => |r, n| resource(n, &r.service_account_id);
    iam::UpdateKeyRequest => |r, n| resource(n, &r.key_id);
    iam::DeleteKeyRequest => |r, n| resource(n, &r.key_id);
    iam::ListKeyOperationsRequest => |r, n| resource(n, &r.key_id);
    rm::GetFolderRequest => |r, n| resource(n, &r.folder_id);
    rm::ListFoldersRequest => |r, n| ();
    rm::CreateFolderRequest => |r, n| ();
    rm::UpdateFolderRequest => |r, n| resource(n, &r.folder_id);
    rm::DeleteFolderRequest => |r, n| resource(n, &r.folder_id);
    rm::ListFolderOperationsRequest => |r, n| resource(n, &r.folder_id);
    // A reader's own call is recorded under the folder it read (none: the whole trail).
    trail::ListAuditRecordsRequest => |r, n| resource(n, &r.folder_id);
    trail::GetAuditHeadRequest => |r, n| resource(n, &r.folder_id);
}

/// The name of a gRPC status code number, as in `google.rpc.Code`.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// The outcome of a finished call: its `grpc-status` header (tonic answers every error
/// trailers-only, so the code is in the headers), or OK when there is none (a successful unary
/// response carries its status in the trailers after the message).
pub(crate) fn outcome_of<B>(response: &http::Response<B>) -> &'static str {
    match response.headers().get("grpc-status") {
        None => "OK",
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
            .map_or("UNKNOWN", code_name),
    }
}

/// The client's address, from the connection info tonic attaches to every request.
pub(crate) fn client_addr<B>(request: &http::Request<B>) -> String {
    peer_addr(request)
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// The peer's socket address, over plaintext or TLS; `None` for a request that did not come
/// over a TCP connection (in-process tests).
pub(crate) fn peer_addr<B>(request: &http::Request<B>) -> Option<std::net::SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let ext = request.extensions();
    ext.get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|i| i.get_ref().remote_addr())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_match_tonic_codes() {
        use tonic::Code;
        for (code, name) in [
            (Code::Ok, "OK"),
            (Code::InvalidArgument, "INVALID_ARGUMENT"),
            (Code::NotFound, "NOT_FOUND"),
            (Code::PermissionDenied, "PERMISSION_DENIED"),
            (Code::FailedPrecondition, "FAILED_PRECONDITION"),
            (Code::Unimplemented, "UNIMPLEMENTED"),
            (Code::Internal, "INTERNAL"),
            (Code::Unavailable, "UNAVAILABLE"),
            (Code::Unauthenticated, "UNAUTHENTICATED"),
        ] {
            assert_eq!(code_name(code as i32), name);
        }
        assert_eq!(code_name(99), "UNKNOWN");
        assert_eq!(code_name(-1), "UNKNOWN");
    }

    #[test]
    fn a_note_for_metrics_keeps_only_the_algorithm() {
        let n = AuditNote::for_metrics();
        n.subject("admin");
        n.resource("abjkey1");
        n.signed_data(b"message");
        n.algorithm(Algorithm::EcdsaP256Sha256);
        assert_eq!(n.algorithm_name(), Some("ECDSA_NIST_P256_SHA_256"));
        let facts = n.0.as_ref().unwrap().facts.lock().unwrap();
        assert!(facts.subject.is_empty());
        assert_eq!(facts.resource_id, None);
        assert_eq!(
            facts.message_sha256, None,
            "nothing hashed for an unrecorded call"
        );
        drop(facts);

        let r = AuditNote::recording();
        r.signed_data(b"message");
        r.algorithm(Algorithm::EcdsaP256Sha256);
        let e = r.into_event(
            Timestamp::from_micros(0),
            "r".into(),
            "/x",
            "OK",
            String::new(),
        );
        assert_eq!(e.message_sha256, Some(signet_crypto::sha256(b"message")));
        assert_eq!(e.algorithm.as_deref(), Some("ECDSA_NIST_P256_SHA_256"));
    }

    #[test]
    fn only_id_shaped_values_are_recorded() {
        let n = AuditNote::recording();
        resource(&n, "t1.SECRETTOKEN");
        resource(&n, &"a".repeat(51));
        resource(&n, "");
        let e = n.clone().into_event(
            Timestamp::from_micros(0),
            "r".into(),
            "/x",
            "OK",
            String::new(),
        );
        assert_eq!(e.resource_id, None);
        resource(&n, "abjkey1");
        let e = n.into_event(
            Timestamp::from_micros(0),
            "r".into(),
            "/x",
            "OK",
            String::new(),
        );
        assert_eq!(e.resource_id.as_deref(), Some("abjkey1"));
    }

    #[test]
    fn signed_data_is_recorded_as_its_hash() {
        let n = AuditNote::recording();
        kms::AsymmetricSignRequest {
            key_id: "abjkey".into(),
            message: b"the message".to_vec(),
        }
        .note(&n);
        let e = n.into_event(
            Timestamp::from_micros(0),
            "r".into(),
            "/x",
            "OK",
            String::new(),
        );
        assert_eq!(
            e.message_sha256,
            Some(signet_crypto::sha256(b"the message"))
        );
        assert_eq!(e.resource_id.as_deref(), Some("abjkey"));
    }
}
