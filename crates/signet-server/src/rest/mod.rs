//! The REST/JSON gateway, on the same port as gRPC.
//!
//! A request whose content type is `application/grpc…` passes straight through. Anything else is
//! REST: [`RestLayer`] answers the operational endpoints (`/healthz`, `/readyz`, `/metrics`)
//! itself, and turns every other request into the gRPC call its `google.api.http` rule names
//! (path variables, query parameters and the JSON body become one protobuf message, by the
//! proto3 JSON mapping), sends that call through the very same service stack a gRPC client
//! reaches — the call layer, authentication, authorization, the audit trail, the handlers —
//! and turns the gRPC answer back into JSON. So there is one authentication path, one error
//! table and one audit record per call, whichever protocol the client speaks.

mod routes;

use crate::app::MAX_REQUEST_BYTES;
use crate::context::{RequestId, record_rejected};
use bytes::{Buf, Bytes};
use http_body_util::BodyExt as _;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, Kind, MessageDescriptor};
use routes::{Match, Route, Routes};
use serde_json::{Map, Value};
use signet_core::Kms;
use signet_core::audit::AuditTrail;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body;
use tower::ServiceExt as _;

pub use routes::RouteError;

/// What the gateway needs besides the gRPC stack it forwards to.
#[derive(Clone, Debug)]
pub struct RestLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    routes: Routes,
    status: MessageDescriptor,
    kms: Arc<Kms>,
    audit: AuditTrail,
    metrics: Arc<crate::metrics::Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the compiled descriptor set does not decode")]
    Descriptors(#[from] prost_reflect::DescriptorError),
    #[error(transparent)]
    Routes(#[from] RouteError),
    #[error("the descriptor set lacks google.rpc.Status")]
    NoStatus,
}

impl RestLayer {
    pub fn new(
        kms: Arc<Kms>,
        audit: AuditTrail,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Result<RestLayer, GatewayError> {
        let pool = descriptor_pool()?;
        let routes = Routes::from_pool(&pool)?;
        let status = pool
            .get_message_by_name("google.rpc.Status")
            .ok_or(GatewayError::NoStatus)?;
        Ok(RestLayer {
            shared: Arc::new(Shared {
                routes,
                status,
                kms,
                audit,
                metrics,
            }),
        })
    }
}

/// The compiled descriptors, with `google.protobuf.Empty` added: operations answer it (binding
/// changes) although no compiled file imports it, the type being named only in an option
/// string; with it, `Any`s of it expand to `{"@type": …}`.
fn descriptor_pool() -> Result<DescriptorPool, GatewayError> {
    let mut pool = DescriptorPool::decode(signet_proto::FILE_DESCRIPTOR_SET)?;
    if pool.get_message_by_name("google.protobuf.Empty").is_none() {
        pool.add_file_descriptor_proto(prost_types::FileDescriptorProto {
            name: Some("google/protobuf/empty.proto".into()),
            package: Some("google.protobuf".into()),
            message_type: vec![prost_types::DescriptorProto {
                name: Some("Empty".into()),
                ..Default::default()
            }],
            syntax: Some("proto3".into()),
            ..Default::default()
        })?;
    }
    Ok(pool)
}

impl<S> tower::Layer<S> for RestLayer {
    type Service = RestService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RestService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RestService<S> {
    inner: S,
    shared: Arc<Shared>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> tower::Service<http::Request<Body>> for RestService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let is_grpc = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        if is_grpc {
            return Box::pin(self.inner.call(req));
        }
        // The inner service was made ready for this call; a clone takes its place.
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        let shared = Arc::clone(&self.shared);
        Box::pin(async move { Ok(shared.handle(inner, req).await) })
    }
}

/// A gateway-level failure, answered as a `google.rpc.Status` JSON body.
struct Reject {
    code: tonic::Code,
    http: http::StatusCode,
    message: String,
}

impl Reject {
    fn new(code: tonic::Code, message: impl Into<String>) -> Reject {
        Reject {
            code,
            http: crate::error::http_status(code as i32),
            message: message.into(),
        }
    }
}

impl Shared {
    async fn handle<S>(&self, inner: S, req: http::Request<Body>) -> http::Response<Body>
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>,
    {
        let request_id = RequestId::from_header(req.headers().get("x-request-id"));
        let path = req.uri().path().to_owned();
        match (req.method(), path.as_str()) {
            (&http::Method::GET, "/healthz") => return plain(http::StatusCode::OK, "ok\n"),
            (&http::Method::GET, "/readyz") => return self.readiness().await,
            (&http::Method::GET, "/metrics") => return self.metrics.render_response(&self.kms),
            _ => {}
        }
        let (route, vars) = match self.routes.find(req.method(), &path) {
            Match::Found(route, vars) => (route.clone(), vars),
            Match::WrongMethod(allowed) => {
                let allowed: Vec<&str> = allowed.iter().map(http::Method::as_str).collect();
                let mut resp = self.reject(
                    &request_id,
                    Reject {
                        code: tonic::Code::Unimplemented,
                        http: http::StatusCode::METHOD_NOT_ALLOWED,
                        message: format!(
                            "{} is not served on {path}; allowed: {}",
                            req.method(),
                            allowed.join(", ")
                        ),
                    },
                );
                if let Ok(v) = http::HeaderValue::from_str(&allowed.join(", ")) {
                    resp.headers_mut().insert(http::header::ALLOW, v);
                }
                return resp;
            }
            Match::NotFound => {
                return self.reject(
                    &request_id,
                    Reject::new(tonic::Code::NotFound, format!("no REST resource at {path}")),
                );
            }
        };
        match self.transcode_request(&route, vars, req).await {
            Ok(grpc_req) => match inner.oneshot(grpc_req).await {
                Ok(resp) => self.transcode_response(&route, resp).await,
                Err(never) => match never {},
            },
            Err((reject, client_addr)) => {
                // The call never reached the gRPC stack: record it here, as the call layer would.
                if let Err(e) = record_rejected(
                    &self.audit,
                    &route.grpc_path,
                    &request_id,
                    client_addr,
                    crate::audit::code_name(reject.code as i32),
                )
                .await
                {
                    let status = crate::error::to_status(&e.into(), &request_id);
                    return self.reject(&request_id, Reject::new(status.code(), status.message()));
                }
                self.reject(&request_id, reject)
            }
        }
    }

    /// Builds the gRPC request for `route` from the REST request.
    async fn transcode_request(
        &self,
        route: &Route,
        vars: Vec<(String, String)>,
        req: http::Request<Body>,
    ) -> Result<http::Request<Body>, (Reject, String)> {
        let client_addr = crate::audit::client_addr(&req);
        let (parts, body) = req.into_parts();
        let fail = |code, message: String| (Reject::new(code, message), client_addr.clone());
        let body = match http_body_util::Limited::new(body, MAX_REQUEST_BYTES)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(fail(
                    tonic::Code::OutOfRange,
                    format!("the request body is larger than {MAX_REQUEST_BYTES} bytes"),
                ));
            }
            Err(_) => {
                return Err(fail(
                    tonic::Code::Cancelled,
                    "the request body was cut off".into(),
                ));
            }
        };
        let message = request_message(route, vars, parts.uri.query(), &body)
            .map_err(|(code, message)| fail(code, message))?;
        let encoded = prost::Message::encode_to_vec(&message);
        let mut frame = Vec::with_capacity(encoded.len() + 5);
        frame.push(0);
        frame.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        frame.extend_from_slice(&encoded);

        let mut grpc = http::Request::new(Body::new(http_body_util::Full::new(Bytes::from(frame))));
        *grpc.method_mut() = http::Method::POST;
        *grpc.version_mut() = http::Version::HTTP_2;
        *grpc.uri_mut() = http::Uri::try_from(route.grpc_path.as_str())
            .map_err(|_| fail(tonic::Code::Internal, "bad route".into()))?;
        let headers = grpc.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        headers.insert(http::header::TE, http::HeaderValue::from_static("trailers"));
        for name in [http::header::AUTHORIZATION, http::header::USER_AGENT] {
            if let Some(v) = parts.headers.get(&name) {
                headers.insert(name, v.clone());
            }
        }
        if let Some(v) = parts.headers.get("x-request-id") {
            headers.insert("x-request-id", v.clone());
        }
        // Connection facts (the client's address, its TLS certificate) travel with the call.
        *grpc.extensions_mut() = parts.extensions;
        Ok(grpc)
    }

    /// Turns the gRPC answer into the REST one.
    async fn transcode_response(
        &self,
        route: &Route,
        resp: http::Response<Body>,
    ) -> http::Response<Body> {
        let (parts, body) = resp.into_parts();
        let request_id = RequestId::from_trusted(
            parts
                .headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
        );
        let collected = match body.collect().await {
            Ok(c) => c,
            Err(status) => {
                return self.reject(&request_id, Reject::new(status.code(), status.message()));
            }
        };
        let trailers = collected.trailers().cloned().unwrap_or_default();
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .or_else(|| trailers.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let code: i32 = header("grpc-status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(tonic::Code::Unknown as i32);
        let mut out = if code == 0 {
            let mut data = collected.to_bytes();
            match decode_frame(&mut data)
                .and_then(|m| DynamicMessage::decode(route.output.clone(), m).ok())
                .and_then(|m| serde_json::to_vec(&m).ok())
            {
                Some(json) => json_response(http::StatusCode::OK, json),
                None => self.reject(
                    &request_id,
                    Reject::new(
                        tonic::Code::Internal,
                        "the answer could not be encoded as JSON",
                    ),
                ),
            }
        } else {
            let http_status = crate::error::http_status(code);
            let details = header("grpc-status-details-bin")
                .and_then(|b| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(b.trim_end_matches('='))
                        .ok()
                })
                .and_then(|b| DynamicMessage::decode(self.status.clone(), b.as_slice()).ok())
                .and_then(|m| serde_json::to_value(&m).ok());
            let body = match details {
                Some(Value::Object(mut status)) => {
                    // proto3 JSON leaves out empty fields; the REST error always has all three.
                    status.entry("code").or_insert(Value::from(code));
                    status.entry("message").or_insert(Value::from(""));
                    status.entry("details").or_insert(Value::Array(Vec::new()));
                    Value::Object(status)
                }
                _ => {
                    let message = header("grpc-message")
                        .map(|m| {
                            percent_encoding::percent_decode_str(&m)
                                .decode_utf8_lossy()
                                .into_owned()
                        })
                        .unwrap_or_default();
                    error_body(code, &message, &request_id)
                }
            };
            json_response(http_status, serde_json::to_vec(&body).unwrap_or_default())
        };
        for name in ["x-request-id", "x-server-trace-id"] {
            if let Some(v) = parts.headers.get(name) {
                out.headers_mut().insert(name, v.clone());
            }
        }
        out
    }

    fn reject(&self, request_id: &RequestId, reject: Reject) -> http::Response<Body> {
        // The message may quote what the client sent (a JSON parser's error names the value it
        // could not read, which can be part of a message to sign): it goes back to the client,
        // never to the log.
        tracing::debug!(request_id = %request_id, code = ?reject.code, "REST request rejected by the gateway");
        let body = error_body(reject.code as i32, &reject.message, request_id);
        let mut resp = json_response(reject.http, serde_json::to_vec(&body).unwrap_or_default());
        if let Ok(v) = http::HeaderValue::from_str(request_id.as_str()) {
            resp.headers_mut().insert("x-request-id", v);
        }
        resp
    }

    /// Ready when the store answers and holds the check value of the root key in use.
    async fn readiness(&self) -> http::Response<Body> {
        let expected = self.kms.vault().root().check_value();
        match self
            .kms
            .store()
            .get_meta(signet_core::bootstrap::META_ROOT_KEY_CHECK)
            .await
        {
            Ok(Some(stored)) if stored == expected => plain(http::StatusCode::OK, "ready\n"),
            Ok(_) => plain(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the store does not belong to this root key\n",
            ),
            Err(_) => plain(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the store is unavailable\n",
            ),
        }
    }
}

fn is_empty_object(body: &[u8]) -> bool {
    matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(o)) if o.is_empty())
}

/// A REST error body: `{code, message, details}` with the request id as a RequestInfo detail.
fn error_body(code: i32, message: &str, request_id: &RequestId) -> Value {
    serde_json::json!({
        "code": code,
        "message": message,
        "details": [{
            "@type": "type.googleapis.com/google.rpc.RequestInfo",
            "requestId": request_id.as_str(),
        }],
    })
}

/// The request message of `route` from the REST request's path variables, query string and
/// body, by the proto3 JSON mapping; a refusal names the code and says why. Pure, so that the
/// fuzz properties can drive it directly.
fn request_message(
    route: &Route,
    vars: Vec<(String, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, (tonic::Code, String)> {
    let invalid = |message: String| (tonic::Code::InvalidArgument, message);
    let mut fields = if route.body && !body.is_empty() {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(invalid("the request body must be a JSON object".into())),
            Err(e) => return Err(invalid(format!("the request body is not valid JSON: {e}"))),
        }
    } else if !body.is_empty() && !is_empty_object(body) {
        // A bodiless route (GET rules, and the POST binding of Cancel) takes nothing but an
        // empty object, which POST clients often send.
        return Err(invalid(format!(
            "{} {} takes no request body",
            route.verb, route.grpc_path
        )));
    } else {
        Map::new()
    };
    if let Some(query) = query {
        add_query(&route.input, query, &mut fields).map_err(invalid)?;
    }
    let path_fields: Vec<String> = vars.iter().map(|(f, _)| f.clone()).collect();
    for (field, value) in vars {
        let name = route
            .input
            .get_field_by_name(&field)
            .map_or(field.clone(), |f| f.json_name().to_owned());
        fields.remove(&field);
        fields.insert(name, Value::String(value));
    }
    default_update_mask(&route.input, &path_fields, &mut fields);
    DynamicMessage::deserialize_with_options(
        route.input.clone(),
        Value::Object(fields),
        &DeserializeOptions::new(),
    )
    .map_err(|e| invalid(format!("invalid request: {e}")))
}

/// The message bytes of a single uncompressed gRPC frame.
fn decode_frame(data: &mut Bytes) -> Option<Bytes> {
    if data.len() < 5 || data[0] != 0 {
        return None;
    }
    data.advance(1);
    let len = data.get_u32() as usize;
    (data.len() == len).then(|| data.split_to(len))
}

/// Message types a query parameter may set, by their proto3 JSON string form.
const STRING_WKTS: [&str; 3] = [
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
];

/// Adds query parameters (by JSON or proto field name) to the request fields. Values are
/// strings, as the proto3 JSON mapping accepts for numbers and enums; booleans are converted.
fn add_query(
    input: &MessageDescriptor,
    query: &str,
    fields: &mut Map<String, Value>,
) -> Result<(), String> {
    for (name, value) in form_pairs(query) {
        let field = input
            .get_field_by_json_name(&name)
            .or_else(|| input.get_field_by_name(&name))
            .ok_or_else(|| format!("unknown query parameter {name:?}"))?;
        let value = match field.kind() {
            Kind::Bool => match value.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(format!("query parameter {name:?} must be true or false")),
            },
            // Well-known types whose JSON form is a string (RFC 3339 times, durations, field
            // masks) are written as that string, as Google's HTTP mapping allows.
            Kind::Message(m) if STRING_WKTS.contains(&m.full_name()) => Value::String(value),
            Kind::Message(_) => {
                return Err(format!("query parameter {name:?} names a message field"));
            }
            _ => Value::String(value),
        };
        let key = field.json_name().to_owned();
        if field.is_list() {
            match fields
                .entry(key)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(list) => list.push(value),
                _ => return Err(format!("query parameter {name:?} given twice")),
            }
        } else if fields.insert(key, value).is_some() {
            return Err(format!("query parameter {name:?} given twice"));
        }
    }
    Ok(())
}

/// `application/x-www-form-urlencoded` pairs, `+` as space.
fn form_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        (decode(k), decode(v))
    })
}

/// Yandex's REST update semantics: without an `updateMask`, every updatable field is
/// overwritten with what the body says (absent ones with their defaults). The mask then names
/// all fields but the resource id taken from the path, and enums absent from the body (an
/// enum's default is "unspecified", never a value to write).
fn default_update_mask(
    input: &MessageDescriptor,
    path_fields: &[String],
    fields: &mut Map<String, Value>,
) {
    let Some(mask) = input.get_field_by_name("update_mask") else {
        return;
    };
    if fields.contains_key(mask.json_name()) || fields.contains_key(mask.name()) {
        return;
    }
    let paths: Vec<String> = input
        .fields()
        .filter(|f| f.name() != mask.name() && !path_fields.iter().any(|p| p == f.name()))
        .filter(|f| {
            !matches!(f.kind(), Kind::Enum(_))
                || fields.contains_key(f.json_name())
                || fields.contains_key(f.name())
        })
        .map(|f| f.json_name().to_owned())
        .collect();
    fields.insert(mask.json_name().to_owned(), Value::String(paths.join(",")));
}

fn json_response(status: http::StatusCode, body: Vec<u8>) -> http::Response<Body> {
    let mut resp = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from(body))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn plain(status: http::StatusCode, text: &'static str) -> http::Response<Body> {
    let mut resp = http::Response::new(Body::new(http_body_util::Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// The gateway's request decoding, exposed for the fuzz harnesses of `signet-fuzz` only: not
/// an API (hidden from the documentation; nothing in the server calls it).
#[doc(hidden)]
pub mod fuzzing {
    pub use super::routes::Route;
    use super::{DynamicMessage, GatewayError, Routes, descriptor_pool};

    /// Why the gateway refused a request: the gRPC code number and the message it would send.
    #[derive(Debug)]
    pub struct Refusal {
        pub code: i32,
        pub message: String,
    }

    /// Every REST route, as the gateway reads them from the descriptors.
    #[derive(Debug)]
    pub struct RestDecoding {
        routes: Routes,
    }

    impl RestDecoding {
        pub fn new() -> Result<RestDecoding, GatewayError> {
            Ok(RestDecoding {
                routes: Routes::from_pool(&descriptor_pool()?)?,
            })
        }

        pub fn routes(&self) -> &[Route] {
            self.routes.all()
        }

        /// What the gateway makes of a request to `route` with these path variables, query
        /// string and body: the request message, or its refusal.
        pub fn request_message(
            &self,
            route: &Route,
            vars: Vec<(String, String)>,
            query: Option<&str>,
            body: &[u8],
        ) -> Result<DynamicMessage, Refusal> {
            super::request_message(route, vars, query, body).map_err(|(code, message)| Refusal {
                code: code as i32,
                message,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(signet_proto::FILE_DESCRIPTOR_SET).unwrap()
    }

    fn input(name: &str) -> MessageDescriptor {
        pool().get_message_by_name(name).unwrap()
    }

    #[test]
    fn query_parameters_map_to_fields() {
        let list =
            input("yandex.cloud.kms.v1.asymmetricsignature.ListAsymmetricSignatureKeysRequest");
        let mut fields = Map::new();
        add_query(
            &list,
            "folderId=b1g&page_size=5&pageToken=a%2Bb+c",
            &mut fields,
        )
        .unwrap();
        assert_eq!(
            Value::Object(fields.clone()),
            serde_json::json!({"folderId": "b1g", "pageSize": "5", "pageToken": "a+b c"})
        );
        let message = DynamicMessage::deserialize_with_options(
            list.clone(),
            Value::Object(fields),
            &DeserializeOptions::new(),
        )
        .unwrap();
        assert_eq!(
            message.get_field_by_name("page_size").unwrap().as_i64(),
            Some(5)
        );

        for bad in ["nope=1", "folderId=a&folderId=b"] {
            assert!(add_query(&list, bad, &mut Map::new()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_timestamp_query_parameter_takes_its_json_string_and_other_messages_are_refused() {
        let audit = input("signet.audit.v1.ListAuditRecordsRequest");
        let mut fields = Map::new();
        add_query(
            &audit,
            "since=2026-01-31T00:00:01Z&folderId=b1g",
            &mut fields,
        )
        .unwrap();
        let message = DynamicMessage::deserialize_with_options(
            audit,
            Value::Object(fields),
            &DeserializeOptions::new(),
        )
        .unwrap();
        let since = message.get_field_by_name("since").unwrap();
        let since = since.as_message().unwrap();
        assert_eq!(
            since.get_field_by_name("seconds").unwrap().as_i64(),
            Some(1_769_817_601)
        );
        let create =
            input("yandex.cloud.kms.v1.asymmetricsignature.CreateAsymmetricSignatureKeyRequest");
        let refused = add_query(&create, "labels=a", &mut Map::new()).unwrap_err();
        assert!(refused.contains("message field"), "{refused}");
    }

    #[test]
    fn missing_update_mask_overwrites_every_field_but_the_id_and_absent_enums() {
        let update =
            input("yandex.cloud.kms.v1.asymmetricsignature.UpdateAsymmetricSignatureKeyRequest");
        let mask_for = |body: Value| {
            let mut fields = body.as_object().unwrap().clone();
            default_update_mask(&update, &["key_id".to_owned()], &mut fields);
            fields["updateMask"].clone()
        };
        let cases = [
            (
                serde_json::json!({"name": "n"}),
                "name,description,labels,deletionProtection",
            ),
            (
                serde_json::json!({"status": "INACTIVE"}),
                "name,description,status,labels,deletionProtection",
            ),
            (serde_json::json!({"updateMask": "name"}), "name"),
        ];
        for (body, mask) in cases {
            assert_eq!(mask_for(body), mask);
        }
    }

    #[test]
    fn frames_decode_only_when_whole() {
        let mut ok = Bytes::from_static(&[0, 0, 0, 0, 2, 8, 1]);
        assert_eq!(decode_frame(&mut ok).as_deref(), Some(&[8u8, 1][..]));
        for bad in [&[0u8, 0, 0, 0, 3, 8, 1][..], &[1, 0, 0, 0, 0], &[0, 0]] {
            assert!(decode_frame(&mut Bytes::copy_from_slice(bad)).is_none());
        }
    }

    fn all_routes() -> Vec<Route> {
        let pool = pool();
        let routes = Routes::from_pool(&pool).unwrap();
        routes.all().to_vec()
    }

    use proptest::prelude::Strategy as _;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any body and query, on any route: a clean refusal or a message, never a panic; and
        /// what is accepted encodes and decodes as the route's request type, and its own JSON
        /// form is accepted again as the same message.
        #[test]
        fn rest_decoding_never_panics_and_round_trips(
            route in 0usize..64,
            id in "[a-z0-9%'./]{1,24}",
            query in proptest::option::of("[a-zA-Z_=&%0-9+-]{0,40}"),
            body in proptest::prop_oneof![
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
                "\\{(\"[a-zA-Z_]{1,12}\": ?(\"[A-Za-z0-9+/=]{0,12}\"|-?[0-9]{1,20}|true|null|\\[\\]|\\{\\}),? ?){0,4}\\}"
                    .prop_map(String::into_bytes),
            ],
        ) {
            let routes = all_routes();
            let route = &routes[route % routes.len()];
            let vars: Vec<(String, String)> = route
                .variables()
                .map(|f| (f.to_owned(), id.clone()))
                .collect();
            if let Ok(message) = request_message(route, vars, query.as_deref(), &body) {
                let bytes = prost::Message::encode_to_vec(&message);
                let back = DynamicMessage::decode(route.input.clone(), bytes.as_slice()).unwrap();
                proptest::prop_assert_eq!(&back, &message);
                let json = serde_json::to_value(&message).unwrap();
                let again = DynamicMessage::deserialize_with_options(
                    route.input.clone(),
                    json,
                    &DeserializeOptions::new(),
                )
                .unwrap();
                proptest::prop_assert_eq!(again, message);
            }
        }
    }

    #[test]
    fn unknown_body_fields_are_refused() {
        let sign = input("yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignRequest");
        let err = DynamicMessage::deserialize_with_options(
            sign,
            serde_json::json!({"keyId": "abj", "mesage": "AA=="}),
            &DeserializeOptions::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("mesage"), "{err}");
    }
}
