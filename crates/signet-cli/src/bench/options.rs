//! Flag values of `signet bench`, each parsed once into a typed value: CPU lists, durations,
//! algorithm lists, rates.

use std::fmt;
use std::time::Duration;

use signet_crypto::Algorithm;

/// The highest CPU number a list may name plus one (the size of the kernel's `cpu_set_t`).
pub const MAX_CPUS: usize = 1024;

/// The longest `--duration`, `--warmup` or `--timeout` accepted.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The highest `--rate` accepted, in requests per second.
const MAX_RATE: f64 = 10_000_000.0;

/// What each request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Op {
    /// `AsymmetricSignatureCryptoService.Sign` of a `--message-size`-byte message.
    Sign,
    /// `AsymmetricSignatureCryptoService.SignHash` of a digest of the key's hash length.
    SignHash,
    /// `AsymmetricSignatureCryptoService.GetPublicKey`.
    GetPublicKey,
    /// `AsymmetricSignatureKeyService.Create`, timed until its operation is done.
    Create,
}

impl Op {
    /// The flag value, as in `--op NAME`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Sign => "sign",
            Op::SignHash => "sign-hash",
            Op::GetPublicKey => "get-public-key",
            Op::Create => "create",
        }
    }
}

/// A non-empty set of CPU numbers, from a list like `0`, `0-1`, `0,2` or `0-2,5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

impl CpuList {
    /// Builds a list from CPU numbers (sorted and deduplicated); `None` if empty.
    pub fn from_cpus(mut cpus: Vec<usize>) -> Option<CpuList> {
        cpus.sort_unstable();
        cpus.dedup();
        (!cpus.is_empty()).then_some(CpuList(cpus))
    }

    /// The CPU numbers, ascending.
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    /// The lowest CPU of the list.
    pub fn first(&self) -> usize {
        self.0.first().copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the two lists share a CPU.
    pub fn overlaps(&self, other: &CpuList) -> bool {
        self.0.iter().any(|cpu| other.0.contains(cpu))
    }

    /// The CPUs of `self` that are not in `available`.
    pub fn missing_from(&self, available: &CpuList) -> Vec<usize> {
        self.0
            .iter()
            .copied()
            .filter(|cpu| !available.0.contains(cpu))
            .collect()
    }
}

impl fmt::Display for CpuList {
    /// The compact form: `0-3,6,8-9`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end = self.0[i];
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

/// Parses a CPU list: comma-separated CPU numbers or inclusive ranges `A-B`.
pub fn parse_cpu_list(text: &str) -> Result<CpuList, String> {
    let mut cpus = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!(
                "{text:?} has an empty item; write CPU numbers or ranges like 0, 0-1 or 0,2"
            ));
        }
        let (start, end) = match item.split_once('-') {
            Some((a, b)) => (parse_cpu(a.trim())?, parse_cpu(b.trim())?),
            None => {
                let cpu = parse_cpu(item)?;
                (cpu, cpu)
            }
        };
        if start > end {
            return Err(format!("the range {item:?} runs backwards"));
        }
        cpus.extend(start..=end);
    }
    CpuList::from_cpus(cpus).ok_or_else(|| "the CPU list is empty".to_owned())
}

fn parse_cpu(text: &str) -> Result<usize, String> {
    let cpu: usize = text
        .parse()
        .map_err(|_| format!("{text:?} is not a CPU number"))?;
    if cpu >= MAX_CPUS {
        return Err(format!(
            "CPU {cpu} is out of range (at most {})",
            MAX_CPUS - 1
        ));
    }
    Ok(cpu)
}

/// Parses a duration: a decimal number followed by a unit, `ms`, `s`, `m` or `h` (`10s`,
/// `500ms`, `1.5s`, `2m`). Zero is allowed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_seconds = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "" => {
            return Err(format!(
                "{text:?} has no unit; write e.g. 10s, 500ms, 2m or 1h"
            ));
        }
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use ms, s, m or h"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 10s or 500ms"))?;
    let seconds = value * unit_seconds;
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if d <= MAX_DURATION => Ok(d),
        _ => Err(format!("{text:?} is too long (at most 24h)")),
    }
}

/// [`parse_duration`], refusing zero.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(d)
}

/// The algorithms to benchmark, in the order given, without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmList(pub Vec<Algorithm>);

/// Parses `all`, or one or more comma-separated algorithm names (CLI or wire names).
pub fn parse_algorithm_list(text: &str) -> Result<AlgorithmList, String> {
    if text.trim().eq_ignore_ascii_case("all") {
        return Ok(AlgorithmList(Algorithm::ALL.to_vec()));
    }
    let mut algorithms = Vec::new();
    for name in text.split(',') {
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("{text:?} has an empty algorithm name"));
        }
        let Some(algorithm) = Algorithm::from_name(name) else {
            let names: Vec<String> = Algorithm::ALL.iter().map(|a| a.cli_name()).collect();
            return Err(format!(
                "unknown algorithm {name:?}; expected `all` or some of: {}",
                names.join(", ")
            ));
        };
        if !algorithms.contains(&algorithm) {
            algorithms.push(algorithm);
        }
    }
    Ok(AlgorithmList(algorithms))
}

/// Parses a request rate in requests per second (a positive decimal number).
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of requests per second"))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err("the rate must be a positive number of requests per second".to_owned());
    }
    if rate > MAX_RATE {
        return Err(format!("the rate is too high (at most {MAX_RATE})"));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0").unwrap().cpus(), &[0]);
        assert_eq!(parse_cpu_list("0-1").unwrap().cpus(), &[0, 1]);
        assert_eq!(parse_cpu_list("0,2").unwrap().cpus(), &[0, 2]);
        assert_eq!(parse_cpu_list(" 4, 0-2 ,1").unwrap().cpus(), &[0, 1, 2, 4]);
        assert_eq!(parse_cpu_list("3-3").unwrap().cpus(), &[3]);
        for bad in [
            "", ",", "0,", "a", "1-0", "-1", "0-", "1024", "0-99999", "1.5",
        ] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn cpu_list_display_is_compact_and_round_trips() {
        for text in ["0", "0-1", "0,2", "0-3,6,8-9"] {
            let list = parse_cpu_list(text).unwrap();
            assert_eq!(list.to_string(), text);
            assert_eq!(parse_cpu_list(&list.to_string()).unwrap(), list);
        }
    }

    #[test]
    fn cpu_list_relations() {
        let a = parse_cpu_list("0-1").unwrap();
        let b = parse_cpu_list("1,3").unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&parse_cpu_list("2").unwrap()));
        assert_eq!(b.missing_from(&a), vec![3]);
        assert_eq!(b.first(), 1);
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        for bad in ["", "10", "s", "10x", "-1s", "1..5s", "25h", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_positive_duration("0s").is_err());
        assert!(parse_positive_duration("1ms").is_ok());
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
    }

    #[test]
    fn algorithm_lists() {
        assert_eq!(
            parse_algorithm_list("ecdsa-nist-p256-sha-256").unwrap().0,
            vec![Algorithm::EcdsaP256Sha256]
        );
        assert_eq!(
            parse_algorithm_list("RSA_2048_SIGN_PSS_SHA_256, ecdsa-secp256-k1-sha-256")
                .unwrap()
                .0,
            vec![Algorithm::Rsa2048PssSha256, Algorithm::EcdsaSecp256k1Sha256]
        );
        assert_eq!(
            parse_algorithm_list("all").unwrap().0,
            Algorithm::ALL.to_vec()
        );
        assert_eq!(parse_algorithm_list("ALL").unwrap().0.len(), 13);
        assert_eq!(
            parse_algorithm_list("ecdsa-nist-p256-sha-256,ECDSA_NIST_P256_SHA_256")
                .unwrap()
                .0,
            vec![Algorithm::EcdsaP256Sha256]
        );
        let err = parse_algorithm_list("p256").unwrap_err();
        assert!(err.contains("unknown algorithm \"p256\""), "{err}");
        assert!(err.contains("ecdsa-nist-p256-sha-256"), "{err}");
        assert!(parse_algorithm_list("").is_err());
        assert!(parse_algorithm_list("ecdsa-nist-p256-sha-256,").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1000").unwrap(), 1000.0);
        assert_eq!(parse_rate("0.5").unwrap(), 0.5);
        for bad in ["0", "-5", "abc", "inf", "NaN", "1e9"] {
            assert!(parse_rate(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
