//! What the station says to the packer, as data: a [`Say`] is a message key with typed
//! arguments, never English text. The edges render it in the locale in force (the feedback
//! line in `workflow.rs`, the screen through [`super::View`]); events and replies to the
//! cloud carry the `en` rendering ([`Say::en`]), which is exactly the text the station wrote
//! before it spoke other languages — the contract's `message` fields do not change.
//!
//! Codes, ids, SKUs, badges, event kinds and the office's reasons are arguments: no catalog
//! translates them. Names the catalogs do translate (order states, station and operator
//! roles) go in as words ([`Arg::Word`]); small closed choices (pick or pack, label or
//! slip) as a text argument the catalogs select on.

use stationd_drivers::barcode::BarcodeError;
use stationd_drivers::framing::{display_code, FrameError};

use super::{Document, OperatorRole, OrderState, StationRole};
use crate::event::{ClockSource, Step};
use crate::locale::{self, Arg, Locale, Message};

/// One thing the station says: a feedback line, an alert, a refusal's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Say {
    // Accepted scans (`ok seq=N …`). `kind` is the event kind, kept as it is in every locale.
    LoggedIn { badge: String, role: OperatorRole },
    LoggedOut { badge: String },
    LookingUp { order: String },
    Opened { order: String, step: Step, done: u32, total: u32 },
    AtLocation { location: String },
    ToteAssigned { order: String, tote: String },
    LineCancelled { order: String, line: u32, sku: String },
    DamagedRecorded { sku: String, line: u32 },
    Counted { kind: &'static str, sku: String, line: u32, count: u32, of: u32 },
    Shipped { order: String },
    HeldByScan { order: String, reason: String },
    Released { order: String, to: OrderState },
    Reprinting { order: String },
    ScanDamagedItem,
    ScanLineToCancel,
    PickedShort { order: String, lines: usize },
    Labelled { order: String },

    // Scans refused (`error <code>: …`).
    BadBarcode(BarcodeError),
    BadFrame(FrameError),
    LogInFirst { code: String },
    BadgeNotListed { badge: String },
    OrderNotCached { order: String },
    HeldPutAside { order: String, reason: String },
    CancelledDoNotShip { order: String },
    AlreadyShipped { order: String },
    PackedWaitsForLabel { order: String },
    LabelledScanTracking { order: String },
    WrongStation { order: String, state: OrderState, role: StationRole },
    LocationWithoutOrder { location: String },
    ScanOrderFirst { code: String },
    HeldStop { order: String, reason: String },
    CancelledReturnItems { order: String },
    NothingMoreToScan { order: String, state: Option<OrderState> },
    WrongTote { tote: String, order: String },
    WrongItem { code: String, order: String },
    NotAProduct { code: String, order: String },
    LineAlreadyCancelled { order: String },
    LineIsCancelled { order: String },
    OnCancelledLine { code: String, order: String },
    OverQuantity { order: String, line: u32, sku: String, done: u32, of: u32 },
    UnknownTracking { tracking: String },
    ShipsAtShipStation { order: String, role: StationRole },
    HeldDoNotShip { order: String },
    NotLabelled { order: String, state: OrderState },
    CommandNeedsOrder { command: String },
    UnknownCommand { command: String },
    NeedsSupervisor { action: SupervisorAction },
    NothingToReprint { order: String, state: OrderState },
    NoLabelPrinter,
    NotBeingWorked { order: String, state: Option<OrderState> },
    NotBeingPicked { order: String, state: Option<OrderState> },
    NothingPicked { order: String },
    // A state change the order rules refuse (`order.rs`).
    NotKnownHere { order: String },
    CannotBecome { order: String, from: OrderState, to: OrderState },
    AlreadyFinal { order: String, state: OrderState },
    AlreadyHeld { order: String },
    CannotHold { order: String, state: OrderState },
    NotHeld { order: String, state: OrderState },

    // Alerts (`alert <code>: …`), and lookups that failed.
    PackedNoLabelPrinter { order: String },
    StoppedByOffice { order: String, to: OrderState, reason: Option<String> },
    NotFound { order: String, detail: String },
    DidNotPrint { document: Document, order: String, reason: String },
    ClockSkew { seconds: u64, ahead: bool, source: ClockSource },
    Overdue { order: String, state: OrderState, minutes: u64, level: String },

    // An input the station could not record (`error <code>: …`): nothing of it happened.
    NotRecorded { why: NotRecorded, detail: String },
}

/// Why an input could not be recorded. `detail` is the storage's own English message (the
/// log and a command's reply carry it); the catalogs say the first two in the packer's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRecorded {
    /// The journal holds its maximum of unpublished events.
    JournalFull,
    /// The journal's disk is below the space kept free.
    DiskFull,
    /// A write failed.
    Storage,
}

impl NotRecorded {
    fn as_str(self) -> &'static str {
        match self {
            NotRecorded::JournalFull => "journal-full",
            NotRecorded::DiskFull => "disk-full",
            NotRecorded::Storage => "storage",
        }
    }
}

/// What only a supervisor may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorAction {
    Release,
    ReprintPrinted,
    CancelLine,
}

fn text(s: &str) -> Arg {
    Arg::Text(s.to_string())
}

fn num(n: impl Into<u64>) -> Arg {
    Arg::Number(n.into())
}

/// An order state's name (`state-packed`); `None` is an order gone from the cache.
fn state(s: Option<OrderState>, none: &str) -> Arg {
    Arg::Word(format!("state-{}", s.map(OrderState::as_str).unwrap_or(none)))
}

fn known(s: OrderState) -> Arg {
    state(Some(s), "")
}

fn station_role(r: StationRole) -> Arg {
    Arg::Word(format!("station-{}", r.as_str()))
}

impl Say {
    /// The catalog key and the arguments.
    pub fn message(&self) -> Message {
        use Say::*;
        let (key, args): (&'static str, Vec<(&'static str, Arg)>) = match self {
            LoggedIn { badge, role } => (
                "logged-in",
                vec![
                    ("kind", text("operator.login")),
                    ("badge", text(badge)),
                    ("role", Arg::Word(format!("operator-{}", role.as_str()))),
                ],
            ),
            LoggedOut { badge } => ("logged-out", vec![("kind", text("operator.logout")), ("badge", text(badge))]),
            LookingUp { order } => ("looking-up", vec![("order", text(order))]),
            Opened { order, step, done, total } => (
                "opened",
                vec![
                    ("kind", text("order.opened")),
                    ("order", text(order)),
                    ("step", text(if *step == Step::Pick { "pick" } else { "pack" })),
                    ("done", num(*done)),
                    ("total", num(*total)),
                ],
            ),
            AtLocation { location } => ("at-location", vec![("location", text(location))]),
            ToteAssigned { order, tote } => ("tote-assigned", vec![("order", text(order)), ("tote", text(tote))]),
            LineCancelled { order, line, sku } => {
                ("line-cancelled", vec![("order", text(order)), ("line", num(*line)), ("sku", text(sku))])
            }
            DamagedRecorded { sku, line } => ("damaged-recorded", vec![("sku", text(sku)), ("line", num(*line))]),
            Counted { kind, sku, line, count, of } => (
                "counted",
                vec![
                    ("kind", text(kind)),
                    ("sku", text(sku)),
                    ("line", num(*line)),
                    ("count", num(*count)),
                    ("of", num(*of)),
                ],
            ),
            Shipped { order } => ("shipped", vec![("order", text(order))]),
            HeldByScan { order, reason } => ("held-by-scan", vec![("order", text(order)), ("reason", text(reason))]),
            Released { order, to } => ("released", vec![("order", text(order)), ("state", known(*to))]),
            Reprinting { order } => ("reprinting", vec![("order", text(order))]),
            ScanDamagedItem => ("scan-damaged-item", vec![]),
            ScanLineToCancel => ("scan-line-to-cancel", vec![]),
            PickedShort { order, lines } => {
                ("picked-short", vec![("order", text(order)), ("lines", num(*lines as u64))])
            }
            Labelled { order } => ("labelled", vec![("order", text(order))]),

            BadBarcode(BarcodeError::CheckDigit { what, code, expected }) => {
                ("bad-check-digit", vec![("symbology", text(what)), ("code", text(code)), ("expected", num(*expected))])
            }
            BadBarcode(BarcodeError::Gs1Field { ai, problem }) => {
                ("bad-gs1-field", vec![("ai", text(ai)), ("problem", text(problem))])
            }
            BadBarcode(BarcodeError::UnknownAi { rest }) => ("unknown-gs1-ai", vec![("rest", text(rest))]),
            BadFrame(FrameError::TooLong { len, max }) => {
                ("scan-too-long", vec![("bytes", num(*len as u64)), ("max", num(*max as u64))])
            }
            BadFrame(FrameError::ControlByte { byte, offset }) => {
                ("scan-noise", vec![("byte", Arg::Text(format!("0x{byte:02x}"))), ("offset", num(*offset as u64))])
            }
            BadFrame(FrameError::NotUtf8 { offset }) => ("scan-not-utf8", vec![("offset", num(*offset as u64))]),
            LogInFirst { code } => ("log-in-first", vec![("code", Arg::Text(display_code(code)))]),
            BadgeNotListed { badge } => ("badge-not-listed", vec![("badge", text(badge))]),
            OrderNotCached { order } => ("order-not-cached", vec![("order", text(order))]),
            HeldPutAside { order, reason } => {
                ("held-put-aside", vec![("order", text(order)), ("reason", text(reason))])
            }
            CancelledDoNotShip { order } => ("cancelled-do-not-ship", vec![("order", text(order))]),
            AlreadyShipped { order } => ("already-shipped", vec![("order", text(order))]),
            PackedWaitsForLabel { order } => ("packed-waits-for-label", vec![("order", text(order))]),
            LabelledScanTracking { order } => ("labelled-scan-tracking", vec![("order", text(order))]),
            WrongStation { order, state, role } => (
                "wrong-station",
                vec![("order", text(order)), ("state", known(*state)), ("station", station_role(*role))],
            ),
            LocationWithoutOrder { location } => ("location-without-order", vec![("location", text(location))]),
            ScanOrderFirst { code } => ("scan-order-first", vec![("code", Arg::Text(display_code(code)))]),
            HeldStop { order, reason } => ("held-stop", vec![("order", text(order)), ("reason", text(reason))]),
            CancelledReturnItems { order } => ("cancelled-return-items", vec![("order", text(order))]),
            NothingMoreToScan { order, state: st } => {
                ("nothing-more-to-scan", vec![("order", text(order)), ("state", state(*st, "gone"))])
            }
            WrongTote { tote, order } => ("wrong-tote", vec![("tote", text(tote)), ("order", text(order))]),
            WrongItem { code, order } => {
                ("wrong-item", vec![("code", Arg::Text(display_code(code))), ("order", text(order))])
            }
            NotAProduct { code, order } => {
                ("not-a-product", vec![("code", Arg::Text(display_code(code))), ("order", text(order))])
            }
            LineAlreadyCancelled { order } => ("line-already-cancelled", vec![("order", text(order))]),
            LineIsCancelled { order } => ("line-is-cancelled", vec![("order", text(order))]),
            OnCancelledLine { code, order } => {
                ("on-cancelled-line", vec![("code", Arg::Text(display_code(code))), ("order", text(order))])
            }
            OverQuantity { order, line, sku, done, of } => (
                "over-quantity",
                vec![
                    ("order", text(order)),
                    ("line", num(*line)),
                    ("sku", text(sku)),
                    ("done", num(*done)),
                    ("of", num(*of)),
                ],
            ),
            UnknownTracking { tracking } => ("unknown-tracking", vec![("tracking", text(tracking))]),
            ShipsAtShipStation { order, role } => {
                ("ships-at-ship-station", vec![("order", text(order)), ("station", station_role(*role))])
            }
            HeldDoNotShip { order } => ("held-do-not-ship", vec![("order", text(order))]),
            NotLabelled { order, state } => ("not-labelled", vec![("order", text(order)), ("state", known(*state))]),
            CommandNeedsOrder { command } => ("command-needs-order", vec![("command", text(command))]),
            UnknownCommand { command } => ("unknown-command", vec![("command", text(command))]),
            NeedsSupervisor { action } => {
                let action = match action {
                    SupervisorAction::Release => "release",
                    SupervisorAction::ReprintPrinted => "reprint",
                    SupervisorAction::CancelLine => "cancel-line",
                };
                ("needs-supervisor", vec![("action", text(action))])
            }
            NothingToReprint { order, state } => {
                ("nothing-to-reprint", vec![("order", text(order)), ("state", known(*state))])
            }
            NoLabelPrinter => ("no-label-printer", vec![]),
            NotBeingWorked { order, state: st } => {
                ("not-being-worked", vec![("order", text(order)), ("state", state(*st, "unknown"))])
            }
            NotBeingPicked { order, state: st } => {
                ("not-being-picked", vec![("order", text(order)), ("state", state(*st, "unknown"))])
            }
            NothingPicked { order } => ("nothing-picked", vec![("order", text(order))]),
            NotKnownHere { order } => ("not-known-here", vec![("order", text(order))]),
            CannotBecome { order, from, to } => {
                ("cannot-become", vec![("order", text(order)), ("state", known(*from)), ("to", known(*to))])
            }
            AlreadyFinal { order, state } => ("already-final", vec![("order", text(order)), ("state", known(*state))]),
            AlreadyHeld { order } => ("already-held", vec![("order", text(order))]),
            CannotHold { order, state } => ("cannot-hold", vec![("order", text(order)), ("state", known(*state))]),
            NotHeld { order, state } => ("not-held", vec![("order", text(order)), ("state", known(*state))]),

            PackedNoLabelPrinter { order } => ("packed-no-label-printer", vec![("order", text(order))]),
            StoppedByOffice { order, to, reason: None } => {
                ("stopped-by-office", vec![("order", text(order)), ("state", known(*to))])
            }
            StoppedByOffice { order, to, reason: Some(r) } => {
                ("stopped-by-office-why", vec![("order", text(order)), ("state", known(*to)), ("reason", text(r))])
            }
            NotFound { order, detail } => ("not-found", vec![("order", text(order)), ("detail", text(detail))]),
            DidNotPrint { document, order, reason } => (
                "did-not-print",
                vec![("document", text(document.as_str())), ("order", text(order)), ("reason", text(reason))],
            ),
            ClockSkew { seconds, ahead, source } => (
                "clock-skew",
                vec![
                    ("seconds", num(*seconds)),
                    ("direction", text(if *ahead { "ahead" } else { "behind" })),
                    ("source", text(if *source == ClockSource::OrderSystem { "order-system" } else { "cloud" })),
                ],
            ),
            Overdue { order, state, minutes, level } => (
                "overdue",
                vec![
                    ("order", text(order)),
                    ("state", known(*state)),
                    ("minutes", num(*minutes)),
                    ("level", text(level)),
                ],
            ),
            NotRecorded { why, detail } => {
                ("not-recorded", vec![("why", text(why.as_str())), ("detail", text(detail))])
            }
        };
        Message { key, args }
    }

    /// The text in `locale`.
    pub fn render(&self, locale: Locale) -> String {
        locale::render(locale, &self.message())
    }

    /// The English text: what events, replies to the cloud and logs carry.
    pub fn en(&self) -> String {
        self.render(Locale::En)
    }
}

impl std::fmt::Display for Say {
    /// English, as events say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en())
    }
}
