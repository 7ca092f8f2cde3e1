//! Fuzz harnesses for Signet's parsers (dev-only; never linked into the server).
//!
//! Each harness takes arbitrary bytes, drives one parser with them and checks what must hold
//! whatever the input: no panic, and properties stronger than "no panic" where there are some
//! (validated values validate again; a sealed blob or a JWT that was tampered with never opens
//! or verifies; a page token is accepted only if it is exactly the one the server would make).
//! A harness reports a broken property by panicking, which is how both of its runners learn of
//! it: the cargo-fuzz targets in `fuzz/` (libFuzzer, nightly) and the proptest runs in this
//! crate's `tests/` (stable, in the normal test suite).
//!
//! Where random bytes would rarely reach the interesting code (a valid envelope, JWT or
//! PKCS#8 document), a harness also applies the bytes as an edit script to a genuine one made
//! here.

// A harness fails by panicking; that is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prost::Message;
use prost_reflect::{DeserializeOptions, DynamicMessage, Kind, ReflectMessage, Value};
use signet_core::domain::{FolderId, KeyId, KeyStatus, Labels, OperationId};
use signet_core::{UpdateField, jwt, paging};
use signet_crypto::{Algorithm, RootKey, SealedKey, SecretBytes, SigningKey};
use signet_proto::convert;
use signet_proto::yandex::cloud::access as wire_access;
use signet_proto::yandex::cloud::kms::v1::asymmetricsignature as kms;
use signet_server::rest::fuzzing::RestDecoding;
use std::sync::OnceLock;

/// A harness: any bytes in, a panic if a property breaks.
pub type Harness = fn(&[u8]);

/// The harnesses, by the name of their cargo-fuzz target.
pub const HARNESSES: [(&str, Harness); 6] = [
    ("proto_convert", proto_convert),
    ("rest_json", rest_json),
    ("sealed_envelope", sealed_envelope),
    ("jwt", jwt_parse_verify),
    ("pem_der", pem_der),
    ("page_token", page_token),
];

// ---------------------------------------------------------------------------------------------
// Shared fixtures and helpers.

/// A fixed root key, so that runs reproduce.
fn root() -> &'static RootKey {
    static ROOT: OnceLock<RootKey> = OnceLock::new();
    ROOT.get_or_init(|| RootKey::from_bytes(&[0x42; 32]).unwrap())
}

/// Applies `script` to `original` as edits of three bytes each `(op, position, value)`: flip
/// bits, insert, delete, or truncate. An empty script leaves it unchanged.
pub fn edit(original: &[u8], script: &[u8]) -> Vec<u8> {
    let mut out = original.to_vec();
    for op in script.chunks_exact(3) {
        let (kind, value) = (op[0] % 4, op[2]);
        let at = |len: usize| usize::from(op[1]) * 7 % len.max(1);
        match kind {
            0 if !out.is_empty() => {
                let i = at(out.len());
                out[i] ^= value.max(1);
            }
            1 => {
                let i = at(out.len() + 1);
                out.insert(i.min(out.len()), value);
            }
            2 if !out.is_empty() => {
                let i = at(out.len());
                out.remove(i);
            }
            3 => out.truncate(at(out.len() + 1)),
            _ => {}
        }
    }
    out
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

// ---------------------------------------------------------------------------------------------
// proto → domain conversions.

/// Decodes `data` (after a selector byte) as one of the request messages and runs its
/// conversion. What a conversion accepts obeys the wire contract's limits and validates again
/// unchanged; what it refuses names at least one field, each with a description.
pub fn proto_convert(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let refused = |e: signet_core::domain::Invalid| {
        assert!(!e.0.is_empty(), "a refusal names no field");
        for v in &e.0 {
            assert!(!v.field.is_empty() && !v.description.is_empty(), "{v:?}");
        }
    };
    match selector % 10 {
        0 => {
            let Ok(req) = kms::CreateAsymmetricSignatureKeyRequest::decode(body) else {
                return;
            };
            match convert::create_key(req.clone()) {
                Ok(cmd) => {
                    assert_eq!(cmd.algorithm.wire_number(), req.signature_algorithm);
                    assert_text(&cmd.name, 100);
                    assert_text(&cmd.description, 1024);
                    assert_folder(&cmd.folder_id);
                    assert_labels(&cmd.labels);
                    assert_eq!(cmd.labels.as_map().len(), req.labels.len());
                    assert_eq!(cmd.deletion_protection, req.deletion_protection);
                }
                Err(e) => refused(e),
            }
        }
        1 => {
            let Ok(req) = kms::ListAsymmetricSignatureKeysRequest::decode(body) else {
                return;
            };
            match convert::list_keys(req.clone()) {
                Ok(cmd) => {
                    assert!((1..=1000).contains(&cmd.page_size), "{}", cmd.page_size);
                    assert!(req.page_size == 0 || cmd.page_size as i64 == req.page_size);
                    assert!(cmd.page_token.chars().count() <= 256);
                    assert_folder(&cmd.folder_id);
                }
                Err(e) => refused(e),
            }
        }
        2 => {
            let Ok(req) = kms::UpdateAsymmetricSignatureKeyRequest::decode(body) else {
                return;
            };
            match convert::update_key(req) {
                Ok(cmd) => {
                    assert!(!cmd.mask.is_empty());
                    for (i, f) in cmd.mask.iter().enumerate() {
                        assert!(!cmd.mask[..i].contains(f), "a repeated mask path");
                    }
                    assert_key_id(&cmd.key_id);
                    assert_text(&cmd.name, 100);
                    assert_text(&cmd.description, 1024);
                    assert_labels(&cmd.labels);
                    assert_eq!(
                        cmd.status.is_some(),
                        cmd.mask.contains(&UpdateField::Status)
                    );
                    assert!(matches!(
                        cmd.status,
                        None | Some(KeyStatus::Active | KeyStatus::Inactive)
                    ));
                }
                Err(e) => refused(e),
            }
        }
        3 => {
            let Ok(req) = kms::ListAsymmetricSignatureKeyOperationsRequest::decode(body) else {
                return;
            };
            match convert::list_operations(req) {
                Ok(cmd) => {
                    assert!((1..=1000).contains(&cmd.page_size));
                    assert!(cmd.page_token.chars().count() <= 100);
                    assert_key_id(&cmd.key_id);
                }
                Err(e) => refused(e),
            }
        }
        4 => {
            let Ok(req) = kms::AsymmetricSignRequest::decode(body) else {
                return;
            };
            match convert::sign(&req) {
                Ok(id) => {
                    assert!((1..=convert::MAX_SIGN_MESSAGE).contains(&req.message.len()));
                    assert_key_id(&id);
                }
                Err(e) => refused(e),
            }
        }
        5 => {
            let Ok(req) = kms::AsymmetricSignHashRequest::decode(body) else {
                return;
            };
            match convert::sign_hash(&req) {
                Ok(id) => {
                    assert!((1..=convert::MAX_SIGN_HASH).contains(&req.hash.len()));
                    assert_key_id(&id);
                }
                Err(e) => refused(e),
            }
        }
        6 => {
            let Ok(req) = wire_access::SetAccessBindingsRequest::decode(body) else {
                return;
            };
            if let Err(e) = convert::access::resource_id(&req.resource_id) {
                refused(e);
            }
            match convert::access::set(&req) {
                Ok(bindings) => assert_eq!(bindings.len(), req.access_bindings.len()),
                Err(e) => refused(e),
            }
        }
        7 => {
            let Ok(req) = wire_access::UpdateAccessBindingsRequest::decode(body) else {
                return;
            };
            match convert::access::update(&req) {
                Ok(deltas) => {
                    assert!((1..=1000).contains(&deltas.len()));
                    assert_eq!(deltas.len(), req.access_binding_deltas.len());
                }
                Err(e) => refused(e),
            }
        }
        8 => {
            let Ok(req) = wire_access::ListAccessBindingsRequest::decode(body) else {
                return;
            };
            match convert::access::list(&req) {
                Ok((size, _)) => assert!((1..=1000).contains(&size)),
                Err(e) => refused(e),
            }
        }
        _ => {
            let s = text(body);
            if let Ok(id) = convert::key_id("key_id", &s) {
                assert_key_id(&id);
            }
            if let Ok(id) = convert::operation_id("operation_id", &s) {
                assert_eq!(
                    OperationId::parse("x", id.as_str()).ok().as_ref(),
                    Some(&id)
                );
            }
            if let Ok(f) = FolderId::parse("folder_id", &s) {
                assert_folder(&f);
            }
        }
    }
}

fn assert_text(value: &str, max: usize) {
    assert!(value.chars().count() <= max, "{} > {max}", value.len());
    assert!(
        !value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
        "a control character got through: {value:?}"
    );
}

fn assert_key_id(id: &KeyId) {
    let s = id.as_str();
    assert!((1..=50).contains(&s.len()), "{s:?}");
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{s:?}"
    );
    assert_eq!(KeyId::parse("x", s).ok().as_ref(), Some(id));
}

fn assert_folder(f: &FolderId) {
    let s = f.as_str();
    assert!((1..=50).contains(&s.len()), "{s:?}");
    assert_eq!(FolderId::parse("x", s).ok().as_ref(), Some(f));
}

fn assert_labels(labels: &Labels) {
    assert!(labels.as_map().len() <= 64);
    for (k, v) in labels.as_map() {
        assert!(k.len() <= 63 && v.len() <= 63, "{k:?}={v:?}");
        assert!(k.bytes().next().is_some_and(|b| b.is_ascii_lowercase()));
    }
    let again = Labels::parse("labels", labels.as_map()).expect("labels validate again");
    assert_eq!(&again, labels);
}

// ---------------------------------------------------------------------------------------------
// REST JSON decoding.

struct Rest {
    decoding: RestDecoding,
    /// For each route, a well-formed JSON body (every scalar field set), for edits.
    samples: Vec<Vec<u8>>,
}

fn rest_fixture() -> &'static Rest {
    static REST: OnceLock<Rest> = OnceLock::new();
    REST.get_or_init(|| {
        let decoding = RestDecoding::new().unwrap();
        let samples = decoding
            .routes()
            .iter()
            .map(|route| {
                if !route.body {
                    // Bodiless routes (GET) take no body at all.
                    return Vec::new();
                }
                let mut message = DynamicMessage::new(route.input.clone());
                for field in route.input.fields() {
                    if field.is_list() || field.is_map() {
                        continue;
                    }
                    let value = match field.kind() {
                        Kind::String => Value::String("abjfuzz1".into()),
                        Kind::Bytes => Value::Bytes(b"fuzz".to_vec().into()),
                        Kind::Bool => Value::Bool(true),
                        Kind::Int64 => Value::I64(5),
                        Kind::Int32 => Value::I32(5),
                        Kind::Enum(_) => Value::EnumNumber(1),
                        _ => continue,
                    };
                    message.set_field(&field, value);
                }
                serde_json::to_vec(&message).unwrap()
            })
            .collect();
        Rest { decoding, samples }
    })
}

/// Routes that accept their well-formed sample body unedited, of all routes: the positive
/// side of [`rest_json`] (its edits start from something the gateway accepts).
pub fn rest_samples_accepted() -> (Vec<String>, usize) {
    let Rest { decoding, samples } = rest_fixture();
    let routes = decoding.routes();
    let accepted = routes
        .iter()
        .zip(samples)
        .filter(|(route, body)| {
            let vars = route
                .variables()
                .map(|field| (field.to_owned(), "abjfuzz1".to_owned()))
                .collect();
            decoding.request_message(route, vars, None, body).is_ok()
        })
        .map(|(route, _)| route.grpc_path.clone())
        .collect();
    (accepted, routes.len())
}

/// A REST request to one of the gateway's routes, from `[route][flags] id \0 query \0 body`
/// (flag 1: there is a query string; flag 2: the body is an edit script applied to a
/// well-formed body for the route), through the gateway's pure decoding. A refusal is
/// INVALID_ARGUMENT with a message; what is accepted is a message of the route's request type
/// that holds the path variables as given, encodes and decodes to itself, and whose own JSON
/// form decodes to it again (compared as on the wire, where a field set to its default and an
/// absent one are the same).
pub fn rest_json(data: &[u8]) {
    let [selector, flags, rest @ ..] = data else {
        return;
    };
    let Rest { decoding, samples } = rest_fixture();
    let routes = decoding.routes();
    let index = usize::from(*selector) % routes.len();
    let route = &routes[index];
    let mut parts = rest.splitn(3, |&b| b == 0);
    let id = text(parts.next().unwrap_or_default());
    let query = parts.next().map(text).filter(|_| flags & 1 == 1);
    let mut body = parts.next().unwrap_or_default().to_vec();
    if flags & 2 == 2 {
        body = edit(&samples[index], &body);
    }
    let vars: Vec<(String, String)> = route
        .variables()
        .map(|field| (field.to_owned(), id.clone()))
        .collect();
    match decoding.request_message(route, vars.clone(), query.as_deref(), &body) {
        Ok(message) => {
            assert_eq!(message.descriptor(), route.input);
            for (field, value) in &vars {
                let got = message.get_field_by_name(field).expect("a path field");
                if let Some(got) = got.as_str() {
                    assert_eq!(got, value, "the path variable {field} was overridden");
                }
            }
            // Compared as on the wire: a proto3 field explicitly set to its default (an empty
            // path value) is the same message as one where it is absent.
            let canonical = |m: &DynamicMessage| {
                DynamicMessage::decode(route.input.clone(), m.encode_to_vec().as_slice())
                    .expect("an accepted message decodes")
            };
            let wire = canonical(&message);
            assert_eq!(canonical(&wire), wire, "binary round trip");
            let json = serde_json::to_value(&message).expect("an accepted message has JSON");
            let again = DynamicMessage::deserialize_with_options(
                route.input.clone(),
                json,
                &DeserializeOptions::new(),
            )
            .expect("an accepted message's JSON decodes");
            assert_eq!(canonical(&again), wire, "JSON round trip");
        }
        Err(refusal) => {
            assert_eq!(
                refusal.code, 3,
                "a refusal other than INVALID_ARGUMENT: {refusal:?}"
            );
            assert!(!refusal.message.is_empty());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Sealed envelopes.

const SEALED_FOR: &str = "abjfuzzsealedkey";
const SEALED_SECRET: &[u8] = b"the PKCS#8 document a sealed key holds, or any secret bytes";

fn genuine_envelope() -> &'static SealedKey {
    static SEALED: OnceLock<SealedKey> = OnceLock::new();
    SEALED.get_or_init(|| {
        signet_crypto::seal_bytes(
            root(),
            SEALED_FOR,
            Algorithm::EcdsaP256Sha256,
            &SecretBytes::new(SEALED_SECRET.to_vec()),
        )
        .unwrap()
    })
}

/// Arbitrary bytes never open as a sealed key, and a genuine envelope opens only unchanged,
/// under its own key id and algorithm, to exactly what was sealed.
pub fn sealed_envelope(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let algorithm = Algorithm::ALL[usize::from(selector) % Algorithm::ALL.len()];
    let arbitrary = SealedKey::from_bytes(body.to_vec());
    assert!(
        signet_crypto::open_bytes(root(), SEALED_FOR, algorithm, &arbitrary).is_err(),
        "arbitrary bytes opened"
    );
    assert!(signet_crypto::open_key(root(), SEALED_FOR, algorithm, &arbitrary).is_err());

    let genuine = genuine_envelope();
    let edited = SealedKey::from_bytes(edit(genuine.as_bytes(), body));
    let id = if selector & 0x80 == 0 {
        SEALED_FOR
    } else {
        "abjanotherkey"
    };
    let opened = signet_crypto::open_bytes(root(), id, algorithm, &edited);
    let untouched = edited.as_bytes() == genuine.as_bytes()
        && id == SEALED_FOR
        && algorithm == Algorithm::EcdsaP256Sha256;
    match opened {
        Ok(secret) => {
            assert!(untouched, "a tampered or misbound envelope opened");
            assert_eq!(secret.expose(), SEALED_SECRET);
        }
        Err(_) => assert!(!untouched, "the genuine envelope did not open"),
    }
}

// ---------------------------------------------------------------------------------------------
// JWTs.

struct GenuineJwt {
    token: String,
    spki: Vec<u8>,
    claims: jwt::UnverifiedJwt,
}

fn genuine_jwt() -> &'static GenuineJwt {
    static JWT: OnceLock<GenuineJwt> = OnceLock::new();
    JWT.get_or_init(|| {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let key = SigningKey::generate(Algorithm::Rsa2048PssSha256).unwrap();
        let input = format!(
            "{}.{}",
            b64(serde_json::json!({"typ": "JWT", "alg": "PS256", "kid": "ajefuzzkey"})),
            b64(serde_json::json!({"iss": "ajefuzzaccount",
                "aud": signet_core::CANONICAL_JWT_AUDIENCE, "iat": 1_700_000_000,
                "exp": 1_700_000_600}))
        );
        let signature = key.sign(input.as_bytes()).unwrap();
        let token = format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        );
        let claims = jwt::parse(&token).unwrap();
        GenuineJwt {
            token,
            spki: key.public_key_der().unwrap(),
            claims,
        }
    })
}

/// Parsing any text never panics; verifying what parses never panics; and no edit of a
/// genuine PS256 JWT both parses and verifies while saying anything else than the original
/// (header and claims).
pub fn jwt_parse_verify(data: &[u8]) {
    let genuine = genuine_jwt();
    let check = |token: &str| {
        let Ok(parsed) = jwt::parse(token) else {
            return;
        };
        let verified = signet_crypto::verify(
            Algorithm::Rsa2048PssSha256,
            &genuine.spki,
            parsed.signing_input.as_bytes(),
            &parsed.signature,
        )
        .is_ok();
        if verified {
            assert_eq!(
                (
                    &parsed.alg,
                    &parsed.kid,
                    &parsed.iss,
                    &parsed.aud,
                    parsed.iat,
                    parsed.exp
                ),
                (
                    &genuine.claims.alg,
                    &genuine.claims.kid,
                    &genuine.claims.iss,
                    &genuine.claims.aud,
                    genuine.claims.iat,
                    genuine.claims.exp
                ),
                "an edited JWT verified with other claims: {token}"
            );
        }
    };
    check(&text(data));
    check(&text(&edit(genuine.token.as_bytes(), data)));
}

// ---------------------------------------------------------------------------------------------
// PEM and DER.

fn genuine_pkcs8(algorithm: Algorithm) -> &'static (Vec<u8>, Vec<u8>) {
    static KEYS: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    let all = KEYS.get_or_init(|| {
        Algorithm::ALL
            .iter()
            // One key per key type is enough; RSA-4096 generation would slow every run.
            .map(|a| {
                let gen_as = match a {
                    Algorithm::Rsa3072PssSha256
                    | Algorithm::Rsa3072PssSha384
                    | Algorithm::Rsa3072PssSha512
                    | Algorithm::Rsa4096PssSha256
                    | Algorithm::Rsa4096PssSha384
                    | Algorithm::Rsa4096PssSha512 => Algorithm::Rsa2048PssSha256,
                    other => *other,
                };
                let key = SigningKey::generate(gen_as).unwrap();
                (
                    key.to_pkcs8().unwrap().expose().to_vec(),
                    key.public_key_der().unwrap(),
                )
            })
            .collect()
    });
    let i = Algorithm::ALL.iter().position(|a| *a == algorithm).unwrap();
    &all[i]
}

/// SubjectPublicKeyInfo PEM, PKCS#8 and SPKI DER from arbitrary or edited bytes: parsing never
/// panics; a PEM that parses round-trips; a PKCS#8 document that loads re-encodes to one that
/// loads to the same key, of the requested algorithm; verification with arbitrary keys and
/// signatures never panics nor succeeds.
pub fn pem_der(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let algorithm = Algorithm::ALL[usize::from(selector) % Algorithm::ALL.len()];
    let (pkcs8, spki) = genuine_pkcs8(algorithm);

    for candidate in [
        text(body),
        text(&edit(signet_crypto::spki_der_to_pem(spki).as_bytes(), body)),
    ] {
        if let Ok(der) = signet_crypto::spki_pem_to_der(&candidate) {
            let again = signet_crypto::spki_pem_to_der(&signet_crypto::spki_der_to_pem(&der));
            assert_eq!(again.ok().as_ref(), Some(&der), "PEM does not round-trip");
        }
    }

    for candidate in [body.to_vec(), edit(pkcs8, body)] {
        if let Ok(key) = SigningKey::from_pkcs8(algorithm, &SecretBytes::new(candidate)) {
            assert_eq!(key.algorithm(), algorithm);
            let public = key.public_key_der().unwrap();
            let again =
                SigningKey::from_pkcs8(algorithm, &key.to_pkcs8().unwrap()).expect("re-encoded");
            assert_eq!(again.public_key_der().unwrap(), public);
            let signature = key.sign(b"fuzz").unwrap();
            signet_crypto::verify(algorithm, &public, b"fuzz", &signature)
                .expect("a loaded key's own signature verifies");
        }
    }

    let edited_spki = edit(spki, body);
    for key in [body, edited_spki.as_slice()] {
        assert!(
            signet_crypto::verify(algorithm, key, b"message", body).is_err(),
            "arbitrary bytes verified as a signature"
        );
        let digest = algorithm.hash().digest(b"message");
        assert!(signet_crypto::verify_digest(algorithm, key, &digest, body).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Page tokens.

/// A page token is accepted only if it is exactly the token the server makes for that listing
/// and position; positions round-trip; a token never serves another listing; page sizes stay in
/// range.
pub fn page_token(data: &[u8]) {
    let root = root();
    let scopes = ["keys:default", "keys:other", "operations:abjkey"];
    let token = text(data);
    for scope in scopes {
        if let Ok(position) = paging::decode(root, scope, "page_token", &token) {
            assert_eq!(
                paging::encode(root, scope, &position),
                token,
                "a token other than the canonical one was accepted"
            );
        }
    }
    let made = paging::encode(root, scopes[0], data);
    assert_eq!(
        paging::decode(root, scopes[0], "page_token", &made).ok(),
        Some(data.to_vec())
    );
    for other in &scopes[1..] {
        assert!(paging::decode(root, other, "page_token", &made).is_err());
    }
    // Any other string than the genuine token is a forgery (its tag is 96 bits).
    let edited = text(&edit(made.as_bytes(), data));
    if edited != made {
        assert!(
            paging::decode(root, scopes[0], "page_token", &edited).is_err(),
            "an edited token was accepted: {edited}"
        );
    }
    if data.len() >= 8 {
        let requested = i64::from_le_bytes(data[..8].try_into().unwrap());
        match paging::page_size("page_size", requested) {
            Ok(n) => {
                assert!((1..=1000).contains(&n));
                assert!(requested == 0 || n as i64 == requested);
            }
            Err(_) => assert!(!(0..=1000).contains(&requested)),
        }
    }
}
