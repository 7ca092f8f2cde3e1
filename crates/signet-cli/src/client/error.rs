//! The client's one error type and how it is shown to a person.

use std::error::Error as _;
use std::io;
use std::path::PathBuf;

/// Everything that can make a client command fail. The token never appears in any variant.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `--endpoint` is not `HOST:PORT`.
    #[error("invalid --endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        endpoint: String,
        reason: &'static str,
    },
    /// `--insecure` was asked for a host that is not this machine.
    #[error(
        "refusing --insecure (plaintext) for {host:?}: plaintext is allowed only to a loopback \
         address or localhost; use TLS (optionally with --ca) instead"
    )]
    InsecureNotLoopback { host: String },
    /// The token is empty or cannot be sent as an HTTP/2 header value.
    #[error("the token is {0} (its value is not shown)")]
    InvalidToken(&'static str),
    /// A file named on the command line (or the default token file) could not be read.
    #[error("cannot read {}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// An output file could not be written.
    #[error("cannot write {}", path.display())]
    WriteFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read standard input")]
    Stdin(#[source] io::Error),
    #[error("cannot write to standard output")]
    Stdout(#[source] io::Error),
    /// The async runtime could not be started.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    /// The connection (TCP, TLS, HTTP/2) could not be set up.
    #[error("cannot connect to {endpoint}")]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The server answered a call with an error status.
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Rpc(#[from] tonic::Status),
    /// A long-running operation finished with an error.
    #[error("{}: {message} (operation {operation_id})", code_name(tonic::Code::from_i32(*code)))]
    OperationFailed {
        operation_id: String,
        code: i32,
        message: String,
    },
    /// An operation reported `done` with neither a response nor an error.
    #[error("operation {operation_id} finished without a response")]
    EmptyOperationResult { operation_id: String },
    /// An operation's response was not the message this command expects.
    #[error("operation {operation_id} returned a {got}, expected a {expected}")]
    UnexpectedResponseType {
        operation_id: String,
        expected: String,
        got: String,
    },
    /// An operation's response could not be decoded.
    #[error("cannot decode the response of operation {operation_id}")]
    DecodeResponse {
        operation_id: String,
        #[source]
        source: prost::DecodeError,
    },
    /// `--name` matched no key in the folder.
    #[error("no key named {name:?} in folder {folder_id:?}")]
    KeyNameNotFound { name: String, folder_id: String },
    /// `--name` matched several keys in the folder.
    #[error("{count} keys are named {name:?} in folder {folder_id:?}; name the key by ID instead")]
    KeyNameAmbiguous {
        name: String,
        folder_id: String,
        count: usize,
    },
    /// The server kept handing out the same page token.
    #[error("the server returned the same page token twice; stopping")]
    PageTokenLoop,
    /// `update` was given no attribute to change.
    #[error(
        "nothing to update: give at least one of --new-name, --description, --labels, --status, \
         --deletion-protection, --no-deletion-protection"
    )]
    NothingToUpdate,
    /// Input given with `--inform hex|base64` did not decode.
    #[error("the input is not valid {encoding}")]
    InvalidInput {
        encoding: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An output file that must be new already exists.
    #[error("refusing to overwrite {}: it already exists", path.display())]
    OutputExists { path: PathBuf },
    /// An authorized key was created but its file could not be written; its private key is
    /// lost (the server keeps only the public key).
    #[error(
        "cannot write {}; authorized key {key_id} was created but its private key is lost: {}",
        path.display(),
        if *.deleted_again {
            "the key has been deleted again"
        } else {
            "delete it with `signet iam key delete KEY-ID`"
        }
    )]
    KeyFileNotWritten {
        path: PathBuf,
        key_id: String,
        deleted_again: bool,
        #[source]
        source: io::Error,
    },
    /// `--name` matched no service account in the folder.
    #[error("no service account named {name:?} in folder {folder_id:?}")]
    AccountNameNotFound { name: String, folder_id: String },
    /// The server answered a create call without the object it created.
    #[error("the server's response has no {0}")]
    MissingInResponse(&'static str),
    #[error("cannot render the output as JSON")]
    Json(#[source] serde_json::Error),
    #[error("cannot render the output as YAML")]
    Yaml(#[source] serde_yaml::Error),
}

impl ClientError {
    /// The line printed on stderr for this error: `ERROR: <code>: <message>` for an error from
    /// the server, `ERROR: <what failed>: <cause>: ...` otherwise.
    pub fn report(&self) -> String {
        let mut line = format!("ERROR: {self}");
        let mut cause = self.source();
        // A server status already carries its whole text in its message.
        if matches!(self, ClientError::Rpc(_)) {
            cause = None;
        }
        let mut last = String::new();
        while let Some(err) = cause {
            // Transport errors often wrap a cause with the same text; say it once.
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

/// The canonical name of a gRPC status code, as in `google.rpc.Code`.
pub fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
