//! The `signet` binary. It only parses the command line and hands each command to the crate
//! that owns it; no business logic lives here.

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
    /// List the signature algorithms, with their wire names, hashes and digest lengths.
    Algorithms,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
