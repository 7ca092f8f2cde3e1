//! Process hardening applied when the server starts: no core dumps, so that a crash cannot
//! write unsealed keys or the root key to disk.

/// Sets `RLIMIT_CORE` to 0 (soft and hard) and, on Linux, marks the process non-dumpable (which
/// also keeps other unprivileged processes of the same user from attaching to it or reading its
/// memory through /proc). Returns what could not be applied, for a warning.
pub fn disable_core_dumps() -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0) {
        problems.push(format!("setrlimit(RLIMIT_CORE, 0): {e}"));
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        problems.push(format!("prctl(PR_SET_DUMPABLE, 0): {e}"));
    }
    problems
}
