//! The JWTs service accounts sign with their authorized keys to obtain IAM tokens: compact JWS,
//! `PS256` only. Parsing is strict and total: any input gives a value or an error, never a
//! panic. Signature and claim checks are in the token exchange use case.

use base64::Engine as _;
use serde::Deserialize;

/// The one algorithm accepted (RSASSA-PSS with SHA-256, salt = 32 bytes).
pub const ALGORITHM: &str = "PS256";

/// A parsed, not yet verified, JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedJwt {
    pub alg: String,
    pub kid: String,
    pub iss: String,
    pub aud: Vec<String>,
    pub iat: i64,
    pub exp: i64,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: String,
    aud: Option<Audience>,
    iat: Option<i64>,
    exp: Option<i64>,
}

fn b64(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .ok()
}

/// Parses a compact JWS. The error says which part is malformed.
pub fn parse(jwt: &str) -> Result<UnverifiedJwt, &'static str> {
    let mut parts = jwt.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a JWT has three dot-separated parts");
    };
    let header: Header = b64(h)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the JWT header is not base64url-encoded JSON")?;
    let claims: Claims = b64(p)
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("the JWT payload is not base64url-encoded JSON")?;
    let signature = b64(s).ok_or("the JWT signature is not base64url")?;
    let aud = match claims.aud {
        Some(Audience::One(a)) => vec![a],
        Some(Audience::Many(a)) => a,
        None => Vec::new(),
    };
    Ok(UnverifiedJwt {
        alg: header.alg,
        kid: header.kid,
        iss: claims.iss,
        aud,
        iat: claims.iat.ok_or("the JWT has no iat claim")?,
        exp: claims.exp.ok_or("the JWT has no exp claim")?,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn parses_and_rejects() {
        let h = enc(&serde_json::json!({"alg": "PS256", "typ": "JWT", "kid": "ajekey"}));
        let p = enc(&serde_json::json!({"iss": "ajesa", "aud": "x", "iat": 10, "exp": 20}));
        let jwt = parse(&format!("{h}.{p}.AAAA")).unwrap();
        assert_eq!(
            (jwt.alg.as_str(), jwt.kid.as_str(), jwt.iss.as_str()),
            ("PS256", "ajekey", "ajesa")
        );
        assert_eq!(jwt.aud, vec!["x".to_owned()]);
        assert_eq!(jwt.signing_input, format!("{h}.{p}"));
        let many = enc(&serde_json::json!({"iss": "s", "aud": ["a", "b"], "iat": 1, "exp": 2}));
        assert_eq!(parse(&format!("{h}.{many}.")).unwrap().aud.len(), 2);
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.x.y",
            &format!("{h}.notjson.AAAA"),
            &format!("{h}.{p}.***"),
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let no_exp = enc(&serde_json::json!({"iss": "s", "iat": 1}));
        assert!(parse(&format!("{h}.{no_exp}.AAAA")).is_err());
    }
}
