//! The `signet` binary. It parses the command line and hands each command to the module or
//! crate that owns it; no business logic lives here.

mod audit;
mod bench;
mod client;
mod copy_store;
mod devcert;
mod iam;
mod serve;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use signet_crypto::Algorithm;
use std::process::ExitCode;

/// Signet: a self-hosted key management service speaking the Yandex Cloud KMS asymmetric
/// signature API.
#[derive(Debug, Parser)]
#[command(name = "signet", version, about)]
struct Cli {
    /// Client options (for the `kms`, `iam` and `resource-manager` commands); they go before
    /// the subcommand.
    #[command(flatten)]
    client: client::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (gRPC). With no flags: data in ./signet-data, listening on 127.0.0.1:8443.
    Serve(serve::ServeArgs),
    /// Offline administration of a data directory (needs the root key, like the server).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Client commands for the Yandex Cloud KMS asymmetric signature API, shaped like `yc kms`.
    #[command(subcommand)]
    Kms(client::KmsCommand),
    /// Service accounts, their authorized keys and IAM tokens, shaped like `yc iam`.
    #[command(subcommand)]
    Iam(iam::IamCommand),
    /// Access bindings of folders, shaped like `yc resource-manager folder`.
    #[command(subcommand)]
    ResourceManager(client::folders::ResourceManagerCommand),
    /// Write a throw-away CA and a TLS server certificate for localhost, for development.
    DevCert(devcert::DevCertArgs),
    /// List the signature algorithms, with their wire names, hashes and digest lengths.
    Algorithms,
    /// Load-test a server (or one it spawns) and report throughput, latency and CPU per request.
    Bench(bench::BenchArgs),
    /// Read the audit trail through the server (with --endpoint) or offline from the data
    /// directory or store, and verify it (offline).
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
}

// Parsed once per run: the size of the larger variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Restore a deleted key whose material has not been destroyed yet.
    RestoreKey {
        /// The key id.
        key_id: String,
        #[command(flatten)]
        data: serve::ServeArgs,
    },
    /// Copy a deployment into a new, empty store (e.g. SQLite to PostgreSQL), with a progress
    /// bar. Sealed key material is copied as it is: the new store needs the same root key.
    CopyStore(copy_store::CopyStoreArgs),
}

/// Runs a server-side future on a multi-threaded runtime.
fn block_on(fut: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => {
            serve::report(&e);
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // `signet audit tail|export` read through the server when one is named explicitly.
    let endpoint = match matches.value_source("endpoint") {
        Some(ValueSource::CommandLine) => Some(true),
        Some(ValueSource::EnvVariable) => Some(false),
        _ => None,
    };
    match cli.command {
        Command::Serve(args) => block_on(serve::serve(args)),
        Command::Admin {
            command: AdminCommand::RestoreKey { key_id, data },
        } => block_on(serve::restore_key(data, key_id)),
        Command::Admin {
            command: AdminCommand::CopyStore(args),
        } => block_on(copy_store::run(args)),
        Command::Kms(cmd) => client::execute(&cli.client, cmd),
        Command::Iam(cmd) => client::execute_command(&cli.client, cmd),
        Command::ResourceManager(cmd) => client::execute_command(&cli.client, cmd),
        Command::DevCert(args) => devcert::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Audit { command } => block_on(audit::run(
            command,
            endpoint.map(|on_command_line| audit::Online {
                global: &cli.client,
                on_command_line,
            }),
        )),
        Command::Algorithms => {
            println!("{:<28} {:<28} {:<7} DIGEST", "NAME", "CLI NAME", "HASH");
            for alg in Algorithm::ALL {
                println!(
                    "{:<28} {:<28} {:<7} {}",
                    alg.wire_name(),
                    alg.cli_name(),
                    alg.hash().name(),
                    alg.digest_len()
                );
            }
            ExitCode::SUCCESS
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
