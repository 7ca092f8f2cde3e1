//! `signet admin copy-store`: copy a deployment into a new, empty store, typically from the
//! embedded SQLite database to a PostgreSQL cluster. Every row moves as stored: keys stay
//! sealed under the root key (nothing is unsealed, so no root key is read here, and the servers
//! of the new store need the same one), and the audit chain keeps its hashes and checkpoints.
//! See `signet_core::copy` for the rules (empty target, deployment facts last, counts and chain
//! heads compared at the end).

use crate::serve::report;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use signet_core::copy::{copy_store, count_rows};
use signet_server::store_url::StoreUrl;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct CopyStoreArgs {
    /// The store to copy: sqlite://PATH (the database file, or the data directory holding
    /// signet.db) or postgres://…. Stop the servers that use it first.
    #[arg(long, value_name = "URL", env = "SIGNET_COPY_FROM")]
    pub from: String,
    /// The new store, which must be empty: postgres://… (with
    /// ?options[search_path]=SCHEMA for a schema of its own) or sqlite://PATH.
    #[arg(long, value_name = "URL", env = "SIGNET_COPY_TO")]
    pub to: String,
}

pub async fn run(args: CopyStoreArgs) -> ExitCode {
    let (from, to) = match (StoreUrl::parse(&args.from), StoreUrl::parse(&args.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(e), _) | (_, Err(e)) => {
            report(&e);
            return ExitCode::from(2);
        }
    };
    if from == to {
        eprintln!("ERROR: --from and --to name the same store");
        return ExitCode::from(2);
    }
    let source = match from.open(true).await {
        Ok(s) => s,
        Err(e) => {
            report(&e);
            return ExitCode::FAILURE;
        }
    };
    let target = match to.open(false).await {
        Ok(s) => s,
        Err(e) => {
            report(&e);
            return ExitCode::FAILURE;
        }
    };
    let total = match count_rows(source.as_ref()).await {
        Ok(counts) => counts.iter().map(|(_, n)| n).sum(),
        Err(e) => {
            report(&e);
            return ExitCode::FAILURE;
        }
    };

    // indicatif draws nothing when stderr is not a terminal.
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:18} [{bar:40}] {pos}/{len} rows ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let copied = copy_store(source.as_ref(), target.as_ref(), |table, rows| {
        bar.set_message(table.name());
        bar.inc(u64::try_from(rows).unwrap_or(u64::MAX));
    })
    .await;
    bar.finish_and_clear();
    match copied {
        Ok(copy) => {
            println!("copied {from} to {to}:");
            for (table, rows) in &copy.tables {
                println!("  {:<18} {rows}", table.name());
            }
            println!("  audit chain ends at record {}", copy.audit_head.seq);
            println!(
                "Start the servers of the new store with the root key of the old one (its \
                 root.key file, or SIGNET_ROOT_KEY): the keys are sealed under it."
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
