//! The open-loop arrival schedule (`--rate`).
//!
//! Request `i` is *intended* to be sent at `start + i / rate`, whether or not the server has
//! answered the earlier ones; its latency is measured from that intended time, so a server that
//! stalls is charged for every request that queued behind the stall (no coordinated omission).
//!
//! A pacer thread releases tickets as their intended times come; workers take tickets from a
//! semaphore in order. The pacer sleeps with the OS timer (tens of microseconds of slack) rather
//! than tokio's millisecond timer wheel, which would turn a fixed rate into a burst per
//! millisecond. How late each request actually left is reported as the send lag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// The pacer wakes at most this often; the tickets that came due meanwhile leave together.
const PACER_RESOLUTION: Duration = Duration::from_micros(100);

/// The longest single sleep, so that a stop request is seen promptly even at low rates.
const PACER_MAX_SLEEP: Duration = Duration::from_millis(50);

/// A fixed arrival rate over a span of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
    total: u64,
}

impl Schedule {
    /// Requests at `rate` per second whose intended send times fall within `span`.
    pub fn new(rate: f64, span: Duration) -> Schedule {
        let total = (span.as_secs_f64() * rate).ceil();
        Schedule {
            rate,
            // Saturating conversion: `as` clamps a huge float to u64::MAX.
            total: total as u64,
        }
    }

    /// How many requests the schedule holds.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The intended send time of request `i`, as an offset from the start.
    pub fn offset(&self, i: u64) -> Duration {
        Duration::try_from_secs_f64(i as f64 / self.rate).unwrap_or(Duration::MAX)
    }

    /// How many requests are due `elapsed` after the start: those whose intended time is at or
    /// before it, at most [`Schedule::total`].
    pub fn due(&self, elapsed: Duration) -> u64 {
        // An estimate in floating point, then corrected against `offset` itself, so that the
        // two always agree (rounding would otherwise put a request on either side of its time).
        let mut due = ((elapsed.as_secs_f64() * self.rate).floor() as u64)
            .saturating_add(1)
            .min(self.total);
        while due > 0 && self.offset(due - 1) > elapsed {
            due -= 1;
        }
        while due < self.total && self.offset(due) <= elapsed {
            due += 1;
        }
        due
    }
}

/// The pacer thread: it releases one semaphore permit per due request and closes the semaphore
/// at `end` (or on [`Pacer::stop`]).
#[derive(Debug)]
pub struct Pacer {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<u64>>,
}

impl Pacer {
    /// Starts the pacer. The thread inherits the CPU affinity of the calling thread.
    pub fn start(
        schedule: Schedule,
        start: Instant,
        end: Instant,
        tickets: Arc<Semaphore>,
    ) -> std::io::Result<Pacer> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name("bench-pacer".into())
            .spawn(move || pace(schedule, start, end, &tickets, &stop_flag))?;
        Ok(Pacer {
            stop,
            handle: Some(handle),
        })
    }

    /// Asks the pacer to stop early (it closes the semaphore).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Waits for the pacer thread and returns how many tickets it released.
    pub fn join(mut self) -> Option<u64> {
        self.handle.take().and_then(|h| h.join().ok())
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pace(
    schedule: Schedule,
    start: Instant,
    end: Instant,
    tickets: &Semaphore,
    stop: &AtomicBool,
) -> u64 {
    let mut released = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let due = schedule.due(now.saturating_duration_since(start));
        if due > released {
            let n = usize::try_from(due - released).unwrap_or(usize::MAX);
            tickets.add_permits(n.min(Semaphore::MAX_PERMITS - tickets.available_permits()));
            released = due;
        }
        let next = if released < schedule.total() {
            start + schedule.offset(released)
        } else {
            end
        };
        let wake = next.max(now + PACER_RESOLUTION).min(now + PACER_MAX_SLEEP);
        thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    tickets.close();
    released
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intended_times_are_evenly_spaced() {
        let s = Schedule::new(1000.0, Duration::from_secs(2));
        assert_eq!(s.total(), 2000);
        assert_eq!(s.offset(0), Duration::ZERO);
        assert_eq!(s.offset(1), Duration::from_millis(1));
        assert_eq!(s.offset(1500), Duration::from_millis(1500));
        let s = Schedule::new(4.0, Duration::from_secs(1));
        let offsets: Vec<Duration> = (0..s.total()).map(|i| s.offset(i)).collect();
        assert_eq!(
            offsets,
            [0, 250, 500, 750].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn total_covers_the_span_exactly() {
        // Every request's intended time is inside the span, and the next one would not be.
        for (rate, span_ms) in [(3.0, 1000), (1000.0, 2500), (0.5, 3000), (7.0, 10)] {
            let span = Duration::from_millis(span_ms);
            let s = Schedule::new(rate, span);
            assert!(s.total() >= 1);
            assert!(s.offset(s.total() - 1) < span, "rate {rate} span {span_ms}");
            assert!(s.offset(s.total()) >= span, "rate {rate} span {span_ms}");
        }
    }

    #[test]
    fn due_counts_requests_whose_time_has_come() {
        let s = Schedule::new(100.0, Duration::from_secs(1));
        assert_eq!(s.due(Duration::ZERO), 1);
        assert_eq!(s.due(Duration::from_micros(9_999)), 1);
        assert_eq!(s.due(Duration::from_millis(10)), 2);
        assert_eq!(s.due(Duration::from_millis(995)), 100);
        assert_eq!(s.due(Duration::from_secs(60)), 100, "capped at the total");
        for rate in [100.0, 3.0, 7.0, 1234.5, 40_000.0] {
            let s = Schedule::new(rate, Duration::from_secs(1));
            for i in 0..s.total() {
                let at = s.offset(i);
                assert_eq!(
                    s.due(at),
                    i + 1,
                    "rate {rate}: request {i} is due at its time"
                );
                if let Some(before) = at.checked_sub(Duration::from_nanos(1)) {
                    assert_eq!(
                        s.due(before),
                        i,
                        "rate {rate}: request {i} is not due before"
                    );
                }
            }
        }
    }

    #[test]
    fn pacer_releases_every_ticket_then_closes() {
        let rate = 2000.0;
        let span = Duration::from_millis(100);
        let schedule = Schedule::new(rate, span);
        let tickets = Arc::new(Semaphore::new(0));
        let start = Instant::now();
        let pacer = Pacer::start(schedule, start, start + span, Arc::clone(&tickets)).unwrap();
        let released = pacer.join().unwrap();
        assert_eq!(released, schedule.total());
        assert!(tickets.is_closed());
        assert!(start.elapsed() >= span);
    }

    #[test]
    fn pacer_stops_on_request() {
        let schedule = Schedule::new(1.0, Duration::from_secs(3600));
        let tickets = Arc::new(Semaphore::new(0));
        let start = Instant::now();
        let pacer = Pacer::start(
            schedule,
            start,
            start + Duration::from_secs(3600),
            Arc::clone(&tickets),
        )
        .unwrap();
        pacer.stop();
        assert!(pacer.join().unwrap() <= 1);
        assert!(tickets.is_closed());
    }
}
