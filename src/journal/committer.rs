//! The committer: the one writer of the journal.
//!
//! A round takes every request waiting in its queue (up to [`MAX_BATCH`]), turns them into one
//! atomic commit (state changes included, see `state.rs`): one record of the write-ahead log
//! made durable with one `fdatasync`, then applied to sled (`store.rs`), and only then answers. Requests that arrive during a sync wait for the next round, so N
//! concurrent producers share one sync: this is the group commit. Seqs are assigned here and nowhere else. An input (its events
//! and its state changes) is taken whole or refused whole.
//!
//! Requests wait in one [`Queue`]. Whoever takes the committer's lock runs the round for all
//! of them: its thread, woken by the queue, or a caller that finds the committer idle
//! ([`Handle::submit`]), which then commits on its own thread. A single scan so skips the
//! two thread hand-offs (to the committer and back) that were the rest of its commit time
//! beside its `fdatasync`, and concurrent callers still share one sync.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

use super::reserve::{DirLock, Reservation, ReserveFile, RESERVE_BLOCK};
use super::state::StateWrite;
use super::store::{self, ack_key, event_key, u64_value};
use super::wal::Writes;
use super::{Appended, JournalError, Shared, StateChanges};
use crate::event::{format_at, Envelope, Event, JournalTrimmed, NewEvent, TrimReason, ENVELOPE_VERSION};

/// Most requests folded into one commit; bounds the latency a single commit adds.
const MAX_BATCH: usize = 4096;
/// Most records deleted per commit by retention, so trimming never stalls appends.
const TRIM_CHUNK: usize = 1024;
/// How often retention and ack marks are looked at.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(2);
/// Below `min_free` times this, the disk is low: acked events are trimmed early (inside
/// `retain_acked`), oldest first, until the room counts as this again.
const LOW_DISK_FACTOR: u64 = 2;
/// Most trim chunks per commit while the disk is low.
const LOW_DISK_CHUNKS: usize = 16;
/// Early trimming is announced (a `journal.trimmed` event and an alert) at most this often;
/// what was trimmed in between is in the next announcement.
const EARLY_TRIM_NOTICE_EVERY_MS: i64 = 60_000;

type Reply<T> = oneshot::Sender<Result<T, JournalError>>;

pub enum Request {
    /// One input: its events get consecutive seqs and become durable with its state changes.
    Append {
        events: Vec<NewEvent>,
        state: StateChanges,
        reply: Reply<Vec<Appended>>,
    },
    Ack {
        seqs: Vec<u64>,
        reply: Reply<()>,
    },
    Trim {
        reply: Reply<()>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// What the committer knows; persisted in meta keys with every commit.
#[derive(Clone)]
struct State {
    next: u64,
    acked_below: u64,
    acked_above: BTreeSet<u64>,
    trimmed_below: u64,
    stored_bytes: u64,
    ack_marks: Vec<(i64, u64)>,
}

struct Committer {
    shared: Arc<Shared>,
    st: State,
    /// Acked events trimmed early and not yet announced: from this seq; and when the last
    /// announcement was.
    early_trim: (Option<u64>, Option<i64>),
    reservation: Reservation,
    reserve_file: ReserveFile,
    mark_interval_ms: i64,
    /// The event records of the round being built (key, encoded event).
    records: Vec<([u8; 9], Vec<u8>)>,
    /// `m:next_seq` and `m:bytes` as last written: a round of one event alone does not write
    /// them (see [`Committer::commit`]); the next batch, or housekeeping, brings them up.
    persisted_meta: (u64, u64),
    _lock: DirLock,
}

/// Requests waiting for a round. Lock order: the committer, then the queue.
pub struct Queue {
    waiting: Mutex<Waiting>,
    wake: Condvar,
}

#[derive(Default)]
struct Waiting {
    reqs: Vec<Request>,
    /// A `Close` was taken: requests are refused (and those left are dropped, which answers
    /// them `Closed`).
    closed: bool,
    /// Every [`Handle`] is gone: the thread finishes and stops.
    gone: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().expect("journal queue poisoned")
    }

    /// Up to `most` waiting requests, oldest first; `None` once closed.
    fn take(&self, most: usize) -> Option<Vec<Request>> {
        let mut w = self.lock();
        if w.closed {
            return None;
        }
        let n = w.reqs.len().min(most);
        Some(w.reqs.drain(..n).collect())
    }

    fn close(&self) {
        let left = {
            let mut w = self.lock();
            w.closed = true;
            std::mem::take(&mut w.reqs)
        };
        drop(left);
    }
}

/// The journal's way to the committer: the queue, and the committer itself for inline rounds.
pub struct Handle {
    committer: Arc<Mutex<Committer>>,
    queue: Arc<Queue>,
}

impl Handle {
    /// Queues `req` for the committer's thread.
    pub fn send(&self, req: Request) -> Result<(), JournalError> {
        let mut w = self.queue.lock();
        if w.closed {
            return Err(JournalError::Closed);
        }
        w.reqs.push(req);
        drop(w);
        self.queue.wake.notify_one();
        Ok(())
    }

    /// Commits `req` together with the other inputs waiting in the queue, on this thread,
    /// when the committer is idle (its reply is then ready on return); queues it otherwise.
    /// Blocks for the round's `fdatasync`, which the caller would have waited for anyway.
    /// Acks and trims are left to the thread: a drain's acks are large rounds, and an input's
    /// caller (a packer waiting for feedback) should not apply them.
    pub fn submit(&self, req: Request) -> Result<(), JournalError> {
        let Ok(mut c) = self.committer.try_lock() else { return self.send(req) };
        let mut reqs = {
            let mut w = self.queue.lock();
            if w.closed {
                return Err(JournalError::Closed);
            }
            let inputs = w.reqs.extract_if(.., |r| matches!(r, Request::Append { .. }));
            inputs.take(MAX_BATCH - 1).collect::<Vec<_>>()
        };
        reqs.push(req);
        round(&mut c, &self.queue, reqs);
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.queue.lock().gone = true;
        self.queue.wake.notify_one();
    }
}

/// One round; at a `Close`, the committer is finished and the queue closed (under the
/// committer's lock, so no round can follow).
fn round(c: &mut Committer, queue: &Queue, reqs: Vec<Request>) -> bool {
    let closing = c.commit(reqs);
    if closing {
        c.finish();
        queue.close();
    }
    closing
}

/// State writes of one commit, in order.
type StateWrites = Vec<StateWrite>;

enum Pending {
    Append(Reply<Vec<Appended>>, Result<Vec<Appended>, JournalError>),
    Unit(Reply<()>),
}

pub fn spawn(
    shared: Arc<Shared>,
    lock: DirLock,
    reservation: Reservation,
    reserve_file: ReserveFile,
    first_event: Option<NewEvent>,
) -> Result<(std::thread::JoinHandle<()>, Handle), JournalError> {
    let m = shared.marks.lock().expect("journal marks poisoned").clone();
    let shared_dir = shared.opts.dir.clone();
    let st = State {
        next: m.durable_next,
        acked_below: m.acked_below,
        acked_above: m.acked_above,
        trimmed_below: m.trimmed_below,
        stored_bytes: m.stored_bytes,
        ack_marks: shared.store.ack_marks()?,
    };
    let retain_ms = shared.opts.retain_acked.as_millis() as i64;
    let mark_interval_ms = (retain_ms / 256).max(60_000);
    let mut c = Committer {
        shared,
        st,
        early_trim: (None, None),
        reservation,
        reserve_file,
        mark_interval_ms,
        records: Vec::new(),
        persisted_meta: (0, 0),
        _lock: lock,
    };
    c.bind_station()?;
    if let Some(ev) = first_event {
        let (reply, _rx) = oneshot::channel();
        c.commit(vec![Request::Append { events: vec![ev], state: StateChanges::default(), reply }]);
    }
    let handle = Handle {
        committer: Arc::new(Mutex::new(c)),
        queue: Arc::new(Queue { waiting: Mutex::default(), wake: Condvar::new() }),
    };
    let (committer, queue) = (handle.committer.clone(), handle.queue.clone());
    let thread = std::thread::Builder::new()
        .name("journal-commit".into())
        .spawn(move || run(&committer, &queue))
        .map_err(|e| JournalError::io(&shared_dir, "start the committing thread for", e))?;
    Ok((thread, handle))
}

/// The committer's thread: rounds for what waits in the queue (unless an inline caller took
/// it first), housekeeping when idle. It holds the committer's lock only for a round.
fn run(committer: &Mutex<Committer>, queue: &Queue) {
    let mut last_housekeeping = Instant::now();
    loop {
        let gone = {
            let mut w = queue.lock();
            while w.reqs.is_empty() && !w.closed && !w.gone {
                let left = HOUSEKEEPING_EVERY.saturating_sub(last_housekeeping.elapsed());
                if left.is_zero() {
                    break;
                }
                w = queue.wake.wait_timeout(w, left).expect("journal queue poisoned").0;
            }
            w.gone
        };
        let mut c = committer.lock().expect("journal committer poisoned");
        let Some(reqs) = queue.take(MAX_BATCH) else { break };
        if reqs.is_empty() && gone {
            c.finish();
            queue.close();
            break;
        }
        if !reqs.is_empty() && round(&mut c, queue, reqs) {
            break;
        }
        if last_housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
            c.housekeeping();
            last_housekeeping = Instant::now();
        }
    }
    debug!("journal committer stopped");
}

impl Committer {
    /// Records which station owns this journal on first use.
    fn bind_station(&mut self) -> Result<(), JournalError> {
        let opts = &self.shared.opts;
        let me = format!("{}/{}", opts.warehouse, opts.station);
        match self.shared.store.station()? {
            Some(found) if found != me => {
                Err(JournalError::WrongStation { path: opts.dir.clone(), found, expected: me })
            }
            Some(_) => Ok(()),
            None => {
                self.shared.store.insert(store::K_STATION, me.as_bytes())?;
                self.shared.store.sync()
            }
        }
    }

    /// At close: the counts written, sled's files made to hold everything (the next open
    /// replays no log), the reservation brought up.
    fn finish(&mut self) {
        self.checkpoint_counts();
        if let Err(e) = self.shared.store.checkpoint_now() {
            error!(error = %e, "final journal checkpoint failed; the next open replays the write-ahead log");
        }
        self.checkpoint_reservation();
    }

    /// One group commit. Returns true when a `Close` was among the requests.
    fn commit(&mut self, reqs: Vec<Request>) -> bool {
        let before = self.st.clone();
        self.records.clear();
        let mut batch = Writes::default();
        let mut state_writes = StateWrites::new();
        let mut pending = Vec::with_capacity(reqs.len());
        let mut close = None;
        let mut acked_now = HashSet::new();
        // Inputs with events are refused below `min_free`; state-only inputs (a tick's timers)
        // are small and go through.
        let writes_events = |r: &Request| matches!(r, Request::Append { events, .. } if !events.is_empty());
        let wants_room = reqs.iter().any(writes_events);
        let acks = reqs.iter().any(|r| matches!(r, Request::Ack { .. }));
        let disk_full = if wants_room || acks { self.make_room(&mut batch).filter(|_| wants_room) } else { None };
        if self.early_trim.0.is_some() {
            self.announce_early_trim(&mut batch, &mut state_writes);
        }
        let refused = |(path, free, min_free): &(std::path::PathBuf, u64, u64)| JournalError::DiskFull {
            path: path.clone(),
            free: *free,
            min_free: *min_free,
        };
        for req in reqs {
            match req {
                Request::Append { events, reply, .. } if disk_full.is_some() && !events.is_empty() => {
                    pending.push(Pending::Append(reply, Err(refused(disk_full.as_ref().expect("checked")))));
                }
                Request::Append { events, state, reply } => {
                    let result = self.input_into(&mut batch, &mut state_writes, events, state);
                    pending.push(Pending::Append(reply, result));
                }
                Request::Ack { seqs, reply } => {
                    self.ack_into(&mut batch, &seqs, &mut acked_now);
                    pending.push(Pending::Unit(reply));
                }
                Request::Trim { reply } => {
                    self.trim_into(&mut batch, self.retention_target(), TRIM_CHUNK);
                    pending.push(Pending::Unit(reply));
                }
                Request::Close { reply } => close = Some(reply),
            }
        }
        self.persist_ack_state(&mut batch, &before, &acked_now);
        // One event and nothing else (the common single scan): `m:next_seq` and `m:bytes` are
        // left out, so the commit is one write, the log's smallest record. They follow from the
        // stored events at open (see `Store::watermarks`), so they can wait for the next larger
        // round or housekeeping.
        let lone = self.records.len() == 1
            && state_writes.is_empty()
            && acked_now.is_empty()
            && self.st.acked_below == before.acked_below
            && self.st.trimmed_below == before.trimmed_below
            && self.st.ack_marks == before.ack_marks;
        for (key, bytes) in self.records.drain(..) {
            batch.insert(key, bytes);
        }
        let meta_written = !lone && self.meta_into(&mut batch, &before);

        let started = std::time::Instant::now();
        // A round of refused appends only writes nothing (and syncs nothing).
        let nothing_to_write = disk_full.is_some()
            && state_writes.is_empty()
            && pending.iter().all(|p| matches!(p, Pending::Append(_, Err(_))));
        let result = if nothing_to_write {
            Ok(())
        } else {
            match self.shared.store.apply(batch, &state_writes) {
                Ok(()) => {
                    if meta_written {
                        self.persisted_meta = (self.st.next, self.st.stored_bytes);
                    }
                    let synced = self.shared.store.sync();
                    self.shared.commits.observe(started.elapsed());
                    synced
                }
                Err(e) => {
                    // A commit that could not be written to the log is cut off it whole: forget
                    // this round's changes so its seqs are issued again and the journal stays
                    // gap-free.
                    self.st = before;
                    Err(e)
                }
            }
        };
        match &result {
            Ok(()) => self.publish_marks(),
            Err(e) => {
                // After a failed write or fsync neither the log nor the page cache can be trusted
                // (the kernel may have dropped the dirty pages): the daemon restarts on a
                // reopened journal, which holds what was confirmed (and at most this round).
                error!(error = %e, "journal commit failed; nothing in this batch is confirmed");
                self.shared.failed.cancel();
            }
        }
        let failure = || result.clone().err().unwrap_or(JournalError::Closed);
        for p in pending {
            match p {
                Pending::Append(reply, r) => {
                    let r = match (&result, r) {
                        (Ok(()), r) => r,
                        (Err(_), Ok(_)) => Err(failure()),
                        (Err(_), Err(e)) => Err(e),
                    };
                    let _ = reply.send(r);
                }
                Pending::Unit(reply) => {
                    let _ = reply.send(result.as_ref().map(|_| ()).map_err(|_| failure()));
                }
            }
        }
        match close {
            Some(reply) => {
                let _ = reply.send(());
                true
            }
            None => false,
        }
    }

    /// The room for new events, `(dir, room, min_free)` when it is below `min_free`. The room
    /// is the filesystem's free space plus what sled can reuse inside its file (statvfs does
    /// not see space freed inside sled's files). While the disk is low (below
    /// `LOW_DISK_FACTOR × min_free`) acked events are trimmed early, oldest first, even inside
    /// `retain_acked`, until the room is back above that: the station keeps scanning rather
    /// than keeping delivered events for `resync`.
    fn make_room(&mut self, batch: &mut Writes) -> Option<(std::path::PathBuf, u64, u64)> {
        let shared = self.shared.clone();
        let opts = &shared.opts;
        let free = free_bytes(&opts.dir)?;
        let low = opts.min_free.saturating_mul(LOW_DISK_FACTOR);
        if free >= low {
            return None;
        }
        let from = self.st.trimmed_below;
        let mut chunks = 0;
        while free + room_in_file(&shared, self.st.stored_bytes) < low
            && self.st.trimmed_below < self.st.acked_below
            && chunks < LOW_DISK_CHUNKS
        {
            self.trim_into(batch, self.st.acked_below, TRIM_CHUNK);
            chunks += 1;
        }
        if self.st.trimmed_below > from {
            self.early_trim.0.get_or_insert(from);
        }
        let room = if free < HARD_FLOOR { free } else { free + room_in_file(&shared, self.st.stored_bytes) };
        (room < opts.min_free).then(|| (opts.dir.clone(), room, opts.min_free))
    }

    /// Says, at most every `EARLY_TRIM_NOTICE_EVERY_MS`, which acked events were trimmed
    /// before `retain_acked`: an alert in the log and a `journal.trimmed` event (in this commit).
    fn announce_early_trim(&mut self, batch: &mut Writes, state_writes: &mut StateWrites) {
        let now = now_ms();
        let (Some(from), last) = self.early_trim else { return };
        if last.is_some_and(|t| now - t < EARLY_TRIM_NOTICE_EVERY_MS) {
            return;
        }
        let to = self.st.trimmed_below.saturating_sub(1);
        let opts = &self.shared.opts;
        let free = free_bytes(&opts.dir).unwrap_or(0);
        let retain = opts.retain_acked.as_secs();
        warn!(
            alert = "journal_trimmed_early",
            from,
            to,
            free,
            min_free = opts.min_free,
            "disk space is low: acked events trimmed before journal.retain_acked to keep room for new scans; they can no longer be resent by resync"
        );
        let event = NewEvent::new(Event::JournalTrimmed(JournalTrimmed {
            reason: TrimReason::DiskLow,
            from,
            to,
            disk_free: free,
            min_free: opts.min_free,
            retain_acked_seconds: retain,
        }));
        if let Err(e) = self.input_into(batch, state_writes, vec![event], StateChanges::default()) {
            warn!(error = %e, "the journal.trimmed event was not recorded");
        }
        self.early_trim = (None, Some(now));
    }

    /// Stamps one input's events with consecutive seqs and adds them and its state changes
    /// to this commit; or refuses the input whole (nothing of it is added).
    fn input_into(
        &mut self,
        batch: &mut Writes,
        state_writes: &mut StateWrites,
        events: Vec<NewEvent>,
        state: StateChanges,
    ) -> Result<Vec<Appended>, JournalError> {
        let shared = self.shared.clone();
        let opts = &shared.opts;
        let mut encoded = Vec::with_capacity(events.len());
        let mut len = 0u64;
        for (seq, event) in (self.st.next..).zip(events) {
            let env = Envelope {
                v: ENVELOPE_VERSION,
                id: uuid::Uuid::now_v7(),
                seq,
                warehouse: opts.warehouse.clone(),
                station: opts.station.clone(),
                at: format_at(time::OffsetDateTime::now_utc()),
                order: event.order,
                operator: event.operator,
                event: event.event,
            };
            // Envelopes are typed structs with string keys: encoding them cannot fail.
            let bytes = serde_json::to_vec(&env).expect("an event envelope encodes as JSON");
            len += bytes.len() as u64;
            encoded.push((Appended { seq, id: env.id, at: env.at }, bytes));
        }
        let max_bytes = opts.max_bytes;
        if self.st.stored_bytes + len > max_bytes {
            // Acked records are the first to go when space is needed.
            let target = self.st.acked_below;
            while self.st.stored_bytes + len > max_bytes && self.st.trimmed_below < target {
                self.trim_into(batch, target, TRIM_CHUNK);
            }
            if self.st.stored_bytes + len > max_bytes {
                return Err(JournalError::Full { max_bytes, stored_bytes: self.st.stored_bytes });
            }
        }
        if let Some((last, _)) = encoded.last() {
            if last.seq >= self.reservation.reserved_below {
                self.raise_reservation(last.seq)?;
            }
        }
        let mut appended = Vec::with_capacity(encoded.len());
        for (a, bytes) in encoded {
            self.records.push((event_key(a.seq), bytes));
            appended.push(a);
        }
        self.st.next += appended.len() as u64;
        self.st.stored_bytes += len;
        state_writes.extend(state.writes);
        Ok(appended)
    }

    /// Durably moves the seq reservation ahead before any seq beyond it is used.
    fn raise_reservation(&mut self, seq: u64) -> Result<(), JournalError> {
        let r = Reservation {
            reserved_below: seq + RESERVE_BLOCK,
            issued_below: self.shared.marks.lock().expect("journal marks poisoned").durable_next,
            acked_below: self.st.acked_below,
        };
        let dir = &self.shared.opts.dir;
        self.reserve_file.store(&r).map_err(|e| JournalError::io(dir, "write the seq reservation in", e))?;
        self.reservation = r;
        Ok(())
    }

    fn ack_into(&mut self, _batch: &mut Writes, seqs: &[u64], acked_now: &mut HashSet<u64>) {
        let durable = self.shared.marks.lock().expect("journal marks poisoned").durable_next;
        for &seq in seqs {
            if seq < self.st.acked_below || seq >= durable {
                if seq >= durable {
                    warn!(seq, durable_next = durable, "ack for a seq that is not durable yet; ignored");
                }
                continue;
            }
            if self.st.acked_above.insert(seq) {
                acked_now.insert(seq);
            }
        }
        while self.st.acked_above.remove(&self.st.acked_below) {
            self.st.acked_below += 1;
        }
    }

    /// Writes marker keys for acks that stay above the watermark and removes the markers
    /// the watermark has passed.
    fn persist_ack_state(&self, batch: &mut Writes, before: &State, acked_now: &HashSet<u64>) {
        for seq in before.acked_above.range(..self.st.acked_below) {
            batch.remove(ack_key(*seq));
        }
        for seq in acked_now {
            if *seq >= self.st.acked_below {
                batch.insert(ack_key(*seq), &[][..]);
            }
        }
    }

    /// Adds the changed meta keys to `batch`; true when `m:next_seq` and `m:bytes` (always
    /// written together, so that events past `m:next_seq` are exactly those `m:bytes` does
    /// not count) are among them.
    fn meta_into(&mut self, batch: &mut Writes, before: &State) -> bool {
        let st = &self.st;
        let counts = (st.next, st.stored_bytes) != self.persisted_meta;
        if counts {
            batch.insert(store::K_NEXT_SEQ, u64_value(st.next));
            batch.insert(store::K_BYTES, u64_value(st.stored_bytes));
        }
        if st.acked_below != before.acked_below {
            batch.insert(store::K_ACKED_BELOW, u64_value(st.acked_below));
        }
        if st.trimmed_below != before.trimmed_below {
            batch.insert(store::K_TRIMMED_BELOW, u64_value(st.trimmed_below));
        }
        if st.ack_marks != before.ack_marks {
            if let Ok(json) = serde_json::to_vec(&st.ack_marks) {
                batch.insert(store::K_ACK_MARKS, json);
            }
        }
        counts
    }

    /// Deletes acked records below `target` (at most `max`), oldest first.
    fn trim_into(&mut self, batch: &mut Writes, target: u64, max: usize) {
        let target = target.min(self.st.acked_below);
        if self.st.trimmed_below >= target {
            return;
        }
        let mut last = None;
        for kv in self.shared.store.db.range(event_key(self.st.trimmed_below)..event_key(target)).take(max) {
            match kv {
                Ok((k, v)) => {
                    batch.remove(k.clone());
                    self.st.stored_bytes = self.st.stored_bytes.saturating_sub(v.len() as u64);
                    self.shared.trimmed_bytes.fetch_add(v.len() as u64, std::sync::atomic::Ordering::Relaxed);
                    last = store::seq_of(&k);
                }
                Err(e) => {
                    warn!(error = %e, "reading records to trim");
                    return;
                }
            }
        }
        self.st.trimmed_below = match last {
            Some(seq) if seq + 1 < target => seq + 1,
            _ => target,
        };
    }

    /// Highest watermark that was reached at least `retain_acked` ago.
    fn retention_target(&self) -> u64 {
        let cutoff = now_ms() - self.shared.opts.retain_acked.as_millis() as i64;
        let mut target = self.st.trimmed_below;
        for (t, w) in &self.st.ack_marks {
            if *t <= cutoff {
                target = target.max(*w);
            }
        }
        if self.shared.opts.retain_acked.is_zero() {
            target = self.st.acked_below;
        }
        target
    }

    /// Records the durable high-water mark outside sled (every few seconds and at close),
    /// so a database that later reopens behind it is detected as damaged. Kept out of the
    /// commit path: it costs one small fsync per interval, not per commit.
    fn checkpoint_reservation(&mut self) {
        let durable = self.shared.marks.lock().expect("journal marks poisoned").durable_next;
        if durable <= self.reservation.issued_below && self.st.acked_below <= self.reservation.acked_below {
            return;
        }
        let r = Reservation { issued_below: durable, acked_below: self.st.acked_below, ..self.reservation };
        match self.reserve_file.store(&r) {
            Ok(()) => self.reservation = r,
            Err(e) => warn!(error = %e, "cannot update the seq reservation"),
        }
    }

    /// Writes `m:next_seq` and `m:bytes` if events committed alone went past them, so the
    /// next open reads no events to count them.
    fn checkpoint_counts(&mut self) {
        if (self.st.next, self.st.stored_bytes) == self.persisted_meta {
            return;
        }
        let before = self.st.clone();
        if let Err(e) = self.write_aside(Writes::default(), &before) {
            warn!(error = %e, "cannot write the journal's counts; the next open counts the events since");
        }
    }

    /// Writes `batch` and the meta keys changed since `before` durably, outside a round of
    /// requests (housekeeping, close).
    fn write_aside(&mut self, mut batch: Writes, before: &State) -> Result<(), JournalError> {
        let counts = self.meta_into(&mut batch, before);
        self.shared.store.apply(batch, &[])?;
        self.shared.store.sync()?;
        if counts {
            self.persisted_meta = (self.st.next, self.st.stored_bytes);
        }
        Ok(())
    }

    fn housekeeping(&mut self) {
        self.checkpoint_reservation();
        if let (Some(_), last) = self.early_trim {
            if last.is_none_or(|t| now_ms() - t >= EARLY_TRIM_NOTICE_EVERY_MS) {
                // An announcement still owed: a round of its own.
                self.commit(Vec::new());
            }
        }
        let before = self.st.clone();
        let now = now_ms();
        let last_mark = self.st.ack_marks.last().copied();
        let advanced = last_mark.is_none_or(|(_, w)| w < self.st.acked_below);
        let due = last_mark.is_none_or(|(t, _)| now - t >= self.mark_interval_ms);
        if advanced && due && self.st.acked_below > 1 {
            self.st.ack_marks.push((now, self.st.acked_below));
        }
        let target = self.retention_target();
        let mut batch = Writes::default();
        if target > self.st.trimmed_below {
            self.trim_into(&mut batch, target, TRIM_CHUNK);
            info!(trimmed_below = self.st.trimmed_below, "trimmed acked events past retention");
        }
        let trimmed_below = self.st.trimmed_below;
        self.st.ack_marks.retain(|(_, w)| *w > trimmed_below);
        let counts_behind = (self.st.next, self.st.stored_bytes) != self.persisted_meta;
        if self.st.ack_marks == before.ack_marks && self.st.trimmed_below == before.trimmed_below && !counts_behind {
            return;
        }
        match self.write_aside(batch, &before) {
            Ok(()) => self.publish_marks(),
            Err(e) => {
                self.st = before;
                warn!(error = %e, "journal housekeeping failed");
            }
        }
    }

    /// Makes the committed state visible to readers and wakes the uplink.
    fn publish_marks(&self) {
        let mut m = self.shared.marks.lock().expect("journal marks poisoned");
        m.durable_next = self.st.next;
        m.acked_below = self.st.acked_below;
        m.acked_above.clone_from(&self.st.acked_above);
        m.trimmed_below = self.st.trimmed_below;
        m.stored_bytes = self.st.stored_bytes;
        drop(m);
        self.shared.durable.send_replace(self.st.next);
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// sled's file is counted as needing this many times the bytes of the records it holds, plus
/// [`SLED_BASE`]; the rest of it sled can reuse (its flusher cleans mostly-empty segments).
/// Conservative: on the fault suite's 16 MiB disk the file stayed within 1.1 MiB of its
/// size at the first refusal over 30 000 more scans with early trimming at this factor.
const SLED_AMPLIFICATION: u64 = 4;
const SLED_BASE: u64 = 512 * 1024;
/// Whatever sled could reuse, new events are refused when the filesystem itself has less
/// than this free: the last guard against `ENOSPC` (sled grows its file by 512 KiB segments).
const HARD_FLOOR: u64 = 1024 * 1024;

/// Bytes of a database file of `disk` bytes that sled can reuse when it holds `stored` bytes
/// of event records (the state trees are small and inside the base).
fn reusable(disk: u64, stored: u64) -> u64 {
    disk.saturating_sub(stored.saturating_mul(SLED_AMPLIFICATION) + SLED_BASE)
}

/// The room inside the journal's database file counted as free: what [`reusable`] says,
/// but never more than the event bytes trimmed since open. Without trimming, the file's
/// slack is garbage of rewritten pages that sled has not cleaned: counting it let a journal
/// fill its filesystem to the hard floor while the broker was away.
pub(super) fn room_in_file(shared: &Shared, stored: u64) -> u64 {
    let trimmed = shared.trimmed_bytes.load(std::sync::atomic::Ordering::Relaxed);
    reusable(shared.store.data_bytes(), stored).min(trimmed)
}

/// Bytes an unprivileged writer may still use on the filesystem holding `dir`.
pub(super) fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; `path` is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}
