//! Signet's server: thin gRPC handlers (decode → core → encode), the REST/JSON gateway that
//! turns HTTP requests into the same gRPC calls, the authentication entry point and the call
//! layer that writes every call's audit record and metrics, the one table from error kind to
//! gRPC and HTTP codes, configuration, and the composition root that wires the store, the root
//! key and the core together.
//!
//! Business rules do not live here; they are in `signet-core`.

pub mod app;
pub mod audit;
pub mod config;
pub mod context;
pub mod error;
pub mod grpc;
pub mod hardening;
pub mod jobs;
pub mod limits;
pub mod metrics;
pub mod rest;
pub mod store_url;

pub use app::{Running, ServeError, open_kms, open_store, start};
pub use config::{LogFormat, Overrides, Settings};
