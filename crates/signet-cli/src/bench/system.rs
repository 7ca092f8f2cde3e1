//! What the benchmark asks of the operating system: CPU affinity (through `nix`'s safe
//! wrappers), CPU time of this process and of the server process, and the load average.

use std::path::Path;
use std::time::Duration;

use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::resource::{UsageWho, getrusage};
use nix::unistd::{Pid, SysconfVar, sysconf};

use super::error::BenchError;
use super::options::{CpuList, MAX_CPUS};

fn cpu_set(list: &CpuList) -> Result<CpuSet, BenchError> {
    let mut set = CpuSet::new();
    for &cpu in list.cpus() {
        set.set(cpu).map_err(|source| BenchError::Affinity {
            what: format!("CPU {cpu}"),
            source,
        })?;
    }
    Ok(set)
}

/// Pins the calling thread to `cpus`. Threads it starts afterwards inherit the pinning, and so
/// does a process it spawns.
pub fn pin_current_thread(cpus: &CpuList) -> Result<(), BenchError> {
    sched_setaffinity(Pid::from_raw(0), &cpu_set(cpus)?).map_err(|source| BenchError::Affinity {
        what: format!("this thread to CPUs {cpus}"),
        source,
    })
}

/// Pins every thread of process `pid` to `cpus`.
pub fn pin_process(pid: u32, cpus: &CpuList) -> Result<(), BenchError> {
    let set = cpu_set(cpus)?;
    let tasks = format!("/proc/{pid}/task");
    let entries = std::fs::read_dir(&tasks).map_err(|source| BenchError::ReadProc {
        path: tasks.clone(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| BenchError::ReadProc {
            path: tasks.clone(),
            source,
        })?;
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        match sched_setaffinity(Pid::from_raw(tid), &set) {
            // A thread that ended since the directory was read.
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(source) => {
                return Err(BenchError::Affinity {
                    what: format!("thread {tid} of process {pid} to CPUs {cpus}"),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// The CPUs process `pid` (or this thread, for `None`) may run on.
pub fn allowed_cpus(pid: Option<u32>) -> Result<CpuList, BenchError> {
    let raw = match pid {
        Some(pid) => i32::try_from(pid).unwrap_or(i32::MAX),
        None => 0,
    };
    let set = sched_getaffinity(Pid::from_raw(raw)).map_err(|source| BenchError::Affinity {
        what: match pid {
            Some(pid) => format!("the CPUs of process {pid}"),
            None => "the CPUs of this process".to_owned(),
        },
        source,
    })?;
    let cpus = (0..MAX_CPUS.min(CpuSet::count()))
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .collect();
    CpuList::from_cpus(cpus).ok_or_else(|| BenchError::Usage("no CPU is available".to_owned()))
}

/// User plus system CPU time of this whole process (all threads) so far.
pub fn own_cpu_time() -> Result<Duration, BenchError> {
    let usage = getrusage(UsageWho::RUSAGE_SELF).map_err(BenchError::Rusage)?;
    Ok(timeval(usage.user_time()) + timeval(usage.system_time()))
}

/// User plus system CPU time of the calling thread so far.
pub fn thread_cpu_time() -> Result<Duration, BenchError> {
    let usage = getrusage(UsageWho::RUSAGE_THREAD).map_err(BenchError::Rusage)?;
    Ok(timeval(usage.user_time()) + timeval(usage.system_time()))
}

fn timeval(tv: nix::sys::time::TimeVal) -> Duration {
    let secs = u64::try_from(tv.tv_sec()).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec()).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}

/// User plus system CPU time of process `pid` (all its threads) so far, from `/proc/PID/stat`.
pub fn process_cpu_time(pid: u32) -> Result<Duration, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let text =
        std::fs::read_to_string(Path::new(&path)).map_err(|source| BenchError::ReadProc {
            path: path.clone(),
            source,
        })?;
    let ticks =
        parse_stat_cpu_ticks(&text).ok_or_else(|| BenchError::ProcFormat { path: path.clone() })?;
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// `utime + stime` (fields 14 and 15) from the text of `/proc/PID/stat`. The command name (field
/// 2) is in parentheses and may itself contain spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the name come field 3 (state), 4, ...; utime is field 14, the 12th of these.
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> u64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => u64::try_from(t).unwrap_or(100),
        _ => 100,
    }
}

fn ticks_to_duration(ticks: u64, per_second: u64) -> Duration {
    let per_second = per_second.max(1);
    Duration::from_secs(ticks / per_second)
        + Duration::from_nanos((ticks % per_second) * 1_000_000_000 / per_second)
}

/// Busy time (all but idle and I/O wait; steal included) of `cpus` (`None`: every CPU) so far,
/// from `/proc/stat`.
pub fn cpus_busy(cpus: Option<&CpuList>) -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks = parse_stat_busy(&text, cpus)?;
    Some(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// Sums `user nice system irq softirq steal` of the `cpuN` lines named by `cpus` (or of the
/// aggregate `cpu` line).
fn parse_stat_busy(text: &str, cpus: Option<&CpuList>) -> Option<u64> {
    let mut total = 0u64;
    let mut found = 0usize;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(name) = fields.next() else { continue };
        let wanted = match (name.strip_prefix("cpu"), cpus) {
            (Some(""), None) => true,
            (Some(n), Some(list)) if !n.is_empty() => n
                .parse::<usize>()
                .is_ok_and(|cpu| list.cpus().contains(&cpu)),
            _ => false,
        };
        if !wanted {
            continue;
        }
        let values: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal
        let busy = [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&i| values.get(i))
            .sum::<u64>();
        total += busy;
        found += 1;
    }
    let expected = cpus.map_or(1, CpuList::len);
    (found == expected).then_some(total)
}

/// The 1, 5 and 15-minute load averages, if `/proc/loadavg` can be read.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_loadavg(&text)
}

fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace();
    let mut out = [0.0; 3];
    for slot in &mut out {
        *slot = fields.next()?.parse().ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "1234 (signet (x) y) S 1 1234 1234 0 -1 4194560 2000 0 0 0 \
                    250 75 0 0 20 0 9 0 12345 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_ticks("1234 (x) S 1 2"), None);
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn own_stat_parses_and_cpu_time_advances() {
        let pid = std::process::id();
        let first = process_cpu_time(pid).unwrap();
        let before = own_cpu_time().unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        assert!(x != 1);
        assert!(own_cpu_time().unwrap() > before);
        assert!(process_cpu_time(pid).unwrap() >= first);
    }

    #[test]
    fn ticks_convert_exactly() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
        assert_eq!(ticks_to_duration(1, 1000), Duration::from_millis(1));
    }

    #[test]
    fn busy_time_of_chosen_cpus() {
        let stat = "cpu  10 1 2 100 5 0 3 4 0 0\n\
                    cpu0 6 1 1 50 2 0 2 1 0 0\n\
                    cpu1 4 0 1 50 3 0 1 3 0 0\n\
                    intr 1 2 3\n";
        assert_eq!(parse_stat_busy(stat, None), Some(20));
        let cpu0 = CpuList::from_cpus(vec![0]).unwrap();
        assert_eq!(parse_stat_busy(stat, Some(&cpu0)), Some(11));
        let both = CpuList::from_cpus(vec![0, 1]).unwrap();
        assert_eq!(parse_stat_busy(stat, Some(&both)), Some(20));
        let missing = CpuList::from_cpus(vec![7]).unwrap();
        assert_eq!(parse_stat_busy(stat, Some(&missing)), None);
        assert!(cpus_busy(None).is_some());
    }

    #[test]
    fn loadavg_parses() {
        assert_eq!(
            parse_loadavg("1.74 3.19 2.73 2/345 6789\n"),
            Some([1.74, 3.19, 2.73])
        );
        assert_eq!(parse_loadavg("1.0"), None);
    }

    #[test]
    fn affinity_of_this_thread_is_readable() {
        let cpus = allowed_cpus(None).unwrap();
        assert!(cpus.len() >= 1);
        assert!(allowed_cpus(Some(std::process::id())).is_ok());
    }
}
