//! Verification of a stored trail: every record's hash, every link, the stored head, and every
//! checkpoint's signature and hash. Reports the first problem by sequence number.

use super::{
    AuditCheckpoint, AuditHead, CHECKPOINT_KEY_ALGORITHM, RECORD_VERSION, checkpoint_message, hex,
    record_hash,
};
use crate::CoreError;
use crate::store::Store;
use std::fmt;

/// Records read per store call.
const PAGE: usize = 1000;

/// Where and why the chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The first record whose link does not hold (or that is missing).
    pub seq: i64,
    pub reason: String,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.seq, self.reason)
    }
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked before the first break (all of them if there is none).
    pub records: i64,
    /// Checkpoints whose signature and hash were checked.
    pub checkpoints: usize,
    /// The highest record a valid checkpoint covers.
    pub last_checkpoint: Option<i64>,
    /// The head as the store records it.
    pub head: AuditHead,
    /// The first break, if any.
    pub broken: Option<Broken>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Checks the whole chain in `store`. `public_key_der` is the checkpoint key's public key
/// (DER SPKI); without it, any checkpoint counts as a break.
pub async fn verify(
    store: &dyn Store,
    public_key_der: Option<&[u8]>,
) -> Result<VerifyReport, CoreError> {
    let mut checkpoints: Vec<AuditCheckpoint> = Vec::new();
    loop {
        let after = checkpoints.last().map_or(i64::MIN, |c| c.seq);
        let page = store.audit_checkpoints(after, PAGE).await?;
        let done = page.len() < PAGE;
        checkpoints.extend(page);
        if done {
            break;
        }
    }
    let head = store.audit_head().await?;
    let mut report = VerifyReport {
        records: 0,
        checkpoints: 0,
        last_checkpoint: None,
        head,
        broken: None,
    };
    let mut pending = checkpoints.iter().peekable();
    let mut prev = AuditHead::GENESIS;
    'pages: loop {
        let page = store.audit_records(prev.seq + 1, PAGE).await?;
        for r in &page {
            let expected = prev.seq + 1;
            let broken = |reason: String| Broken {
                seq: expected,
                reason,
            };
            if r.seq != expected {
                report.broken = Some(broken(format!(
                    "missing (the next stored record is {})",
                    r.seq
                )));
                return Ok(report);
            }
            if r.version != RECORD_VERSION {
                report.broken = Some(broken(format!("unknown encoding version {}", r.version)));
                return Ok(report);
            }
            if r.prev_hash != prev.hash {
                report.broken = Some(broken(format!(
                    "does not link to record {}: it names previous hash {}, that record's hash is {}",
                    prev.seq,
                    hex(&r.prev_hash),
                    hex(&prev.hash)
                )));
                return Ok(report);
            }
            if record_hash(r.version, r.seq, &r.event, &r.prev_hash) != r.hash {
                report.broken = Some(broken(
                    "its content does not match its hash (the record was changed)".into(),
                ));
                return Ok(report);
            }
            while let Some(cp) = pending.next_if(|c| c.seq <= r.seq) {
                if let Err(reason) = check_checkpoint(cp, r.seq, &r.hash, public_key_der) {
                    report.broken = Some(Broken {
                        seq: cp.seq,
                        reason,
                    });
                    return Ok(report);
                }
                report.checkpoints += 1;
                report.last_checkpoint = Some(cp.seq);
            }
            prev = AuditHead {
                seq: r.seq,
                hash: r.hash,
            };
            report.records += 1;
        }
        if page.len() < PAGE {
            break 'pages;
        }
    }
    let missing = prev.seq + 1;
    if let Some(cp) = pending.next() {
        report.broken = Some(Broken {
            seq: missing,
            reason: format!(
                "missing: the chain ends at record {}, but a checkpoint covers record {}",
                prev.seq, cp.seq
            ),
        });
    } else if head.seq > prev.seq {
        report.broken = Some(Broken {
            seq: missing,
            reason: format!(
                "missing: the chain ends at record {}, but its head is at record {}",
                prev.seq, head.seq
            ),
        });
    } else if head.seq < prev.seq {
        report.broken = Some(Broken {
            seq: head.seq + 1,
            reason: format!(
                "beyond the chain head (record {}), which is not where the chain ends ({})",
                head.seq, prev.seq
            ),
        });
    } else if head.hash != prev.hash {
        report.broken = Some(Broken {
            seq: head.seq,
            reason: "the chain head records another hash for it".into(),
        });
    }
    Ok(report)
}

/// Checks a checkpoint against record `seq` (the one being walked) with hash `hash`.
fn check_checkpoint(
    cp: &AuditCheckpoint,
    seq: i64,
    hash: &[u8; 32],
    public_key_der: Option<&[u8]>,
) -> Result<(), String> {
    if cp.seq != seq {
        return Err(format!(
            "a checkpoint names record {}, which cannot exist",
            cp.seq
        ));
    }
    let Some(key) = public_key_der else {
        return Err("a checkpoint exists but no checkpoint public key is recorded".into());
    };
    let message = checkpoint_message(cp.seq, &cp.hash, cp.time);
    if signet_crypto::verify(CHECKPOINT_KEY_ALGORITHM, key, &message, &cp.signature).is_err() {
        return Err("its checkpoint's signature does not verify".into());
    }
    if cp.hash != *hash {
        return Err(format!(
            "its hash differs from the one its signed checkpoint attests ({})",
            hex(&cp.hash)
        ));
    }
    Ok(())
}
