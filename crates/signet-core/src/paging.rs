//! Opaque, unforgeable, compact page tokens.
//!
//! A token is `base64url(version || position || mac)`: the position after which the next page
//! starts (listing-specific bytes), and a 12-byte HMAC-SHA-256 tag under a key derived from
//! the root key, computed over the listing's scope (for example `keys:<folder>`) and the
//! position. The scope is not in the token, so tokens stay short (ListOperations allows only
//! 100 characters), yet a token of another listing fails the tag check. A forged or foreign
//! token is INVALID_ARGUMENT.

use crate::domain::Invalid;
use base64::Engine as _;
use signet_crypto::RootKey;

const PURPOSE: &str = "signet page token v1";
const VERSION: u8 = 1;
const MAC_LEN: usize = 12;
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

fn tag(root: &RootKey, scope: &str, body: &[u8]) -> [u8; 32] {
    let mut input = Vec::with_capacity(scope.len() + 1 + body.len());
    input.extend_from_slice(scope.as_bytes());
    input.push(0);
    input.extend_from_slice(body);
    signet_crypto::root_derived_mac(root, PURPOSE, &input)
}

/// Encodes `position` for the listing named `scope`.
pub fn encode(root: &RootKey, scope: &str, position: &[u8]) -> String {
    let mut body = Vec::with_capacity(1 + position.len() + MAC_LEN);
    body.push(VERSION);
    body.extend_from_slice(position);
    let mac = tag(root, scope, &body);
    body.extend_from_slice(&mac[..MAC_LEN]);
    b64().encode(body)
}

/// Decodes a token of the listing `scope` back into its position; `field` names it in errors.
pub fn decode(root: &RootKey, scope: &str, field: &str, token: &str) -> Result<Vec<u8>, Invalid> {
    let bad = || Invalid::one(field, "is not a valid page token for this listing");
    let raw = b64().decode(token).map_err(|_| bad())?;
    if raw.len() < 1 + MAC_LEN {
        return Err(bad());
    }
    let (body, mac) = raw.split_at(raw.len() - MAC_LEN);
    let expected = tag(root, scope, body);
    if !signet_crypto::constant_time_eq(mac, &expected[..MAC_LEN]) || body[0] != VERSION {
        return Err(bad());
    }
    Ok(body[1..].to_vec())
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
        let t = encode(&root, "keys:f1", b"abc");
        assert_eq!(decode(&root, "keys:f1", "page_token", &t).unwrap(), b"abc");
        assert!(decode(&root, "keys:f2", "page_token", &t).is_err());
        let other_root = RootKey::generate().unwrap();
        assert!(decode(&other_root, "keys:f1", "page_token", &t).is_err());
        for forged in ["", ".", "abc", "e30.AAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
            assert!(decode(&root, "keys:f1", "page_token", forged).is_err());
        }
        // An operations token (8-byte time + 20-character id) fits the wire's 100 characters.
        let long = encode(&root, "operations:abj", &[7u8; 28]);
        assert!(long.len() <= 100, "{}", long.len());
        // Changing one character of the body breaks the MAC.
        let mut chars: Vec<char> = t.chars().collect();
        chars[2] = if chars[2] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert!(decode(&root, "keys:f1", "page_token", &tampered).is_err());
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
