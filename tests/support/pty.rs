//! Pseudo-terminals that stand in for serial scanners.

#![allow(dead_code)]

use super::*;

pub struct Pty {
    pub master: std::fs::File,
    _slave: std::fs::File,
}

/// A PTY (not in raw mode: the daemon sets the line up) linked at `link`, as a serial
/// scanner under its by-id name.
pub fn pty(link: &Path) -> Pty {
    let p = stationd_testkit::open_pty(false);
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(&p.name, link).unwrap();
    Pty { master: p.master, _slave: p.slave }
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
