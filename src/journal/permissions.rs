//! The journal folder is private: it holds customer names and addresses (orders, labels,
//! print jobs) and must not be readable by other users of the box.
//!
//! At open, everything under the journal folder loses its group-write and all "other" bits
//! (folders become at most 0750, files at most 0640): a folder made 0755 by hand before the
//! first start, or files written by an older release with umask 022, are tightened rather
//! than left open. What cannot be tightened (not owned by this user) stops the start with
//! the command that fixes it. `stationd doctor` reports the same with [`too_open`].

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::JournalError;

/// Bits nothing under the journal folder may have: group write, and anything for others.
pub const FORBIDDEN_BITS: u32 = 0o027;

/// The bits an entry of `mode` (type included) may not have: [`FORBIDDEN_BITS`], but the
/// control socket keeps group write, which is what lets the service group connect.
fn forbidden_bits(mode: u32) -> u32 {
    if mode & libc::S_IFMT == libc::S_IFSOCK {
        FORBIDDEN_BITS & !0o020
    } else {
        FORBIDDEN_BITS
    }
}

/// Entries under `dir` (itself included) whose mode has bits it may not have: (path, mode).
pub fn too_open(dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut found = Vec::new();
    walk(dir, &mut |path, mode| {
        if mode & forbidden_bits(mode) != 0 {
            found.push((path.to_path_buf(), mode));
        }
    });
    found
}

/// Removes the bits it may not have from every entry under `dir`; returns how many changed.
pub fn tighten(dir: &Path) -> Result<usize, JournalError> {
    let mut changed = 0;
    let mut failed: Option<JournalError> = None;
    walk(dir, &mut |path, mode| {
        if mode & forbidden_bits(mode) == 0 || failed.is_some() {
            return;
        }
        let tight = mode & 0o7777 & !forbidden_bits(mode);
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(tight)) {
            Ok(()) => changed += 1,
            Err(e) => {
                failed = Some(JournalError::Exposed {
                    path: path.to_path_buf(),
                    mode: mode & 0o7777,
                    reason: e.to_string(),
                    root: dir.to_path_buf(),
                })
            }
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(changed),
    }
}

/// Calls `f(path, mode)` for `dir` and everything below it; symbolic links are not followed.
fn walk(dir: &Path, f: &mut dyn FnMut(&Path, u32)) {
    let Ok(meta) = std::fs::symlink_metadata(dir) else { return };
    f(dir, meta.mode());
    if !meta.is_dir() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        walk(&entry.path(), f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_and_files_open_to_others_are_tightened_to_0750_and_0640() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("journal");
        std::fs::create_dir_all(dir.join("db")).unwrap();
        std::fs::write(dir.join("db/conf"), "x").unwrap();
        for (p, mode) in [(dir.clone(), 0o755), (dir.join("db"), 0o777), (dir.join("db/conf"), 0o666)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        assert_eq!(too_open(&dir).len(), 3);
        assert_eq!(tighten(&dir).unwrap(), 3);
        assert!(too_open(&dir).is_empty());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!((mode(&dir), mode(&dir.join("db")), mode(&dir.join("db/conf"))), (0o750, 0o750, 0o640));
        assert_eq!(tighten(&dir).unwrap(), 0, "nothing left to change");
    }

    #[test]
    fn the_control_socket_keeps_group_write_and_loses_what_others_had() {
        let tmp = tempfile::tempdir().unwrap();
        let socket = tmp.path().join("control.sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660)).unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(too_open(tmp.path()).is_empty(), "0660 is the socket's mode");
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(tighten(tmp.path()).unwrap(), 1);
        assert_eq!(std::fs::metadata(&socket).unwrap().mode() & 0o777, 0o660);
    }
}
