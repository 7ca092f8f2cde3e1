//! PEM text for SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"), the format GetPublicKey returns.

use crate::CryptoError;

const LABEL: &str = "PUBLIC KEY";

/// Wraps DER SubjectPublicKeyInfo bytes as PEM with `\n` line endings and 64-column lines.
pub fn spki_der_to_pem(der: &[u8]) -> String {
    let pem = ::pem::Pem::new(LABEL, der.to_vec());
    ::pem::encode_config(
        &pem,
        ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF),
    )
}

/// Extracts the DER bytes of a single `PUBLIC KEY` PEM block.
pub fn spki_pem_to_der(pem_text: &str) -> Result<Vec<u8>, CryptoError> {
    let parsed = ::pem::parse(pem_text).map_err(|_| CryptoError::MalformedPem)?;
    if parsed.tag() != LABEL {
        return Err(CryptoError::MalformedPem);
    }
    Ok(parsed.into_contents())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_label() {
        let der = vec![0x30, 0x03, 0x02, 0x01, 0x05];
        let pem = spki_der_to_pem(&der);
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        assert!(!pem.contains('\r'));
        assert_eq!(spki_pem_to_der(&pem).unwrap(), der);
        let other = pem.replace("PUBLIC KEY", "PRIVATE KEY");
        assert!(matches!(
            spki_pem_to_der(&other),
            Err(CryptoError::MalformedPem)
        ));
        assert!(matches!(
            spki_pem_to_der("garbage"),
            Err(CryptoError::MalformedPem)
        ));
    }
}
