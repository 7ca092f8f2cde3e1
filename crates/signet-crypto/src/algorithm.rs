//! The algorithm table: one row per `AsymmetricSignatureAlgorithm` value of the wire contract.

use std::fmt;

/// The hash function an algorithm signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlgorithm {
    /// Length of the digest in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }

    /// Lower-case name as `openssl dgst` and most tools spell it.
    pub const fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Sha384 => "sha384",
            HashAlgorithm::Sha512 => "sha512",
        }
    }

    pub(crate) fn aws(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            HashAlgorithm::Sha256 => &aws_lc_rs::digest::SHA256,
            HashAlgorithm::Sha384 => &aws_lc_rs::digest::SHA384,
            HashAlgorithm::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    /// Hashes `data` with this function.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.aws(), data)
            .as_ref()
            .to_vec()
    }
}

/// The key type behind an algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA with a modulus of the given number of bits, RSASSA-PSS padding.
    Rsa {
        bits: u32,
    },
    NistP256,
    NistP384,
    NistP521,
    Secp256k1,
}

/// Every signature algorithm Signet supports. The discriminants are the wire numbers of
/// `yandex.cloud.kms.v1.asymmetricsignature.AsymmetricSignatureAlgorithm`; the wire value 0
/// (unspecified) has no variant on purpose, so that a key always has a real algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Algorithm {
    Rsa2048PssSha256 = 1,
    Rsa2048PssSha384 = 2,
    Rsa2048PssSha512 = 3,
    Rsa3072PssSha256 = 4,
    Rsa3072PssSha384 = 5,
    Rsa3072PssSha512 = 6,
    Rsa4096PssSha256 = 7,
    Rsa4096PssSha384 = 8,
    Rsa4096PssSha512 = 9,
    EcdsaP256Sha256 = 10,
    EcdsaP384Sha384 = 11,
    EcdsaP521Sha512 = 12,
    EcdsaSecp256k1Sha256 = 13,
}

impl Algorithm {
    /// All algorithms, in wire-number order.
    pub const ALL: [Algorithm; 13] = [
        Algorithm::Rsa2048PssSha256,
        Algorithm::Rsa2048PssSha384,
        Algorithm::Rsa2048PssSha512,
        Algorithm::Rsa3072PssSha256,
        Algorithm::Rsa3072PssSha384,
        Algorithm::Rsa3072PssSha512,
        Algorithm::Rsa4096PssSha256,
        Algorithm::Rsa4096PssSha384,
        Algorithm::Rsa4096PssSha512,
        Algorithm::EcdsaP256Sha256,
        Algorithm::EcdsaP384Sha384,
        Algorithm::EcdsaP521Sha512,
        Algorithm::EcdsaSecp256k1Sha256,
    ];

    /// The wire number of this algorithm.
    pub const fn wire_number(self) -> i32 {
        self as i32
    }

    /// The algorithm for a wire number, or `None` for 0 (unspecified) and unknown values.
    pub fn from_wire_number(n: i32) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.wire_number() == n)
    }

    /// The enum value name used on the wire and in JSON, e.g. `ECDSA_NIST_P256_SHA_256`.
    pub const fn wire_name(self) -> &'static str {
        match self {
            Algorithm::Rsa2048PssSha256 => "RSA_2048_SIGN_PSS_SHA_256",
            Algorithm::Rsa2048PssSha384 => "RSA_2048_SIGN_PSS_SHA_384",
            Algorithm::Rsa2048PssSha512 => "RSA_2048_SIGN_PSS_SHA_512",
            Algorithm::Rsa3072PssSha256 => "RSA_3072_SIGN_PSS_SHA_256",
            Algorithm::Rsa3072PssSha384 => "RSA_3072_SIGN_PSS_SHA_384",
            Algorithm::Rsa3072PssSha512 => "RSA_3072_SIGN_PSS_SHA_512",
            Algorithm::Rsa4096PssSha256 => "RSA_4096_SIGN_PSS_SHA_256",
            Algorithm::Rsa4096PssSha384 => "RSA_4096_SIGN_PSS_SHA_384",
            Algorithm::Rsa4096PssSha512 => "RSA_4096_SIGN_PSS_SHA_512",
            Algorithm::EcdsaP256Sha256 => "ECDSA_NIST_P256_SHA_256",
            Algorithm::EcdsaP384Sha384 => "ECDSA_NIST_P384_SHA_384",
            Algorithm::EcdsaP521Sha512 => "ECDSA_NIST_P521_SHA_512",
            Algorithm::EcdsaSecp256k1Sha256 => "ECDSA_SECP256_K1_SHA_256",
        }
    }

    /// The `yc`-style flag value: the wire name lower-cased with `-` for `_`.
    pub fn cli_name(self) -> String {
        self.wire_name().to_ascii_lowercase().replace('_', "-")
    }

    /// Parses either the wire name or the CLI name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        let normalized = name.trim().to_ascii_uppercase().replace('-', "_");
        Algorithm::ALL
            .into_iter()
            .find(|a| a.wire_name() == normalized)
    }

    pub const fn hash(self) -> HashAlgorithm {
        match self {
            Algorithm::Rsa2048PssSha256
            | Algorithm::Rsa3072PssSha256
            | Algorithm::Rsa4096PssSha256
            | Algorithm::EcdsaP256Sha256
            | Algorithm::EcdsaSecp256k1Sha256 => HashAlgorithm::Sha256,
            Algorithm::Rsa2048PssSha384
            | Algorithm::Rsa3072PssSha384
            | Algorithm::Rsa4096PssSha384
            | Algorithm::EcdsaP384Sha384 => HashAlgorithm::Sha384,
            Algorithm::Rsa2048PssSha512
            | Algorithm::Rsa3072PssSha512
            | Algorithm::Rsa4096PssSha512
            | Algorithm::EcdsaP521Sha512 => HashAlgorithm::Sha512,
        }
    }

    /// Length in bytes of the digest that `sign_digest` expects.
    pub const fn digest_len(self) -> usize {
        self.hash().digest_len()
    }

    pub const fn key_spec(self) -> KeySpec {
        match self {
            Algorithm::Rsa2048PssSha256
            | Algorithm::Rsa2048PssSha384
            | Algorithm::Rsa2048PssSha512 => KeySpec::Rsa { bits: 2048 },
            Algorithm::Rsa3072PssSha256
            | Algorithm::Rsa3072PssSha384
            | Algorithm::Rsa3072PssSha512 => KeySpec::Rsa { bits: 3072 },
            Algorithm::Rsa4096PssSha256
            | Algorithm::Rsa4096PssSha384
            | Algorithm::Rsa4096PssSha512 => KeySpec::Rsa { bits: 4096 },
            Algorithm::EcdsaP256Sha256 => KeySpec::NistP256,
            Algorithm::EcdsaP384Sha384 => KeySpec::NistP384,
            Algorithm::EcdsaP521Sha512 => KeySpec::NistP521,
            Algorithm::EcdsaSecp256k1Sha256 => KeySpec::Secp256k1,
        }
    }

    pub const fn is_rsa(self) -> bool {
        matches!(self.key_spec(), KeySpec::Rsa { .. })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_numbers_are_one_to_thirteen_in_order() {
        for (i, alg) in Algorithm::ALL.iter().enumerate() {
            assert_eq!(alg.wire_number(), i as i32 + 1);
            assert_eq!(Algorithm::from_wire_number(alg.wire_number()), Some(*alg));
        }
        for bad in [0, 14, -1, 9999] {
            assert_eq!(Algorithm::from_wire_number(bad), None);
        }
    }

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.wire_name()), Some(alg));
            assert_eq!(Algorithm::from_name(&alg.cli_name()), Some(alg));
        }
        assert_eq!(
            Algorithm::from_name("ecdsa-secp256-k1-sha-256"),
            Some(Algorithm::EcdsaSecp256k1Sha256)
        );
        assert_eq!(
            Algorithm::from_name("ASYMMETRIC_SIGNATURE_ALGORITHM_UNSPECIFIED"),
            None
        );
    }
}
