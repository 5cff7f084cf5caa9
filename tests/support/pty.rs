//! Pseudo-terminals that stand in for serial scanners.

#![allow(dead_code)]

use super::*;

pub struct Pty {
    pub master: std::fs::File,
    _slave: std::os::fd::OwnedFd,
}

pub fn pty(link: &Path) -> Pty {
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut m, mut s) = (0, 0);
    // SAFETY: openpty fills two fds we then own.
    let rc = unsafe { libc::openpty(&mut m, &mut s, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(rc, 0, "openpty failed");
    // Not inherited by the daemon we spawn: it must see the PTY go away when we close it.
    // SAFETY: fcntl on fds we own.
    unsafe {
        libc::fcntl(m, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(s, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    // SAFETY: `s` is a valid open fd returned by openpty.
    let name = unsafe { std::ffi::CStr::from_ptr(libc::ttyname(s)) }.to_string_lossy().into_owned();
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&name, link).unwrap();
    // SAFETY: both fds come from openpty and are owned from here on.
    let (master, slave) = unsafe { (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
    Pty { master, _slave: slave }
}

/// How the in-test order system answers one request.
#[derive(Debug, Clone)]
pub enum Answer {
    /// 200 with this JSON body.
    Json(serde_json::Value),
    /// 200 with this text body (a ZPL label).
    Text(String),
    /// This status, empty body.
    Status(u16),
    /// Never answers (holds the connection for 30 s).
    Stall,
}
