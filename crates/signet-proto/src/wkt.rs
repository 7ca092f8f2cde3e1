//! Well-known `google.protobuf` types whose JSON form Signet defines itself.
//!
//! pbjson-types serialises `FieldMask` like an ordinary message
//! (`{"paths": ["a_b"]}`), but the proto3 JSON mapping — and Yandex's REST
//! API — use a single comma-separated string of lowerCamelCase paths
//! (`"aB,c"`). The generated code refers to [`FieldMask`] in place of
//! `pbjson_types::FieldMask`; the protobuf encoding is identical.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Serializer};
use serde::{Deserialize, Serialize};

/// `google.protobuf.FieldMask`: the set of field paths an update applies to.
///
/// Paths are kept in their protobuf (snake_case) form, e.g.
/// `deletion_protection`. JSON carries them in lowerCamelCase, joined by
/// commas.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct FieldMask {
    /// Field paths, snake_case, sub-fields separated by `.`.
    #[prost(string, repeated, tag = "1")]
    pub paths: Vec<String>,
}

impl prost::Name for FieldMask {
    const NAME: &'static str = "FieldMask";
    const PACKAGE: &'static str = "google.protobuf";

    fn type_url() -> String {
        "type.googleapis.com/google.protobuf.FieldMask".to_owned()
    }
}

/// snake_case → lowerCamelCase, refusing paths that would not convert back
/// to themselves (the JSON mapping requires the conversion to round-trip).
fn path_to_json(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '_' => match chars.next() {
                Some(next) if next.is_ascii_lowercase() => out.push(next.to_ascii_uppercase()),
                _ => return None,
            },
            c if c.is_ascii_uppercase() => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// lowerCamelCase → snake_case. Paths that are already snake_case pass
/// through unchanged, so REST clients sending protobuf names are accepted too.
fn path_from_json(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

impl Serialize for FieldMask {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut joined = String::new();
        for (i, path) in self.paths.iter().enumerate() {
            let json = path_to_json(path).ok_or_else(|| {
                ser::Error::custom(format!(
                    "field mask path {path:?} has no lowerCamelCase JSON form"
                ))
            })?;
            if i > 0 {
                joined.push(',');
            }
            joined.push_str(&json);
        }
        serializer.serialize_str(&joined)
    }
}

impl<'de> Deserialize<'de> for FieldMask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MaskVisitor;

        impl Visitor<'_> for MaskVisitor {
            type Value = FieldMask;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a comma-separated list of field paths")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<FieldMask, E> {
                let paths = if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(',').map(path_from_json).collect()
                };
                Ok(FieldMask { paths })
            }
        }

        deserializer.deserialize_str(MaskVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_url_matches_the_generated_messages() {
        assert_eq!(
            <FieldMask as prost::Name>::type_url(),
            "type.googleapis.com/google.protobuf.FieldMask"
        );
    }

    #[test]
    fn paths_convert_both_ways() {
        assert_eq!(
            path_to_json("deletion_protection").as_deref(),
            Some("deletionProtection")
        );
        assert_eq!(path_to_json("a_b.c_d").as_deref(), Some("aB.cD"));
        assert_eq!(path_to_json("name").as_deref(), Some("name"));
        assert_eq!(path_to_json("trailing_"), None);
        assert_eq!(path_to_json("not_1"), None);
        assert_eq!(path_to_json("camelCase"), None);
        assert_eq!(path_from_json("deletionProtection"), "deletion_protection");
        assert_eq!(path_from_json("deletion_protection"), "deletion_protection");
        assert_eq!(path_from_json("aB.cD"), "a_b.c_d");
    }
}
