//! `signet serve` as a child process, for tests that need a real process: to kill it with
//! SIGKILL, or to run the binary as an operator would. The caller passes the binary's path
//! (`env!("CARGO_BIN_EXE_signet")` in `signet-cli`'s tests).

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tonic::transport::Channel;

/// A running `signet serve` process. Dropping it kills the process.
#[derive(Debug)]
pub struct ServeProcess {
    child: Child,
    /// The address it listens on (`127.0.0.1:PORT`).
    pub addr: String,
    log: PathBuf,
}

impl ServeProcess {
    /// Starts `bin serve --listen 127.0.0.1:0 --data-dir DATA_DIR EXTRA…` and waits until it
    /// says it is listening. Its stderr (the log) is appended to `DATA_DIR.log`, which
    /// [`ServeProcess::log`] reads back; panics with that log if the server exits instead.
    pub fn start(bin: &Path, data_dir: &Path, extra: &[&str]) -> ServeProcess {
        let log = data_dir.with_extension("log");
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut addr = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(a) = line.strip_prefix("signet listening on ") {
                addr = Some(a.trim().to_owned());
                break;
            }
        }
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "signet serve never said it was listening; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        ServeProcess { child, addr, log }
    }

    /// The port it listens on.
    pub fn port(&self) -> &str {
        self.addr.rsplit_once(':').map_or("", |(_, port)| port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process has logged so far (every start on the same data directory).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A gRPC channel to the server (plaintext).
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    /// SIGKILL (`kill -9`): the process gets no chance to clean up. Waits until it is gone.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits: the server must shut down cleanly (exit status 0).
    pub fn stop(self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait_for_clean_exit();
    }

    /// Waits for the process to end (after a signal sent some other way) and asserts that it
    /// exited successfully.
    pub fn wait_for_clean_exit(mut self) {
        let exit = self.child.wait().unwrap();
        assert!(
            exit.success(),
            "signet serve exited with {exit:?}; its log:\n{}",
            self.log()
        );
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        // Only this test's own child, by its handle; a no-op once it has been waited for.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `bin ARGS…` to completion and returns its output (for offline commands such as
/// `signet audit verify`).
pub fn run(bin: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}
