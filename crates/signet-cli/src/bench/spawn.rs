//! `--spawn`: a `signet serve` child process on a temporary data directory, listening on a
//! loopback port chosen by the kernel.
//!
//! The child's standard output carries the admin token on first start; it is read here only to
//! find the `signet listening on ADDR` line and is never echoed. The token itself is read from
//! `<data dir>/admin-token`. The child's log (stderr) goes to a file in the temporary directory
//! and is shown only if the server fails to start.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::error::BenchError;
use super::options::CpuList;
use super::system;

/// How long the server may take to say it is listening (a first start creates a root key and
/// a database).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a graceful stop (SIGTERM) may take before the child is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The line `signet serve` prints once it accepts connections.
const LISTENING_PREFIX: &str = "signet listening on ";

/// How much of the server's log to show when it fails.
const LOG_TAIL_BYTES: u64 = 4096;

/// A running `signet serve` child. Dropping it kills the child and removes the data directory.
#[derive(Debug)]
pub struct SpawnedServer {
    child: Child,
    /// `IP:PORT` the server listens on.
    pub addr: String,
    log_path: PathBuf,
    // Dropped last: the directory goes after the child is gone.
    _dir: tempfile::TempDir,
}

/// What the child was started with.
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// `--config FILE` for the server.
    pub config: Option<PathBuf>,
    /// CPUs for the thread that reads the server's output (the generator's, not the server's).
    pub reader_cpus: Option<CpuList>,
}

impl SpawnedServer {
    /// Starts `<this executable> serve` and waits until it listens. The child inherits the
    /// calling thread's CPU affinity. `SIGNET_*` variables are not passed on, so that the run
    /// does not depend on the caller's environment.
    pub fn start(options: &SpawnOptions) -> Result<(SpawnedServer, String), BenchError> {
        let exe = std::env::current_exe().map_err(BenchError::CurrentExe)?;
        let dir = tempfile::Builder::new()
            .prefix("signet-bench-")
            .tempdir()
            .map_err(BenchError::TempDir)?;
        let data_dir = dir.path().join("data");
        let log_path = dir.path().join("server.log");
        let log = File::create(&log_path).map_err(BenchError::SpawnServer)?;
        let mut command = Command::new(exe);
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            // `--op create` makes keys in one folder for as long as it runs; the per-folder
            // quota (100 by default) would end it after 100. And --concurrency may exceed the
            // default limits of requests in flight (in all, and from one client address).
            .args(["--max-keys-per-folder", &u32::MAX.to_string()])
            .args(["--max-concurrent-requests", &u32::MAX.to_string()])
            .args(["--max-requests-per-client", "0"]);
        if let Some(config) = &options.config {
            command.arg("--config").arg(config);
        }
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("SIGNET_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(BenchError::SpawnServer)?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::ServerFailed {
                what: "has no standard output".into(),
                log: None,
            });
        };
        let mut server = SpawnedServer {
            child,
            addr: String::new(),
            log_path,
            _dir: dir,
        };
        server.addr = server.wait_listening(stdout, options.reader_cpus.clone())?;
        let token_path = data_dir.join(signet_server::app::ADMIN_TOKEN_FILE);
        let token = std::fs::read_to_string(&token_path)
            .map_err(|source| BenchError::ServerToken {
                path: token_path.clone(),
                source,
            })?
            .trim()
            .to_owned();
        if token.is_empty() {
            return Err(BenchError::ServerToken {
                path: token_path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"),
            });
        }
        Ok((server, token))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the child's stdout on a thread until the listening line (the thread then keeps
    /// draining it so that the child never blocks on a full pipe).
    fn wait_listening(
        &mut self,
        stdout: impl Read + Send + 'static,
        cpus: Option<CpuList>,
    ) -> Result<String, BenchError> {
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("bench-server-stdout".into())
            .spawn(move || {
                // Started while this process is pinned like the server; it belongs with the
                // generator. (It sleeps on the pipe almost all the time; failing to move it
                // would not matter.)
                if let Some(cpus) = &cpus {
                    let _ = system::pin_current_thread(cpus);
                }
                let mut sent = false;
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if !sent && let Some(addr) = line.strip_prefix(LISTENING_PREFIX) {
                        let _ = tx.send(addr.trim().to_owned());
                        sent = true;
                    }
                }
            })
            .map_err(BenchError::Thread)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => return Ok(addr),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Stdout closed without the line: the server has exited or is exiting.
                    let status = self.child.wait().map(|s| s.to_string()).ok();
                    return Err(self.failed(format!(
                        "exited before listening ({})",
                        status.unwrap_or_else(|| "unknown status".into())
                    )));
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failed(format!("exited before listening ({status})")));
            }
            if Instant::now() >= deadline {
                return Err(self.failed(format!(
                    "did not say it was listening within {}s",
                    START_TIMEOUT.as_secs()
                )));
            }
        }
    }

    fn failed(&self, what: String) -> BenchError {
        BenchError::ServerFailed {
            what,
            log: log_tail(&self.log_path),
        }
    }

    /// SIGTERM, then up to [`STOP_TIMEOUT`] for a graceful exit, then SIGKILL.
    pub fn stop(mut self) -> Result<(), BenchError> {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        if kill(pid, Signal::SIGTERM).is_ok() {
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline {
                match self.child.try_wait() {
                    Ok(Some(status)) if status.success() => return Ok(()),
                    Ok(Some(status)) => {
                        return Err(self.failed(format!("exited with {status} on SIGTERM")));
                    }
                    Ok(None) => thread::sleep(Duration::from_millis(20)),
                    Err(_) => break,
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(self.failed(format!(
            "did not stop within {}s of SIGTERM and was killed",
            STOP_TIMEOUT.as_secs()
        )))
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last few KiB of the server's log, from the start of a line.
fn log_tail(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let from = len.saturating_sub(LOG_TAIL_BYTES);
    file.seek(SeekFrom::Start(from)).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Some(if from > 0 {
        text.split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or(text)
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_starts_at_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut text = String::new();
        for i in 0..1000 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let tail = log_tail(&path).unwrap();
        assert!(tail.len() <= LOG_TAIL_BYTES as usize);
        assert!(tail.starts_with("line "));
        assert!(tail.ends_with("line 999\n"));
        std::fs::write(&path, "short\n").unwrap();
        assert_eq!(log_tail(&path).unwrap(), "short\n");
        assert_eq!(log_tail(&dir.path().join("missing")), None);
    }
}
