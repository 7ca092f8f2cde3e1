//! Process hardening applied when the server starts: no core dumps, so that a crash cannot
//! write unsealed keys or the root key to disk, and no reading of the process's memory by
//! other processes of the same user.
//!
//! The whole process is made non-dumpable rather than only the pages holding key material:
//! excluding single pages (`madvise(MADV_DONTDUMP)`) would need `unsafe` code, which the
//! workspace forbids, and would have to follow every copy of a key through the allocator.
//! Both calls go through `nix`'s safe wrappers.

/// Sets `RLIMIT_CORE` to 0 (soft and hard) and, on Linux, marks the process non-dumpable
/// (`prctl(PR_SET_DUMPABLE, 0)`: no core dump whatever the resource limit or
/// `core_pattern` say, and other unprivileged processes of the same user can no longer attach
/// to it with ptrace or read its memory through /proc/PID/mem). Returns what could not be
/// applied, for a warning.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test of this binary that changes the process's dump settings (they are
    /// process-wide and cannot be raised again).
    #[test]
    #[cfg(target_os = "linux")]
    fn the_process_becomes_non_dumpable_with_no_core_limit() {
        use nix::sys::resource::{Resource, getrlimit};
        assert!(
            nix::sys::prctl::get_dumpable().unwrap(),
            "a test process starts dumpable, else this test proves nothing"
        );
        assert_eq!(disable_core_dumps(), Vec::<String>::new());
        assert!(!nix::sys::prctl::get_dumpable().unwrap());
        assert_eq!(getrlimit(Resource::RLIMIT_CORE).unwrap(), (0, 0));
    }
}
