//! Envelope sealing: round trips, and clean errors for every way a blob can be wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use proptest::prelude::*;
use signet_crypto::{
    Algorithm, CryptoError, RootKey, SealedKey, SecretBytes, SigningKey, open_bytes, open_key,
    seal_bytes, seal_key,
};

const ID: &str = "abjexamplekeyid00001";

#[test]
fn sealed_key_opens_to_the_same_key() {
    let root = RootKey::generate().unwrap();
    for alg in [
        Algorithm::Rsa2048PssSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaSecp256k1Sha256,
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let sealed = seal_key(&root, ID, &key).unwrap();
        let pkcs8 = key.to_pkcs8().unwrap();
        // The plaintext does not appear in the sealed blob.
        assert!(
            !sealed
                .as_bytes()
                .windows(pkcs8.len())
                .any(|w| w == pkcs8.expose())
        );
        let opened = open_key(&root, ID, alg, &sealed).unwrap();
        assert_eq!(
            opened.public_key_der().unwrap(),
            key.public_key_der().unwrap()
        );
    }
}

#[test]
fn wrong_root_key_id_or_algorithm_fail_cleanly() {
    let root = RootKey::generate().unwrap();
    let key = SigningKey::generate(Algorithm::EcdsaP256Sha256).unwrap();
    let sealed = seal_key(&root, ID, &key).unwrap();

    let other_root = RootKey::generate().unwrap();
    assert!(matches!(
        open_key(&other_root, ID, Algorithm::EcdsaP256Sha256, &sealed),
        Err(CryptoError::Unseal)
    ));
    assert!(matches!(
        open_key(
            &root,
            "abjotherkeyid0000002",
            Algorithm::EcdsaP256Sha256,
            &sealed
        ),
        Err(CryptoError::Unseal)
    ));
    assert!(matches!(
        open_key(&root, ID, Algorithm::EcdsaSecp256k1Sha256, &sealed),
        Err(CryptoError::Unseal)
    ));
}

#[test]
fn truncated_and_versioned_blobs_fail_cleanly() {
    let root = RootKey::generate().unwrap();
    let secret = SecretBytes::copy_from(b"pkcs8 stand-in");
    let sealed = seal_bytes(&root, ID, Algorithm::EcdsaP256Sha256, &secret).unwrap();
    let bytes = sealed.as_bytes().to_vec();

    assert!(matches!(
        open_bytes(
            &root,
            ID,
            Algorithm::EcdsaP256Sha256,
            &SealedKey::from_bytes(vec![])
        ),
        Err(CryptoError::MalformedEnvelope(_))
    ));
    for cut in [1, 5, 13, 28] {
        let short = SealedKey::from_bytes(bytes[..cut].to_vec());
        assert!(
            matches!(
                open_bytes(&root, ID, Algorithm::EcdsaP256Sha256, &short),
                Err(CryptoError::MalformedEnvelope(_))
            ),
            "cut at {cut}"
        );
    }
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert!(matches!(
        open_bytes(
            &root,
            ID,
            Algorithm::EcdsaP256Sha256,
            &SealedKey::from_bytes(v2)
        ),
        Err(CryptoError::UnsupportedEnvelopeVersion(2))
    ));
    // Sealing twice gives different blobs (fresh nonce) that both open.
    let again = seal_bytes(&root, ID, Algorithm::EcdsaP256Sha256, &secret).unwrap();
    assert_ne!(again.as_bytes(), sealed.as_bytes());
    assert_eq!(
        open_bytes(&root, ID, Algorithm::EcdsaP256Sha256, &again)
            .unwrap()
            .expose(),
        secret.expose()
    );
}

#[test]
fn debug_of_sealed_key_shows_only_length() {
    let root = RootKey::generate().unwrap();
    let sealed = seal_bytes(
        &root,
        ID,
        Algorithm::EcdsaP256Sha256,
        &SecretBytes::copy_from(&[1, 2, 3]),
    )
    .unwrap();
    assert_eq!(
        format!("{sealed:?}"),
        format!("SealedKey({} bytes)", sealed.as_bytes().len())
    );
}

fn any_algorithm() -> impl Strategy<Value = Algorithm> {
    (1i32..=13).prop_map(|n| Algorithm::from_wire_number(n).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn seal_then_open_round_trips(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        key_id in "[a-z0-9]{1,50}",
        alg in any_algorithm(),
    ) {
        let root = RootKey::generate().unwrap();
        let sealed = seal_bytes(&root, &key_id, alg, &SecretBytes::copy_from(&plaintext)).unwrap();
        let opened = open_bytes(&root, &key_id, alg, &sealed).unwrap();
        prop_assert_eq!(opened.expose(), &plaintext[..]);
    }

    #[test]
    fn any_single_bit_flip_is_detected(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let root = RootKey::generate().unwrap();
        let sealed = seal_bytes(&root, ID, Algorithm::EcdsaP384Sha384, &SecretBytes::copy_from(&plaintext)).unwrap();
        let mut bytes = sealed.into_bytes();
        let i = position.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let result = open_bytes(&root, ID, Algorithm::EcdsaP384Sha384, &SealedKey::from_bytes(bytes));
        prop_assert!(result.is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_open(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let root = RootKey::generate().unwrap();
        prop_assert!(open_bytes(&root, ID, Algorithm::EcdsaP256Sha256, &SealedKey::from_bytes(bytes)).is_err());
    }

    #[test]
    fn a_blob_is_bound_to_its_key_id(
        id_a in "[a-z0-9]{1,50}",
        id_b in "[a-z0-9]{1,50}",
    ) {
        prop_assume!(id_a != id_b);
        let root = RootKey::generate().unwrap();
        let sealed = seal_bytes(&root, &id_a, Algorithm::EcdsaP256Sha256, &SecretBytes::copy_from(b"k")).unwrap();
        prop_assert!(matches!(open_bytes(&root, &id_b, Algorithm::EcdsaP256Sha256, &sealed), Err(CryptoError::Unseal)));
    }
}
