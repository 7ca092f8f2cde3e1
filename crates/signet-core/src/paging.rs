//! Opaque, unforgeable page tokens.
//!
//! A token is `base64url(json) "." base64url(mac)`, where the JSON names the listing it belongs
//! to (`scope`) and the position after which the next page starts, and the MAC is HMAC-SHA-256
//! under a key derived from the root key (truncated to 16 bytes). A forged token, or a token of
//! another listing (another folder, another key), is INVALID_ARGUMENT.

use crate::domain::Invalid;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use signet_crypto::RootKey;

const PURPOSE: &str = "signet page token v1";
const MAC_LEN: usize = 16;
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(Serialize, Deserialize)]
struct Payload<P> {
    v: u8,
    s: String,
    p: P,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// Encodes the position `after` for the listing named `scope`.
pub fn encode<P: Serialize>(root: &RootKey, scope: &str, after: &P) -> String {
    let payload = Payload {
        v: 1,
        s: scope.to_owned(),
        p: after,
    };
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let mac = signet_crypto::root_derived_mac(root, PURPOSE, &json);
    format!("{}.{}", b64().encode(&json), b64().encode(&mac[..MAC_LEN]))
}

/// Decodes a token for the listing `scope`; `field` names it in errors.
pub fn decode<P: for<'de> Deserialize<'de>>(
    root: &RootKey,
    scope: &str,
    field: &str,
    token: &str,
) -> Result<P, Invalid> {
    let bad = || Invalid::one(field, "is not a valid page token for this listing");
    let (body, mac) = token.split_once('.').ok_or_else(bad)?;
    let json = b64().decode(body).map_err(|_| bad())?;
    let mac = b64().decode(mac).map_err(|_| bad())?;
    let expected = signet_crypto::root_derived_mac(root, PURPOSE, &json);
    if !signet_crypto::constant_time_eq(&mac, &expected[..MAC_LEN]) {
        return Err(bad());
    }
    let payload: Payload<P> = serde_json::from_slice(&json).map_err(|_| bad())?;
    if payload.v != 1 || payload.s != scope {
        return Err(bad());
    }
    Ok(payload.p)
}

/// Page size as requested on the wire: 0 means the default, the range is 0..=1000.
pub fn page_size(field: &str, requested: i64) -> Result<usize, Invalid> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(Invalid::one(field, "must not be negative")),
        n if n > MAX_PAGE_SIZE as i64 => Err(Invalid::one(field, "must be at most 1000")),
        n => Ok(n as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_scope_and_forgery() {
        let root = RootKey::generate().unwrap();
        let t = encode(&root, "keys:f1", &"abc".to_owned());
        assert_eq!(
            decode::<String>(&root, "keys:f1", "page_token", &t).unwrap(),
            "abc"
        );
        assert!(decode::<String>(&root, "keys:f2", "page_token", &t).is_err());
        let other_root = RootKey::generate().unwrap();
        assert!(decode::<String>(&other_root, "keys:f1", "page_token", &t).is_err());
        for forged in ["", ".", "abc", "e30.AAAA", &t.replace('.', "")] {
            assert!(decode::<String>(&root, "keys:f1", "page_token", forged).is_err());
        }
        // Changing one character of the body breaks the MAC.
        let mut chars: Vec<char> = t.chars().collect();
        chars[2] = if chars[2] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(decode::<String>(&root, "keys:f1", "page_token", &tampered).is_err());
    }

    #[test]
    fn page_sizes() {
        assert_eq!(page_size("page_size", 0).unwrap(), 100);
        assert_eq!(page_size("page_size", 1).unwrap(), 1);
        assert_eq!(page_size("page_size", 1000).unwrap(), 1000);
        assert!(page_size("page_size", -1).is_err());
        assert!(page_size("page_size", 1001).is_err());
    }
}
