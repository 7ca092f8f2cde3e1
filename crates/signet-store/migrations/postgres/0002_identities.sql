-- Identities and access control: access bindings on keys and folders, service accounts, their
-- authorized keys, and the IAM tokens issued to them. Same conventions as 0001_init.sql (BIGINT
-- microseconds since the epoch, every integer BIGINT, identifiers COLLATE "C").

-- Who holds which role on which resource. A resource's bindings are a set, replaced as a whole
-- (under a transaction-level advisory lock on the target, see src/postgres.rs).
CREATE TABLE access_bindings (
    -- BindingTarget::storage_key, e.g. "key:abj…" or "folder:default".
    target       TEXT COLLATE "C" NOT NULL,
    -- Role::id, e.g. "kms.asymmetricSignatureKeys.signer".
    role         TEXT COLLATE "C" NOT NULL,
    -- SubjectType::wire_name.
    subject_type TEXT COLLATE "C" NOT NULL,
    subject_id   TEXT COLLATE "C" NOT NULL,
    -- Also serves get_access_bindings (by target) and the replacement's delete.
    PRIMARY KEY (target, role, subject_type, subject_id)
);

CREATE TABLE service_accounts (
    id          TEXT COLLATE "C" PRIMARY KEY,
    folder_id   TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Label key to value, as keys.labels.
    labels      JSONB NOT NULL CHECK (jsonb_typeof(labels) = 'object'),
    -- Names are unique within a folder, as in Yandex IAM.
    UNIQUE (folder_id, name)
);

-- list_service_accounts: a folder's accounts in id order.
CREATE INDEX service_accounts_by_folder ON service_accounts (folder_id, id);

-- Only the public half of an authorized key is ever stored.
CREATE TABLE authorized_keys (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    -- No cascade: delete_service_account removes the keys explicitly in its transaction, and the
    -- constraint refuses a key for an account that does not exist.
    service_account_id TEXT COLLATE "C" NOT NULL REFERENCES service_accounts (id),
    created_at         BIGINT NOT NULL,
    description        TEXT NOT NULL,
    -- AuthorizedKeyAlgorithm::wire_number.
    algorithm          BIGINT NOT NULL,
    public_key_pem     TEXT NOT NULL
);

-- list_authorized_keys (an account's keys in id order) and the deletion with the account.
CREATE INDEX authorized_keys_by_account ON authorized_keys (service_account_id, id);

-- Issued IAM tokens, known only by their SHA-256. Deliberately no foreign key: a deleted
-- account's tokens stay, revoked, so that a presented token is refused as revoked, not unknown.
CREATE TABLE iam_tokens (
    -- Lowercase hex SHA-256 of the token; the token itself is never stored.
    sha256             TEXT COLLATE "C" PRIMARY KEY,
    service_account_id TEXT COLLATE "C" NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    revoked_at         BIGINT
);

-- delete_service_account: the account's tokens that are not revoked yet.
CREATE INDEX iam_tokens_unrevoked_by_account ON iam_tokens (service_account_id)
    WHERE revoked_at IS NULL;
