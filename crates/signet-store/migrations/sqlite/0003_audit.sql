-- The audit trail (docs/adr/0006-audit-chain.md): one record per call, hash-chained, and signed
-- checkpoints. The chain's head is its last record (src/sqlite.rs); appends serialize on
-- SQLite's write lock. Same conventions as 0001_init.sql (INTEGER microseconds since
-- the epoch, STRICT tables). Records hold no token, key material or message: only the
-- SHA-256 of what was signed.

CREATE TABLE audit_records (
    -- 1, 2, 3, … without gaps: the chain order (a rowid alias).
    seq            INTEGER PRIMARY KEY NOT NULL,
    -- The version of the canonical encoding the hash covers (signet_core::audit::RECORD_VERSION).
    version        INTEGER NOT NULL,
    time           INTEGER NOT NULL,
    request_id     TEXT NOT NULL,
    -- The principal's subject id; empty for unauthenticated calls.
    subject        TEXT NOT NULL,
    -- The full gRPC method path.
    rpc            TEXT NOT NULL,
    resource_id    TEXT,
    -- Algorithm wire name.
    algorithm      TEXT,
    -- gRPC status code name.
    outcome        TEXT NOT NULL,
    client_addr    TEXT NOT NULL,
    -- SHA-256 of the message (Sign) or digest (SignHash); NULL for other calls.
    message_sha256 BLOB,
    -- The previous record's hash (32 zero bytes for record 1), and this record's.
    prev_hash      BLOB NOT NULL,
    hash           BLOB NOT NULL
) STRICT;

-- audit_records_since (`signet audit export --since`).
CREATE INDEX audit_records_by_time ON audit_records (time);

-- Signed statements "record seq has hash hash" (ECDSA P-256 by the checkpoint key, whose
-- public key is in meta).
CREATE TABLE audit_checkpoints (
    seq       INTEGER PRIMARY KEY NOT NULL,
    hash      BLOB NOT NULL,
    time      INTEGER NOT NULL,
    signature BLOB NOT NULL
) STRICT;
