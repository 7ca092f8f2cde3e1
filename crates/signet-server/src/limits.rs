//! Per-request resource limits, answered with RESOURCE_EXHAUSTED and a `QuotaFailure` naming
//! the limit:
//!
//! - **requests in flight** (`max_concurrent_requests`): [`LimitsLayer`] sheds a request that
//!   arrives while the limit is reached, instead of queueing it, so that memory (up to 1 MiB per
//!   request) and work stay bounded under a flood. A request counts from the arrival of its
//!   headers until its answer is ready, so a client sending its body slowly holds its place
//!   only until the request deadline (`request_timeout`, applied by tonic) ends it;
//! - **requests in flight per client address** (`max_requests_per_client`, 256 by default):
//!   the same, counted per peer IP address, so that one client holding slow requests open
//!   cannot take every place of the server-wide limit; a refused request takes no place;
//! - **calls per second per subject** (`rate_limit`, `rate_limit_burst`; off by default): a
//!   token bucket per authenticated subject (service account, or the admin), checked by
//!   [`crate::context::CallContext::authenticate`] right after authentication. Calls that
//!   carry their own credential instead of a token (the IAM token exchange, endpoint discovery)
//!   are not counted there;
//! - **IAM token exchanges per second per client address** (`token_exchange_rate`,
//!   `token_exchange_burst`; 20/s with bursts of 40 by default): a token bucket per peer IP
//!   address for `IamTokenService/Create`, the one call that needs no token, so that it
//!   cannot be used to guess at JWTs or to load the server with signature checks unhindered.
//!
//! The layer sits inside the call layer, so a shed request still gets its request id and its
//! audit record.

use crate::context::RequestId;
use parking_lot::Mutex;
use signet_core::CoreError;
use signet_core::domain::{Clock, Timestamp};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::Semaphore;

/// The limit on requests in flight, as its QuotaFailure names it.
pub const IN_FLIGHT_QUOTA: &str = "signet.requests.inFlight";
/// The per-subject rate limit, as its QuotaFailure names it.
pub const RATE_QUOTA: &str = "signet.requests.perSecond";
/// The limit on one client address's requests in flight, as its QuotaFailure names it.
pub const CLIENT_IN_FLIGHT_QUOTA: &str = "signet.requests.inFlightPerClient";
/// The per-address rate limit of the IAM token exchange, as its QuotaFailure names it.
pub const TOKEN_EXCHANGE_QUOTA: &str = "signet.iamTokens.createPerSecond";
/// Default of `max_concurrent_requests`.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: u32 = 1024;
/// Default of `max_requests_per_client`: a quarter of the default server-wide limit.
pub const DEFAULT_MAX_REQUESTS_PER_CLIENT: u32 = 256;
/// Default of `token_exchange_rate` / `token_exchange_burst`.
pub const DEFAULT_TOKEN_EXCHANGE_RATE: RateLimit = RateLimit {
    per_second: 20,
    burst: 40,
};
/// The RPC limited by the token exchange rate: it takes a JWT instead of a bearer token.
const TOKEN_EXCHANGE_PATH: &str = "/yandex.cloud.iam.v1.IamTokenService/Create";
/// How many subjects' (or addresses') buckets are kept; the least recently seen are forgotten
/// (a forgotten one starts again with a full bucket).
const MAX_TRACKED_SUBJECTS: usize = 100_000;

/// Validated limit settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    pub max_concurrent_requests: u32,
    /// `None`: no per-client limit of requests in flight.
    pub max_requests_per_client: Option<u32>,
    /// `None`: no per-subject rate limit (the default).
    pub rate_limit: Option<RateLimit>,
    /// `None`: no per-address rate limit of the IAM token exchange.
    pub token_exchange_rate: Option<RateLimit>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_requests_per_client: Some(DEFAULT_MAX_REQUESTS_PER_CLIENT),
            rate_limit: None,
            token_exchange_rate: Some(DEFAULT_TOKEN_EXCHANGE_RATE),
        }
    }
}

/// A token bucket: `per_second` tokens a second, at most `burst` saved up. Both at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// A rate limiter with one bucket per subject (or client address). Time comes from the
/// injected clock.
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    clock: Arc<dyn Clock>,
    /// The limit and the prefix of what it applies to, as a refusal's QuotaFailure names them.
    quota: &'static str,
    prefix: &'static str,
    buckets: Mutex<lru::LruCache<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Timestamp,
}

impl RateLimiter {
    /// The per-subject rate limiter.
    pub fn new(limit: RateLimit, clock: Arc<dyn Clock>) -> RateLimiter {
        RateLimiter::named(limit, clock, RATE_QUOTA, "subject")
    }

    /// A rate limiter whose refusals name `quota` and `PREFIX:<key>`.
    pub fn named(
        limit: RateLimit,
        clock: Arc<dyn Clock>,
        quota: &'static str,
        prefix: &'static str,
    ) -> RateLimiter {
        RateLimiter {
            limit,
            clock,
            quota,
            prefix,
            buckets: Mutex::new(signet_core::cache::bounded_lru(MAX_TRACKED_SUBJECTS)),
        }
    }

    /// Takes one call from `subject`'s bucket, or refuses it.
    pub fn check(&self, subject: &str) -> Result<(), CoreError> {
        let now = self.clock.now();
        let burst = f64::from(self.limit.burst);
        let mut buckets = self.buckets.lock();
        // Looked up by reference first: a subject's name is copied only for its first call.
        let bucket = match buckets.get_mut(subject) {
            Some(bucket) => bucket,
            None => buckets.get_or_insert_mut(subject.to_owned(), || Bucket {
                tokens: burst,
                at: now,
            }),
        };
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
                quota: self.quota,
                subject: format!("{}:{subject}", self.prefix),
                limit: self.limit.per_second,
            })
        }
    }
}

/// The rate limiter, as the limits layer hands it to the call's authentication (a request
/// extension).
#[derive(Clone, Debug)]
pub struct SubjectRateLimit(pub Arc<RateLimiter>);

/// Requests in flight per client address. Only addresses with a request in flight have an
/// entry, so the map is never larger than the server-wide limit.
#[derive(Debug)]
struct ClientSlots {
    max: u32,
    held: Mutex<HashMap<IpAddr, u32>>,
}

/// One place of a client's, given back when dropped.
#[derive(Debug)]
struct ClientSlot {
    slots: Arc<ClientSlots>,
    ip: IpAddr,
}

impl ClientSlots {
    fn try_take(slots: &Arc<ClientSlots>, ip: IpAddr) -> Option<ClientSlot> {
        let mut held = slots.held.lock();
        let n = held.entry(ip).or_insert(0);
        if *n >= slots.max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            slots: Arc::clone(slots),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock();
        if let Some(n) = held.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

/// Tower layer applying the limits (see the module documentation).
#[derive(Clone, Debug)]
pub struct LimitsLayer {
    in_flight: Arc<Semaphore>,
    max_in_flight: u32,
    per_client: Option<Arc<ClientSlots>>,
    rate: Option<SubjectRateLimit>,
    token_exchange: Option<Arc<RateLimiter>>,
}

impl LimitsLayer {
    pub fn new(settings: &LimitSettings, clock: Arc<dyn Clock>) -> LimitsLayer {
        LimitsLayer {
            in_flight: Arc::new(Semaphore::new(settings.max_concurrent_requests as usize)),
            max_in_flight: settings.max_concurrent_requests,
            per_client: settings.max_requests_per_client.map(|max| {
                Arc::new(ClientSlots {
                    max,
                    held: Mutex::new(HashMap::new()),
                })
            }),
            rate: settings.rate_limit.map(|limit| {
                SubjectRateLimit(Arc::new(RateLimiter::new(limit, Arc::clone(&clock))))
            }),
            token_exchange: settings.token_exchange_rate.map(|limit| {
                Arc::new(RateLimiter::named(
                    limit,
                    clock,
                    TOKEN_EXCHANGE_QUOTA,
                    "client",
                ))
            }),
        }
    }
}

/// The client's IP address (IPv4-mapped IPv6 addresses as IPv4), if the request came over a
/// connection.
fn client_ip<B>(req: &http::Request<B>) -> Option<IpAddr> {
    crate::audit::peer_addr(req).map(|a| a.ip().to_canonical())
}

/// The answer to a request refused by a limit: RESOURCE_EXHAUSTED with the QuotaFailure and
/// the request id.
fn refuse<B, RB: Default>(req: &http::Request<B>, refused: &CoreError) -> http::Response<RB> {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    tracing::warn!(request_id = %request_id, error = %refused, "request refused by a limit");
    crate::error::to_status(refused, &request_id).into_http()
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
        let refused = |req: &http::Request<B>, error: CoreError| -> Self::Future {
            Box::pin(std::future::ready(Ok(refuse(req, &error))))
        };
        let ip = client_ip(&req);
        // The client's own place first, so that a client over its share takes none of the
        // server's.
        let client_slot = match (&self.limits.per_client, ip) {
            (Some(slots), Some(ip)) => match ClientSlots::try_take(slots, ip) {
                Some(slot) => Some(slot),
                None => {
                    let error = CoreError::QuotaExceeded {
                        quota: CLIENT_IN_FLIGHT_QUOTA,
                        subject: format!("client:{ip}"),
                        limit: slots.max,
                    };
                    return refused(&req, error);
                }
            },
            _ => None,
        };
        let Ok(permit) = Arc::clone(&self.limits.in_flight).try_acquire_owned() else {
            let error = CoreError::QuotaExceeded {
                quota: IN_FLIGHT_QUOTA,
                subject: "server".to_owned(),
                limit: self.limits.max_in_flight,
            };
            return refused(&req, error);
        };
        if let (Some(limiter), Some(ip)) = (&self.limits.token_exchange, ip)
            && req.uri().path() == TOKEN_EXCHANGE_PATH
            && let Err(error) = limiter.check(&ip.to_string())
        {
            return refused(&req, error);
        }
        if let Some(rate) = &self.limits.rate {
            req.extensions_mut().insert(rate.clone());
        }
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            drop(permit);
            drop(client_slot);
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
            ..LimitSettings::default()
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
                ..LimitSettings::default()
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
