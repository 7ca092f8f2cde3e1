//! The `signet` binary. It parses the command line and hands each command to the module or
//! crate that owns it; no business logic lives here.

mod serve;

use clap::{Parser, Subcommand};
use signet_crypto::Algorithm;
use std::process::ExitCode;

/// Signet: a self-hosted key management service speaking the Yandex Cloud KMS asymmetric
/// signature API.
#[derive(Debug, Parser)]
#[command(name = "signet", version, about)]
struct Cli {
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
    /// List the signature algorithms, with their wire names, hashes and digest lengths.
    Algorithms,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Restore a deleted key whose material has not been destroyed yet.
    RestoreKey {
        /// The key id.
        key_id: String,
        #[command(flatten)]
        data: serve::ServeArgs,
    },
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            serve::report(&e);
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(args) => rt.block_on(serve::serve(args)),
        Command::Admin {
            command: AdminCommand::RestoreKey { key_id, data },
        } => rt.block_on(serve::restore_key(data, key_id)),
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
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
