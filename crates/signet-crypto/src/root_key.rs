//! The root key: the one 256-bit secret that seals all key material at rest.
//!
//! Sources are a seam ([`RootKeySource`]) so that an HSM-backed source (PKCS#11) can be added
//! without touching callers. Today: a file, or an environment variable.

use crate::{CryptoError, RootKeyError, SecretBytes};
use base64::Engine as _;
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Length of the root key in bytes.
pub const ROOT_KEY_LEN: usize = 32;

/// A 256-bit AES key that seals and opens key material. Zeroized on drop; no `Clone`; `Debug`
/// shows only the key check value, which identifies the key without revealing it.
pub struct RootKey {
    bytes: Zeroizing<[u8; ROOT_KEY_LEN]>,
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey")
            .field("check_value", &self.check_value())
            .finish_non_exhaustive()
    }
}

impl RootKey {
    /// A fresh random root key from the operating system's CSPRNG.
    pub fn generate() -> Result<RootKey, CryptoError> {
        use aws_lc_rs::rand::SecureRandom;
        let mut bytes = Zeroizing::new([0u8; ROOT_KEY_LEN]);
        aws_lc_rs::rand::SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| CryptoError::Random)?;
        Ok(RootKey { bytes })
    }

    /// Builds a root key from exactly 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Option<RootKey> {
        let array: [u8; ROOT_KEY_LEN] = raw.try_into().ok()?;
        Some(RootKey {
            bytes: Zeroizing::new(array),
        })
    }

    /// Parses the textual or binary forms accepted in files and variables: 32 raw bytes, or
    /// standard base64 (padding optional, surrounding whitespace ignored) of 32 bytes.
    pub fn parse(input: &[u8], origin: &str) -> Result<RootKey, RootKeyError> {
        let format_error = || RootKeyError::Format {
            origin: origin.to_owned(),
        };
        if input.len() == ROOT_KEY_LEN {
            // 32 bytes could be raw key bytes or, never, a base64 text (base64 of 32 bytes is 43+
            // characters), so the length decides.
            return RootKey::from_bytes(input).ok_or_else(format_error);
        }
        let text = std::str::from_utf8(input)
            .map_err(|_| format_error())?
            .trim();
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| format_error())?,
        );
        RootKey::from_bytes(&decoded).ok_or_else(format_error)
    }

    /// The base64 text form written to root key files.
    pub fn to_base64(&self) -> SecretBytes {
        SecretBytes::new(
            base64::engine::general_purpose::STANDARD
                .encode(self.bytes.as_ref())
                .into_bytes(),
        )
    }

    /// A public fingerprint of the key (HMAC-SHA-256 of a fixed label, first 16 bytes, hex).
    /// Stored beside the data so that a start with a different root key is refused before it
    /// touches anything.
    pub fn check_value(&self) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.bytes.as_ref());
        let tag = aws_lc_rs::hmac::sign(&key, b"signet root key check value v1");
        tag.as_ref()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// HMAC-SHA-256 under a subkey derived for `purpose` (the subkey is HMAC(root, purpose)).
    pub(crate) fn derived_mac(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let root = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, self.bytes.as_ref());
        let mut subkey = Zeroizing::new([0u8; 32]);
        subkey.copy_from_slice(aws_lc_rs::hmac::sign(&root, purpose.as_bytes()).as_ref());
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, subkey.as_ref());
        let mut out = [0u8; 32];
        out.copy_from_slice(aws_lc_rs::hmac::sign(&key, data).as_ref());
        out
    }

    pub(crate) fn expose(&self) -> &[u8; ROOT_KEY_LEN] {
        &self.bytes
    }

    /// Writes the key, base64-encoded, to a new file created with mode 0600. Fails if the file
    /// already exists, so an existing root key is never overwritten.
    pub fn write_new_file(&self, path: &Path) -> Result<(), RootKeyError> {
        use std::io::Write;
        let write_error = |source| RootKeyError::Write {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(write_error)?;
        let text = self.to_base64();
        file.write_all(text.expose()).map_err(write_error)?;
        file.write_all(b"\n").map_err(write_error)?;
        file.sync_all().map_err(write_error)
    }
}

/// Where a root key comes from. A PKCS#11 token is the intended next implementation.
pub trait RootKeySource: fmt::Debug + Send + Sync {
    /// Loads the key. Called once at start-up.
    fn load(&self) -> Result<RootKey, RootKeyError>;
    /// A human-readable description for error messages (never the key itself).
    fn describe(&self) -> String;
}

/// A root key in a file: 32 raw bytes or base64. Refused when group or others may read it.
#[derive(Debug, Clone)]
pub struct FileRootKey {
    path: PathBuf,
}

impl FileRootKey {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileRootKey { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl RootKeySource for FileRootKey {
    fn load(&self) -> Result<RootKey, RootKeyError> {
        let read_error = |source| RootKeyError::Read {
            path: self.path.clone(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&self.path)
                .map_err(read_error)?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(RootKeyError::Permissions {
                    path: self.path.clone(),
                    mode: mode & 0o777,
                });
            }
        }
        let contents = Zeroizing::new(std::fs::read(&self.path).map_err(read_error)?);
        RootKey::parse(&contents, &self.describe())
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// A root key in an environment variable, base64-encoded.
#[derive(Debug, Clone)]
pub struct EnvRootKey {
    var: String,
}

impl EnvRootKey {
    /// The variable Signet reads by default.
    pub const DEFAULT_VAR: &'static str = "SIGNET_ROOT_KEY";

    pub fn new(var: impl Into<String>) -> Self {
        EnvRootKey { var: var.into() }
    }

    /// True when the variable is set (to anything).
    pub fn is_set(&self) -> bool {
        std::env::var_os(&self.var).is_some()
    }
}

impl RootKeySource for EnvRootKey {
    fn load(&self) -> Result<RootKey, RootKeyError> {
        let value = Zeroizing::new(
            std::env::var(&self.var).map_err(|_| RootKeyError::EnvMissing(self.var.clone()))?,
        );
        RootKey::parse(value.as_bytes(), &self.describe())
    }

    fn describe(&self) -> String {
        format!("environment variable {}", self.var)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_raw_and_base64() {
        let key = RootKey::generate().unwrap();
        let raw = *key.expose();
        let from_raw = RootKey::parse(&raw, "test").unwrap();
        assert_eq!(from_raw.check_value(), key.check_value());
        let text = key.to_base64();
        let mut with_newline = text.expose().to_vec();
        with_newline.push(b'\n');
        assert_eq!(
            RootKey::parse(&with_newline, "test").unwrap().check_value(),
            key.check_value()
        );
        assert!(RootKey::parse(b"too short", "test").is_err());
        assert!(RootKey::parse(&[0u8; 31], "test").is_err());
        // base64 of 16 bytes: valid base64, wrong length.
        assert!(RootKey::parse(b"AAAAAAAAAAAAAAAAAAAAAA==", "test").is_err());
    }

    #[test]
    fn debug_shows_only_check_value() {
        let key = RootKey::generate().unwrap();
        let printed = format!("{key:?}");
        let b64 = String::from_utf8(key.to_base64().expose().to_vec()).unwrap();
        assert!(printed.contains(&key.check_value()));
        assert!(!printed.contains(&b64));
        let hex: String = key.expose().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!printed.contains(&hex));
    }

    #[test]
    fn different_keys_have_different_check_values() {
        let a = RootKey::generate().unwrap();
        let b = RootKey::generate().unwrap();
        assert_ne!(a.check_value(), b.check_value());
        assert_eq!(a.check_value().len(), 32);
    }

    #[cfg(unix)]
    #[test]
    fn file_source_enforces_permissions_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let key = RootKey::generate().unwrap();
        key.write_new_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Never overwrites.
        assert!(RootKey::generate().unwrap().write_new_file(&path).is_err());

        let source = FileRootKey::new(&path);
        assert_eq!(source.load().unwrap().check_value(), key.check_value());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        match source.load() {
            Err(RootKeyError::Permissions { mode, .. }) => assert_eq!(mode, 0o640),
            other => panic!("expected a permissions error, got {other:?}"),
        }

        let raw_path = dir.path().join("raw.key");
        std::fs::write(&raw_path, key.expose()).unwrap();
        std::fs::set_permissions(&raw_path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(
            FileRootKey::new(&raw_path).load().unwrap().check_value(),
            key.check_value()
        );
        assert!(matches!(
            FileRootKey::new(dir.path().join("missing")).load(),
            Err(RootKeyError::Read { .. })
        ));
    }

    #[test]
    fn env_source() {
        // A variable name unique to this test, so parallel tests cannot interfere.
        let var = "SIGNET_TEST_ROOT_KEY_ENV_SOURCE";
        let source = EnvRootKey::new(var);
        assert!(matches!(source.load(), Err(RootKeyError::EnvMissing(_))));
        let key = RootKey::generate().unwrap();
        let text = String::from_utf8(key.to_base64().expose().to_vec()).unwrap();
        // `std::env::set_var` is unsafe in edition 2024 and unsafe code is forbidden here, so the
        // variable is handed to a child test process instead.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "root_key::tests::env_source_child",
                "--nocapture",
            ])
            .env(var, &text)
            .env("SIGNET_TEST_EXPECTED_CHECK", key.check_value())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
    }

    #[test]
    fn env_source_child() {
        // Runs meaningfully only when spawned by `env_source`.
        let Ok(expected) = std::env::var("SIGNET_TEST_EXPECTED_CHECK") else {
            return;
        };
        let key = EnvRootKey::new("SIGNET_TEST_ROOT_KEY_ENV_SOURCE")
            .load()
            .unwrap();
        assert_eq!(key.check_value(), expected);
    }
}
