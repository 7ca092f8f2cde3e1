//! Thin gRPC handlers: authenticate, convert the request (validated once in
//! `signet_proto::convert`), call the use case, convert the answer. No business rules here.

mod audit_trail;
mod bindings;
mod crypto;
mod endpoints;
mod folders;
mod iam;
mod keys;
mod operations;

pub use audit_trail::AuditTrailService;
pub use crypto::CryptoService;
pub use endpoints::{ApiEndpointService, ENDPOINT_IDS};
pub use folders::FolderService;
pub use iam::{IamTokenService, KeyService as AuthorizedKeyService, ServiceAccountService};
pub use keys::KeyService;
pub use operations::OperationService;

use crate::error::grpc_code_number;
use signet_core::domain::OperationRecord;
use signet_proto::yandex::cloud::operation::Operation;

pub(crate) fn wire_operation(op: &OperationRecord) -> Operation {
    signet_proto::convert::operation(op, grpc_code_number)
}
