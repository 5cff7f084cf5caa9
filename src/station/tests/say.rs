//! Every message the station can say: its English text is exactly what the station wrote
//! before it had catalogs (events and the contract's examples carry it), and it renders in
//! every shipped locale without a Fluent error.

use stationd_drivers::barcode::BarcodeError;
use stationd_drivers::framing::FrameError;

use std::collections::BTreeSet;

use super::*;
use crate::event::{ClockSource, Step};
use crate::locale::{try_render, Locale};

fn s(v: &str) -> String {
    v.to_string()
}

/// One of each variant (and of each key a variant can choose), with its English text as the
/// `format!` calls before the catalogs wrote it.
fn examples() -> Vec<(Say, &'static str)> {
    use Say::*;
    let o = || s("SO-1");
    vec![
        (LoggedIn { badge: s("OP:7"), role: OperatorRole::Supervisor }, "operator.login OP:7 (supervisor)"),
        (LoggedIn { badge: s("OP:7"), role: OperatorRole::Packer }, "operator.login OP:7 (packer)"),
        (LoggedOut { badge: s("OP:7") }, "operator.logout OP:7"),
        (LookingUp { order: o() }, "looking up order SO-1"),
        (Opened { order: o(), step: Step::Pick, done: 0, total: 3 }, "order.opened SO-1 for picking (0/3 items)"),
        (Opened { order: o(), step: Step::Pack, done: 1, total: 1 }, "order.opened SO-1 for packing (1/1 items)"),
        (AtLocation { location: s("LOC:A-01") }, "at LOC:A-01"),
        (ToteAssigned { order: o(), tote: s("TOTE:9") }, "order SO-1 goes in TOTE:9"),
        (LineCancelled { order: o(), line: 2, sku: s("SKU-B") }, "line 2 (SKU-B) of order SO-1 cancelled"),
        (DamagedRecorded { sku: s("SKU-A"), line: 1 }, "damaged SKU-A on line 1 recorded; scan a replacement"),
        (
            Counted { kind: "item.verified", sku: s("SKU-A"), line: 1, count: 2, of: 2 },
            "item.verified SKU-A line 1 (2/2)",
        ),
        (Shipped { order: o() }, "order SO-1 shipped"),
        (HeldByScan { order: o(), reason: s("dented") }, "order SO-1 held (dented)"),
        (Released { order: o(), to: OrderState::Packing }, "order SO-1 released to packing"),
        (Reprinting { order: o() }, "reprinting the label of SO-1"),
        (ScanDamagedItem, "scan the damaged item"),
        (ScanLineToCancel, "scan an item of the line to cancel"),
        (PickedShort { order: o(), lines: 1 }, "order SO-1 picked short (1 line(s))"),
        (Labelled { order: o() }, "order SO-1 labelled"),
        (
            BadBarcode(BarcodeError::CheckDigit { what: "EAN-13", code: s("4006381333932"), expected: 1 }),
            "check digit of EAN-13 4006381333932 is wrong (expected 1)",
        ),
        (BadBarcode(BarcodeError::Gs1Field { ai: s("17"), problem: s("is not a date") }), "GS1 AI (17) is not a date"),
        (BadBarcode(BarcodeError::UnknownAi { rest: s("991234") }), "unknown GS1 application identifier at \"991234\""),
        (BadFrame(FrameError::TooLong { len: 300, max: 256 }), "scan of 300 bytes exceeds the 256-byte limit"),
        (
            BadFrame(FrameError::ControlByte { byte: 0x1b, offset: 4 }),
            "scan contains control byte 0x1b at offset 4; noise on the line?",
        ),
        (BadFrame(FrameError::NotUtf8 { offset: 2 }), "scan is not valid UTF-8 (offset 2)"),
        (LogInFirst { code: s("SO-1") }, "SO-1 was not used: log in with your badge first"),
        (BadgeNotListed { badge: s("OP:X") }, "badge OP:X is not listed for this station"),
        (OrderNotCached { order: o() }, "order SO-1 is not in this station's cache and no order system is configured"),
        (
            HeldPutAside { order: o(), reason: s("operator") },
            "order SO-1 is held (operator): put it aside or ask a supervisor to release it",
        ),
        (CancelledDoNotShip { order: o() }, "order SO-1 was cancelled: do not ship it"),
        (AlreadyShipped { order: o() }, "order SO-1 has already shipped"),
        (
            PackedWaitsForLabel { order: o() },
            "order SO-1 is packed and waits for its label (CMD:REPRINT prints it again)",
        ),
        (LabelledScanTracking { order: o() }, "order SO-1 is labelled: scan its tracking number to ship it"),
        (
            WrongStation { order: o(), state: OrderState::Released, role: StationRole::Pack },
            "order SO-1 is released; a pack station cannot work on it",
        ),
        (LocationWithoutOrder { location: s("LOC:A") }, "LOC:A: open an order for picking first"),
        (ScanOrderFirst { code: s("4006381333931") }, "4006381333931 was not used: scan an order first"),
        (HeldStop { order: o(), reason: s("") }, "order SO-1 is held (): stop and put it aside"),
        (CancelledReturnItems { order: o() }, "order SO-1 was cancelled: stop and return its items"),
        (
            NothingMoreToScan { order: o(), state: Some(OrderState::Packed) },
            "order SO-1 is packed: nothing more to scan for it",
        ),
        (NothingMoreToScan { order: o(), state: None }, "order SO-1 is gone: nothing more to scan for it"),
        (WrongTote { tote: s("TOTE:2"), order: o() }, "tote TOTE:2 is not the tote of order SO-1"),
        (WrongItem { code: s("5012345678900"), order: o() }, "5012345678900 is not on order SO-1"),
        (NotAProduct { code: s("XYZ"), order: o() }, "XYZ is not a product barcode nor listed on order SO-1"),
        (LineAlreadyCancelled { order: o() }, "that line of order SO-1 is already cancelled"),
        (LineIsCancelled { order: o() }, "that line of order SO-1 is cancelled"),
        (
            OnCancelledLine { code: s("4006381333931"), order: o() },
            "4006381333931 belongs to a cancelled line of order SO-1",
        ),
        (
            OverQuantity { order: o(), line: 1, sku: s("SKU-A"), done: 2, of: 2 },
            "over quantity: line 1 (SKU-A) of order SO-1 already has 2 of 2",
        ),
        (
            UnknownTracking { tracking: s("JJD0000000001") },
            "tracking number JJD0000000001 belongs to no order in this station's cache",
        ),
        (
            ShipsAtShipStation { order: o(), role: StationRole::Pick },
            "order SO-1 ships at a ship station, not at a pick station",
        ),
        (HeldDoNotShip { order: o() }, "order SO-1 is held: do not ship it"),
        (NotLabelled { order: o(), state: OrderState::Packed }, "order SO-1 is packed: only a labelled order ships"),
        (CommandNeedsOrder { command: s("HOLD") }, "CMD:HOLD needs an open order: scan the order first"),
        (
            UnknownCommand { command: s("FOO") },
            "CMD:FOO is not a command this station knows (HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT, LOGOUT)",
        ),
        (
            NeedsSupervisor { action: SupervisorAction::Release },
            "releasing a hold needs a supervisor badge: ask a supervisor to scan in",
        ),
        (
            NeedsSupervisor { action: SupervisorAction::ReprintPrinted },
            "reprinting a label that was already printed needs a supervisor badge: ask a supervisor to scan in",
        ),
        (
            NeedsSupervisor { action: SupervisorAction::CancelLine },
            "cancelling a line needs a supervisor badge: ask a supervisor to scan in",
        ),
        (
            NothingToReprint { order: o(), state: OrderState::Picking },
            "order SO-1 is picking: there is no label to reprint before it is packed",
        ),
        (NoLabelPrinter, "no label printer is configured at this station"),
        (
            NotBeingWorked { order: o(), state: Some(OrderState::Held) },
            "order SO-1 is held: nothing is being picked or packed",
        ),
        (NotBeingWorked { order: o(), state: None }, "order SO-1 is unknown: nothing is being picked or packed"),
        (NotBeingPicked { order: o(), state: Some(OrderState::Packing) }, "order SO-1 is packing, not being picked"),
        (NotBeingPicked { order: o(), state: None }, "order SO-1 is unknown, not being picked"),
        (NothingPicked { order: o() }, "order SO-1: nothing picked yet; hold it instead"),
        (NotKnownHere { order: o() }, "order SO-1 is not known at this station"),
        (
            CannotBecome { order: o(), from: OrderState::Released, to: OrderState::Packed },
            "order SO-1 is released; it cannot become packed",
        ),
        (AlreadyFinal { order: o(), state: OrderState::Shipped }, "order SO-1 is already shipped"),
        (AlreadyHeld { order: o() }, "order SO-1 is already held"),
        (CannotHold { order: o(), state: OrderState::Cancelled }, "order SO-1 is cancelled and cannot be held"),
        (NotHeld { order: o(), state: OrderState::Labelled }, "order SO-1 is labelled, not held"),
        (PackedNoLabelPrinter { order: o() }, "order SO-1 is packed but no label printer is configured here"),
        (
            StoppedByOffice { order: o(), to: OrderState::Cancelled, reason: None },
            "order SO-1 was cancelled by the office: stop and put it aside",
        ),
        (
            StoppedByOffice { order: o(), to: OrderState::Held, reason: Some(s("address check")) },
            "order SO-1 was held by the office (address check): stop and put it aside",
        ),
        (
            NotFound { order: o(), detail: s("the order system has no such order") },
            "order SO-1 could not be found: the order system has no such order",
        ),
        (
            DidNotPrint { document: Document::Label, order: o(), reason: s("paper out") },
            "label for order SO-1 did not print: paper out; scan CMD:REPRINT after fixing the printer",
        ),
        (
            DidNotPrint { document: Document::Slip, order: o(), reason: s("offline") },
            "slip for order SO-1 did not print: offline; scan CMD:REPRINT after fixing the printer",
        ),
        (
            ClockSkew { seconds: 1234, ahead: true, source: ClockSource::OrderSystem },
            "the box clock is 1234 s ahead of order system's; check NTP (events carry data.clock)",
        ),
        (
            ClockSkew { seconds: 95, ahead: false, source: ClockSource::CloudCommand },
            "the box clock is 95 s behind cloud command's; check NTP (events carry data.clock)",
        ),
        (
            Overdue { order: o(), state: OrderState::Packing, minutes: 15, level: s("reminder") },
            "order SO-1 has been packing for over 15 min (reminder)",
        ),
        (
            NotRecorded { why: crate::station::NotRecorded::JournalFull, detail: s("journal is full (9 of 9 bytes)") },
            "journal is full (9 of 9 bytes)",
        ),
        (
            NotRecorded { why: crate::station::NotRecorded::DiskFull, detail: s("disk full: 1 bytes free") },
            "disk full: 1 bytes free",
        ),
        (
            NotRecorded { why: crate::station::NotRecorded::Storage, detail: s("cannot write db/wal") },
            "cannot write db/wal",
        ),
    ]
}

/// The variant's place in the enum: no wildcard, so a new variant fails to compile here
/// until it has an example above.
fn variant(say: &Say) -> usize {
    use Say::*;
    match say {
        LoggedIn { .. } => 0,
        LoggedOut { .. } => 1,
        LookingUp { .. } => 2,
        Opened { .. } => 3,
        AtLocation { .. } => 4,
        ToteAssigned { .. } => 5,
        LineCancelled { .. } => 6,
        DamagedRecorded { .. } => 7,
        Counted { .. } => 8,
        Shipped { .. } => 9,
        HeldByScan { .. } => 10,
        Released { .. } => 11,
        Reprinting { .. } => 12,
        ScanDamagedItem => 13,
        ScanLineToCancel => 14,
        PickedShort { .. } => 15,
        Labelled { .. } => 16,
        BadBarcode(_) => 17,
        BadFrame(_) => 18,
        LogInFirst { .. } => 19,
        BadgeNotListed { .. } => 20,
        OrderNotCached { .. } => 21,
        HeldPutAside { .. } => 22,
        CancelledDoNotShip { .. } => 23,
        AlreadyShipped { .. } => 24,
        PackedWaitsForLabel { .. } => 25,
        LabelledScanTracking { .. } => 26,
        WrongStation { .. } => 27,
        LocationWithoutOrder { .. } => 28,
        ScanOrderFirst { .. } => 29,
        HeldStop { .. } => 30,
        CancelledReturnItems { .. } => 31,
        NothingMoreToScan { .. } => 32,
        WrongTote { .. } => 33,
        WrongItem { .. } => 34,
        NotAProduct { .. } => 35,
        LineAlreadyCancelled { .. } => 36,
        LineIsCancelled { .. } => 37,
        OnCancelledLine { .. } => 38,
        OverQuantity { .. } => 39,
        UnknownTracking { .. } => 40,
        ShipsAtShipStation { .. } => 41,
        HeldDoNotShip { .. } => 42,
        NotLabelled { .. } => 43,
        CommandNeedsOrder { .. } => 44,
        UnknownCommand { .. } => 45,
        NeedsSupervisor { .. } => 46,
        NothingToReprint { .. } => 47,
        NoLabelPrinter => 48,
        NotBeingWorked { .. } => 49,
        NotBeingPicked { .. } => 50,
        NothingPicked { .. } => 51,
        NotKnownHere { .. } => 52,
        CannotBecome { .. } => 53,
        AlreadyFinal { .. } => 54,
        AlreadyHeld { .. } => 55,
        CannotHold { .. } => 56,
        NotHeld { .. } => 57,
        PackedNoLabelPrinter { .. } => 58,
        StoppedByOffice { .. } => 59,
        NotFound { .. } => 60,
        DidNotPrint { .. } => 61,
        ClockSkew { .. } => 62,
        Overdue { .. } => 63,
        NotRecorded { .. } => 64,
    }
}
const VARIANTS: usize = 65;

#[test]
fn the_examples_cover_every_variant_and_every_message_of_the_catalog() {
    let seen: BTreeSet<usize> = examples().iter().map(|(say, _)| variant(say)).collect();
    let missing: Vec<usize> = (0..VARIANTS).filter(|i| !seen.contains(i)).collect();
    assert!(missing.is_empty(), "variants without an example: {missing:?}");
    // Every message of the catalog is one the station says (words are said inside others).
    let said: BTreeSet<&str> = examples().iter().map(|(say, _)| say.message().key).collect();
    let source = Locale::En.source();
    for key in source.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k)) {
        if key.starts_with(['#', ' ']) || ["state-", "station-", "operator-"].iter().any(|p| key.starts_with(p)) {
            continue;
        }
        assert!(said.contains(key), "{key} is in the catalog but nothing says it");
    }
}

#[test]
fn english_is_exactly_what_the_station_always_said() {
    for (say, en) in examples() {
        assert_eq!(say.en(), en, "{say:?}");
    }
}

#[test]
fn every_message_renders_in_every_locale_without_a_fluent_error() {
    for locale in Locale::ALL {
        for (say, en) in examples() {
            let text = try_render(locale, &say.message()).unwrap_or_else(|e| panic!("{say:?}: {e:?}"));
            assert!(!text.trim().is_empty() && !text.contains('{'), "{locale}: {say:?} gives {text:?}");
            // `operator.logout OP:7` is an event kind and a badge: nothing to translate;
            // Spanish says "supervisor" too.
            let same_word = locale == Locale::Es && en == "operator.login OP:7 (supervisor)";
            let words = !matches!(say, Say::LoggedOut { .. }) && !same_word;
            if locale != Locale::En && words {
                assert_ne!(text, en, "{locale}: {say:?} is not translated");
            }
        }
    }
}

#[test]
fn ids_codes_and_event_kinds_reach_the_text_unchanged_in_every_locale() {
    let say = Say::Counted { kind: "item.picked", sku: s("SKU-Ä1"), line: 3, count: 1, of: 4 };
    let wrong = Say::WrongItem { code: s("5012345678900"), order: s("SO-42") };
    for locale in Locale::ALL {
        let text = say.render(locale);
        assert!(text.starts_with("item.picked SKU-Ä1 "), "{locale}: {text}");
        assert!(text.contains("(1/4)") || text.contains("（1/4）"), "{locale}: {text}");
        let text = wrong.render(locale);
        assert!(text.contains("5012345678900") && text.contains("SO-42"), "{locale}: {text}");
    }
}
