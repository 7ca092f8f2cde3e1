//! Files that must be new: created exclusively (never overwriting), private ones with mode
//! 0600, and removed again unless the caller keeps them (so a failed command leaves no empty or
//! half-written file behind).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Who may read a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Mode 0600, whatever the umask: private keys.
    Private,
    /// Mode 0644 less the umask: certificates.
    Public,
}

/// A file this process created and has not decided to keep yet. Dropping it removes it.
#[derive(Debug)]
pub struct NewFile {
    path: PathBuf,
    file: Option<File>,
    keep: bool,
}

impl NewFile {
    /// Creates `path`, failing with `ErrorKind::AlreadyExists` if anything is there (a symlink
    /// included: it is not followed).
    pub fn create(path: &Path, access: Access) -> io::Result<NewFile> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(match access {
                Access::Private => 0o600,
                Access::Public => 0o644,
            });
        }
        let file = options.open(path)?;
        let new = NewFile {
            path: path.to_owned(),
            file: Some(file),
            keep: false,
        };
        #[cfg(unix)]
        if access == Access::Private {
            // The umask can only remove bits; this makes the mode exactly 0600.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        #[cfg(not(unix))]
        let _ = access;
        Ok(new)
    }

    /// Writes all of `contents` and flushes them to disk.
    pub fn write_all(&mut self, contents: &[u8]) -> io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("the file is already closed"))?;
        file.write_all(contents)?;
        file.sync_all()
    }

    /// Keeps the file: it is no longer removed on drop.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.keep {
            drop(self.file.take());
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether anything (a file, a directory, a dangling symlink) is at `path`.
pub fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_files_are_exclusive_private_and_removed_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        let mut file = NewFile::create(&path, Access::Private).unwrap();
        file.write_all(b"one").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = NewFile::create(&path, Access::Private).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        file.keep();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");

        let dropped = dir.path().join("dropped");
        let mut file = NewFile::create(&dropped, Access::Public).unwrap();
        file.write_all(b"x").unwrap();
        drop(file);
        assert!(!exists(&dropped));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = NewFile::create(&link, Access::Private).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(!target.exists());
        assert!(exists(&link));
    }
}
