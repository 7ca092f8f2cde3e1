//! Private signing keys and public-key verification, behind one type so that callers never see
//! which backend serves an algorithm (see docs/adr/0001-crypto-backends.md).
//!
//! Backends: AWS-LC (through `aws-lc-rs`) for RSA-PSS and the NIST curves; RustCrypto's `k256`
//! for secp256k1, where it measured several times faster than AWS-LC. Both are constant-time.

use crate::{Algorithm, CryptoError, KeySpec, SecretBytes, pem};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{self as aws_sig, KeyPair as _};
use std::fmt;
use zeroize::Zeroizing;

/// A private key able to sign with exactly one algorithm.
///
/// There is no `Clone` and no serialization other than [`SigningKey::to_pkcs8`], whose output is
/// meant only for sealing. `Debug` shows the algorithm, never key material. The backends wipe
/// their key memory on drop (AWS-LC cleanses on free; `k256::ecdsa::SigningKey` is
/// `ZeroizeOnDrop`).
pub struct SigningKey {
    algorithm: Algorithm,
    backend: Backend,
}

enum Backend {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ecdsa(aws_sig::EcdsaKeyPair),
    K256(k256::ecdsa::SigningKey),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .field("private", &"[REDACTED]")
            .finish()
    }
}

fn rsa_encoding(alg: Algorithm) -> &'static aws_sig::RsaSignatureEncoding {
    match alg.hash() {
        crate::HashAlgorithm::Sha256 => &aws_sig::RSA_PSS_SHA256,
        crate::HashAlgorithm::Sha384 => &aws_sig::RSA_PSS_SHA384,
        crate::HashAlgorithm::Sha512 => &aws_sig::RSA_PSS_SHA512,
    }
}

fn rsa_verification(alg: Algorithm) -> &'static aws_sig::RsaParameters {
    match alg.hash() {
        crate::HashAlgorithm::Sha256 => &aws_sig::RSA_PSS_2048_8192_SHA256,
        crate::HashAlgorithm::Sha384 => &aws_sig::RSA_PSS_2048_8192_SHA384,
        crate::HashAlgorithm::Sha512 => &aws_sig::RSA_PSS_2048_8192_SHA512,
    }
}

fn ecdsa_signing(spec: KeySpec) -> Option<&'static aws_sig::EcdsaSigningAlgorithm> {
    match spec {
        KeySpec::NistP256 => Some(&aws_sig::ECDSA_P256_SHA256_ASN1_SIGNING),
        KeySpec::NistP384 => Some(&aws_sig::ECDSA_P384_SHA384_ASN1_SIGNING),
        KeySpec::NistP521 => Some(&aws_sig::ECDSA_P521_SHA512_ASN1_SIGNING),
        KeySpec::Rsa { .. } | KeySpec::Secp256k1 => None,
    }
}

fn ecdsa_verification(spec: KeySpec) -> Option<&'static aws_sig::EcdsaVerificationAlgorithm> {
    match spec {
        KeySpec::NistP256 => Some(&aws_sig::ECDSA_P256_SHA256_ASN1),
        KeySpec::NistP384 => Some(&aws_sig::ECDSA_P384_SHA384_ASN1),
        KeySpec::NistP521 => Some(&aws_sig::ECDSA_P521_SHA512_ASN1),
        KeySpec::Rsa { .. } | KeySpec::Secp256k1 => None,
    }
}

fn rsa_key_size(bits: u32) -> Option<aws_lc_rs::rsa::KeySize> {
    match bits {
        2048 => Some(aws_lc_rs::rsa::KeySize::Rsa2048),
        3072 => Some(aws_lc_rs::rsa::KeySize::Rsa3072),
        4096 => Some(aws_lc_rs::rsa::KeySize::Rsa4096),
        _ => None,
    }
}

impl SigningKey {
    /// Generates a fresh key pair for `algorithm` from the operating system's CSPRNG.
    pub fn generate(algorithm: Algorithm) -> Result<SigningKey, CryptoError> {
        let failed = || CryptoError::KeyGeneration(algorithm);
        let spec = algorithm.key_spec();
        let backend = match spec {
            KeySpec::Rsa { bits } => {
                let size = rsa_key_size(bits).ok_or_else(failed)?;
                Backend::Rsa(aws_lc_rs::rsa::KeyPair::generate(size).map_err(|_| failed())?)
            }
            KeySpec::NistP256 | KeySpec::NistP384 | KeySpec::NistP521 => {
                let alg = ecdsa_signing(spec).ok_or_else(failed)?;
                Backend::Ecdsa(aws_sig::EcdsaKeyPair::generate(alg).map_err(|_| failed())?)
            }
            KeySpec::Secp256k1 => Backend::K256(generate_k256()?),
        };
        Ok(SigningKey { algorithm, backend })
    }

    /// Rebuilds a key from its PKCS#8 v1 DER encoding (as produced by [`SigningKey::to_pkcs8`]).
    /// The document must hold a key of the type `algorithm` needs.
    pub fn from_pkcs8(
        algorithm: Algorithm,
        pkcs8: &SecretBytes,
    ) -> Result<SigningKey, CryptoError> {
        let rejected = || CryptoError::MalformedPrivateKey(algorithm);
        let spec = algorithm.key_spec();
        let backend = match spec {
            KeySpec::Rsa { bits } => {
                let pair =
                    aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8.expose()).map_err(|_| rejected())?;
                if pair.public_modulus_len() * 8 != bits as usize {
                    return Err(rejected());
                }
                Backend::Rsa(pair)
            }
            KeySpec::NistP256 | KeySpec::NistP384 | KeySpec::NistP521 => {
                let alg = ecdsa_signing(spec).ok_or_else(rejected)?;
                Backend::Ecdsa(
                    aws_sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8.expose())
                        .map_err(|_| rejected())?,
                )
            }
            KeySpec::Secp256k1 => {
                use k256::pkcs8::DecodePrivateKey;
                Backend::K256(
                    k256::ecdsa::SigningKey::from_pkcs8_der(pkcs8.expose())
                        .map_err(|_| rejected())?,
                )
            }
        };
        Ok(SigningKey { algorithm, backend })
    }

    /// Serializes the private key as PKCS#8 v1 DER. The only legitimate use is sealing it under
    /// the root key right away; there is no API that returns it to a client.
    pub fn to_pkcs8(&self) -> Result<SecretBytes, CryptoError> {
        let failed = || CryptoError::MalformedPrivateKey(self.algorithm);
        match &self.backend {
            Backend::Rsa(pair) => {
                let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| failed())?;
                Ok(SecretBytes::copy_from(der.as_ref()))
            }
            Backend::Ecdsa(pair) => {
                let doc = pair.to_pkcs8v1().map_err(|_| failed())?;
                Ok(SecretBytes::copy_from(doc.as_ref()))
            }
            Backend::K256(key) => {
                use k256::pkcs8::EncodePrivateKey;
                let doc = key.to_pkcs8_der().map_err(|_| failed())?;
                Ok(SecretBytes::copy_from(doc.as_bytes()))
            }
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Result<Vec<u8>, CryptoError> {
        let failed = || CryptoError::MalformedPublicKey(self.algorithm);
        match &self.backend {
            Backend::Rsa(pair) => {
                let der: PublicKeyX509Der<'static> =
                    pair.public_key().as_der().map_err(|_| failed())?;
                Ok(der.as_ref().to_vec())
            }
            Backend::Ecdsa(pair) => {
                let der: PublicKeyX509Der<'static> =
                    pair.public_key().as_der().map_err(|_| failed())?;
                Ok(der.as_ref().to_vec())
            }
            Backend::K256(key) => {
                use k256::pkcs8::EncodePublicKey;
                let doc = key
                    .verifying_key()
                    .to_public_key_der()
                    .map_err(|_| failed())?;
                Ok(doc.as_bytes().to_vec())
            }
        }
    }

    /// The public key as PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_key_pem(&self) -> Result<String, CryptoError> {
        Ok(pem::spki_der_to_pem(&self.public_key_der()?))
    }

    /// Hashes `message` with the algorithm's hash function, then signs the digest.
    ///
    /// RSA: RSASSA-PSS, MGF1 with the same hash, salt length = digest length, output the size of
    /// the modulus. ECDSA: DER `SEQUENCE { r INTEGER, s INTEGER }`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let failed = || CryptoError::Signing(self.algorithm);
        match &self.backend {
            Backend::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                let rng = aws_lc_rs::rand::SystemRandom::new();
                pair.sign(rsa_encoding(self.algorithm), &rng, message, &mut sig)
                    .map_err(|_| failed())?;
                Ok(sig)
            }
            Backend::Ecdsa(pair) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                let sig = pair.sign(&rng, message).map_err(|_| failed())?;
                Ok(sig.as_ref().to_vec())
            }
            Backend::K256(_) => {
                let digest = self.algorithm.hash().digest(message);
                self.sign_digest(&digest)
            }
        }
    }

    /// Signs a digest computed elsewhere. Its length must be exactly the algorithm's digest
    /// length; anything else is [`CryptoError::DigestLength`], never truncation or padding.
    pub fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let expected = self.algorithm.digest_len();
        if digest.len() != expected {
            return Err(CryptoError::DigestLength {
                algorithm: self.algorithm,
                expected,
                actual: digest.len(),
            });
        }
        let failed = || CryptoError::Signing(self.algorithm);
        match &self.backend {
            Backend::Rsa(pair) => {
                let imported = aws_lc_rs::digest::Digest::import_less_safe(
                    digest,
                    self.algorithm.hash().aws(),
                )
                .map_err(|_| failed())?;
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(rsa_encoding(self.algorithm), &imported, &mut sig)
                    .map_err(|_| failed())?;
                Ok(sig)
            }
            Backend::Ecdsa(pair) => {
                let imported = aws_lc_rs::digest::Digest::import_less_safe(
                    digest,
                    self.algorithm.hash().aws(),
                )
                .map_err(|_| failed())?;
                let sig = pair.sign_digest(&imported).map_err(|_| failed())?;
                Ok(sig.as_ref().to_vec())
            }
            Backend::K256(key) => {
                use k256::ecdsa::signature::hazmat::PrehashSigner;
                let sig: k256::ecdsa::Signature = key.sign_prehash(digest).map_err(|_| failed())?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
        }
    }
}

fn generate_k256() -> Result<k256::ecdsa::SigningKey, CryptoError> {
    use aws_lc_rs::rand::SecureRandom;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    // A uniformly random 32-byte string is a valid scalar except with probability ~2^-128;
    // retry on the rare rejection rather than reducing (which would bias the key).
    for _ in 0..16 {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill(bytes.as_mut()).map_err(|_| CryptoError::Random)?;
        if let Ok(key) = k256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
            return Ok(key);
        }
    }
    Err(CryptoError::KeyGeneration(Algorithm::EcdsaSecp256k1Sha256))
}

/// Verifies `signature` over `message` with a DER SubjectPublicKeyInfo public key.
pub fn verify(
    algorithm: Algorithm,
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let digest = algorithm.hash().digest(message);
    verify_digest(algorithm, spki_der, &digest, signature)
}

/// Verifies `signature` over a precomputed digest (which must have the algorithm's length).
pub fn verify_digest(
    algorithm: Algorithm,
    spki_der: &[u8],
    digest: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let expected = algorithm.digest_len();
    if digest.len() != expected {
        return Err(CryptoError::DigestLength {
            algorithm,
            expected,
            actual: digest.len(),
        });
    }
    let spec = algorithm.key_spec();
    match spec {
        KeySpec::Rsa { bits } => {
            let params = rsa_verification(algorithm);
            let imported =
                aws_lc_rs::digest::Digest::import_less_safe(digest, algorithm.hash().aws())
                    .map_err(|_| CryptoError::BadSignature)?;
            // The modulus size must match the algorithm, not just any RSA key.
            if signature.len() * 8 != bits as usize {
                return Err(CryptoError::BadSignature);
            }
            aws_sig::UnparsedPublicKey::new(params, spki_der)
                .verify_digest(&imported, signature)
                .map_err(|_| CryptoError::BadSignature)
        }
        KeySpec::NistP256 | KeySpec::NistP384 | KeySpec::NistP521 => {
            let params =
                ecdsa_verification(spec).ok_or(CryptoError::MalformedPublicKey(algorithm))?;
            let imported =
                aws_lc_rs::digest::Digest::import_less_safe(digest, algorithm.hash().aws())
                    .map_err(|_| CryptoError::BadSignature)?;
            aws_sig::UnparsedPublicKey::new(params, spki_der)
                .verify_digest(&imported, signature)
                .map_err(|_| CryptoError::BadSignature)
        }
        KeySpec::Secp256k1 => {
            use k256::ecdsa::signature::hazmat::PrehashVerifier;
            use k256::pkcs8::DecodePublicKey;
            let key = k256::ecdsa::VerifyingKey::from_public_key_der(spki_der)
                .map_err(|_| CryptoError::MalformedPublicKey(algorithm))?;
            let sig = k256::ecdsa::Signature::from_der(signature)
                .map_err(|_| CryptoError::BadSignature)?;
            key.verify_prehash(digest, &sig)
                .map_err(|_| CryptoError::BadSignature)
        }
    }
}
