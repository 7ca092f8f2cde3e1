//! The benchmark's one error type. No variant carries the token.

use std::error::Error as _;
use std::io;
use std::path::PathBuf;

use crate::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A flag combination or value that cannot work on this machine (exit code 2).
    #[error("{0}")]
    Usage(String),
    #[error("cannot set the CPU affinity of {what}")]
    Affinity {
        what: String,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("cannot read this process's CPU usage")]
    Rusage(#[source] nix::errno::Errno),
    #[error("cannot read {path}")]
    ReadProc {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not in the expected format")]
    ProcFormat { path: String },
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    #[error("cannot start a thread")]
    Thread(#[source] io::Error),
    #[error("cannot create a temporary data directory for the server")]
    TempDir(#[source] io::Error),
    #[error("cannot find this program's own executable, to start the server")]
    CurrentExe(#[source] io::Error),
    #[error("cannot start `signet serve`")]
    SpawnServer(#[source] io::Error),
    /// The spawned server exited, or never said it was listening.
    #[error("the spawned server {what}{}", log_hint(.log))]
    ServerFailed { what: String, log: Option<String> },
    #[error("cannot read the spawned server's admin token from {}", path.display())]
    ServerToken {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Connecting, or an invalid endpoint or token.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The benchmark's own HTTP/2 connection could not be set up.
    #[error("{0}")]
    Connect(String),
    #[error("TLS: {0}")]
    Tls(String),
    /// A call made while preparing the run (creating keys) failed.
    #[error("{what} failed: {}: {}", code_name(status.code()), status.message())]
    Setup { what: String, status: tonic::Status },
    #[error("the in-process signing ceiling could not be measured")]
    Ceiling(#[source] signet_crypto::CryptoError),
    #[error("the random number generator failed")]
    Random(#[source] signet_crypto::CryptoError),
    #[error("a benchmark thread panicked")]
    ThreadPanicked,
    #[error("cannot merge the latency histograms")]
    Histogram,
    #[error("cannot render the report as JSON")]
    Json(#[source] serde_json::Error),
    #[error("no request succeeded in the measured window ({0})")]
    NothingSucceeded(String),
}

fn log_hint(log: &Option<String>) -> String {
    match log {
        Some(text) if !text.trim().is_empty() => {
            format!("; the end of its log:\n{}", text.trim_end())
        }
        _ => String::new(),
    }
}

impl BenchError {
    /// The exit code: 2 for a bad flag or flag combination, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            BenchError::Usage(_) => 2,
            BenchError::Client(
                ClientError::InvalidEndpoint { .. }
                | ClientError::InsecureNotLoopback { .. }
                | ClientError::InvalidToken(_),
            ) => 2,
            _ => 1,
        }
    }

    /// `ERROR: <what failed>: <cause>: ...`, each distinct cause once.
    pub fn report(&self) -> String {
        if let BenchError::Client(e) = self {
            return e.report();
        }
        let mut line = format!("ERROR: {self}");
        let mut cause = self.source();
        let mut last = String::new();
        while let Some(err) = cause {
            let text = err.to_string();
            if text != last {
                line.push_str(": ");
                line.push_str(&text);
            }
            last = text;
            cause = err.source();
        }
        line
    }
}

/// One name per gRPC code, shared with the client commands.
pub use crate::client::code_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_causes_once() {
        let e = BenchError::ReadProc {
            path: "/proc/1/stat".into(),
            source: io::Error::new(io::ErrorKind::NotFound, "gone"),
        };
        assert_eq!(e.report(), "ERROR: cannot read /proc/1/stat: gone");
        assert_eq!(e.exit_code(), 1);
        assert_eq!(BenchError::Usage("bad".into()).exit_code(), 2);
    }

    #[test]
    fn setup_errors_name_the_code() {
        let e = BenchError::Setup {
            what: "creating a key".into(),
            status: tonic::Status::unauthenticated("no token"),
        };
        assert_eq!(
            e.report(),
            "ERROR: creating a key failed: UNAUTHENTICATED: no token"
        );
    }
}
