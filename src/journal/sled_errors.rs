//! The sled boundary for errors: sled's errors become [`JournalError`]s here, and only here is
//! one told apart from another (the store, the state view and the migration of older layouts
//! call these).

use std::path::Path;

use super::{Damage, JournalError};

/// sled's errors as the journal's: the sled boundary. An I/O error becomes
/// [`JournalError::Io`] with the database's folder and `op`; anything else sled reports
/// (corruption, a bug it found in itself) is damage it names no better place for.
pub(crate) fn sled_error<'a>(path: &'a Path, op: &'static str) -> impl Fn(sled::Error) -> JournalError + 'a {
    move |e| match e {
        sled::Error::Io(source) => JournalError::io(path, op, source),
        other => Damage::Sled { path: path.to_path_buf(), report: other.to_string() }.into(),
    }
}

/// Whether opening failed because sled's file lock is held. sled 0.34 reports it as
/// `Error::Io` of kind `Other` whose message is the only trace of the `WouldBlock` from `flock`
/// (`Config::try_lock` in vendor/sled/src/config.rs): the text is read here and nowhere else,
/// and `sleds_lock_error_is_recognised` pins sled's behaviour.
pub(super) fn sled_lock_held(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || (io.kind() == std::io::ErrorKind::Other && io.to_string().starts_with("could not acquire lock on "))
        }
        _ => false,
    }
}

/// Why sled did not open `path`: the folder's permissions (the admin fixes them), files it
/// cannot read (damage: quarantined), or another I/O error.
pub(super) fn open_error(path: &Path, e: sled::Error) -> JournalError {
    match e {
        sled::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::PermissionDenied => JournalError::access(path, "open", io),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
                Damage::Sled { path: path.to_path_buf(), report: format!("sled could not read its files: {io}") }.into()
            }
            _ => JournalError::io(path, "open", io),
        },
        other => Damage::Sled { path: path.to_path_buf(), report: other.to_string() }.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sled's lock error carries no kind of its own: if a sled upgrade changes how it
    /// reports a held lock, this fails, not the wait for a lock in `open_sled`.
    #[test]
    fn sleds_lock_error_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let config = sled::Config::new().path(&path).flush_every_ms(None);
        let _first = config.open().unwrap();
        let held = match sled::Config::new().path(&path).flush_every_ms(None).open() {
            Ok(_) => panic!("a second open of a held database succeeded"),
            Err(e) => e,
        };
        assert!(matches!(&held, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::Other), "{held:?}");
        assert!(sled_lock_held(&held), "{held:?}");
        let other = sled::Error::Io(std::io::Error::other("disk on fire"));
        assert!(!sled_lock_held(&other));
        assert!(matches!(sled_error(&path, "read")(other), JournalError::Io { op: "read", .. }));
    }
}
