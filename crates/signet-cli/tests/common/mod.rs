//! A `signet serve` child process for the end-to-end tests of this crate.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

pub const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

/// `signet serve` on a free loopback port, killed when dropped.
pub struct Server {
    child: Child,
    pub addr: String,
    /// What it printed on standard output up to "signet listening on".
    pub stdout: Vec<String>,
}

impl Server {
    /// Starts `signet serve --data-dir DIR EXTRA…` with its standard error going to `stderr`.
    /// `Err` holds the exit status if it exits instead of listening.
    pub fn try_start(data_dir: &Path, extra: &[&str], stderr: Stdio) -> Result<Server, ExitStatus> {
        let mut child = Command::new(SIGNET)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env_remove("SIGNET_ROOT_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut stdout = Vec::new();
        let mut addr = None;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let listening = line.strip_prefix("signet listening on ").map(str::to_owned);
            stdout.push(line);
            if let Some(a) = listening {
                addr = Some(a.trim().to_owned());
                break;
            }
        }
        match addr {
            Some(addr) => Ok(Server {
                child,
                addr,
                stdout,
            }),
            None => Err(child.wait().unwrap()),
        }
    }

    /// Starts the server, its standard error discarded; panics if it does not listen.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        Server::try_start(data_dir, extra, Stdio::null())
            .unwrap_or_else(|status| panic!("the server never said it was listening: {status}"))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> &str {
        self.addr.rsplit_once(':').unwrap().1
    }

    /// SIGTERM, then wait: the server must shut down cleanly.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "signet serve exited with {exit:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
