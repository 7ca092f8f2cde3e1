//! Signet's core: the use cases (one file each under `usecases/`, all methods of [`Kms`]), the
//! domain types, the authorization model, the key vault (unsealing and the cache of unsealed
//! keys), page tokens, and the ports the use cases need ([`store::Store`], [`domain::Clock`]).
//!
//! It knows nothing of tonic, HTTP or SQL: the wire layer converts requests into the commands
//! defined here, the server maps [`ErrorKind`] to transport codes, and `signet-store`
//! implements the store port.

mod access;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cache;
mod changes;
pub mod copy;
pub mod domain;
pub mod error;
pub mod jwt;
mod kms;
pub mod paging;
pub mod store;
mod usecases;
pub mod vault;

pub use access::AccessCache;
pub use error::{CoreError, ErrorKind};
pub use kms::{
    CANONICAL_JWT_AUDIENCE, DEFAULT_MAX_KEYS_PER_FOLDER, Kms, KmsSettings, endpoint_jwt_audience,
};
pub use usecases::*;
