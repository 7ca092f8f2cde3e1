//! How long cached keys, bindings and tokens are trusted, shared by the key vault and the
//! access cache.
//!
//! With a store that only this process writes, entries live until they are evicted or
//! invalidated by the write that changes them. With a store shared by several processes, an
//! entry is **fresh** for `max_age` after it was loaded: the safety net that bounds how long a
//! change made elsewhere can go unseen, whether or not its notification arrives (the
//! cluster's consistency bound). A change feed (`Store::watch_changes`) invalidates entries
//! sooner; when the feed may have missed changes, every entry loaded before is expired at once
//! (a new generation).
//!
//! An expired entry is reloaded. If the store cannot be reached, it may still be used while it
//! is younger than `max_age + outage_grace` (**stale**): signing goes on through a short store
//! outage. Once a reload has found the store unreachable, callers with a stale entry use it at
//! once, rather than each waiting for the store's timeout, until the store is seen again (by
//! any successful load, or by the probe that `Kms::follow_store_changes` runs meanwhile). By default `max_age + outage_grace` is the consistency bound itself, so nothing is
//! used longer than the bound promises; an operator may trade a longer grace (signing through
//! longer outages) for a longer bound while a node is cut off from the database.

use crate::CoreError;
use lru::LruCache;
use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The trust policy of a cache.
#[derive(Debug)]
pub struct CachePolicy {
    max_age: Option<Duration>,
    outage_grace: Duration,
    /// Bumped when changes may have been missed: entries of an older generation are expired.
    generation: AtomicU64,
    /// The last load found the store unreachable: callers with a stale entry use it without
    /// trying the store.
    store_down: AtomicBool,
}

/// When and in which generation an entry was loaded.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    at: Instant,
    generation: u64,
}

/// What a cache lookup found.
#[derive(Debug)]
pub enum Cached<T> {
    /// Trusted without asking the store.
    Fresh(T),
    /// To be reloaded; usable only if the store cannot be reached.
    Stale(T),
    Missing,
}

impl CachePolicy {
    /// `max_age` `None`: entries never expire (this process is the store's only writer).
    pub fn new(max_age: Option<Duration>, outage_grace: Duration) -> CachePolicy {
        CachePolicy {
            max_age,
            outage_grace,
            generation: AtomicU64::new(0),
            store_down: AtomicBool::new(false),
        }
    }

    /// The stamp of an entry loaded now.
    pub fn stamp(&self) -> Stamp {
        Stamp {
            at: Instant::now(),
            generation: self.generation.load(Ordering::SeqCst),
        }
    }

    /// Classifies an entry by its stamp; `None` means it is too old to use at all.
    pub fn classify<T>(&self, stamp: &Stamp, entry: T) -> Option<Cached<T>> {
        self.classify_aged(stamp.at.elapsed(), stamp.generation, entry)
    }

    fn classify_aged<T>(&self, age: Duration, generation: u64, entry: T) -> Option<Cached<T>> {
        let current = generation == self.generation.load(Ordering::SeqCst);
        match self.max_age {
            None if current => Some(Cached::Fresh(entry)),
            Some(max) if current && age < max => Some(Cached::Fresh(entry)),
            max => {
                let usable = max
                    .unwrap_or(Duration::ZERO)
                    .saturating_add(self.outage_grace);
                (age < usable).then_some(Cached::Stale(entry))
            }
        }
    }

    /// Expires every entry loaded so far (changes may have been missed).
    pub fn expire_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl CachePolicy {
    /// Reloads an entry with `load`, or returns `stale` (the expired entry, if the caller has
    /// one) when the store cannot be reached, or could not be at the last load. The flag says whether the value was loaded (and
    /// may be cached afresh; a stale one must not be, or an outage would keep it alive for
    /// good).
    pub(crate) async fn reload<T, F>(
        &self,
        stale: Option<T>,
        load: F,
    ) -> Result<(T, bool), CoreError>
    where
        F: Future<Output = Result<T, CoreError>>,
    {
        match stale {
            Some(stale) if self.store_down.load(Ordering::SeqCst) => Ok((stale, false)),
            stale => self.load_or(stale, load).await,
        }
    }

    /// Whether the last load found the store unreachable.
    pub fn store_down(&self) -> bool {
        self.store_down.load(Ordering::SeqCst)
    }

    /// The store answered: stale entries are no longer used in place of loads.
    pub fn store_up(&self) {
        self.store_down.store(false, Ordering::SeqCst);
    }

    async fn load_or<T, F>(&self, stale: Option<T>, load: F) -> Result<(T, bool), CoreError>
    where
        F: Future<Output = Result<T, CoreError>>,
    {
        match (load.await, stale) {
            (Ok(value), _) => {
                self.store_up();
                Ok((value, true))
            }
            (Err(CoreError::Unavailable(e)), stale) => {
                self.store_down.store(true, Ordering::SeqCst);
                match stale {
                    Some(stale) => {
                        tracing::debug!(error = %e, "the store is unreachable; using a stale cache entry");
                        Ok((stale, false))
                    }
                    None => Err(CoreError::Unavailable(e)),
                }
            }
            (Err(e), _) => Err(e),
        }
    }
}

/// An LRU map of at most `capacity` entries whose table grows with its entries, instead of
/// being allocated for `capacity` up front (`LruCache::new` reserves the whole table, which
/// then becomes resident page by page as entries land at random slots).
pub fn bounded_lru<K: Hash + Eq, V>(capacity: usize) -> LruCache<K, V> {
    let mut map = LruCache::unbounded();
    map.resize(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN));
    map
}

/// A bounded LRU cache whose entries carry their load [`Stamp`] and their last use, so that
/// [`TimedLru::sweep`] can drop the ones nobody has used for a while: the memory of a cache
/// follows the keys, tokens and bindings in use, not every one ever seen (a soak that keeps
/// exchanging tokens and making keys would otherwise grow it up to its bound).
pub struct TimedLru<K, V> {
    map: LruCache<K, Entry<V>>,
}

/// Shows the size only: entries may hold key material.
impl<K: Hash + Eq, V> std::fmt::Debug for TimedLru<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedLru")
            .field("entries", &self.map.len())
            .finish_non_exhaustive()
    }
}

struct Entry<V> {
    stamp: Stamp,
    used: Instant,
    value: V,
}

impl<K: Hash + Eq, V: Clone> TimedLru<K, V> {
    pub fn new(capacity: usize) -> TimedLru<K, V> {
        TimedLru {
            map: bounded_lru(capacity),
        }
    }

    /// Looks `key` up, classified by `policy`; an entry too old to use at all is dropped.
    pub fn get<Q>(&mut self, policy: &CachePolicy, key: &Q) -> Cached<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = Instant::now();
        let found = self.map.get_mut(key).and_then(|entry| {
            entry.used = now;
            policy.classify_aged(
                now.saturating_duration_since(entry.stamp.at),
                entry.stamp.generation,
                entry.value.clone(),
            )
        });
        found.unwrap_or_else(|| {
            self.map.pop(key);
            Cached::Missing
        })
    }

    /// Caches `value`, loaded now (the caller checks that no invalidation raced with the load).
    pub fn put(&mut self, policy: &CachePolicy, key: K, value: V) {
        let stamp = policy.stamp();
        self.map.put(
            key,
            Entry {
                stamp,
                used: stamp.at,
                value,
            },
        );
    }

    pub fn pop<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.pop(key);
    }

    /// Drops every entry whose value matches.
    pub fn remove_where(&mut self, matches: impl Fn(&V) -> bool)
    where
        K: Clone,
    {
        let doomed: Vec<K> = self
            .map
            .iter()
            .filter(|(_, entry)| matches(&entry.value))
            .map(|(key, _)| key.clone())
            .collect();
        for key in doomed {
            self.map.pop(&key);
        }
    }

    /// Drops the entries not used for `idle` or more as of `now`, least recently used first
    /// (they are at the LRU end, so the sweep stops at the first entry still in use), and the
    /// entries `policy` holds too old to use. Returns how many were dropped.
    pub fn sweep(&mut self, policy: &CachePolicy, idle: Duration, now: Instant) -> usize {
        let mut dropped = 0;
        while let Some((_, entry)) = self.map.peek_lru() {
            let unused = now.saturating_duration_since(entry.used) >= idle;
            let dead = policy
                .classify_aged(
                    now.saturating_duration_since(entry.stamp.at),
                    entry.stamp.generation,
                    (),
                )
                .is_none();
            if !(unused || dead) {
                break;
            }
            self.map.pop_lru();
            dropped += 1;
        }
        dropped
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl<T> Cached<T> {
    /// The entry if it is fresh.
    pub fn fresh(self) -> Option<T> {
        match self {
            Cached::Fresh(t) => Some(t),
            Cached::Stale(_) | Cached::Missing => None,
        }
    }

    /// The entry, fresh or stale.
    pub fn any(self) -> Option<T> {
        match self {
            Cached::Fresh(t) | Cached::Stale(t) => Some(t),
            Cached::Missing => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn entries_are_fresh_then_stale_then_dead() {
        let policy = CachePolicy::new(Some(500 * MS), 500 * MS);
        let fresh = |age| policy.classify_aged(age, 0, ());
        assert!(matches!(fresh(Duration::ZERO), Some(Cached::Fresh(()))));
        assert!(matches!(fresh(499 * MS), Some(Cached::Fresh(()))));
        assert!(matches!(fresh(500 * MS), Some(Cached::Stale(()))));
        assert!(matches!(fresh(999 * MS), Some(Cached::Stale(()))));
        assert!(fresh(1000 * MS).is_none());
    }

    #[test]
    fn a_new_generation_expires_every_entry_but_not_later_ones() {
        let policy = CachePolicy::new(Some(Duration::from_secs(60)), Duration::from_secs(1));
        let old = policy.stamp();
        policy.expire_all();
        assert!(matches!(policy.classify(&old, ()), Some(Cached::Stale(()))));
        assert!(matches!(
            policy.classify(&policy.stamp(), ()),
            Some(Cached::Fresh(()))
        ));
        // Usable when the store is unreachable no longer than any entry: max age and grace,
        // counted from the load.
        assert!(matches!(
            policy.classify_aged(Duration::from_secs(60), 0, ()),
            Some(Cached::Stale(()))
        ));
        assert!(
            policy
                .classify_aged(Duration::from_secs(61), 0, ())
                .is_none()
        );
    }

    fn unreachable() -> CoreError {
        CoreError::Unavailable(crate::store::StoreError::Unavailable("down".into()))
    }

    #[tokio::test]
    async fn a_stale_entry_stands_in_only_while_the_store_is_unreachable() {
        let policy = CachePolicy::new(Some(500 * MS), 500 * MS);
        // Loaded: fresh value, to be cached.
        let got = policy.reload(Some(1), async { Ok(2) }).await.unwrap();
        assert_eq!(got, (2, true));
        // Unreachable: the stale value, not to be cached; without one, UNAVAILABLE.
        assert!(matches!(
            policy
                .reload(None::<i32>, async { Err(unreachable()) })
                .await,
            Err(CoreError::Unavailable(_))
        ));
        let got = policy.reload(Some(1), async { Err(unreachable()) }).await;
        assert_eq!(got.unwrap(), (1, false));
        assert!(policy.store_down());
        // While it is down, a caller with a stale entry does not wait for the store.
        let got = policy
            .reload(Some(1), async { panic!("the store was tried") })
            .await;
        assert_eq!(got.unwrap(), (1, false));
        // Other errors are errors, stale entry or not.
        policy.store_up();
        assert!(matches!(
            policy
                .reload(Some(1), async { Err(CoreError::PermissionDenied) })
                .await,
            Err(CoreError::PermissionDenied)
        ));
        // A load without a stale entry (a control-plane call) that succeeds clears it too.
        let _ = policy.reload(Some(1), async { Err(unreachable()) }).await;
        assert_eq!(
            policy.reload(None, async { Ok(3) }).await.unwrap(),
            (3, true)
        );
        assert!(!policy.store_down());
    }

    #[test]
    fn the_sweep_drops_what_was_not_used_for_the_idle_time_and_nothing_else() {
        // No timing: the sweep is given its "now", and an entry is idle when its last use is
        // at or before `now - idle`.
        let policy = CachePolicy::new(None, Duration::ZERO);
        let mut cache: TimedLru<String, u32> = TimedLru::new(100);
        for i in 0..10 {
            cache.put(&policy, format!("k{i}"), i);
        }
        let between = Instant::now();
        // Strictly after `between` (the clock is monotonic; the pause only orders the uses).
        std::thread::sleep(MS);
        assert!(matches!(cache.get(&policy, "k3"), Cached::Fresh(3)));
        assert!(matches!(cache.get(&policy, "k7"), Cached::Fresh(7)));
        let idle = Duration::from_secs(60);
        // As of a time at which nothing has been idle that long: nothing goes.
        assert_eq!(cache.sweep(&policy, idle, between), 0);
        assert_eq!(cache.len(), 10);
        // As of `between + idle`: the eight not used since `between` go; k3 and k7 stay.
        assert_eq!(cache.sweep(&policy, idle, between + idle), 8);
        assert_eq!(cache.len(), 2);
        assert!(matches!(cache.get(&policy, "k0"), Cached::Missing));
        assert!(matches!(cache.get(&policy, "k3"), Cached::Fresh(3)));
        // Once they too have been idle that long, it empties.
        assert_eq!(cache.sweep(&policy, idle, Instant::now() + idle), 2);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_sweep_drops_entries_too_old_to_use_even_if_recently_used() {
        let policy = CachePolicy::new(Some(Duration::from_secs(1)), Duration::from_secs(1));
        let mut cache: TimedLru<String, u32> = TimedLru::new(100);
        cache.put(&policy, "a".into(), 1);
        let later = Instant::now() + Duration::from_secs(2);
        // Idle for less than an hour, but loaded more than max age and grace before: dead.
        assert_eq!(cache.sweep(&policy, Duration::from_secs(3600), later), 1);
        assert!(cache.is_empty());
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_dropping_the_least_recently_used() {
        let policy = CachePolicy::new(None, Duration::ZERO);
        let mut cache: TimedLru<String, u32> = TimedLru::new(3);
        for i in 0..3 {
            cache.put(&policy, format!("k{i}"), i);
        }
        assert!(matches!(cache.get(&policy, "k0"), Cached::Fresh(0)));
        cache.put(&policy, "k3".into(), 3);
        assert_eq!(cache.len(), 3);
        assert!(matches!(cache.get(&policy, "k1"), Cached::Missing));
        assert!(matches!(cache.get(&policy, "k0"), Cached::Fresh(0)));
        cache.remove_where(|v| *v >= 2);
        assert_eq!(cache.len(), 1);
        assert!(matches!(cache.get(&policy, "k0"), Cached::Fresh(0)));
    }

    #[test]
    fn without_a_max_age_entries_stay_fresh() {
        let policy = CachePolicy::new(None, Duration::ZERO);
        assert!(matches!(
            policy.classify_aged(Duration::from_secs(86_400), 0, ()),
            Some(Cached::Fresh(()))
        ));
    }
}
