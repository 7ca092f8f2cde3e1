//! Domain types: parsed once at the wire boundary, trusted everywhere after.

pub mod ids;
pub mod key;
pub mod operation;
pub mod time;
pub mod validation;

pub use ids::{FolderId, KeyId, OperationId};
pub use key::{KeyRecord, KeyStatus, KeyView, Labels};
pub use operation::{OperationKind, OperationRecord, OperationResult};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use validation::{FieldViolation, Invalid, Violations};
