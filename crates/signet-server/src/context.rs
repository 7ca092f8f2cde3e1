//! Per-request context: the request id (from the client's `x-request-id` or freshly made),
//! echoed in `x-request-id` and `x-server-trace-id` response headers, and authentication of the
//! `authorization` header, the one path every authenticated call goes through.

use signet_core::Kms;
use signet_core::auth::Principal;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The id of one request, for logs, error details and response headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// Accepts a client-sent id if it is 1–128 visible ASCII characters; else makes a new one.
    fn from_header(value: Option<&http::HeaderValue>) -> RequestId {
        match value.and_then(|v| v.to_str().ok()) {
            Some(s)
                if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                RequestId(s.to_owned())
            }
            _ => RequestId::generate(),
        }
    }

    pub fn generate() -> RequestId {
        let mut b = [0u8; 16];
        // A failing RNG leaves zeros: the id is a correlation handle, not a secret.
        let _ = signet_crypto::fill_random(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        RequestId(format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        ))
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

/// Tower layer that assigns ids and writes the response headers.
#[derive(Clone, Debug, Default)]
pub struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for RequestIdService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: Default,
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
        let span =
            tracing::info_span!("request", request_id = %request_id, path = %req.uri().path());
        let fut = self.inner.call(req);
        Box::pin(async move {
            use futures_util::FutureExt as _;
            use tracing::Instrument as _;
            // A panic in a handler fails that one call with INTERNAL; the server goes on.
            let outcome = std::panic::AssertUnwindSafe(fut.instrument(span))
                .catch_unwind()
                .await;
            let mut resp = match outcome {
                Ok(result) => result?,
                Err(_) => {
                    tracing::error!(request_id = %request_id, "a handler panicked; answering INTERNAL");
                    internal_error_response()
                }
            };
            if let Ok(v) = http::HeaderValue::from_str(request_id.as_str()) {
                resp.headers_mut().insert("x-request-id", v);
            }
            if let Ok(v) = http::HeaderValue::from_str(&trace_id.0) {
                resp.headers_mut().insert("x-server-trace-id", v);
            }
            Ok(resp)
        })
    }
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
}

impl CallContext {
    /// Authenticates a gRPC call.
    pub async fn authenticate<T>(
        kms: &Kms,
        request: &tonic::Request<T>,
    ) -> Result<CallContext, tonic::Status> {
        let request_id = request_id_of(request);
        let header = request
            .metadata()
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("<invalid>"));
        match kms.authenticate(header).await {
            Ok(principal) => Ok(CallContext {
                request_id,
                principal,
            }),
            Err(e) => Err(crate::error::to_status(&e, &request_id)),
        }
    }

    pub fn fail(&self, error: impl Into<signet_core::CoreError>) -> tonic::Status {
        crate::error::to_status(&error.into(), &self.request_id)
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

    #[tokio::test]
    async fn ids_are_echoed_or_generated_and_panics_become_internal() {
        let ok = tower::service_fn(|req: http::Request<()>| async move {
            assert!(req.extensions().get::<RequestId>().is_some());
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        });
        let mut svc = RequestIdLayer.layer(ok);
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
        let mut svc = RequestIdLayer.layer(panicking);
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
}
