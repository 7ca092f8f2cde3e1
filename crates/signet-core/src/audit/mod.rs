//! The audit trail: one record per call, hash-chained, with signed checkpoints (ADR 0006).
//!
//! * [`AuditEvent`] is what a call leaves behind: who, what, on which resource, with which
//!   outcome, from where, and for signatures the SHA-256 of what was signed. Never a token, key
//!   material or a message.
//! * [`AuditRecord`] is an event as stored: numbered, linked to the record before it by that
//!   record's hash, and hashed itself over a canonical, versioned encoding ([`record_hash`]).
//!   Store adapters chain events with [`AuditHead::link`] while they hold the chain head's lock,
//!   so that the chain stays one chain whatever number of servers append to it.
//! * [`AuditCheckpoint`] attests, signed with the deployment's checkpoint key
//!   ([`CheckpointKey`]), that record `seq` has hash `hash`.
//! * [`AuditTrail`] is the group-committing writer calls await; [`verify`] checks a stored
//!   chain and its checkpoints.

mod key;
mod trail;
mod verify;

pub use key::{
    CHECKPOINT_KEY_ALGORITHM, CHECKPOINT_KEY_ID, CheckpointKey, META_CHECKPOINT_KEY_SEALED,
    META_CHECKPOINT_PUBLIC_KEY, checkpoint_public_key,
};
pub use trail::{AuditError, AuditMode, AuditSettings, AuditStats, AuditTrail, AuditWriter};
pub use verify::{Broken, VerifyReport, verify};

use crate::domain::Timestamp;
use signet_crypto::Algorithm;
use std::sync::atomic::{AtomicBool, Ordering};

/// The version of the record encoding this build writes (and the only one it reads).
pub const RECORD_VERSION: u8 = 1;

/// Domain separation for record hashes, followed by a NUL.
const RECORD_TAG: &[u8] = b"signet.audit.record.v1\0";
/// Domain separation for checkpoint signatures, followed by a NUL.
const CHECKPOINT_TAG: &[u8] = b"signet.audit.checkpoint.v1\0";

/// What one call leaves in the trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// When the call finished, from the injected clock.
    pub time: Timestamp,
    pub request_id: String,
    /// The authenticated principal's subject id; empty when the call was not authenticated.
    pub subject: String,
    /// The full gRPC method path, e.g.
    /// `/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign`.
    pub rpc: String,
    /// The key, folder, service account, authorized key or operation the call was about.
    pub resource_id: Option<String>,
    /// The signature algorithm's wire name, when the call involved one.
    pub algorithm: Option<String>,
    /// The gRPC status code name, e.g. `OK`, `PERMISSION_DENIED`.
    pub outcome: String,
    /// The client's `IP:port`, empty if unknown.
    pub client_addr: String,
    /// SHA-256 of the message (Sign) or of the digest (SignHash) presented for signing.
    pub message_sha256: Option<[u8; 32]>,
}

/// What the core cannot know about the call it serves but needs for the call's audit record:
/// the request id, the RPC and the client address. The server attaches one to the
/// [`Principal`](crate::auth::Principal) of every recorded call. A use case that changes state
/// then writes the call's record (outcome `OK`) in the change's own transaction
/// ([`Write::audit`](crate::store::Write)), so the record exists if and only if the change
/// does, and marks the call recorded: the server then does not append a second record for it.
#[derive(Debug)]
pub struct CallAudit {
    request_id: String,
    rpc: String,
    client_addr: String,
    recorded: AtomicBool,
}

impl CallAudit {
    pub fn new(request_id: String, rpc: String, client_addr: String) -> CallAudit {
        CallAudit {
            request_id,
            rpc,
            client_addr,
            recorded: AtomicBool::new(false),
        }
    }

    /// The record of this call succeeding, by `subject`, on `resource_id`; `None` once a
    /// record was written for it (a call leaves one record, however many writes it makes).
    pub fn success(
        &self,
        time: Timestamp,
        subject: &str,
        resource_id: &str,
        algorithm: Option<Algorithm>,
    ) -> Option<AuditEvent> {
        if self.recorded() {
            return None;
        }
        Some(AuditEvent {
            time,
            request_id: self.request_id.clone(),
            subject: subject.to_owned(),
            rpc: self.rpc.clone(),
            resource_id: Some(resource_id.to_owned()),
            algorithm: algorithm.map(|a| a.wire_name().to_owned()),
            outcome: "OK".to_owned(),
            client_addr: self.client_addr.clone(),
            message_sha256: None,
        })
    }

    /// Notes that the record [`CallAudit::success`] made is committed.
    pub fn mark_recorded(&self) {
        self.recorded.store(true, Ordering::Release);
    }

    /// Whether the call's record is committed already.
    pub fn recorded(&self) -> bool {
        self.recorded.load(Ordering::Acquire)
    }
}

/// An event as stored in the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// 1, 2, 3, … without gaps.
    pub seq: i64,
    /// The encoding version [`record_hash`] used ([`RECORD_VERSION`]).
    pub version: u8,
    pub event: AuditEvent,
    /// The hash of record `seq - 1`; all zeros for record 1.
    pub prev_hash: [u8; 32],
    /// [`record_hash`] of this record, as written.
    pub hash: [u8; 32],
}

/// The end of the chain: the last record's number and hash ([`AuditHead::GENESIS`] when empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: [u8; 32],
}

impl AuditHead {
    /// The head of an empty chain.
    pub const GENESIS: AuditHead = AuditHead {
        seq: 0,
        hash: [0; 32],
    };

    /// Appends `event` after this head: returns the new record's `(seq, prev_hash, hash)` as
    /// the new head's fields. Adapters call this for each event of a batch, in order, while
    /// they hold the stored head's lock, and store `seq`, `self.hash` (as `prev_hash`) and the
    /// returned hash with the event.
    pub fn link(&self, event: &AuditEvent) -> AuditHead {
        let seq = self.seq.saturating_add(1);
        AuditHead {
            seq,
            hash: record_hash(RECORD_VERSION, seq, event, &self.hash),
        }
    }
}

/// A signed statement that record `seq` has hash `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub seq: i64,
    pub hash: [u8; 32],
    /// When the checkpoint was made (from the injected clock).
    pub time: Timestamp,
    /// ECDSA P-256 / SHA-256 (DER) over [`checkpoint_message`], by the checkpoint key.
    pub signature: Vec<u8>,
}

/// SHA-256 over the canonical encoding of a record (ADR 0006): the tag, then
/// `version:u8 seq:i64 time:i64 request_id subject rpc resource_id? algorithm? outcome
/// client_addr message_sha256? prev_hash`, integers big-endian, strings as `len:u32` + UTF-8,
/// optional values as a `0`/`1` byte then the value, hashes as 32 raw bytes.
pub fn record_hash(version: u8, seq: i64, event: &AuditEvent, prev_hash: &[u8; 32]) -> [u8; 32] {
    let mut out = Vec::with_capacity(
        RECORD_TAG.len()
            + 128
            + event.request_id.len()
            + event.subject.len()
            + event.rpc.len()
            + event.resource_id.as_ref().map_or(0, String::len)
            + event.algorithm.as_ref().map_or(0, String::len)
            + event.client_addr.len(),
    );
    out.extend_from_slice(RECORD_TAG);
    out.push(version);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&event.time.as_micros().to_be_bytes());
    put_str(&mut out, &event.request_id);
    put_str(&mut out, &event.subject);
    put_str(&mut out, &event.rpc);
    put_opt_str(&mut out, event.resource_id.as_deref());
    put_opt_str(&mut out, event.algorithm.as_deref());
    put_str(&mut out, &event.outcome);
    put_str(&mut out, &event.client_addr);
    match &event.message_sha256 {
        None => out.push(0),
        Some(h) => {
            out.push(1);
            out.extend_from_slice(h);
        }
    }
    out.extend_from_slice(prev_hash);
    signet_crypto::sha256(&out)
}

/// The bytes a checkpoint signature covers: the tag, then `seq:i64 hash time:i64`.
pub fn checkpoint_message(seq: i64, hash: &[u8; 32], time: Timestamp) -> Vec<u8> {
    let mut out = Vec::with_capacity(CHECKPOINT_TAG.len() + 48);
    out.extend_from_slice(CHECKPOINT_TAG);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(hash);
    out.extend_from_slice(&time.as_micros().to_be_bytes());
    out
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Fields are bounded far below 4 GiB (ids, paths, addresses); saturating keeps the function
    // total, and a saturated length could only make a record fail to verify, never collide.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

/// Lowercase hex, for hashes in exports and messages.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn event(n: i64) -> AuditEvent {
        AuditEvent {
            time: Timestamp::from_micros(1_700_000_000_000_000 + n),
            request_id: format!("req-{n}"),
            subject: "admin".into(),
            rpc: "/yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureCryptoService/Sign"
                .into(),
            resource_id: Some("abjkey".into()),
            algorithm: Some("ECDSA_NIST_P256_SHA_256".into()),
            outcome: "OK".into(),
            client_addr: "127.0.0.1:5000".into(),
            message_sha256: Some(signet_crypto::sha256(b"hello")),
        }
    }

    #[test]
    fn linking_numbers_and_chains_records() {
        let a = AuditHead::GENESIS.link(&event(1));
        assert_eq!(a.seq, 1);
        assert_eq!(a.hash, record_hash(1, 1, &event(1), &[0; 32]));
        let b = a.link(&event(2));
        assert_eq!(b.seq, 2);
        assert_eq!(b.hash, record_hash(1, 2, &event(2), &a.hash));
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = event(1);
        let h = |e: &AuditEvent| record_hash(1, 1, e, &[0; 32]);
        let reference = h(&base);
        let variants: Vec<fn(&mut AuditEvent)> = vec![
            |e| e.time = Timestamp::from_micros(0),
            |e| e.request_id.push('x'),
            |e| e.subject.clear(),
            |e| e.rpc.push('x'),
            |e| e.resource_id = None,
            |e| e.resource_id = Some(String::new()),
            |e| e.algorithm = None,
            |e| e.outcome = "INTERNAL".into(),
            |e| e.client_addr.clear(),
            |e| e.message_sha256 = None,
            |e| e.message_sha256 = Some([0; 32]),
        ];
        for change in variants {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(h(&e), reference, "{e:?}");
        }
        assert_ne!(record_hash(1, 2, &base, &[0; 32]), reference);
        assert_ne!(record_hash(2, 1, &base, &[0; 32]), reference);
        assert_ne!(record_hash(1, 1, &base, &[1; 32]), reference);
    }

    #[test]
    fn length_prefixes_keep_adjacent_fields_apart() {
        let mut a = event(1);
        a.request_id = "ab".into();
        a.subject = "c".into();
        let mut b = event(1);
        b.request_id = "a".into();
        b.subject = "bc".into();
        assert_ne!(
            record_hash(1, 1, &a, &[0; 32]),
            record_hash(1, 1, &b, &[0; 32])
        );
    }

    /// A fixed vector, so that a change of the encoding cannot go unnoticed (the ADR documents
    /// this exact input and output).
    #[test]
    fn known_answer() {
        let e = AuditEvent {
            time: Timestamp::from_micros(1_700_000_000_000_000),
            request_id: "r1".into(),
            subject: "admin".into(),
            rpc: "/p.S/M".into(),
            resource_id: None,
            algorithm: None,
            outcome: "OK".into(),
            client_addr: String::new(),
            message_sha256: None,
        };
        let mut expected = Vec::new();
        expected.extend_from_slice(b"signet.audit.record.v1\0");
        expected.push(1);
        expected.extend_from_slice(&1i64.to_be_bytes());
        expected.extend_from_slice(&1_700_000_000_000_000i64.to_be_bytes());
        for s in ["r1", "admin", "/p.S/M"] {
            expected.extend_from_slice(&(s.len() as u32).to_be_bytes());
            expected.extend_from_slice(s.as_bytes());
        }
        expected.extend_from_slice(&[0, 0]);
        expected.extend_from_slice(&2u32.to_be_bytes());
        expected.extend_from_slice(b"OK");
        expected.extend_from_slice(&0u32.to_be_bytes());
        expected.push(0);
        expected.extend_from_slice(&[0; 32]);
        assert_eq!(
            record_hash(1, 1, &e, &[0; 32]),
            signet_crypto::sha256(&expected)
        );
    }
}
