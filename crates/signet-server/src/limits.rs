//! Per-request resource limits, answered with RESOURCE_EXHAUSTED and a `QuotaFailure` naming
//! the limit:
//!
//! - **requests in flight** (`max_concurrent_requests`): [`LimitsLayer`] sheds a request that
//!   arrives while the limit is reached, instead of queueing it, so that memory (up to 1 MiB per
//!   request) and work stay bounded under a flood. A request counts from the arrival of its
//!   headers until its answer is ready, so a client sending its body slowly holds its place
//!   only until the request deadline (`request_timeout`, applied by tonic) ends it;
//! - **calls per second per subject** (`rate_limit`, `rate_limit_burst`; off by default): a
//!   token bucket per authenticated subject (service account, or the admin), checked by
//!   [`crate::context::CallContext::authenticate`] right after authentication. Calls that
//!   carry their own credential instead of a token (the IAM token exchange, endpoint discovery)
//!   are limited by the in-flight limit only.
//!
//! The layer sits inside the call layer, so a shed request still gets its request id and its
//! audit record.

use crate::context::RequestId;
use parking_lot::Mutex;
use signet_core::CoreError;
use signet_core::domain::{Clock, Timestamp};
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Semaphore;

/// The limit on requests in flight, as its QuotaFailure names it.
pub const IN_FLIGHT_QUOTA: &str = "signet.requests.inFlight";
/// The per-subject rate limit, as its QuotaFailure names it.
pub const RATE_QUOTA: &str = "signet.requests.perSecond";
/// Default of `max_concurrent_requests`.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: u32 = 1024;
/// How many subjects' buckets are kept; the least recently seen are forgotten (a forgotten
/// subject starts again with a full bucket).
const MAX_TRACKED_SUBJECTS: usize = 100_000;

/// Validated limit settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    pub max_concurrent_requests: u32,
    /// `None`: no per-subject rate limit (the default).
    pub rate_limit: Option<RateLimit>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            rate_limit: None,
        }
    }
}

/// A token bucket: `per_second` tokens a second, at most `burst` saved up. Both at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// The per-subject rate limiter. Time comes from the injected clock.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    clock: Arc<dyn Clock>,
    buckets: Mutex<lru::LruCache<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

impl RateLimiter {
    pub fn new(limit: RateLimit, clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter {
            limit,
            clock,
            buckets: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(MAX_TRACKED_SUBJECTS).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// Takes one call from `subject`'s bucket, or refuses it.
    pub fn check(&self, subject: &str) -> Result<(), CoreError> {
        let now = self.clock.now();
        let burst = f64::from(self.limit.burst);
        let mut buckets = self.buckets.lock();
        let bucket = buckets.get_or_insert_mut(subject.to_owned(), || Bucket {
            tokens: burst,
            at: now,
        });
        // A clock that steps back refills nothing (and is not held against the caller).
        let elapsed_us = (now.as_micros() - bucket.at.as_micros()).max(0);
        let refill = elapsed_us as f64 / 1e6 * f64::from(self.limit.per_second);
        bucket.tokens = (bucket.tokens + refill).min(burst);
        if now > bucket.at {
            bucket.at = now;
        }
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(CoreError::QuotaExceeded {
                quota: RATE_QUOTA,
                subject: format!("subject:{subject}"),
                limit: self.limit.per_second,
            })
        }
    }
}

/// The rate limiter, as the limits layer hands it to the call's authentication (a request
/// extension).
#[derive(Clone, Debug)]
pub struct SubjectRateLimit(pub Arc<RateLimiter>);

/// Tower layer applying the limits (see the module documentation).
#[derive(Clone, Debug)]
pub struct LimitsLayer {
    in_flight: Arc<Semaphore>,
    max_in_flight: u32,
    rate: Option<SubjectRateLimit>,
}

impl LimitsLayer {
    pub fn new(settings: &LimitSettings, clock: Arc<dyn Clock>) -> LimitsLayer {
        LimitsLayer {
            in_flight: Arc::new(Semaphore::new(settings.max_concurrent_requests as usize)),
            max_in_flight: settings.max_concurrent_requests,
            rate: settings
                .rate_limit
                .map(|limit| SubjectRateLimit(Arc::new(RateLimiter::new(limit, clock)))),
        }
    }
}

impl<S> tower::Layer<S> for LimitsLayer {
    type Service = LimitsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        LimitsService {
            inner,
            limits: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct LimitsService<S> {
    inner: S,
    limits: LimitsLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> tower::Service<http::Request<B>> for LimitsService<S>
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
        let Ok(permit) = Arc::clone(&self.limits.in_flight).try_acquire_owned() else {
            let request_id = req
                .extensions()
                .get::<RequestId>()
                .cloned()
                .unwrap_or_else(RequestId::generate);
            tracing::warn!(
                request_id = %request_id,
                limit = self.limits.max_in_flight,
                "too many requests in flight; shedding one"
            );
            let refused = CoreError::QuotaExceeded {
                quota: IN_FLIGHT_QUOTA,
                subject: "server".to_owned(),
                limit: self.limits.max_in_flight,
            };
            let response = crate::error::to_status(&refused, &request_id).into_http();
            return Box::pin(std::future::ready(Ok(response)));
        };
        if let Some(rate) = &self.limits.rate {
            req.extensions_mut().insert(rate.clone());
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            drop(permit);
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_core::domain::ManualClock;
    use std::time::Duration;
    use tonic_types::StatusExt;
    use tower::{Layer, Service, ServiceExt};

    fn limiter(per_second: u32, burst: u32) -> (RateLimiter, ManualClock) {
        let clock = ManualClock::new(Timestamp::from_micros(1_700_000_000_000_000));
        let limiter = RateLimiter::new(RateLimit { per_second, burst }, Arc::new(clock.clone()));
        (limiter, clock)
    }

    #[test]
    fn the_bucket_holds_a_burst_and_refills_at_the_rate() {
        let (limiter, clock) = limiter(2, 5);
        for _ in 0..5 {
            limiter.check("aje1").unwrap();
        }
        let refused = limiter.check("aje1").unwrap_err();
        assert!(matches!(
            &refused,
            CoreError::QuotaExceeded { quota: RATE_QUOTA, subject, limit: 2 } if subject == "subject:aje1"
        ));
        // Another subject has its own bucket.
        limiter.check("aje2").unwrap();
        // Half a second brings one call back; two seconds at most the burst.
        clock.advance(Duration::from_millis(500));
        limiter.check("aje1").unwrap();
        assert!(limiter.check("aje1").is_err());
        clock.advance(Duration::from_secs(3600));
        for _ in 0..5 {
            limiter.check("aje1").unwrap();
        }
        assert!(limiter.check("aje1").is_err());
    }

    #[test]
    fn a_clock_stepping_back_refills_nothing() {
        let (limiter, clock) = limiter(1, 1);
        clock.advance(Duration::from_secs(10));
        limiter.check("aje1").unwrap();
        clock.set(Timestamp::from_micros(1_600_000_000_000_000));
        assert!(limiter.check("aje1").is_err());
        clock.set(Timestamp::from_micros(1_700_000_010_000_000));
        assert!(
            limiter.check("aje1").is_err(),
            "no refill for the time repaid"
        );
        clock.advance(Duration::from_secs(1));
        limiter.check("aje1").unwrap();
    }

    /// A service whose calls finish when the test says so.
    fn gated() -> (
        impl Service<
            http::Request<()>,
            Response = http::Response<String>,
            Error = std::convert::Infallible,
            Future = impl Send,
        > + Clone,
        Arc<tokio::sync::Notify>,
    ) {
        let gate = Arc::new(tokio::sync::Notify::new());
        let g = Arc::clone(&gate);
        let svc = tower::service_fn(move |_req: http::Request<()>| {
            let g = Arc::clone(&g);
            async move {
                g.notified().await;
                Ok::<_, std::convert::Infallible>(http::Response::new("done".to_owned()))
            }
        });
        (svc, gate)
    }

    #[tokio::test]
    async fn requests_beyond_the_in_flight_limit_are_shed_until_one_finishes() {
        let settings = LimitSettings {
            max_concurrent_requests: 2,
            rate_limit: None,
        };
        let clock = Arc::new(ManualClock::new(Timestamp::from_micros(0)));
        let (inner, gate) = gated();
        let mut svc = LimitsLayer::new(&settings, clock).layer(inner);
        let first = svc.ready().await.unwrap().call(http::Request::new(()));
        let second = svc.ready().await.unwrap().call(http::Request::new(()));
        let mut req = http::Request::new(());
        req.extensions_mut()
            .insert(RequestId::from_trusted("shed-1".into()));
        let shed = svc.ready().await.unwrap().call(req).await.unwrap();
        let status = tonic::Status::from_header_map(shed.headers()).unwrap();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(status.message().contains(IN_FLIGHT_QUOTA), "{status:?}");
        let details = status.get_error_details();
        assert_eq!(details.request_info().unwrap().request_id, "shed-1");
        assert_eq!(
            details.quota_failure().unwrap().violations[0].subject,
            "server"
        );

        // The two in flight finish; their places are free again.
        let done = tokio::spawn(async move { (first.await, second.await) });
        while !done.is_finished() {
            gate.notify_waiters();
            tokio::task::yield_now().await;
        }
        let (a, b) = done.await.unwrap();
        assert_eq!(a.unwrap().into_body(), "done");
        assert_eq!(b.unwrap().into_body(), "done");
        let third = svc.ready().await.unwrap().call(http::Request::new(()));
        let finished = tokio::spawn(third);
        while !finished.is_finished() {
            gate.notify_waiters();
            tokio::task::yield_now().await;
        }
        assert_eq!(finished.await.unwrap().unwrap().into_body(), "done");
    }

    #[tokio::test]
    async fn the_rate_limiter_reaches_the_call_only_when_configured() {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp::from_micros(0)));
        for (rate_limit, expect) in [
            (None, false),
            (
                Some(RateLimit {
                    per_second: 1,
                    burst: 1,
                }),
                true,
            ),
        ] {
            let settings = LimitSettings {
                max_concurrent_requests: 10,
                rate_limit,
            };
            let inner = tower::service_fn(|req: http::Request<()>| async move {
                let has = req.extensions().get::<SubjectRateLimit>().is_some();
                Ok::<_, std::convert::Infallible>(http::Response::new(has.to_string()))
            });
            let mut svc = LimitsLayer::new(&settings, Arc::clone(&clock)).layer(inner);
            let resp = svc
                .ready()
                .await
                .unwrap()
                .call(http::Request::new(()))
                .await
                .unwrap();
            assert_eq!(resp.into_body(), expect.to_string());
        }
    }
}
