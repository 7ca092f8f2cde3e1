-- Signet's initial SQLite schema. Applied once, inside a transaction, by the embedded migrator
-- (src/migrations.rs); never edit an applied migration, add the next numbered file instead.
--
-- Conventions: timestamps are INTEGER microseconds since the Unix epoch (UTC); enums are stored
-- by their stable wire number or name; tables are STRICT so a value of the wrong type is refused
-- on write instead of surfacing as a decode error later.

-- Deployment facts (the root key check value, the admin token hash): written once, read often.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE keys (
    id                  TEXT PRIMARY KEY NOT NULL,
    folder_id           TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    -- JSON object of label key to value.
    labels              TEXT NOT NULL,
    -- KeyStatus::wire_number.
    status              INTEGER NOT NULL,
    -- signet_crypto::Algorithm::wire_number.
    algorithm           INTEGER NOT NULL,
    deletion_protection INTEGER NOT NULL CHECK (deletion_protection IN (0, 1)),
    public_key_pem      TEXT,
    -- The private key sealed under the root key (never plaintext). NULL while the key is being
    -- created and after its material is destroyed.
    sealed              BLOB,
    deleted_at          INTEGER,
    destroyed_at        INTEGER,
    -- Optimistic concurrency: every update is conditional on the version it read.
    version             INTEGER NOT NULL
) STRICT;

-- list_keys: a folder's live keys in id order.
CREATE INDEX keys_by_folder ON keys (folder_id, id) WHERE deleted_at IS NULL;

-- keys_due_for_destruction: deleted keys whose sealed material still exists, oldest first.
CREATE INDEX keys_by_deletion ON keys (deleted_at, id)
    WHERE deleted_at IS NOT NULL AND sealed IS NOT NULL;

CREATE TABLE operations (
    id          TEXT PRIMARY KEY NOT NULL,
    -- OperationKind::as_str.
    kind        TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    modified_at INTEGER NOT NULL,
    -- Derived from result (anything but Pending is done); kept as a column to index on.
    done        INTEGER NOT NULL CHECK (done IN (0, 1)),
    -- OperationResult::to_json.
    result      TEXT NOT NULL
) STRICT;

-- list_operations: a resource's operations in (created_at, id) order.
CREATE INDEX operations_by_resource ON operations (resource_id, created_at, id);

-- pending_operations: unfinished operations, oldest first.
CREATE INDEX operations_pending ON operations (created_at, id) WHERE done = 0;
