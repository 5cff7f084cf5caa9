//! SSCCs the station makes itself, sans-io: an order packed without an SSCC gets one when
//! the station has `[labels] gs1_company_prefix`, before its label is asked for.
//!
//! # Why here, and why durable this way
//! The serial reference comes from a counter in the session (`Session::sscc_next`), so it
//! is decided in the pure station and handed out like every other change: the order (with
//! `progress.sscc`) and the raised counter go in the input's one `Save`, and the label's
//! `Print` only follows that save. The workflow edge also raises the floor file outside the
//! order store before the input's events are journaled (`OrderStore::cover_sscc`), and starts
//! the counter at that floor after a restart ([`Station::start_sscc_at`]), so neither a
//! crash nor the loss of the order store makes a serial come out twice. The SSCC is in the
//! `order.state` event of the pack (`data.sscc`), so the cloud knows it before any label.

use super::Station;
use crate::event::StateDetail;

impl Station {
    /// Makes an SSCC for `id` when the station makes them and the order has none; returns
    /// what the pack's `order.state` tells of it (`sscc`), or of why none could be made.
    pub(super) fn assign_sscc(&mut self, id: &str) -> StateDetail {
        let Some(prefix) = self.settings.sscc.clone() else { return StateDetail::default() };
        if self.orders.get(id).is_none_or(|e| e.order.sscc().is_some()) {
            return StateDetail::default();
        }
        let serial = self.session.sscc_next;
        match prefix.make(serial) {
            Ok(sscc) => {
                self.set_session(|s| s.sscc_next = serial + 1);
                if let Some(o) = self.order_mut(id) {
                    o.progress.sscc = Some(sscc.clone());
                }
                self.tracking.insert(sscc.clone(), id.to_string());
                StateDetail { sscc: Some(sscc), ..StateDetail::default() }
            }
            Err(e) => StateDetail { sscc_error: Some(e.to_string()), ..StateDetail::default() },
        }
    }

    /// The next SSCC serial reference.
    pub fn sscc_next(&self) -> u64 {
        self.session.sscc_next
    }

    /// Starts the serials at `floor` at least (the durable floor after a restart: serials
    /// below it may have been issued by a run whose order store was lost).
    pub fn start_sscc_at(&mut self, floor: u64) {
        if floor > self.session.sscc_next {
            self.session.sscc_next = floor;
            self.session_dirty = true;
        }
    }
}
