//! `--inform` / `--outform`: bytes to and from raw, hex and base64.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::args::Encoding;
use super::error::ClientError;

/// Standard alphabet, emitting padding, accepting input with or without it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes input read from a file or stdin. Text encodings ignore all ASCII whitespace, so a
/// trailing newline or wrapped base64 is fine.
pub fn decode(encoding: Encoding, input: &[u8]) -> Result<Vec<u8>, ClientError> {
    let compact = || -> Vec<u8> {
        input
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect()
    };
    match encoding {
        Encoding::Raw => Ok(input.to_vec()),
        Encoding::Hex => hex::decode(compact()).map_err(|e| ClientError::InvalidInput {
            encoding: "hex",
            source: Box::new(e),
        }),
        Encoding::Base64 => BASE64
            .decode(compact())
            .map_err(|e| ClientError::InvalidInput {
                encoding: "base64",
                source: Box::new(e),
            }),
    }
}

/// Encodes output. Text encodings end with a newline; raw bytes are written as they are.
pub fn encode(encoding: Encoding, bytes: &[u8]) -> Vec<u8> {
    match encoding {
        Encoding::Raw => bytes.to_vec(),
        Encoding::Hex => {
            let mut text = hex::encode(bytes).into_bytes();
            text.push(b'\n');
            text
        }
        Encoding::Base64 => {
            let mut text = BASE64.encode(bytes).into_bytes();
            text.push(b'\n');
            text
        }
    }
}
