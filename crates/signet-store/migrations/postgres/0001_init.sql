-- Signet's initial PostgreSQL schema. Applied once, inside a transaction, by the embedded migrator
-- (src/migrations.rs), in the first schema of the connection's search_path (the store's schema
-- option); never edit an applied migration, add the next numbered file instead.
--
-- Conventions, matching migrations/sqlite/: timestamps are BIGINT microseconds since the Unix
-- epoch (UTC); every integer is BIGINT, so that one codec (src/codec.rs) reads both databases;
-- enums are stored by their stable wire number or name. Identifiers are COLLATE "C": pages are
-- ordered by id, and that order must be bytewise whatever the database's default collation is,
-- as it is in SQLite and in Rust (page tokens compare ids as bytes).

-- Deployment facts (the root key check value, the admin token hash): written once, read often.
CREATE TABLE meta (
    name  TEXT COLLATE "C" PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE keys (
    id                  TEXT COLLATE "C" PRIMARY KEY,
    folder_id           TEXT COLLATE "C" NOT NULL,
    created_at          BIGINT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    -- Label key to value. JSONB rather than text: the database refuses anything but an object.
    labels              JSONB NOT NULL CHECK (jsonb_typeof(labels) = 'object'),
    -- KeyStatus::wire_number.
    status              BIGINT NOT NULL,
    -- signet_crypto::Algorithm::wire_number.
    algorithm           BIGINT NOT NULL,
    deletion_protection BOOLEAN NOT NULL,
    public_key_pem      TEXT,
    -- The private key sealed under the root key (never plaintext). NULL while the key is being
    -- created and after its material is destroyed.
    sealed              BYTEA,
    deleted_at          BIGINT,
    destroyed_at        BIGINT,
    -- Optimistic concurrency: every update is conditional on the version it read.
    version             BIGINT NOT NULL
);

-- list_keys: a folder's live keys in id order.
CREATE INDEX keys_by_folder ON keys (folder_id, id) WHERE deleted_at IS NULL;

-- keys_due_for_destruction: deleted keys whose sealed material still exists, oldest first.
CREATE INDEX keys_by_deletion ON keys (deleted_at, id)
    WHERE deleted_at IS NOT NULL AND sealed IS NOT NULL;

CREATE TABLE operations (
    id          TEXT COLLATE "C" PRIMARY KEY,
    -- OperationKind::as_str.
    kind        TEXT NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    modified_at BIGINT NOT NULL,
    -- Derived from result (anything but Pending is done); kept as a column to index on.
    done        BOOLEAN NOT NULL,
    -- OperationResult::to_json, kept verbatim: the store never looks inside it.
    result      TEXT NOT NULL
);

-- list_operations: a resource's operations in (created_at, id) order.
CREATE INDEX operations_by_resource ON operations (resource_id, created_at, id);

-- pending_operations: unfinished operations, oldest first.
CREATE INDEX operations_pending ON operations (created_at, id) WHERE NOT done;
