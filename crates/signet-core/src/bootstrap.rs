//! First start and every start: tie the store to one root key, and make sure an admin token
//! exists.

use crate::CoreError;
use crate::auth::{Authenticator, NewToken, mint_admin_token, token_hash_hex};
use crate::store::{Store, Table};
use signet_crypto::RootKey;

/// Meta entry holding the root key's check value.
pub const META_ROOT_KEY_CHECK: &str = "root_key_check_value";
/// Meta entry holding the hex SHA-256 of the admin token.
pub const META_ADMIN_TOKEN_SHA256: &str = "admin_token_sha256";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "the root key does not match this data: the store was initialized with the root key whose \
         check value is {stored}, but the root key given has check value {given}. Start Signet \
         with the root key this store was created with; nothing was changed"
    )]
    RootKeyMismatch { stored: String, given: String },
    #[error(
        "the store holds {rows} rows of {} but was never initialized (it has no root key check \
         value): is it the target of a `signet admin copy-store` that did not finish? Drop it and \
         copy again; nothing was changed",
        .table.name()
    )]
    Uninitialized { table: Table, rows: u64 },
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The outcome of bootstrapping.
#[derive(Debug)]
pub struct Bootstrapped {
    pub authenticator: Authenticator,
    /// Set only on the start that created the admin token: show it once, then forget it.
    pub new_admin_token: Option<NewToken>,
}

/// Checks that `root` is the root key this store belongs to (recording it on first start), and
/// creates the admin token if there is none. Refuses, writing nothing, on a root key mismatch,
/// and on a store that holds data but was never initialized.
pub async fn bootstrap(store: &dyn Store, root: &RootKey) -> Result<Bootstrapped, BootstrapError> {
    let given = root.check_value();
    let stored = match store
        .get_meta(META_ROOT_KEY_CHECK)
        .await
        .map_err(CoreError::from)?
    {
        Some(v) => v,
        None => {
            // A store with data but no root key check value was filled by a copy that did not
            // finish (copies write the deployment facts last): tying it to this root key now
            // would make its keys unusable for good.
            for table in Table::COPY_ORDER {
                if table == Table::Meta {
                    continue;
                }
                let rows = store.count_rows(table).await.map_err(CoreError::from)?;
                if rows > 0 {
                    return Err(BootstrapError::Uninitialized { table, rows });
                }
            }
            store
                .put_meta_if_absent(META_ROOT_KEY_CHECK, &given)
                .await
                .map_err(CoreError::from)?;
            store
                .get_meta(META_ROOT_KEY_CHECK)
                .await
                .map_err(CoreError::from)?
                .unwrap_or_default()
        }
    };
    if stored != given {
        return Err(BootstrapError::RootKeyMismatch { stored, given });
    }

    if let Some(hash) = store
        .get_meta(META_ADMIN_TOKEN_SHA256)
        .await
        .map_err(CoreError::from)?
    {
        return Ok(Bootstrapped {
            authenticator: Authenticator::new(&hash)?,
            new_admin_token: None,
        });
    }
    let token = mint_admin_token()?;
    let hash = token_hash_hex(token.expose());
    let inserted = store
        .put_meta_if_absent(META_ADMIN_TOKEN_SHA256, &hash)
        .await
        .map_err(CoreError::from)?;
    if inserted {
        return Ok(Bootstrapped {
            authenticator: Authenticator::new(&hash)?,
            new_admin_token: Some(token),
        });
    }
    // Another process won the race; use its token.
    let hash = store
        .get_meta(META_ADMIN_TOKEN_SHA256)
        .await
        .map_err(CoreError::from)?
        .unwrap_or_default();
    Ok(Bootstrapped {
        authenticator: Authenticator::new(&hash)?,
        new_admin_token: None,
    })
}
