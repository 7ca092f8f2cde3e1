//! The client side of the `signet` binary: `signet kms asymmetric-signature-key ...` and
//! `signet kms asymmetric-signature-crypto ...`, shaped like `yc kms` (same subcommands, flags
//! and text output), talking gRPC to any server of the Yandex Cloud KMS asymmetric-signature
//! API through the generated clients in `signet-proto`.
//!
//! This module owns flag parsing for those commands, the connection (TLS by default, plaintext
//! only to loopback), the bearer token, operation polling and output rendering. It holds no
//! business rules: every decision about keys is the server's. The token is never printed: it
//! has a redacting `Debug`, is hidden from `--help`, and travels in a header marked sensitive.
//!
//! Wiring: flatten [`GlobalArgs`] into the top-level parser, add a subcommand holding a
//! [`KmsCommand`], and call [`execute`] (blocking) or [`run`] (async) with both. Other command
//! families (`signet iam`, `signet resource-manager`) implement [`SessionCommand`] and run
//! through [`execute_command`].

pub mod access;
pub mod args;
mod crypto;
mod encoding;
mod error;
pub use error::code_name;
pub(crate) mod files;
pub mod folders;
pub(crate) mod keys;
pub(crate) mod operation;
pub(crate) mod output;
pub(crate) mod transport;

#[cfg(test)]
mod fake_server_tests;
#[cfg(test)]
mod tests;

use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

pub use args::{GlobalArgs, KmsCommand};
pub use error::ClientError;
pub use transport::connect;

use args::KeyCommand;
use output::Printer;
use transport::Clients;
use transport::{Auth, resolve_token};

/// Runs one client command against `--endpoint`, printing results on stdout, progress on
/// stderr. Errors are returned, not printed; see [`ClientError::report`].
pub async fn run(global: &GlobalArgs, cmd: KmsCommand) -> Result<(), ClientError> {
    run_stdio(global, cmd).await
}

/// [`run`] on a fresh single-threaded runtime, for a synchronous `main`: prints any error as
/// `ERROR: ...` on stderr and returns exit code 1 for it.
pub fn execute(global: &GlobalArgs, cmd: KmsCommand) -> ExitCode {
    block_and_report(run(global, cmd))
}

/// A family of client commands (`kms`, `iam`, `resource-manager`): checked before connecting,
/// then run over a connected [`Session`].
pub(crate) trait SessionCommand {
    /// Checks that need no server, so that they fail before a connection is attempted.
    fn check(&self) -> Result<(), ClientError> {
        Ok(())
    }

    /// Runs the command.
    async fn run(self, session: &mut Session<'_>) -> Result<(), ClientError>;
}

impl SessionCommand for KmsCommand {
    fn check(&self) -> Result<(), ClientError> {
        validate(self)
    }

    async fn run(self, session: &mut Session<'_>) -> Result<(), ClientError> {
        match self {
            KmsCommand::AsymmetricSignatureKey(cmd) => keys::run(session, cmd).await,
            KmsCommand::AsymmetricSignatureCrypto(cmd) => crypto::run(session, cmd).await,
        }
    }
}

/// Runs any client command on the process's stdin and stdout.
pub(crate) async fn run_stdio<C: SessionCommand>(
    global: &GlobalArgs,
    cmd: C,
) -> Result<(), ClientError> {
    let mut input = io::stdin();
    let interactive_input = input.is_terminal();
    let mut out = io::stdout();
    let console = Console {
        out: &mut out,
        input: &mut input,
        interactive_input,
        progress: true,
    };
    run_command(global, cmd, console).await
}

/// Any client command on a fresh single-threaded runtime: prints an error as `ERROR: ...` on
/// stderr and returns exit code 1 for it.
pub(crate) fn execute_command<C: SessionCommand>(global: &GlobalArgs, cmd: C) -> ExitCode {
    block_and_report(run_stdio(global, cmd))
}

fn block_and_report(command: impl Future<Output = Result<(), ClientError>>) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)
        .and_then(|runtime| runtime.block_on(command));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}", err.report());
            ExitCode::FAILURE
        }
    }
}

/// Where a command reads its input and writes its results; tests substitute buffers.
pub(crate) struct Console<'a> {
    pub out: &'a mut (dyn Write + Send),
    pub input: &'a mut (dyn Read + Send),
    /// Stdin is a terminal: say that we are waiting for it.
    pub interactive_input: bool,
    /// Show a spinner on stderr while waiting for an operation.
    pub progress: bool,
}

/// Everything a command needs: the clients and the console.
pub(crate) struct Session<'a> {
    pub(crate) clients: Clients,
    pub(crate) printer: Printer<'a>,
    pub(crate) input: &'a mut (dyn Read + Send),
    pub(crate) interactive_input: bool,
    pub(crate) progress: bool,
}

#[cfg(test)]
pub(crate) async fn run_with(
    global: &GlobalArgs,
    cmd: KmsCommand,
    console: Console<'_>,
) -> Result<(), ClientError> {
    run_command(global, cmd, console).await
}

/// Checks the command, connects, runs it, and flushes the output.
pub(crate) async fn run_command<C: SessionCommand>(
    global: &GlobalArgs,
    cmd: C,
    console: Console<'_>,
) -> Result<(), ClientError> {
    cmd.check()?;
    let auth = Auth::new(resolve_token(global)?.as_ref())?;
    let channel = connect(global).await?;
    let mut session = Session {
        clients: Clients::new(channel, auth),
        printer: Printer::new(global.format, console.out),
        input: console.input,
        interactive_input: console.interactive_input,
        progress: console.progress,
    };
    let result = cmd.run(&mut session).await;
    let flushed = session.printer.flush();
    result.and(flushed)
}

/// Checks that need no server, so that they fail before a connection is attempted.
fn validate(cmd: &KmsCommand) -> Result<(), ClientError> {
    if let KmsCommand::AsymmetricSignatureKey(KeyCommand::Update(args)) = cmd {
        keys::update_request(String::new(), &args.fields)?;
    }
    Ok(())
}
