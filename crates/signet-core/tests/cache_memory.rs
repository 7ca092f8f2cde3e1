//! Memory of the caches, measured by a counting allocator (this test binary's own): a bounded
//! cache's table grows with its entries, and is not reserved for its whole capacity up front.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lru::LruCache;
use signet_core::cache::{CachePolicy, TimedLru, bounded_lru};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The tests read one process-wide count: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Bytes currently allocated through the global allocator.
fn live() -> isize {
    let stats = ALLOCATOR.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated
}

fn allocated_by<T>(make: impl FnOnce() -> T) -> (T, isize) {
    let before = live();
    let made = make();
    (made, live() - before)
}

#[test]
fn a_bounded_cache_reserves_nothing_for_its_capacity() {
    let _one = SERIAL.lock().unwrap();
    // The control: `LruCache::new` reserves a table for every entry it may ever hold.
    let (eager, eager_bytes) =
        allocated_by(|| LruCache::<String, u64>::new(NonZeroUsize::new(100_000).unwrap()));
    assert!(
        eager_bytes > 1_000_000,
        "LruCache::new took {eager_bytes} B"
    );
    drop(eager);

    let (mut lazy, lazy_bytes) = allocated_by(|| bounded_lru::<String, u64>(100_000));
    assert!(lazy_bytes < 1024, "bounded_lru took {lazy_bytes} B");
    assert_eq!(lazy.cap().get(), 100_000);
    // It grows with what it holds, and still stops at its capacity.
    for i in 0..100_010_u64 {
        lazy.put(format!("{i}"), i);
    }
    assert_eq!(lazy.len(), 100_000);
}

#[test]
fn a_swept_cache_gives_its_entries_memory_back() {
    let _one = SERIAL.lock().unwrap();
    let policy = CachePolicy::new(None, Duration::ZERO);
    let mut cache: TimedLru<String, Vec<u8>> = TimedLru::new(100_000);
    let before = live();
    for i in 0..10_000 {
        cache.put(&policy, format!("token-{i}"), vec![0_u8; 256]);
    }
    let filled = live() - before;
    assert!(filled > 10_000 * 256, "10,000 entries took only {filled} B");
    let idle = Duration::from_secs(60);
    let dropped = cache.sweep(&policy, idle, std::time::Instant::now() + idle);
    assert_eq!(dropped, 10_000);
    let left = live() - before;
    // What is left is the table's slots (hashbrown keeps its allocation), not the entries.
    assert!(left < filled / 4, "{left} B of {filled} B still held");
}
