//! Signet's storage adapters: implementations of the store port
//! [`signet_core::store::Store`], which keeps keys (their private material only ever *sealed*
//! under the root key), long-running operations and a few deployment facts.
//!
//! This crate owns the adapters — [`SqliteStore`], the embedded default (one database file, one
//! server process), and [`PostgresStore`], for several server processes sharing a PostgreSQL
//! database (in a schema of their own if asked) — their versioned schema migrations
//! (`migrations/<database>/NNNN_description.sql`, embedded at compile time), the mapping of rows
//! to domain records that both share (`codec`), and the conformance suites that every adapter
//! must pass ([`conformance`] for keys and operations, [`conformance_identity`] for access
//! bindings and identities, [`conformance_audit`] for the audit trail). It must not know about tonic or HTTP, nor about the crypto
//! backend: sealed keys are opaque bytes here, and only `signet-crypto` opens them.

mod codec;
pub mod conformance;
pub mod conformance_audit;
pub mod conformance_copy;
pub mod conformance_identity;
mod copy;
mod error;
mod migrations;
mod postgres;
mod sqlite;

pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{SqliteOptions, SqliteStore};
