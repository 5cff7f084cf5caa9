//! [`Event`]: every event kind the station journals, one variant each with a struct for its
//! `data`. Serialized as `{"kind": "...", "data": {...}}` inside the envelope; the AsyncAPI
//! schemas are generated from these types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::parts::{Clock, Scan, ScanRead};
use super::scans::*;
use super::system::*;
use super::updates::*;

/// Defines [`Event`] and its kind names from one list, so a kind's name is written once.
macro_rules! events {
    ($( $(#[$doc:meta])* $kind:literal => $variant:ident($data:ty), )*) => {
        /// Every event the station journals: `kind` names the variant, `data` is its struct.
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
        #[serde(tag = "kind", content = "data")]
        pub enum Event {
            $( $(#[$doc])* #[serde(rename = $kind)] $variant($data), )*
        }

        impl Event {
            /// Every kind, in the contract's order.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            /// The dotted kind (`order.state`, ...), as on the wire.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Event::$variant(_) => $kind, )*
                }
            }
        }
    };
}

events! {
    /// A badge logged an operator in.
    "operator.login" => OperatorLogin(OperatorLogin),
    /// The operator logged out, or another badge took over.
    "operator.logout" => OperatorLogout(OperatorLogout),
    /// An order opened for picking or packing.
    "order.opened" => OrderOpened(OrderOpened),
    /// The scanned order is being asked of the order system.
    "order.lookup" => OrderLookup(Scanned),
    /// The order could not be found.
    "order.unknown" => OrderUnknown(OrderUnknown),
    /// An item picked.
    "item.picked" => ItemPicked(ItemCounted),
    /// An item verified at packing.
    "item.verified" => ItemVerified(ItemCounted),
    /// A scan that is not an item of the open order.
    "item.rejected" => ItemRejected(ItemRejected),
    /// A damaged item recorded.
    "item.damaged" => ItemDamaged(ItemDamaged),
    /// A line cancelled.
    "line.cancelled" => LineCancelled(LineCancelled),
    /// A location scanned while picking.
    "pick.location" => PickLocation(PickLocation),
    /// The tote an order is picked into.
    "pick.tote" => PickTote(PickTote),
    /// An order picked short.
    "pick.short" => PickShort(PickShort),
    /// A command barcode carried out.
    "command.scanned" => CommandScanned(CommandScanned),
    /// A labelled order shipped.
    "ship.scanned" => ShipScanned(ShipScanned),
    /// A scan refused.
    "scan.rejected" => ScanRejected(ScanRejected),
    /// Exactly one per accepted transition; the order state the cloud follows.
    "order.state" => OrderState(OrderStateChanged),
    /// An order's contents cached.
    "order.received" => OrderReceived(OrderReceived),
    /// The open order was held or cancelled by the office.
    "order.interrupted" => OrderInterrupted(OrderInterrupted),
    /// An order stayed too long in a state.
    "order.overdue" => OrderOverdue(OrderOverdue),
    /// The label of a packed order was printed; the order is labelled.
    "label.printed" => LabelPrinted(LabelPrinted),
    /// An order's label did not print.
    "label.failed" => LabelFailed(DocumentFailed),
    /// An order's packing slip did not print.
    "slip.failed" => SlipFailed(DocumentFailed),
    /// The box clock is off, or back.
    "clock.skew" => ClockSkew(ClockSkew),
    /// Audit of every executed command.
    "command.accepted" => CommandAccepted(CommandAccepted),
    /// A command refused.
    "command.refused" => CommandRefused(CommandRefused),
    /// A print job was queued.
    "print.queued" => PrintQueued(PrintJob),
    /// Every byte went to a printer that cannot answer (device file, no read-back); not
    /// confirmed.
    "print.sent" => PrintSent(PrintJob),
    /// The job was written to a folder printer's file (and synced); no printer answered.
    "print.written" => PrintWritten(PrintJob),
    /// Every byte sent and the printer answered ready afterwards.
    "print.confirmed" => PrintConfirmed(PrintJob),
    /// A job failed at its printer, or a document could not be made.
    "print.failed" => PrintFailed(PrintFailed),
    /// A queued job was not printed in time and was given up.
    "print.expired" => PrintExpired(PrintJob),
    /// The journal's database was quarantined and a new one started.
    "journal.recovered" => JournalRecovered(JournalRecovered),
    /// Acked events were trimmed early because the disk ran low.
    "journal.trimmed" => JournalTrimmed(JournalTrimmed),
}

impl Event {
    /// The event's clock note, for the kinds that carry one (all but the journal's own).
    pub fn clock_mut(&mut self) -> Option<&mut Option<Clock>> {
        use Event::*;
        Some(match self {
            OperatorLogin(d) => &mut d.clock,
            OperatorLogout(d) => &mut d.clock,
            OrderOpened(d) => &mut d.clock,
            OrderLookup(d) => &mut d.clock,
            OrderUnknown(d) => &mut d.clock,
            ItemPicked(d) | ItemVerified(d) => &mut d.clock,
            ItemRejected(d) => &mut d.clock,
            ItemDamaged(d) => &mut d.clock,
            LineCancelled(d) => &mut d.clock,
            PickLocation(d) => &mut d.clock,
            PickTote(d) => &mut d.clock,
            PickShort(d) => &mut d.command.clock,
            CommandScanned(d) => &mut d.clock,
            ShipScanned(d) => &mut d.clock,
            ScanRejected(d) => &mut d.clock,
            OrderState(d) => &mut d.clock,
            OrderReceived(d) => &mut d.clock,
            OrderInterrupted(d) => &mut d.clock,
            OrderOverdue(d) => &mut d.clock,
            LabelPrinted(d) => &mut d.clock,
            LabelFailed(d) | SlipFailed(d) => &mut d.clock,
            ClockSkew(d) => &mut d.clock,
            CommandAccepted(d) => &mut d.clock,
            CommandRefused(d) => &mut d.clock,
            PrintQueued(d) | PrintSent(d) | PrintWritten(d) | PrintConfirmed(d) | PrintExpired(d) => &mut d.clock,
            PrintFailed(self::PrintFailed::Job(d)) => &mut d.clock,
            PrintFailed(self::PrintFailed::NotQueued(d)) => &mut d.clock,
            JournalRecovered(_) | JournalTrimmed(_) => return None,
        })
    }

    /// The scan's own fields, for the kinds a scan produced.
    pub fn scan(&self) -> Option<&Scan> {
        use Event::*;
        match self {
            OperatorLogin(d) => Some(&d.scan),
            OperatorLogout(d) => d.scan.as_ref(),
            OrderOpened(d) => Some(&d.scan),
            OrderLookup(d) => Some(&d.scan),
            OrderUnknown(d) => d.scan.as_ref(),
            ItemPicked(d) | ItemVerified(d) => Some(&d.scan),
            ItemRejected(d) => Some(&d.scan),
            ItemDamaged(d) => Some(&d.scan),
            LineCancelled(d) => Some(&d.scan),
            PickLocation(d) => Some(&d.scan),
            PickTote(d) => Some(&d.scan),
            PickShort(d) => Some(&d.command.scan),
            CommandScanned(d) => Some(&d.scan),
            ShipScanned(d) => Some(&d.scan),
            _ => None,
        }
    }

    /// What was read, when a scan produced the event and read a code.
    pub fn scanned(&self) -> Option<&ScanRead> {
        match self {
            Event::ScanRejected(d) => d.read.as_ref(),
            other => other.scan().map(|s| &s.read),
        }
    }
}
