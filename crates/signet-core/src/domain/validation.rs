//! Validation failures, reported per field so that the wire layer can build a
//! `google.rpc.BadRequest` naming each one.

use std::fmt;

/// One rule broken by one field. `field` is the wire (snake_case) path, e.g. `labels` or
/// `update_mask.paths`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// All the violations found in one request (never empty when returned as an error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldViolation>);

impl Invalid {
    pub fn one(field: impl Into<String>, description: impl Into<String>) -> Invalid {
        Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            if v.field.is_empty() {
                // A violation of the request as a whole (it names no field).
                f.write_str(&v.description)?;
            } else {
                write!(f, "{}: {}", v.field, v.description)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Invalid {}

/// Collects violations while a request is checked field by field.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Violations {
        Violations::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Records the violations of a nested parse and returns its value, if any.
    pub fn take<T>(&mut self, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(Invalid(mut vs)) => {
                self.0.append(&mut vs);
                None
            }
        }
    }

    /// `Ok(value)` when nothing was recorded; otherwise every violation.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Invalid> {
        if !self.0.is_empty() {
            return Err(Invalid(self.0));
        }
        value().ok_or_else(|| Invalid::one("request", "invalid request"))
    }
}
