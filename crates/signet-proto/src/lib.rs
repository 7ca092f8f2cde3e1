//! Signet's wire layer: the Yandex Cloud KMS asymmetric-signature API as Rust
//! types. This crate owns the code generated from `proto/` at build time
//! (prost messages, tonic clients and servers, proto3-JSON serde impls), the
//! encoded descriptor set used for wire-contract tests and gRPC reflection,
//! and the wire⇄domain conversions ([`convert`]), where wire input is validated
//! exactly once. It must not know about storage or the crypto backend.
//!
//! Modules mirror protobuf packages, so `yandex.cloud.operation.Operation` is
//! [`yandex::cloud::operation::Operation`]. `google.protobuf` well-known types
//! come from [`pbjson_types`] (re-exported), except `FieldMask`, which is
//! [`wkt::FieldMask`] so that its JSON form is the mapped comma-separated
//! string.

pub mod convert;
pub mod wkt;

pub use pbjson_types;

/// Encoded `google.protobuf.FileDescriptorSet` of every file in `proto/` plus
/// the well-known types they import, with custom options and source info.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/signet_descriptor.bin"));

/// Packages under `yandex.*`. Everything below is generated.
// prost puts a message's oneofs in a module named after the message, so
// `operation::Operation`'s oneof lives in `operation::operation`.
#[allow(clippy::module_inception)]
pub mod yandex {
    /// Package `yandex.cloud`: validation options (`MapKeySpec`).
    pub mod cloud {
        include!(concat!(env!("OUT_DIR"), "/yandex.cloud.rs"));
        include!(concat!(env!("OUT_DIR"), "/yandex.cloud.serde.rs"));

        /// Package `yandex.cloud.access`: role bindings.
        pub mod access {
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.access.rs"));
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.access.serde.rs"));
        }

        /// Package `yandex.cloud.api`: the long-running-operation method option.
        pub mod api {
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.api.rs"));
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.api.serde.rs"));
        }

        /// Package `yandex.cloud.endpoint`: endpoint discovery.
        pub mod endpoint {
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.endpoint.rs"));
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.endpoint.serde.rs"));
        }

        /// Package `yandex.cloud.operation`: operations and their polling service.
        pub mod operation {
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.operation.rs"));
            include!(concat!(env!("OUT_DIR"), "/yandex.cloud.operation.serde.rs"));
        }

        pub mod iam {
            /// Package `yandex.cloud.iam.v1`: IAM token exchange, service
            /// accounts and their authorized keys.
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/yandex.cloud.iam.v1.rs"));
                include!(concat!(env!("OUT_DIR"), "/yandex.cloud.iam.v1.serde.rs"));
            }
        }

        pub mod resourcemanager {
            /// Package `yandex.cloud.resourcemanager.v1`: folders.
            pub mod v1 {
                include!(concat!(
                    env!("OUT_DIR"),
                    "/yandex.cloud.resourcemanager.v1.rs"
                ));
                include!(concat!(
                    env!("OUT_DIR"),
                    "/yandex.cloud.resourcemanager.v1.serde.rs"
                ));
            }
        }

        pub mod kms {
            pub mod v1 {
                /// Package `yandex.cloud.kms.v1.asymmetricsignature`: signature
                /// keys (control plane) and signing (data plane).
                pub mod asymmetricsignature {
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/yandex.cloud.kms.v1.asymmetricsignature.rs"
                    ));
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/yandex.cloud.kms.v1.asymmetricsignature.serde.rs"
                    ));
                }
            }
        }
    }
}

/// Signet's own packages (`signet.*`): its extensions to the API, outside Yandex's wire
/// contract. Everything below is generated.
pub mod signet {
    pub mod audit {
        /// Package `signet.audit.v1`: reading the audit trail online.
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/signet.audit.v1.rs"));
            include!(concat!(env!("OUT_DIR"), "/signet.audit.v1.serde.rs"));
        }
    }
}

/// Packages under `google.*` that Signet compiles itself (the well-known
/// `google.protobuf` types come from [`pbjson_types`]). Everything below is
/// generated.
pub mod google {
    /// Package `google.api`: HTTP route annotations.
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/google.api.rs"));
        include!(concat!(env!("OUT_DIR"), "/google.api.serde.rs"));
    }

    /// Package `google.rpc`: the error status and its typed details.
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
        include!(concat!(env!("OUT_DIR"), "/google.rpc.serde.rs"));
    }
}
