//! Moving the older layout into the one database, on the first start of this release.
//!
//! Releases up to 0.1.0 kept three sled databases in the journal folder: `db/` (events),
//! `state/` (orders, session, request ids) and `print/` (print jobs). Their trees now live
//! in `db/`. On open, a `state/` folder left by an older release is copied into the
//! journal's state trees in one atomic write, made durable, and only then renamed aside to
//! `state.migrated-<unix time>` (kept, never deleted; safe to remove once the station runs).
//!
//! A crash between the copy and the rename copies again on the next start: the same values
//! over themselves, since nothing else writes before the migration is done. A `state/` that
//! sled cannot open is renamed to `state.damaged-<unix time>` (kept) and the station starts
//! with an empty order cache, as the older release did: the cloud re-sends orders.

use std::path::{Path, PathBuf};

use tracing::{error, info};

use super::state::{StateChanges, StateTree};
use super::store::{open_sled, storage, OpenError, Store};
use super::JournalError;

/// The older order store's folder.
const OLD_STATE: &str = "state";

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Where the old folder went.
    pub moved_to: PathBuf,
    /// Entries copied per tree name.
    pub copied: Vec<(&'static str, usize)>,
}

/// Copies `<dir>/state` into `store` if an older release left it there.
pub(super) fn old_state(store: &Store, dir: &Path) -> Result<Option<Migrated>, JournalError> {
    let old = dir.join(OLD_STATE);
    if !old.is_dir() {
        return Ok(None);
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let (db, _file) = match open_sled(&old, 4 * 1024 * 1024) {
        Ok(x) => x,
        Err(OpenError::Fatal(e)) => return Err(e),
        Err(OpenError::Corrupt(reason)) => {
            let aside = dir.join(format!("{OLD_STATE}.damaged-{stamp}"));
            error!(path = %old.display(), moved_to = %aside.display(), %reason, "the older order cache is damaged and was not migrated; starting with an empty one (orders are re-sent by the cloud; remembered request ids and the open session are lost)");
            rename_durably(dir, &old, &aside)?;
            return Ok(None);
        }
    };
    let mut changes = StateChanges::default();
    let mut copied = Vec::new();
    for tree in StateTree::ALL {
        let t = db.open_tree(tree.name()).map_err(storage)?;
        let mut n = 0;
        for kv in t.iter() {
            let (k, v) = kv.map_err(storage)?;
            changes.put(tree, k.to_vec(), v.to_vec());
            n += 1;
        }
        copied.push((tree.name(), n));
    }
    drop(db);
    store.apply(sled::Batch::default(), &changes.writes)?;
    store.sync()?;
    let moved_to = dir.join(format!("{OLD_STATE}.migrated-{stamp}"));
    rename_durably(dir, &old, &moved_to)?;
    info!(from = %old.display(), moved_to = %moved_to.display(), ?copied, "order cache, session and request ids moved into the journal's database");
    Ok(Some(Migrated { moved_to, copied }))
}

/// Renames `from` to `to` inside `dir` and syncs `dir`, so the rename survives a power cut.
fn rename_durably(dir: &Path, from: &Path, to: &Path) -> Result<(), JournalError> {
    std::fs::rename(from, to).map_err(|e| JournalError::access(from, "rename", e))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| JournalError::access(dir, "sync", e))
}
