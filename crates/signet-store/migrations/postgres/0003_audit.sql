-- The audit trail (docs/adr/0006-audit-chain.md): one record per call, hash-chained, the chain
-- head, and signed checkpoints. Same conventions as 0001_init.sql (BIGINT microseconds since
-- the epoch, every integer BIGINT, identifiers COLLATE "C"). Records hold no token, key
-- material or message: only the SHA-256 of what was signed.

CREATE TABLE audit_records (
    -- 1, 2, 3, … without gaps: the chain order.
    seq            BIGINT PRIMARY KEY,
    -- The version of the canonical encoding the hash covers (signet_core::audit::RECORD_VERSION).
    version        BIGINT NOT NULL,
    time           BIGINT NOT NULL,
    request_id     TEXT NOT NULL,
    -- The principal's subject id; empty for unauthenticated calls.
    subject        TEXT COLLATE "C" NOT NULL,
    -- The full gRPC method path.
    rpc            TEXT COLLATE "C" NOT NULL,
    resource_id    TEXT COLLATE "C",
    -- Algorithm wire name.
    algorithm      TEXT COLLATE "C",
    -- gRPC status code name.
    outcome        TEXT COLLATE "C" NOT NULL,
    client_addr    TEXT NOT NULL,
    -- SHA-256 of the message (Sign) or digest (SignHash); NULL for other calls.
    message_sha256 BYTEA,
    -- The previous record's hash (32 zero bytes for record 1), and this record's.
    prev_hash      BYTEA NOT NULL,
    hash           BYTEA NOT NULL
);

-- audit_records_since (`signet audit export --since`).
CREATE INDEX audit_records_by_time ON audit_records (time);

-- The end of the chain: one row. Every append locks it (SELECT … FOR UPDATE) before it numbers
-- its records and moves it before commit, so that the appends of every server sharing this
-- database form one chain (see src/postgres.rs).
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA NOT NULL
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- Signed statements "record seq has hash hash" (ECDSA P-256 by the checkpoint key, whose
-- public key is in meta).
CREATE TABLE audit_checkpoints (
    seq       BIGINT PRIMARY KEY,
    hash      BYTEA NOT NULL,
    time      BIGINT NOT NULL,
    signature BYTEA NOT NULL
);
