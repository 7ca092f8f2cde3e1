//! Domain types: parsed once at the wire boundary, trusted everywhere after.

pub mod access;
pub mod identity;
pub mod ids;
pub mod key;
pub mod operation;
pub mod time;
pub mod validation;

pub use access::{
    AccessBinding, BindingAction, BindingDelta, BindingTarget, PermissionKind, Role, Subject,
    SubjectType,
};
pub use identity::{AuthorizedKey, AuthorizedKeyAlgorithm, ServiceAccount, TokenRecord};
pub use ids::{AuthorizedKeyId, FolderId, KeyId, OperationId, ServiceAccountId};
pub use key::{KeyRecord, KeyStatus, KeyView, Labels};
pub use operation::{OperationKind, OperationRecord, OperationResult};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use validation::{FieldViolation, Invalid, Violations};
