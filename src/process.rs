//! The process itself: its exit codes, and what it sets on itself before it opens
//! anything (the open-file limit and the file-creation mask).
//!
//! - The soft `RLIMIT_NOFILE` is raised to the hard limit. Distributions start services with
//!   a soft limit of 1 024 for old `select()` users; this daemon never uses `select()`, and a
//!   low soft limit is what lets a burst of sockets (screen clients, printers, the broker)
//!   crowd out the journal. The unit sets `LimitNOFILE=` as well.
//! - The umask is tightened to `027`: databases, labels and sockets the daemon creates hold
//!   customer names and addresses, and are never readable by other users.

/// Exit codes of every `stationd` command (listed in the README).
pub const EXIT_OK: i32 = 0;
/// The config file is missing or invalid.
pub const EXIT_CONFIG: i32 = 1;
/// The command line is wrong (clap's own code).
pub const EXIT_USAGE: i32 = 2;
/// The journal cannot be opened or written.
pub const EXIT_JOURNAL: i32 = 3;
/// Anything else at run time (a device, the broker, the runtime).
pub const EXIT_RUNTIME: i32 = 4;

/// The umask every stationd process runs with.
pub const UMASK: u32 = 0o027;

/// Sets the umask to [`UMASK`], keeping any stricter bits already set.
pub fn restrict_umask() {
    // SAFETY: umask only swaps the process's mask; it cannot fail.
    unsafe {
        let old = libc::umask(UMASK as libc::mode_t);
        libc::umask(old | UMASK as libc::mode_t);
    }
}

/// Raises the soft open-file limit to the hard one; returns `(soft, hard)` after.
pub fn raise_open_file_limit() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit { rlim_cur: lim.rlim_max, rlim_max: lim.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            lim = raised;
        }
    }
    // rlim_t is 32 bits on armv7.
    #[allow(clippy::useless_conversion)]
    Ok((u64::from(lim.rlim_cur), u64::from(lim.rlim_max)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_file_limit_ends_at_the_hard_one() {
        let (soft, hard) = raise_open_file_limit().unwrap();
        assert_eq!(soft, hard);
    }
}
