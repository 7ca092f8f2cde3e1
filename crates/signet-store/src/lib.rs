//! Signet's storage adapters: implementations of the store port
//! [`signet_core::store::Store`], which keeps keys (their private material only ever *sealed*
//! under the root key), long-running operations and a few deployment facts.
//!
//! This crate owns the adapters ([`SqliteStore`], the embedded default; PostgreSQL later), their
//! versioned schema migrations (`migrations/<database>/NNNN_description.sql`, embedded at compile
//! time), and the [`conformance`] suite that every adapter must pass. It must not know about
//! tonic or HTTP, nor about the crypto backend: sealed keys are opaque bytes here, and only
//! `signet-crypto` opens them.

mod codec;
pub mod conformance;
mod error;
mod migrations;
mod sqlite;

pub use sqlite::{SqliteOptions, SqliteStore};
