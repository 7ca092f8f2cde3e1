//! Secret byte containers: zeroized on drop, never cloned, never serialized, redacted in `Debug`.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Secret bytes of any length (for example a PKCS#8 private key on its way to being sealed).
///
/// There is deliberately no `Clone`, no `Serialize` and no `Display`; `Debug` prints only the
/// length. The buffer is wiped when the value is dropped.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(bytes))
    }

    /// Copies `bytes` into a new secret; the caller remains responsible for its own copy.
    pub fn copy_from(bytes: &[u8]) -> Self {
        SecretBytes(Zeroizing::new(bytes.to_vec()))
    }

    /// Borrow the secret. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn expose_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes([REDACTED; {} bytes])", self.0.len())
    }
}

impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretBytes {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_bytes() {
        let s = SecretBytes::copy_from(&[0xde, 0xad, 0xbe, 0xef]);
        let printed = format!("{s:?}");
        assert_eq!(printed, "SecretBytes([REDACTED; 4 bytes])");
        assert!(!printed.to_lowercase().contains("dead"));
    }

    #[test]
    fn zeroize_wipes_contents() {
        let mut s = SecretBytes::copy_from(&[7u8; 32]);
        s.zeroize();
        assert!(s.expose().iter().all(|b| *b == 0));
    }
}
