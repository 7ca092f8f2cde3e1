//! The server's periodic background jobs. Each pass is safe to run on every node of a cluster at
//! once: the work inside is claimed through the store (`Store::try_claim`), so that one node does
//! it at a time, and a node that dies mid-job loses its claims to the others.
//!
//! - **Destruction** of the material of keys deleted longer ago than the deletion window
//!   (`Kms::destroy_expired_keys`, under the destruction job's claim).
//! - **Recovery** of interrupted operations (`Kms::recover_pending_operations`, one claim per
//!   operation): at start (in `app::start`, before serving), and on every later pass, so that the
//!   survivors of a cluster finish what a node that died had started, without waiting for it to
//!   come back.
//!
//! - **Cache sweep** (every [`CACHE_SWEEP_EVERY`], on every node: each has its own caches):
//!   cached keys, bindings and tokens nobody has used for a while are dropped
//!   (`Kms::sweep_caches`), so that memory follows what is in use.
//!
//! Audit checkpoints are the audit writer's (`signet_core::audit`), under a claim of their own.

use signet_core::Kms;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How often the caches are swept.
pub const CACHE_SWEEP_EVERY: Duration = Duration::from_secs(15);

/// Starts the periodic jobs; `every` is the time between passes (`destroy_interval`).
pub fn spawn(kms: &Arc<Kms>, every: Duration) -> Vec<JoinHandle<()>> {
    let sweeper = Arc::clone(kms);
    let sweep = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CACHE_SWEEP_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let dropped = sweeper.sweep_caches(std::time::Instant::now());
            if dropped > 0 {
                tracing::debug!(dropped, "dropped unused cache entries");
            }
        }
    });
    let kms = Arc::clone(kms);
    let passes = tokio::spawn(async move {
        // The first pass comes one interval after the start, which has just recovered.
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = kms.destroy_expired_keys().await {
                tracing::warn!(error = %e, "the destruction job failed; it will retry");
            }
            match kms.recover_pending_operations().await {
                Ok(0) => {}
                Ok(resumed) => tracing::info!(resumed, "took over interrupted operations"),
                Err(e) => tracing::warn!(error = %e, "the recovery job failed; it will retry"),
            }
        }
    });
    vec![sweep, passes]
}
