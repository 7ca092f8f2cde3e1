//! The wire contract: Signet's compiled descriptors must be identical to the
//! ones embedded in the official `yandexcloud` Python SDK. The comparison
//! itself lives in `compat/compare_descriptors.py`; this test feeds it
//! `FILE_DESCRIPTOR_SET` and fails on any difference it reports.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// `SIGNET_PYTHON` if it points at something, else the workspace venv.
fn python(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join(".venv").join("bin").join("python");
    let from_env = std::env::var_os("SIGNET_PYTHON").map(PathBuf::from);
    from_env
        .iter()
        .chain(std::iter::once(&venv))
        .find(|candidate| candidate.exists())
        .cloned()
        .ok_or_else(|| {
            format!(
                "no Python with the yandexcloud SDK: SIGNET_PYTHON is {from_env:?} and {} does \
                 not exist; run scripts/dev-deps to create the venv",
                venv.display()
            )
        })
}

#[test]
fn descriptors_match_the_yandexcloud_sdk() {
    let root = workspace_root();
    let python = python(&root).unwrap_or_else(|msg| panic!("{msg}"));

    let mut descriptor_file = tempfile::NamedTempFile::new().unwrap();
    descriptor_file
        .write_all(signet_proto::FILE_DESCRIPTOR_SET)
        .unwrap();
    descriptor_file.flush().unwrap();

    let output = Command::new(&python)
        .arg(root.join("compat").join("compare_descriptors.py"))
        .arg(descriptor_file.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));

    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "compat/compare_descriptors.py found differences from the SDK ({}); see its output above",
        output.status
    );
}
