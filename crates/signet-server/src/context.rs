//! Per-request context. [`CallLayer`], which every gRPC call passes through, gives the call its
//! request id (from the client's `x-request-id` or freshly made, echoed in `x-request-id` and
//! `x-server-trace-id` response headers), turns a handler's panic into INTERNAL, and writes the
//! call's audit record before the response is released. [`CallContext::authenticate`] checks the
//! `authorization` header: the one path every authenticated call goes through.

use crate::audit::{AuditNote, Audited, audited_rpc, client_addr, is_data_plane, outcome_of};
use crate::metrics::Metrics;
use signet_core::Kms;
use signet_core::audit::{AuditTrail, CallAudit};
use signet_core::auth::Principal;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tracing::Instrument as _;

/// The id of one request, for logs, error details and response headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts a client-sent id if it is 1–128 visible ASCII characters; else makes a new one.
    pub(crate) fn from_header(value: Option<&http::HeaderValue>) -> RequestId {
        match value.and_then(|v| v.to_str().ok()) {
            Some(s)
                if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                RequestId(s.to_owned())
            }
            _ => RequestId::generate(),
        }
    }

    /// A fresh random (version 4) UUID in its text form. Made twice per call (request and
    /// trace id), so it comes from the thread's user-space CSPRNG (ChaCha, seeded and reseeded
    /// from the operating system) rather than a system call, and is written straight into one
    /// string. It is a correlation handle, not a secret.
    pub fn generate() -> RequestId {
        use rand::RngCore as _;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut b = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mut s = String::with_capacity(36);
        for (i, byte) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            s.push(char::from(HEX[usize::from(byte >> 4)]));
            s.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        RequestId(s)
    }

    pub fn from_trusted(s: String) -> RequestId {
        RequestId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The server's trace id for a request (kept distinct from the client's request id).
#[derive(Clone, Debug)]
pub struct TraceId(pub String);

/// Tower layer every gRPC call passes through: assigns ids and writes the response headers,
/// answers INTERNAL for a handler that panicked, and records the call in the audit trail.
///
/// The record is committed before the response leaves this layer (the layer's future resolves
/// only then), and if it cannot be committed the response is replaced by UNAVAILABLE: no call is
/// answered unaudited. A change that returns an Operation wrote its record in its own
/// transaction (the [`CallAudit`] on its principal; the layer then appends nothing more), so it
/// is not made when the trail cannot be written; other effects stand, and the client sees
/// UNAVAILABLE. Handlers add what only they know to the call's [`AuditNote`].
#[derive(Clone, Debug)]
pub struct CallLayer {
    audit: AuditTrail,
    metrics: Option<Arc<Metrics>>,
}

impl CallLayer {
    pub fn new(audit: AuditTrail) -> CallLayer {
        CallLayer {
            audit,
            metrics: None,
        }
    }

    /// Counts and times every call in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> CallLayer {
        self.metrics = Some(metrics);
        self
    }
}

impl<S> tower::Layer<S> for CallLayer {
    type Service = CallService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CallService {
            inner,
            audit: self.audit.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CallService<S> {
    inner: S,
    audit: AuditTrail,
    metrics: Option<Arc<Metrics>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for CallService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let request_id = RequestId::from_header(req.headers().get("x-request-id"));
        let trace_id = RequestId::generate();
        req.extensions_mut().insert(request_id.clone());
        req.extensions_mut().insert(TraceId(trace_id.0.clone()));
        let rpc = req.uri().path().to_owned();
        let started = std::time::Instant::now();
        let data_plane = is_data_plane(&rpc);
        let recorded = self.audit.records(data_plane);
        let note = if recorded {
            AuditNote::recording()
        } else {
            AuditNote::for_metrics()
        };
        req.extensions_mut().insert(note.clone());
        let metrics = self.metrics.clone();
        let audit = recorded.then(|| {
            let client_addr = client_addr(&req);
            // A control-plane call's state change writes the call's record itself, in its own
            // transaction (ADR 0006); the handler's principal carries what it needs.
            let call = (!data_plane).then(|| {
                Arc::new(CallAudit::new(
                    request_id.0.clone(),
                    audited_rpc(&rpc),
                    client_addr.clone(),
                ))
            });
            if let Some(call) = &call {
                req.extensions_mut().insert(Arc::clone(call));
            }
            PendingRecord(Some(RecordParts {
                trail: self.audit.clone(),
                note: note.clone(),
                rpc: rpc.clone(),
                request_id: request_id.0.clone(),
                client_addr,
                call,
            }))
        });
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            path = %rpc,
            subject = tracing::field::Empty
        );
        let fut = self.inner.call(req);
        Box::pin(
            async move {
                use futures_util::FutureExt as _;
                // A panic in a handler fails that one call with INTERNAL; the server goes on.
                let mut result = match std::panic::AssertUnwindSafe(fut).catch_unwind().await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::error!(request_id = %request_id, "a handler panicked; answering INTERNAL");
                        Ok(internal_error_response())
                    }
                };
                if let Ok(resp) = result.as_mut() {
                    reclassify_decode_error(resp, &request_id);
                }
                let outcome = result.as_ref().map_or("UNKNOWN", outcome_of);
                if let Some(m) = &metrics {
                    m.observe(&rpc, outcome, note.algorithm_name(), started.elapsed());
                }
                if let Some((trail, event)) = audit.and_then(|p| p.finish(outcome))
                    && let Err(e) = trail.append(event).await
                {
                    // Fail closed: the handler's answer is withheld.
                    let status = crate::error::to_status(&e.into(), &request_id);
                    result = Ok(status.into_http());
                }
                let mut resp = result?;
                if let Ok(v) = http::HeaderValue::from_str(request_id.as_str()) {
                    resp.headers_mut().insert("x-request-id", v);
                }
                if let Ok(v) = http::HeaderValue::from_str(&trace_id.0) {
                    resp.headers_mut().insert("x-server-trace-id", v);
                }
                Ok(resp)
            }
            .instrument(span),
        )
    }
}

/// tonic answers a request it cannot decode (for example a string field that is not valid
/// UTF-8) with INTERNAL before any handler runs. That is the caller's bad input, not a server
/// fault: answer INVALID_ARGUMENT instead, with the same details as every other bad request (a
/// BadRequest naming the field, when the decoder says which, and the RequestInfo).
fn reclassify_decode_error<RB: Default>(resp: &mut http::Response<RB>, request_id: &RequestId) {
    let Some(status) = tonic::Status::from_header_map(resp.headers()) else {
        return;
    };
    if status.code() != tonic::Code::Internal {
        return;
    }
    let Some(problem) = undecodable(status.message()) else {
        return;
    };
    let mut fresh = crate::error::to_status(&problem.into(), request_id).into_http();
    // Keep what tonic set besides the status (content type and the like).
    for (name, value) in resp.headers() {
        if !fresh.headers().contains_key(name) {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    *resp = fresh;
}

/// What a prost decode error (`failed to decode Protobuf message: Inner.field: Outer.field:
/// description`, innermost first) says about the request: the field path, outermost first
/// (`access_binding_deltas.access_binding.role_id`), and what is wrong with it. `None` if
/// `message` is not a decode error.
fn undecodable(message: &str) -> Option<signet_core::domain::Invalid> {
    let mut rest = message.strip_prefix("failed to decode Protobuf message: ")?;
    let mut path = Vec::new();
    while let Some((segment, tail)) = rest.split_once(": ") {
        let Some((message_name, field)) = segment.split_once('.') else {
            break;
        };
        let ident =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ident(message_name) || !ident(field) {
            break;
        }
        path.push(field);
        rest = tail;
    }
    path.reverse();
    let what = if rest.starts_with("invalid string value") {
        "is not valid UTF-8"
    } else {
        "cannot be decoded (the request is not a valid protobuf message)"
    };
    Some(signet_core::domain::Invalid::one(path.join("."), what))
}

/// A call's audit record until the call is done. If the call's future is dropped first (the
/// client went away, and the server stopped working on the call), the record is still queued, as
/// CANCELLED, without waiting: the call may have had effects, and no one is left to answer.
struct PendingRecord(Option<RecordParts>);

struct RecordParts {
    trail: AuditTrail,
    note: AuditNote,
    rpc: String,
    request_id: String,
    client_addr: String,
    /// Set when the call's state change may write the call's record itself.
    call: Option<Arc<CallAudit>>,
}

impl RecordParts {
    /// Whether the call's record was committed with its state change, and says `outcome`
    /// (always `OK`): then nothing more is appended, and the writer only counts the record.
    fn recorded_with_change(&self, outcome: &str) -> bool {
        let recorded = outcome == "OK" && self.call.as_ref().is_some_and(|c| c.recorded());
        if recorded {
            self.trail.appended_elsewhere();
        }
        recorded
    }

    fn into_event(self, outcome: &str) -> (AuditTrail, signet_core::audit::AuditEvent) {
        let event = self.note.into_event(
            self.trail.now(),
            self.request_id,
            &self.rpc,
            outcome,
            self.client_addr,
        );
        (self.trail, event)
    }
}

impl PendingRecord {
    /// The record of the finished call, and the trail to write it to.
    fn finish(mut self, outcome: &str) -> Option<(AuditTrail, signet_core::audit::AuditEvent)> {
        self.0
            .take()
            .filter(|parts| !parts.recorded_with_change(outcome))
            .map(|parts| parts.into_event(outcome))
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        // A change that committed its record stands whether or not its client stayed to hear
        // of it: that record (OK) is the call's.
        if let Some(parts) = self.0.take().filter(|p| !p.recorded_with_change("OK")) {
            let rpc = parts.rpc.clone();
            let (trail, event) = parts.into_event("CANCELLED");
            if !trail.append_detached(event) {
                tracing::error!(%rpc, "a cancelled call could not be queued for the audit trail");
            }
        }
    }
}

/// Records a call that was refused before it reached the gRPC stack (a REST request the
/// gateway could not turn into a message), as the call layer records every other call.
pub(crate) async fn record_rejected(
    trail: &AuditTrail,
    rpc: &str,
    request_id: &RequestId,
    client_addr: String,
    outcome: &str,
) -> Result<(), signet_core::audit::AuditError> {
    if !trail.records(is_data_plane(rpc)) {
        return Ok(());
    }
    let event = AuditNote::recording().into_event(
        trail.now(),
        request_id.as_str().to_owned(),
        rpc,
        outcome,
        client_addr,
    );
    trail.append(event).await
}

/// A trailers-only gRPC response with status INTERNAL.
fn internal_error_response<RB: Default>() -> http::Response<RB> {
    let mut resp = http::Response::new(RB::default());
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert("grpc-status", http::HeaderValue::from_static("13"));
    headers.insert(
        "grpc-message",
        http::HeaderValue::from_static("internal%20error"),
    );
    resp
}

/// What a handler knows about its call once it is authenticated.
#[derive(Debug)]
pub struct CallContext {
    pub request_id: RequestId,
    pub principal: Principal,
    audit: AuditNote,
}

impl CallContext {
    /// Authenticates a gRPC call, and notes in its audit record what the request names and, on
    /// success, who the caller is.
    pub async fn authenticate<T: Audited>(
        kms: &Kms,
        request: &tonic::Request<T>,
    ) -> Result<CallContext, tonic::Status> {
        let request_id = request_id_of(request);
        let audit = AuditNote::of(request);
        request.get_ref().note(&audit);
        let header = request
            .metadata()
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("<invalid>"));
        match kms.authenticate(header).await {
            Ok(principal) => {
                let principal = match request.extensions().get::<Arc<CallAudit>>() {
                    Some(call) => principal.serving(Arc::clone(call)),
                    None => principal,
                };
                audit.subject(principal.subject_id());
                // Every later log line of the call names who made it.
                tracing::Span::current()
                    .record("subject", tracing::field::display(principal.subject_id()));
                if let Some(limit) = request
                    .extensions()
                    .get::<crate::limits::SubjectRateLimit>()
                {
                    limit
                        .0
                        .check(principal.subject_id())
                        .map_err(|e| crate::error::to_status(&e, &request_id))?;
                }
                Ok(CallContext {
                    request_id,
                    principal,
                    audit,
                })
            }
            Err(e) => Err(crate::error::to_status(&e, &request_id)),
        }
    }

    pub fn fail(&self, error: impl Into<signet_core::CoreError>) -> tonic::Status {
        crate::error::to_status(&error.into(), &self.request_id)
    }

    /// The call's audit note, for what the handler learns while handling it (the key a Create
    /// made, the algorithm a Sign used).
    pub fn audit(&self) -> &AuditNote {
        &self.audit
    }
}

pub fn request_id_of<T>(request: &tonic::Request<T>) -> RequestId {
    request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service, ServiceExt};

    fn off() -> AuditTrail {
        AuditTrail::off(std::sync::Arc::new(signet_core::domain::SystemClock))
    }

    /// A log writer that keeps what it is given.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn every_log_line_of_a_call_names_its_request_id_and_subject() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let handler = tower::service_fn(|_req: http::Request<()>| async move {
            // What CallContext::authenticate does once it knows the principal.
            tracing::Span::current().record("subject", tracing::field::display("ajeSUBJECT"));
            tracing::info!("inside the handler");
            tracing::warn!("a second line");
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let mut svc = CallLayer::new(off()).layer(handler);
        let req = http::Request::builder()
            .uri("/a.S/M")
            .header("x-request-id", "req-77")
            .body(())
            .unwrap();
        svc.ready().await.unwrap().call(req).await.unwrap();
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for line in lines {
            assert!(line.contains("request_id=req-77"), "{line}");
            assert!(line.contains("subject=ajeSUBJECT"), "{line}");
        }
    }

    /// The decoder's own error text for `bytes` read as `M`.
    fn decode_error<M: prost::Message + Default + std::fmt::Debug>(bytes: &[u8]) -> String {
        M::decode(bytes).expect_err("undecodable").to_string()
    }

    fn violation(message: &str) -> (String, String) {
        let invalid = undecodable(message).expect("a decode error");
        let v = &invalid.0[0];
        (v.field.clone(), v.description.clone())
    }

    #[test]
    fn generated_request_ids_are_version_4_uuids() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        for id in [a, b] {
            let s = id.as_str();
            assert_eq!(s.len(), 36, "{s}");
            for (i, c) in s.char_indices() {
                match i {
                    8 | 13 | 18 | 23 => assert_eq!(c, '-', "{s}"),
                    14 => assert_eq!(c, '4', "{s}"),
                    19 => assert!("89ab".contains(c), "{s}"),
                    _ => assert!(c.is_ascii_digit() || ('a'..='f').contains(&c), "{s}"),
                }
            }
        }
    }

    #[test]
    fn decode_errors_name_the_field_outermost_first() {
        use prost::Message as _;
        use signet_proto::yandex::cloud::access as wire;
        use signet_proto::yandex::cloud::kms::v1::asymmetricsignature as kms;
        // AsymmetricSignRequest.key_id (field 1) holding 0xff.
        let e = decode_error::<kms::AsymmetricSignRequest>(&[0x0a, 0x02, 0x61, 0xff]);
        assert_eq!(
            violation(&e),
            ("key_id".into(), "is not valid UTF-8".into()),
            "{e}"
        );
        // A role id three messages deep.
        let mut bytes = wire::UpdateAccessBindingsRequest {
            resource_id: "abj".into(),
            access_binding_deltas: vec![wire::AccessBindingDelta {
                action: 1,
                access_binding: Some(wire::AccessBinding {
                    role_id: "ROLE".into(),
                    subject: None,
                }),
            }],
        }
        .encode_to_vec();
        let at = bytes.windows(4).position(|w| w == b"ROLE").unwrap();
        bytes[at] = 0xc3; // a lone UTF-8 lead byte
        let e = decode_error::<wire::UpdateAccessBindingsRequest>(&bytes);
        assert_eq!(
            violation(&e).0,
            "access_binding_deltas.access_binding.role_id",
            "{e}"
        );
        // A field cut short is named; a message broken outside any field names none.
        let e = decode_error::<kms::AsymmetricSignRequest>(&[0x0a, 0x05, 0x61]);
        let (field, description) = violation(&e);
        assert_eq!(field, "key_id", "{e}");
        assert!(description.contains("cannot be decoded"));
        let e = decode_error::<kms::AsymmetricSignRequest>(&[0x00]);
        assert_eq!(violation(&e).0, "", "{e}");
        // Other INTERNAL messages are left alone.
        assert!(undecodable("internal error").is_none());
        assert!(undecodable("failed to decode").is_none());
    }

    #[tokio::test]
    async fn ids_are_echoed_or_generated_and_panics_become_internal() {
        let ok = tower::service_fn(|req: http::Request<()>| async move {
            assert!(req.extensions().get::<RequestId>().is_some());
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let mut svc = CallLayer::new(off()).layer(ok);
        let req = http::Request::builder()
            .header("x-request-id", "abc-1")
            .body(())
            .unwrap();
        let resp = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(resp.headers()["x-request-id"], "abc-1");
        assert!(resp.headers().contains_key("x-server-trace-id"));

        // Header values that are not visible ASCII are replaced, not echoed.
        let req = http::Request::builder()
            .header("x-request-id", "a b")
            .body(())
            .unwrap();
        let resp = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(resp.headers()["x-request-id"].len(), 36);

        let panicking = tower::service_fn(|_req: http::Request<()>| async move {
            if true {
                panic!("handler bug");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let mut svc = CallLayer::new(off()).layer(panicking);
        let resp = svc
            .ready()
            .await
            .unwrap()
            .call(http::Request::new(()))
            .await
            .unwrap();
        assert_eq!(resp.headers()["grpc-status"], "13");
        assert!(resp.headers().contains_key("x-request-id"));
    }

    #[tokio::test]
    async fn a_panicking_call_is_recorded_as_internal_before_it_is_answered() {
        use signet_core::audit::{AuditSettings, CheckpointKey};
        use signet_core::store::Store;
        let dir = tempfile::tempdir().unwrap();
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(
            signet_store::SqliteStore::open(&dir.path().join("a.db"))
                .await
                .unwrap(),
        );
        let root = signet_crypto::RootKey::generate().unwrap();
        let key = CheckpointKey::load_or_create(store.as_ref(), &root)
            .await
            .unwrap();
        let (trail, writer) = AuditTrail::start(
            std::sync::Arc::clone(&store),
            std::sync::Arc::new(signet_core::domain::SystemClock),
            key,
            AuditSettings::default(),
        );
        let panicking = tower::service_fn(|_req: http::Request<()>| async move {
            if true {
                panic!("handler bug");
            }
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let trail_clone = trail.clone();
        let mut svc = CallLayer::new(trail).layer(panicking);
        let req = http::Request::builder()
            .uri("/p.Service/Method")
            .header("x-request-id", "panic-1")
            .body(())
            .unwrap();
        let resp = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(resp.headers()["grpc-status"], "13");
        // Committed before the response was returned.
        let records = store.audit_records(1, 10).await.unwrap();
        assert_eq!(records.len(), 1);
        let e = &records[0].event;
        assert_eq!(
            (e.rpc.as_str(), e.outcome.as_str(), e.request_id.as_str()),
            ("/p.Service/Method", "INTERNAL", "panic-1")
        );
        assert_eq!(e.subject, "");
        drop(svc);

        // A call dropped mid-flight (the client went away) is still recorded, as CANCELLED.
        let hanging = tower::service_fn(|_req: http::Request<()>| {
            futures_util::future::pending::<Result<http::Response<String>, std::convert::Infallible>>(
            )
        });
        let mut svc = CallLayer::new(trail_clone).layer(hanging);
        let req = http::Request::builder()
            .uri("/p.Service/Slow")
            .body(())
            .unwrap();
        let call = svc.ready().await.unwrap().call(req);
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), call)
                .await
                .is_err()
        );
        drop(svc);
        writer.finish(std::time::Duration::from_secs(5)).await;
        let records = store.audit_records(1, 10).await.unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(
            (
                records[1].event.rpc.as_str(),
                records[1].event.outcome.as_str()
            ),
            ("/p.Service/Slow", "CANCELLED")
        );
        assert_eq!(store.audit_checkpoints(0, 10).await.unwrap().len(), 1);
    }
}
