//! Moving the older layout into the one database, on the first start of this release.
//!
//! Releases up to 0.1.0 kept three sled databases in the journal folder: `db/` (events),
//! `state/` (orders, session, request ids) and `print/` (print jobs). Their trees now live
//! in `db/`. On open, each such folder left by an older release is copied into the journal's
//! state trees in one atomic write, made durable, and only then renamed aside to
//! `<name>.migrated-<unix time>` (kept, never deleted; safe to remove once the station runs).
//!
//! A crash between the copy and the rename copies again on the next start: the same values
//! over themselves, since nothing else writes before the migration is done. A folder that
//! sled cannot open is renamed to `<name>.damaged-<unix time>` (kept) and the station starts
//! without what it held, as the older release did: the cloud re-sends orders.

use std::path::{Path, PathBuf};

use tracing::{error, info};

use super::sled_errors::sled_error;
use super::state::{StateChanges, StateTree};
use super::store::{open_sled, Store};
use super::wal::Writes;
use super::JournalError;

/// The older databases whose trees now live in the journal's: `state/` (orders, session,
/// request ids) and `print/` (print jobs).
const OLD_DBS: &[&str] = &["state", "print"];

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Where the old folder went.
    pub moved_to: PathBuf,
    /// Entries copied per tree name.
    pub copied: Vec<(&'static str, usize)>,
}

/// Copies every older database an older release left in `dir` into `store`.
pub(super) fn old_layout(store: &Store, dir: &Path) -> Result<Vec<Migrated>, JournalError> {
    let mut done = Vec::new();
    for old in OLD_DBS {
        done.extend(old_db(store, dir, old)?);
    }
    Ok(done)
}

/// Copies `<dir>/<name>` into `store` if an older release left it there, then renames it.
fn old_db(store: &Store, dir: &Path, name: &str) -> Result<Option<Migrated>, JournalError> {
    let old = dir.join(name);
    if !old.is_dir() {
        return Ok(None);
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let (db, _file) = match open_sled(&old, 4 * 1024 * 1024) {
        Ok(x) => x,
        Err(JournalError::Damaged(reason)) => {
            let aside = dir.join(format!("{name}.damaged-{stamp}"));
            error!(path = %old.display(), moved_to = %aside.display(), %reason, "a database of the older layout is damaged and was not migrated; starting without what it held (orders are re-sent by the cloud; remembered request ids, the open session or queued print jobs are lost)");
            rename_durably(dir, &old, &aside)?;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut changes = StateChanges::default();
    let mut copied = Vec::new();
    for tree in StateTree::ALL.into_iter().filter(|t| t.old_place().0 == name) {
        let t = db.open_tree(tree.old_place().1).map_err(sled_error(&old, "read"))?;
        let mut n = 0;
        for kv in t.iter() {
            let (k, v) = kv.map_err(sled_error(&old, "read"))?;
            changes.put(tree, k.to_vec(), v.to_vec());
            n += 1;
        }
        copied.push((tree.name(), n));
    }
    drop(db);
    store.apply(Writes::default(), &changes.writes)?;
    store.sync()?;
    let moved_to = dir.join(format!("{name}.migrated-{stamp}"));
    rename_durably(dir, &old, &moved_to)?;
    info!(from = %old.display(), moved_to = %moved_to.display(), ?copied, "a database of the older layout moved into the journal's");
    Ok(Some(Migrated { moved_to, copied }))
}

/// Renames `from` to `to` inside `dir` and syncs `dir`, so the rename survives a power cut.
fn rename_durably(dir: &Path, from: &Path, to: &Path) -> Result<(), JournalError> {
    std::fs::rename(from, to).map_err(|e| JournalError::access(from, "rename", e))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| JournalError::access(dir, "sync", e))
}
