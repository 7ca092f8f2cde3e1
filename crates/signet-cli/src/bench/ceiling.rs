//! The ceiling: how fast this machine does the request's cryptography in process, on one core,
//! with no gRPC, storage or authentication around it. Measured in the same run as the load, on
//! a thread pinned like the server, so that the server's throughput per core can be compared
//! with it. The rate is per second of the thread's own CPU time, not of wall time, so that
//! other processes competing for the core do not lower it.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use signet_crypto::{Algorithm, CryptoError, SigningKey};

use super::error::BenchError;
use super::options::{CpuList, Op};
use super::system;

/// The in-process rate of each algorithm, and of the run's mix.
#[derive(Debug, Clone, PartialEq)]
pub struct Ceiling {
    /// The CPU the measuring thread was pinned to, if any.
    pub cpu: Option<usize>,
    /// How long each algorithm was measured.
    pub time_per_algorithm: Duration,
    /// Operations per second, one per benchmarked algorithm, in order.
    pub per_algorithm: Vec<(Algorithm, f64)>,
    /// Operations per second of the mix the load sends (each algorithm equally often).
    pub combined: f64,
}

/// What the ceiling of an op is: the cryptography the server must do for it.
pub fn describe(op: Op) -> Option<&'static str> {
    match op {
        Op::Sign => Some("sign"),
        Op::SignHash => Some("sign_digest"),
        Op::Create => Some("generate"),
        // The server returns a stored PEM: no cryptography to compare with.
        Op::GetPublicKey => None,
    }
}

/// Measures the ceiling of `op` for each algorithm for `time`, on a thread pinned to `cpu`.
/// `None` for an op without cryptography (`get-public-key`) or a zero `time`.
pub fn measure(
    op: Op,
    algorithms: &[Algorithm],
    message_size: usize,
    cpu: Option<usize>,
    time: Duration,
) -> Result<Option<Ceiling>, BenchError> {
    if describe(op).is_none() || time.is_zero() || algorithms.is_empty() {
        return Ok(None);
    }
    let algs = algorithms.to_vec();
    let handle = thread::Builder::new()
        .name("bench-ceiling".into())
        .spawn(move || -> Result<Vec<(Algorithm, f64)>, BenchError> {
            if let Some(cpu) = cpu.and_then(|c| CpuList::from_cpus(vec![c])) {
                system::pin_current_thread(&cpu)?;
            }
            let mut message = vec![0u8; message_size];
            signet_crypto::fill_random(&mut message).map_err(BenchError::Random)?;
            algs.iter()
                .map(|&alg| rate_of(op, alg, &message, time).map(|rate| (alg, rate)))
                .collect()
        })
        .map_err(BenchError::Thread)?;
    let per_algorithm = handle.join().map_err(|_| BenchError::ThreadPanicked)??;
    Ok(Some(Ceiling {
        cpu,
        time_per_algorithm: time,
        combined: combined_rate(per_algorithm.iter().map(|&(_, r)| r)),
        per_algorithm,
    }))
}

/// The rate of a mix sending each algorithm equally often: the reciprocal of the mean time.
pub fn combined_rate(rates: impl Iterator<Item = f64>) -> f64 {
    let (n, seconds) = rates.fold((0usize, 0.0f64), |(n, s), r| {
        (n + 1, s + if r > 0.0 { 1.0 / r } else { f64::INFINITY })
    });
    if n == 0 || !seconds.is_finite() || seconds <= 0.0 {
        return 0.0;
    }
    n as f64 / seconds
}

fn rate_of(op: Op, alg: Algorithm, message: &[u8], time: Duration) -> Result<f64, BenchError> {
    let crypto = |e| BenchError::Ceiling(e);
    match op {
        Op::Create => repeat_for(time, || SigningKey::generate(alg).map(drop)),
        Op::Sign => {
            let key = SigningKey::generate(alg).map_err(crypto)?;
            repeat_for(time, || key.sign(black_box(message)).map(drop))
        }
        Op::SignHash | Op::GetPublicKey => {
            let key = SigningKey::generate(alg).map_err(crypto)?;
            let digest = alg.hash().digest(message);
            repeat_for(time, || key.sign_digest(black_box(&digest)).map(drop))
        }
    }
}

/// Calls `f` once untimed, then repeatedly for at least `time` of wall time; returns calls per
/// second of this thread's CPU time.
fn repeat_for(
    time: Duration,
    mut f: impl FnMut() -> Result<(), CryptoError>,
) -> Result<f64, BenchError> {
    f().map_err(BenchError::Ceiling)?;
    let start = Instant::now();
    let cpu_start = system::thread_cpu_time()?;
    let mut n = 0u64;
    loop {
        f().map_err(BenchError::Ceiling)?;
        n += 1;
        if start.elapsed() >= time {
            break;
        }
    }
    let cpu = system::thread_cpu_time()?.saturating_sub(cpu_start);
    // The thread's CPU time is kept to the microsecond; a run too short to register is timed
    // by the wall clock instead.
    let seconds = if cpu.is_zero() { start.elapsed() } else { cpu };
    Ok(n as f64 / seconds.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_rate_is_the_harmonic_mean() {
        assert_eq!(combined_rate([1000.0].into_iter()), 1000.0);
        // 1 ms and 3 ms per operation, half each: 2 ms on average.
        let r = combined_rate([1000.0, 1000.0 / 3.0].into_iter());
        assert!((r - 500.0).abs() < 1e-9, "{r}");
        assert_eq!(combined_rate([].into_iter()), 0.0);
        assert_eq!(combined_rate([0.0, 10.0].into_iter()), 0.0);
    }

    #[test]
    fn measures_a_positive_rate() {
        let c = measure(
            Op::Sign,
            &[Algorithm::EcdsaP256Sha256],
            64,
            None,
            Duration::from_millis(50),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.per_algorithm.len(), 1);
        assert!(c.per_algorithm[0].1 > 0.0);
        assert!((c.combined - c.per_algorithm[0].1).abs() < 1e-6 * c.combined);
        assert!(
            measure(
                Op::GetPublicKey,
                &[Algorithm::EcdsaP256Sha256],
                64,
                None,
                Duration::from_millis(50)
            )
            .unwrap()
            .is_none()
        );
    }
}
