//! Client credentials: RSA key pairs minted *for a caller* (IAM authorized keys), whose private
//! half is handed to that caller once and never stored by Signet.
//!
//! This is deliberately separate from [`crate::SigningKey`], which has no export path: KMS
//! signing keys never leave the server; authorized keys are the caller's own login material.

use crate::{Algorithm, CryptoError, SecretBytes, SigningKey};

/// A freshly generated credential.
#[derive(Debug)]
pub struct Credential {
    /// PKCS#8 `PRIVATE KEY` PEM, for the caller's key file.
    pub private_key_pem: SecretBytes,
    /// SubjectPublicKeyInfo `PUBLIC KEY` PEM, which Signet keeps.
    pub public_key_pem: String,
}

/// Generates an RSA credential of 2048 or 4096 bits.
pub fn generate_rsa_credential(bits: u32) -> Result<Credential, CryptoError> {
    let algorithm = match bits {
        2048 => Algorithm::Rsa2048PssSha256,
        4096 => Algorithm::Rsa4096PssSha256,
        _ => return Err(CryptoError::KeyGeneration(Algorithm::Rsa2048PssSha256)),
    };
    let key = SigningKey::generate(algorithm)?;
    let pkcs8 = key.to_pkcs8()?;
    let pem = ::pem::Pem::new("PRIVATE KEY", pkcs8.expose().to_vec());
    let text = ::pem::encode_config(
        &pem,
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    );
    Ok(Credential {
        private_key_pem: SecretBytes::new(text.into_bytes()),
        public_key_pem: key.public_key_pem()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_signs_what_its_public_key_verifies() {
        let c = generate_rsa_credential(2048).unwrap();
        let text = std::str::from_utf8(c.private_key_pem.expose()).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let der = ::pem::parse(text).unwrap().into_contents();
        let key =
            SigningKey::from_pkcs8(Algorithm::Rsa2048PssSha256, &SecretBytes::new(der)).unwrap();
        let spki = crate::spki_pem_to_der(&c.public_key_pem).unwrap();
        crate::verify(
            Algorithm::Rsa2048PssSha256,
            &spki,
            b"jwt",
            &key.sign(b"jwt").unwrap(),
        )
        .unwrap();
        assert!(format!("{c:?}").contains("REDACTED"));
        assert!(generate_rsa_credential(1024).is_err());
    }
}
