//! The one table from error kind to gRPC code, HTTP status and stable reason, and the
//! conversion of core errors into gRPC statuses.
//!
//! The match is exhaustive with no wildcard: a new [`ErrorKind`] does not compile until it has
//! its row. Internal and storage failures reach the client as a class and a request id only;
//! their causes go to the log.

use crate::context::RequestId;
use http::StatusCode;
use signet_core::{CoreError, ErrorKind};
use tonic::Code;
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// gRPC code, HTTP status (per the Yandex Cloud error model) and a stable reason string.
pub const fn codes(kind: ErrorKind) -> (Code, StatusCode, &'static str) {
    match kind {
        ErrorKind::InvalidArgument => (
            Code::InvalidArgument,
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
        ),
        ErrorKind::Unauthenticated => (
            Code::Unauthenticated,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        ),
        ErrorKind::PermissionDenied => (
            Code::PermissionDenied,
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
        ),
        ErrorKind::NotFound => (Code::NotFound, StatusCode::NOT_FOUND, "NOT_FOUND"),
        ErrorKind::AlreadyExists => (Code::AlreadyExists, StatusCode::CONFLICT, "ALREADY_EXISTS"),
        ErrorKind::FailedPrecondition => (
            Code::FailedPrecondition,
            StatusCode::BAD_REQUEST,
            "FAILED_PRECONDITION",
        ),
        ErrorKind::Aborted => (Code::Aborted, StatusCode::CONFLICT, "ABORTED"),
        ErrorKind::ResourceExhausted => (
            Code::ResourceExhausted,
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
        ),
        ErrorKind::Cancelled => (
            Code::Cancelled,
            // 499 Client Closed Request, as Yandex maps CANCELLED.
            match StatusCode::from_u16(499) {
                Ok(s) => s,
                Err(_) => StatusCode::BAD_REQUEST,
            },
            "CANCELLED",
        ),
        ErrorKind::DeadlineExceeded => (
            Code::DeadlineExceeded,
            StatusCode::GATEWAY_TIMEOUT,
            "DEADLINE_EXCEEDED",
        ),
        ErrorKind::Unimplemented => (
            Code::Unimplemented,
            StatusCode::NOT_IMPLEMENTED,
            "UNIMPLEMENTED",
        ),
        ErrorKind::Unavailable => (
            Code::Unavailable,
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
        ),
        ErrorKind::Internal => (
            Code::Internal,
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
        ),
    }
}

/// The HTTP status of a gRPC code number, for REST answers. Codes that are error kinds take
/// their status from [`codes`]; the three that are not (UNKNOWN, OUT_OF_RANGE, DATA_LOSS) and
/// unknown numbers follow Yandex's mapping.
pub fn http_status(code: i32) -> StatusCode {
    let kind = match Code::from_i32(code) {
        Code::Ok => return StatusCode::OK,
        Code::Cancelled => ErrorKind::Cancelled,
        Code::InvalidArgument => ErrorKind::InvalidArgument,
        Code::DeadlineExceeded => ErrorKind::DeadlineExceeded,
        Code::NotFound => ErrorKind::NotFound,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::PermissionDenied => ErrorKind::PermissionDenied,
        Code::ResourceExhausted => ErrorKind::ResourceExhausted,
        Code::FailedPrecondition => ErrorKind::FailedPrecondition,
        Code::Aborted => ErrorKind::Aborted,
        Code::OutOfRange => return StatusCode::BAD_REQUEST,
        Code::Unimplemented => ErrorKind::Unimplemented,
        Code::Internal => ErrorKind::Internal,
        Code::Unavailable => ErrorKind::Unavailable,
        Code::Unauthenticated => ErrorKind::Unauthenticated,
        Code::Unknown | Code::DataLoss => return StatusCode::INTERNAL_SERVER_ERROR,
    };
    codes(kind).1
}

/// The gRPC code number of an error kind (for `Operation.error.code`).
pub fn grpc_code_number(kind: ErrorKind) -> i32 {
    codes(kind).0 as i32
}

/// Converts a core error into the status sent to the client, logging causes that stay private.
pub fn to_status(error: &CoreError, request_id: &RequestId) -> tonic::Status {
    let kind = error.kind();
    let (code, _, reason) = codes(kind);
    match kind {
        ErrorKind::Internal | ErrorKind::Unavailable => {
            tracing::error!(request_id = %request_id, reason, error = %error_chain(error), "request failed");
        }
        _ => tracing::debug!(request_id = %request_id, reason, error = %error, "request rejected"),
    }
    let mut details = ErrorDetails::new();
    details.set_request_info(request_id.as_str(), "");
    if let CoreError::Invalid(invalid) = error {
        details.set_bad_request(
            invalid
                .0
                .iter()
                .map(|v| FieldViolation::new(v.field.clone(), v.description.clone()))
                .collect::<Vec<_>>(),
        );
    }
    if let CoreError::QuotaExceeded {
        quota,
        subject,
        limit,
    } = error
    {
        details.add_quota_failure_violation(subject.clone(), format!("quota {quota} is {limit}"));
    }
    tonic::Status::with_error_details(code, error.client_message(), details)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_yandex_http_mapping() {
        let expect = [
            (ErrorKind::InvalidArgument, 3, 400),
            (ErrorKind::Unauthenticated, 16, 401),
            (ErrorKind::PermissionDenied, 7, 403),
            (ErrorKind::NotFound, 5, 404),
            (ErrorKind::AlreadyExists, 6, 409),
            (ErrorKind::FailedPrecondition, 9, 400),
            (ErrorKind::Aborted, 10, 409),
            (ErrorKind::ResourceExhausted, 8, 429),
            (ErrorKind::Cancelled, 1, 499),
            (ErrorKind::DeadlineExceeded, 4, 504),
            (ErrorKind::Unimplemented, 12, 501),
            (ErrorKind::Unavailable, 14, 503),
            (ErrorKind::Internal, 13, 500),
        ];
        for (kind, grpc, http) in expect {
            let (code, status, _) = codes(kind);
            assert_eq!(code as i32, grpc, "{kind:?}");
            assert_eq!(status.as_u16(), http, "{kind:?}");
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let e = CoreError::Internal("database file /secret/path is corrupt".into());
        let s = to_status(&e, &RequestId::from_trusted("r1".into()));
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("secret"));
    }

    #[test]
    fn invalid_argument_carries_bad_request_and_request_info() {
        let e = CoreError::Invalid(signet_core::domain::Invalid::one("key_id", "is required"));
        let s = to_status(&e, &RequestId::from_trusted("r2".into()));
        let d = s.get_error_details();
        let br = d.bad_request().unwrap();
        assert_eq!(br.field_violations[0].field, "key_id");
        assert_eq!(d.request_info().unwrap().request_id, "r2");
    }

    #[test]
    fn quota_exceeded_carries_a_quota_failure() {
        let e = CoreError::QuotaExceeded {
            quota: signet_core::error::KEYS_PER_FOLDER_QUOTA,
            subject: "folder:f1".into(),
            limit: 100,
        };
        let s = to_status(&e, &RequestId::from_trusted("r3".into()));
        assert_eq!(s.code(), Code::ResourceExhausted);
        assert!(
            s.message().contains("kms.asymmetricSignatureKeys.count"),
            "{s:?}"
        );
        let d = s.get_error_details();
        let qf = d.quota_failure().unwrap();
        assert_eq!(qf.violations[0].subject, "folder:f1");
        assert!(qf.violations[0].description.contains("100"));
    }
}
