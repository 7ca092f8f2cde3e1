//! `signet audit`: read and verify the audit trail (docs/adr/0006-audit-chain.md).
//!
//! `tail` and `export` read the trail either **online**, through the server's
//! `signet.audit.v1.AuditTrailService` (when `--endpoint` or `SIGNET_ENDPOINT` names one; see
//! [`online`]), with the caller's token and rights (the admin, or `kms.auditor` on
//! `--folder-id`), or **offline**, against the data directory or store (`--data-dir`,
//! `--store`, `--config`, as `signet serve` takes them), while the server runs or not. Both
//! print the same lines for the same records. `verify` is offline only. Offline reading needs
//! no root key: records are stored in the clear (they hold no secret), and checkpoints are
//! verified with the public key recorded beside the sealed checkpoint key (or one given with
//! `--public-key`).

mod online;

use crate::client::GlobalArgs;
use crate::serve::{ServeArgs, report};
use clap::{Subcommand, ValueEnum};
use signet_core::audit::{AuditRecord, VerifyReport, checkpoint_public_key, hex, verify};
use signet_core::domain::Timestamp;
use signet_core::store::{Store, StoreError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Records read per store call.
const PAGE: usize = 1000;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the last records of the trail, oldest first.
    Tail {
        /// How many records.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Online only: the records about this folder and its keys (needs `kms.auditor` on it).
        #[arg(long, value_name = "FOLDER_ID")]
        folder_id: Option<String>,
        /// Online only: after the last records, keep printing new ones as they come (polls the
        /// server every second) until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        #[command(flatten)]
        data: ServeArgs,
    },
    /// Print every record at or after a time, as JSON lines, in chain order.
    Export {
        /// RFC 3339 time, e.g. 2026-01-31T00:00:00Z.
        #[arg(long, value_name = "RFC3339")]
        since: String,
        /// Output format (JSON lines).
        #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
        format: ExportFormat,
        /// Online only: the records about this folder and its keys (needs `kms.auditor` on it).
        #[arg(long, value_name = "FOLDER_ID")]
        folder_id: Option<String>,
        #[command(flatten)]
        data: ServeArgs,
    },
    /// Check the whole chain and every checkpoint signature, offline. Exits 1 at the first
    /// broken link.
    Verify {
        /// Verify checkpoints with this public key (PEM) instead of the one the store records,
        /// and fail if the store records another.
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        #[command(flatten)]
        data: ServeArgs,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Json,
}

/// Exit code when the command could not run (as opposed to 1: the chain is broken).
const CANNOT_RUN: u8 = 2;

/// Where the command line named a server (`--endpoint`, or `SIGNET_ENDPOINT`).
#[derive(Debug, Clone, Copy)]
pub struct Online<'a> {
    pub global: &'a GlobalArgs,
    /// `--endpoint` itself was given (not only `SIGNET_ENDPOINT`): then it may not be combined
    /// with the offline flags, which otherwise win over the environment.
    pub on_command_line: bool,
}

/// Runs an audit command, online when `online` names a server (see the module docs).
pub async fn run(command: AuditCommand, online: Option<Online<'_>>) -> ExitCode {
    let (data, folder_id, follow) = match &command {
        AuditCommand::Tail {
            data,
            folder_id,
            follow,
            ..
        } => (data, folder_id.as_deref(), *follow),
        AuditCommand::Export {
            data, folder_id, ..
        } => (data, folder_id.as_deref(), false),
        AuditCommand::Verify { data, .. } => (data, None, false),
    };
    let offline_flags = data.config.is_some() || data.data_dir.is_some() || data.store.is_some();
    let online = match online {
        Some(o) if offline_flags && o.on_command_line => {
            eprintln!(
                "ERROR: --endpoint reads the trail through the server; --config, --data-dir and \
                 --store read the store offline: give one or the other"
            );
            return ExitCode::from(CANNOT_RUN);
        }
        Some(_) if offline_flags => None,
        Some(o) if matches!(command, AuditCommand::Verify { .. }) => {
            if o.on_command_line {
                eprintln!(
                    "ERROR: `signet audit verify` runs offline only (--data-dir, --store or \
                     --config), not through --endpoint"
                );
                return ExitCode::from(CANNOT_RUN);
            }
            None
        }
        other => other,
    };
    if online.is_none() && (folder_id.is_some() || follow) {
        eprintln!(
            "ERROR: --folder-id and --follow read through the server: give --endpoint (offline \
             reading shows the store's whole trail)"
        );
        return ExitCode::from(CANNOT_RUN);
    }
    let since = match &command {
        AuditCommand::Export { since, .. } => match Timestamp::parse_rfc3339(since) {
            Some(t) => Some(t),
            None => {
                eprintln!(
                    "ERROR: --since {since:?} is not an RFC 3339 time like 2026-01-31T00:00:00Z"
                );
                return ExitCode::from(CANNOT_RUN);
            }
        },
        _ => None,
    };
    let mut out = std::io::stdout().lock();
    let result = if let Some(online) = online {
        online::run(online.global, command, since, &mut out).await
    } else {
        offline(command, since, &mut out).await
    };
    match result {
        Ok(code) => code,
        // The reader went away (`… | head`): nothing more to say.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&*e);
            ExitCode::from(CANNOT_RUN)
        }
    }
}

/// The offline commands, against the store the data flags name.
async fn offline(
    command: AuditCommand,
    since: Option<Timestamp>,
    out: &mut impl Write,
) -> Result<ExitCode, BoxError> {
    let data = match &command {
        AuditCommand::Tail { data, .. }
        | AuditCommand::Export { data, .. }
        | AuditCommand::Verify { data, .. } => data,
    };
    let settings = data.settings()?;
    let store = signet_server::open_store(&settings).await?;
    match command {
        AuditCommand::Tail { limit, format, .. } => tail(&store, limit, format, out).await?,
        AuditCommand::Export { .. } => {
            export(&store, since.unwrap_or(Timestamp::from_micros(0)), out).await?;
        }
        AuditCommand::Verify { public_key, .. } => {
            return Ok(verify_command(&store, public_key, out).await);
        }
    }
    Ok(ExitCode::SUCCESS)
}

type BoxError = Box<dyn std::error::Error>;

async fn tail(
    store: &Arc<dyn Store>,
    limit: usize,
    format: Format,
    out: &mut impl Write,
) -> Result<(), BoxError> {
    let head = store.audit_head().await?;
    let back = i64::try_from(limit).unwrap_or(i64::MAX);
    let from = head.seq.saturating_sub(back).saturating_add(1).max(1);
    let records = store.audit_records(from, limit).await?;
    for r in &records {
        print(r, format, out)?;
    }
    out.flush()?;
    Ok(())
}

async fn export(
    store: &Arc<dyn Store>,
    since: Timestamp,
    out: &mut impl Write,
) -> Result<(), BoxError> {
    let mut after = 0;
    loop {
        let page = store.audit_records_since(since, after, PAGE).await?;
        for r in &page {
            print(r, Format::Json, out)?;
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = last.seq,
            _ => break,
        }
    }
    out.flush()?;
    Ok(())
}

async fn verify_command(
    store: &Arc<dyn Store>,
    public_key: Option<PathBuf>,
    out: &mut impl Write,
) -> ExitCode {
    let recorded = match checkpoint_public_key(store.as_ref()).await {
        Ok(k) => k,
        Err(e) => {
            report(&e);
            return ExitCode::from(CANNOT_RUN);
        }
    };
    let key = match &public_key {
        None => recorded.clone(),
        Some(path) => {
            let pinned = std::fs::read_to_string(path)
                .map_err(BoxError::from)
                .and_then(|pem| signet_crypto::spki_pem_to_der(&pem).map_err(BoxError::from));
            match pinned {
                Ok(der) => Some(der),
                Err(e) => {
                    eprintln!("ERROR: cannot read the public key {}", path.display());
                    report(&*e);
                    return ExitCode::from(CANNOT_RUN);
                }
            }
        }
    };
    let outcome = verify(store.as_ref(), key.as_deref()).await;
    let mut broken = false;
    let printed = (|| -> std::io::Result<()> {
        if let Some(key) = &key {
            writeln!(
                out,
                "checkpoint key: sha256:{}",
                hex(&signet_crypto::sha256(key))
            )?;
        }
        if public_key.is_some() && recorded.is_some() && recorded != key {
            broken = true;
            writeln!(
                out,
                "BROKEN: the store records another checkpoint public key than the one given"
            )?;
        }
        match &outcome {
            Ok(report) => {
                summary(report, out)?;
                match &report.broken {
                    None => writeln!(out, "OK: the chain and its checkpoints are intact")?,
                    Some(b) => {
                        broken = true;
                        writeln!(out, "BROKEN at record {}: {}", b.seq, b.reason)?;
                    }
                }
            }
            // A row that no longer decodes is tampering too; the error names the row.
            Err(signet_core::CoreError::Internal(cause))
                if cause
                    .downcast_ref::<StoreError>()
                    .is_some_and(|e| matches!(e, StoreError::Corrupt(_))) =>
            {
                broken = true;
                writeln!(out, "BROKEN: {cause}")?;
            }
            Err(_) => {}
        }
        out.flush()
    })();
    if let Err(e) = &outcome
        && !broken
    {
        report(e);
        return ExitCode::from(CANNOT_RUN);
    }
    if let Err(e) = printed {
        report(&e);
        return ExitCode::from(CANNOT_RUN);
    }
    if broken {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn summary(report: &VerifyReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "records: {} checked, chain head at record {}",
        report.records, report.head.seq
    )?;
    match report.last_checkpoint {
        Some(last) => writeln!(
            out,
            "checkpoints: {} verified, the last covers record {last} ({} later records are \
             protected by the chain only)",
            report.checkpoints,
            report.records.saturating_sub(last).max(0)
        ),
        None => writeln!(out, "checkpoints: none yet"),
    }
}

/// One record as a line of `format`: the one rendering both modes share.
fn print(r: &AuditRecord, format: Format, out: &mut impl Write) -> std::io::Result<()> {
    match format {
        Format::Text => writeln!(out, "{}", text_line(r)),
        Format::Json => writeln!(out, "{}", json_line(r)),
    }
}

fn text_line(r: &AuditRecord) -> String {
    let e = &r.event;
    let mut line = format!(
        "{:>8} {} {:<19} {} subject={} resource={} algorithm={} client={} request_id={}",
        r.seq,
        e.time.to_rfc3339(),
        e.outcome,
        e.rpc,
        or_dash(&e.subject),
        or_dash(e.resource_id.as_deref().unwrap_or("")),
        or_dash(e.algorithm.as_deref().unwrap_or("")),
        or_dash(&e.client_addr),
        e.request_id
    );
    if let Some(h) = &e.message_sha256 {
        line.push_str(" message_sha256=");
        line.push_str(&hex(h));
    }
    line
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// One record as a JSON object (the `export` format, documented in ADR 0006).
fn json_line(r: &AuditRecord) -> serde_json::Value {
    let e = &r.event;
    serde_json::json!({
        "seq": r.seq,
        "version": r.version,
        "time": e.time.to_rfc3339(),
        "request_id": e.request_id,
        "subject": e.subject,
        "rpc": e.rpc,
        "resource_id": e.resource_id,
        "algorithm": e.algorithm,
        "outcome": e.outcome,
        "client_addr": e.client_addr,
        "message_sha256": e.message_sha256.as_ref().map(|h| hex(h)),
        "prev_hash": hex(&r.prev_hash),
        "hash": hex(&r.hash),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_core::audit::{AuditEvent, CheckpointKey};
    use signet_crypto::Algorithm;

    fn event(n: i64, outcome: &str) -> AuditEvent {
        AuditEvent {
            time: Timestamp::from_micros(1_700_000_000_000_000 + n * 1_000_000),
            request_id: format!("r{n}"),
            subject: "admin".into(),
            rpc: "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign"
                .into(),
            resource_id: Some("abjkey".into()),
            algorithm: Some("ECDSA_NIST_P256_SHA_256".into()),
            outcome: outcome.into(),
            client_addr: "127.0.0.1:1".into(),
            message_sha256: Some(signet_crypto::sha256(&n.to_be_bytes())),
        }
    }

    /// A data directory whose trail has 10 records and a checkpoint at record 5.
    async fn data_dir() -> (tempfile::TempDir, ServeArgs, Arc<dyn Store>, CheckpointKey) {
        let dir = tempfile::tempdir().unwrap();
        let data = ServeArgs {
            data_dir: Some(dir.path().join("data")),
            ..ServeArgs::default()
        };
        let settings = data.settings().unwrap();
        let (kms, _) = signet_server::open_kms(
            &settings,
            Arc::new(signet_core::domain::SystemClock),
            true,
            Vec::new(),
        )
        .await
        .unwrap();
        let root = signet_crypto::FileRootKey::new(settings.data_dir.join("root.key"));
        let root = signet_crypto::RootKeySource::load(&root).unwrap();
        let store = Arc::clone(kms.store());
        let key = CheckpointKey::load_or_create(store.as_ref(), &root)
            .await
            .unwrap();
        let events: Vec<AuditEvent> = (1..=5).map(|n| event(n, "OK")).collect();
        let head = store.append_audit(&events).await.unwrap();
        let cp = key
            .sign(head.seq, head.hash, Timestamp::from_micros(0))
            .unwrap();
        store.put_audit_checkpoint(&cp).await.unwrap();
        let events: Vec<AuditEvent> = (6..=10).map(|n| event(n, "NOT_FOUND")).collect();
        store.append_audit(&events).await.unwrap();
        (dir, data, store, key)
    }

    #[tokio::test]
    async fn verify_passes_an_intact_chain_and_fails_a_broken_one() {
        let (_dir, data, store, key) = data_dir().await;
        let mut out = Vec::new();
        assert_eq!(
            verify_command(&store, None, &mut out).await,
            ExitCode::SUCCESS
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("records: 10 checked"), "{text}");
        assert!(
            text.contains("the last covers record 5 (5 later records"),
            "{text}"
        );
        assert!(text.contains("OK: the chain"), "{text}");
        assert_eq!(
            run(
                AuditCommand::Verify {
                    public_key: None,
                    data: data.clone()
                },
                None
            )
            .await,
            ExitCode::SUCCESS
        );

        // A pinned key that is not the recorded one.
        let other = signet_crypto::SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
        let pem_path = _dir.path().join("other.pem");
        std::fs::write(&pem_path, other.public_key_pem().unwrap()).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            verify_command(&store, Some(pem_path), &mut out).await,
            ExitCode::FAILURE
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("another checkpoint public key"), "{text}");

        // A checkpoint attesting another hash for record 8.
        let cp = key.sign(8, [1; 32], Timestamp::from_micros(0)).unwrap();
        store.put_audit_checkpoint(&cp).await.unwrap();
        let mut out = Vec::new();
        assert_eq!(
            verify_command(&store, None, &mut out).await,
            ExitCode::FAILURE
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("BROKEN at record 8"), "{text}");
        assert_eq!(
            run(
                AuditCommand::Verify {
                    public_key: None,
                    data
                },
                None
            )
            .await,
            ExitCode::FAILURE
        );
    }

    #[tokio::test]
    async fn export_writes_json_lines_since_a_time_and_tail_the_last_records() {
        let (_dir, _data, store, _key) = data_dir().await;
        let mut out = Vec::new();
        let since = Timestamp::parse_rfc3339("2023-11-14T22:13:27Z").unwrap();
        export(&store, since, &mut out).await.unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [7, 8, 9, 10]);
        let first = &lines[0];
        assert_eq!(first["time"], "2023-11-14T22:13:27.000000Z");
        assert_eq!(first["outcome"], "NOT_FOUND");
        assert_eq!(first["resource_id"], "abjkey");
        assert_eq!(
            first["message_sha256"],
            hex(&signet_crypto::sha256(&7i64.to_be_bytes()))
        );
        assert_eq!(first["hash"].as_str().unwrap().len(), 64);
        assert_eq!(lines[1]["prev_hash"], first["hash"]);

        let mut out = Vec::new();
        tail(&store, 3, Format::Text, &mut out).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].trim_start().starts_with("8 2023-11-14T22:13:28"),
            "{text}"
        );
        assert!(lines[2].contains("request_id=r10"), "{text}");
        let mut out = Vec::new();
        tail(&store, 100, Format::Json, &mut out).await.unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 10);
    }

    #[tokio::test]
    async fn a_missing_store_or_a_bad_time_cannot_run() {
        let dir = tempfile::tempdir().unwrap();
        let data = ServeArgs {
            data_dir: Some(dir.path().join("nothing-here")),
            ..ServeArgs::default()
        };
        assert_eq!(
            run(
                AuditCommand::Verify {
                    public_key: None,
                    data: data.clone()
                },
                None
            )
            .await,
            ExitCode::from(CANNOT_RUN)
        );
        assert!(
            !dir.path().join("nothing-here").exists(),
            "nothing is created"
        );
        assert_eq!(
            run(
                AuditCommand::Export {
                    since: "yesterday".into(),
                    format: ExportFormat::Json,
                    folder_id: None,
                    data
                },
                None
            )
            .await,
            ExitCode::from(CANNOT_RUN)
        );
    }
}
