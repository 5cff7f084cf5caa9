//! Scans: login, pick, pack, ship, supervisor commands, SSCCs, the view.

use super::*;

#[test]
fn nothing_happens_without_a_logged_in_operator_and_badges_log_in_and_out() {
    let mut t = T::new(StationRole::Pack);
    t.upsert("SO-1", "picked");
    let fx = t.scan("SO-1");
    assert_eq!(kinds(&fx), ["scan.rejected"]);
    assert_eq!(error_code(&fx), Some("not_logged_in"));
    assert_eq!(t.state("SO-1"), OrderState::Picked, "nothing applied");

    let fx = t.scan("OP:0017");
    assert_eq!(kinds(&fx), ["operator.login"]);
    assert_eq!(event(&fx, "operator.login").operator.as_deref(), Some("OP:0017"));
    assert_eq!(data(event(&fx, "operator.login"))["role"], "packer");
    // Another badge switches operators; the same badge again logs out.
    let fx = t.scan(SUPERVISOR);
    assert_eq!(kinds(&fx), ["operator.logout", "operator.login"]);
    assert_eq!(data(event(&fx, "operator.login"))["role"], "supervisor");
    let fx = t.scan(SUPERVISOR);
    assert_eq!(kinds(&fx), ["operator.logout"]);
    assert!(t.s.session().operator.is_none());
    t.scan("OP:0017");
    assert_eq!(kinds(&t.scan("CMD:LOGOUT")), ["operator.logout"]);

    let mut strict = Station::new(Settings { allow_unlisted_packers: false, ..settings(StationRole::Pack) });
    let fx = strict.handle(Input::Scan { scanner: "gun".into(), code: "OP:9999".into() }, t.now);
    assert_eq!(error_code(&fx), Some("unknown_badge"));
}

#[test]
fn a_pack_runs_from_order_scan_to_label_with_each_bad_item_refused_distinctly() {
    let mut t = packing();
    assert_eq!(t.state("SO-1"), OrderState::Packing);

    let fx = t.scan(EAN_OTHER);
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["item.rejected"], Some("wrong_item")));
    let fx = t.scan("NOT-A-THING");
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["item.rejected"], Some("unknown_barcode")));
    let fx = t.scan("4006381333932");
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["scan.rejected"], Some("bad_barcode")));

    let fx = t.scan(EAN_A);
    assert_eq!(kinds(&fx), ["item.verified"]);
    let ev = event(&fx, "item.verified");
    assert_eq!(
        (ev.order.as_deref(), &data(ev)["line"], &data(ev)["qty"], &data(ev)["of"]),
        (Some("SO-1"), &json!(1), &json!(1), &json!(2))
    );
    // The GS1-128 of the same item is the same item.
    let fx = t.scan("]C10104006381333931");
    assert_eq!(kinds(&fx), ["item.verified"]);
    let fx = t.scan(EAN_A);
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["item.rejected"], Some("over_quantity")));
    assert_eq!(t.s.order("SO-1").unwrap().progress.verified[&1], 2, "refusals change nothing");

    let fx = t.scan("SKU-B");
    assert_eq!(kinds(&fx), ["item.verified", "order.state"]);
    assert_eq!(transitions(&fx), [("packing".into(), "packed".into())]);
    assert_eq!(prints(&fx), [(Document::Label, false), (Document::Slip, false)]);
    assert_eq!(t.s.order("SO-1").unwrap().progress.label, LabelStatus::Requested);
    // Effects come in order: events, then one save, then the prints (never before the save).
    let save_at = fx.iter().position(|e| matches!(e, Effect::Save { .. })).unwrap();
    assert!(fx[..save_at].iter().all(|e| matches!(e, Effect::Record { .. })));
    assert!(fx[save_at + 1..].iter().all(|e| matches!(e, Effect::Print { .. })));

    let fx =
        t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Confirmed });
    assert_eq!(transitions(&fx), [("packed".into(), "labelled".into())]);
    assert_eq!(data(event(&fx, "order.state"))["by"], "printer");
    assert!(t.s.session().order.is_none(), "the next order may be scanned");

    // A pack station does not ship.
    let fx = t.scan("JJD0000000001");
    assert_eq!(error_code(&fx), Some("wrong_station"));
    assert_eq!(t.state("SO-1"), OrderState::Labelled);
}

#[test]
fn a_ship_station_ships_labelled_orders_by_tracking_number_only() {
    let mut t = T::new(StationRole::Ship);
    t.scan("OP:0017");
    t.upsert("SO-1", "labelled");
    t.upsert("SO-2", "packed");
    let fx = t.scan("JJD0000000002");
    assert_eq!(error_code(&fx), Some("not_shippable"));
    let fx = t.scan("JJD0000000001");
    assert_eq!(kinds(&fx), ["ship.scanned", "order.state"]);
    assert_eq!(transitions(&fx), [("labelled".into(), "shipped".into())]);
    assert_eq!(error_code(&t.scan("JJD0000000001")), Some("not_shippable"), "shipped once");
    assert_eq!(error_code(&t.scan("JJD9999999999")), Some("unknown_tracking"));
}

#[test]
fn an_order_in_the_wrong_state_for_the_station_is_refused_with_the_reason() {
    let mut t = T::new(StationRole::Pack);
    t.scan("OP:0017");
    t.upsert("SO-1", "released");
    let fx = t.scan("SO-1");
    assert_eq!(error_code(&fx), Some("wrong_station"));
    assert_eq!(t.state("SO-1"), OrderState::Released);
    t.upsert("SO-2", "shipped");
    assert_eq!(error_code(&t.scan("SO-2")), Some("order_done"));
    t.upsert("SO-3", "cancelled");
    assert_eq!(error_code(&t.scan("SO-3")), Some("order_cancelled"));
    assert_eq!(error_code(&t.scan(EAN_A)), Some("no_order"));
}

#[test]
fn supervisor_commands_cancel_lines_record_damage_and_reprint() {
    let mut t = packing();
    assert_eq!(error_code(&t.scan("CMD:CANCEL-LINE")), Some("supervisor_required"));
    let fx = t.scan("CMD:DAMAGED");
    assert_eq!(kinds(&fx), ["command.scanned"]);
    let fx = t.scan(EAN_A);
    assert_eq!(kinds(&fx), ["item.damaged"]);
    assert!(!t.s.order("SO-1").unwrap().progress.verified.contains_key(&1), "a damaged item is not packed");
    t.scan(EAN_A);
    t.scan(EAN_A);
    t.scan(SUPERVISOR);
    t.scan("CMD:CANCEL-LINE");
    let fx = t.scan("SKU-B");
    assert_eq!(kinds(&fx), ["line.cancelled", "order.state"], "the remaining lines are complete");
    assert_eq!(transitions(&fx), [("packing".into(), "packed".into())]);
    // Reprint before the label is confirmed: anyone; after: a supervisor.
    assert_eq!(prints(&t.scan("CMD:REPRINT")), [(Document::Label, true)]);
    t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Unconfirmed });
    assert_eq!(t.state("SO-1"), OrderState::Labelled);
    t.scan("OP:0017");
    t.scan("SO-1");
    assert_eq!(error_code(&t.scan("CMD:REPRINT")), Some("no_order"), "a labelled order is not open at a pack station");
    assert_eq!(error_code(&t.scan("CMD:NOPE")), Some("unknown_command"));
}

#[test]
fn a_reprint_of_a_confirmed_label_needs_a_supervisor() {
    let mut t = packing();
    t.scan(EAN_A);
    t.scan(EAN_A);
    t.scan("SKU-B");
    t.input(Input::Printed {
        order: "SO-1".into(),
        document: Document::Label,
        outcome: PrintOutcome::Failed("paper out".into()),
    });
    assert_eq!(t.state("SO-1"), OrderState::Packed, "a failed label labels nothing");
    // The failed label leaves the order open: the packer may reprint.
    let fx = t.scan("SO-1");
    assert_eq!(error_code(&fx), Some("order_done"));
    assert_eq!(prints(&t.scan("CMD:REPRINT")), [(Document::Label, true)]);
    t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Confirmed });
    // Labelled orders are closed; re-open as if a supervisor came to reprint.
    t.s.session.order = Some("SO-1".into());
    assert_eq!(error_code(&t.scan("CMD:REPRINT")), Some("supervisor_required"));
    t.scan(SUPERVISOR);
    assert_eq!(prints(&t.scan("CMD:REPRINT")), [(Document::Label, true)]);
}

#[test]
fn a_pick_goes_by_location_tote_and_items_and_a_short_pick_sets_what_pack_expects() {
    let mut t = T::new(StationRole::Pick);
    t.scan("OP:0017");
    t.upsert("SO-1", "released");
    assert_eq!(transitions(&t.scan("SO-1")), [("released".into(), "picking".into())]);
    assert_eq!(kinds(&t.scan("LOC:A-03-2")), ["pick.location"]);
    assert_eq!(kinds(&t.scan("TOTE:17")), ["pick.tote"]);
    assert_eq!(kinds(&t.scan(EAN_A)), ["item.picked"]);
    let fx = t.scan("CMD:SHORT");
    assert_eq!(kinds(&fx), ["pick.short", "order.state"]);
    assert_eq!(
        data(event(&fx, "pick.short"))["short"],
        json!([{"line": 1, "sku": "SKU-A", "missing": 1}, {"line": 2, "sku": "SKU-B", "missing": 1}])
    );
    assert_eq!(t.state("SO-1"), OrderState::Picked);

    // The same orders at a pack station: the tote opens the order; one item is expected.
    let saved: Vec<StoredOrder> = t.s.orders().cloned().collect();
    let mut p = T::new(StationRole::Pack);
    p.s.restore(saved, None);
    p.scan("OP:0017");
    let fx = p.scan("TOTE:17");
    assert_eq!(transitions(&fx), [("picked".into(), "packing".into())]);
    let fx = p.scan(EAN_A);
    assert_eq!(transitions(&fx), [("packing".into(), "packed".into())]);
}

#[test]
fn a_full_pick_ends_picked() {
    let mut t = T::new(StationRole::Multi);
    t.scan("OP:0017");
    t.upsert("SO-1", "released");
    t.scan("SO-1");
    t.scan(EAN_A);
    t.scan(EAN_A);
    assert_eq!(error_code(&t.scan(EAN_A)), Some("over_quantity"));
    assert_eq!(transitions(&t.scan("SKU-B")), [("picking".into(), "picked".into())]);
    // A multi station packs it next.
    assert_eq!(transitions(&t.scan("SO-1")), [("picked".into(), "packing".into())]);
}

#[test]
fn the_view_shows_operator_order_lines_feedback_and_alerts() {
    let mut t = packing();
    t.scan(EAN_A);
    t.scan(EAN_OTHER);
    t.later(16);
    let v = t.s.view();
    assert_eq!(v.operator.as_ref().unwrap().badge, "OP:0017");
    let o = v.order.as_ref().unwrap();
    assert_eq!((o.id.as_str(), o.state), ("SO-1", "packing"));
    assert_eq!((o.lines[0].qty, o.lines[0].verified, o.lines[1].verified), (2, 1, 0));
    assert_eq!(v.last_feedback.as_ref().unwrap().kind, "alert");
    assert_eq!(v.alerts[0].code, "order_overdue");
    assert_eq!(v.orders_by_state["packing"], 1);
    serde_json::to_string(&v).unwrap();
}

#[test]
fn a_restart_resumes_the_session_and_the_progress_from_what_was_saved() {
    let mut t = packing();
    t.scan(EAN_A);
    let mut r = t.restart();
    assert_eq!(r.s.session().operator.as_ref().unwrap().badge, "OP:0017");
    assert_eq!(r.s.session().order.as_deref(), Some("SO-1"));
    let fx = r.scan(EAN_A);
    assert_eq!(data(event(&fx, "item.verified"))["qty"], 2, "the first verified item was kept");
}

#[test]
fn bad_frames_are_recorded_with_their_error() {
    let mut t = T::new(StationRole::Pack);
    let error = stationd_drivers::framing::FrameError::TooLong { len: 10_240, max: 512 };
    let fx = t.input(Input::BadScan { scanner: "gun".into(), error });
    assert_eq!((kinds(&fx), error_code(&fx)), (vec!["scan.rejected"], Some("scan_too_long")));
}

/// A multi station that makes SSCCs, with SO-1 open for packing (order without an SSCC).
fn packing_with_sscc() -> T {
    let mut settings = settings(StationRole::Multi);
    settings.sscc = Some(stationd_drivers::sscc::SsccPrefix::new("4012345", 3).unwrap());
    let mut t = T::with(Station::new(settings));
    t.scan("OP:0017");
    t.upsert("SO-1", "picked");
    t.scan("SO-1");
    t
}

#[test]
fn a_packed_order_without_an_sscc_gets_the_next_serial_in_its_pack_event_and_the_same_save() {
    let mut t = packing_with_sscc();
    t.s.start_sscc_at(1);
    t.scan(EAN_A);
    t.scan(EAN_A);
    let fx = t.scan("SKU-B");
    let sscc = "340123450000000017";
    assert_eq!(data(event(&fx, "order.state"))["sscc"], sscc, "the cloud hears the SSCC with the pack");
    assert_eq!(t.s.order("SO-1").unwrap().sscc(), Some(sscc));
    assert_eq!(t.s.sscc_next(), 2);
    // The counter and the order are in the one save that comes before the label's print.
    let Some(Effect::Save { orders, session, .. }) = fx.iter().find(|e| matches!(e, Effect::Save { .. })) else {
        panic!("no save")
    };
    assert_eq!(orders[0].progress.sscc.as_deref(), Some(sscc));
    assert_eq!(session.as_ref().map(|s| s.sscc_next), Some(2));
    // After a restart the counter goes on from what was saved, or from a higher floor.
    let mut again = t.restart();
    assert_eq!(again.s.sscc_next(), 2);
    again.s.start_sscc_at(100);
    assert_eq!(again.s.sscc_next(), 100);
    again.s.start_sscc_at(50);
    assert_eq!(again.s.sscc_next(), 100, "a floor never lowers the counter");
}

#[test]
fn an_sscc_scanned_as_its_gs1_barcode_ships_the_order_like_its_bare_digits() {
    let sscc = "340123450000000017";
    for code in [sscc.to_string(), format!("00{sscc}"), format!("]C100{sscc}"), format!("]C100{sscc}4201010115")] {
        let mut t = packing_with_sscc();
        t.s.start_sscc_at(1);
        t.scan(EAN_A);
        t.scan(EAN_A);
        t.scan("SKU-B");
        t.input(Input::Printed { order: "SO-1".into(), document: Document::Label, outcome: PrintOutcome::Confirmed });
        let fx = t.scan(&code);
        assert_eq!(kinds(&fx), ["ship.scanned", "order.state"], "{code}");
        assert_eq!(data(event(&fx, "ship.scanned"))["tracking"], sscc, "{code}");
        assert_eq!(t.state("SO-1"), OrderState::Shipped, "{code}");
    }
    // An SSCC from the cloud that starts like an AI (00…) ships as its bare digits too.
    let mut t = T::new(StationRole::Ship);
    t.scan("OP:0017");
    let mut o = order("SO-7", "labelled");
    o.sscc = Some("001234560000000018".into());
    t.cloud(CloudOrder::Upsert(Box::new(o)));
    assert_eq!(kinds(&t.scan("001234560000000018")), ["ship.scanned", "order.state"]);
}

#[test]
fn the_events_of_scans_keep_their_wire_shape() {
    let mut t = packing();
    let fx = t.scan("]C10104006381333931");
    assert_eq!(
        data(event(&fx, "item.verified")),
        json!({"scanner": "gun", "code": "]C10104006381333931", "class": "product", "symbology": "gs1",
               "gtin": "04006381333931", "ai": {"01": "04006381333931"}, "line": 1, "sku": "SKU-A", "qty": 1, "of": 2})
    );
    // A framing error has only the scanner; a misread product code its code and class.
    let noise = FrameError::ControlByte { byte: 7, offset: 2 };
    let fx = t.input(Input::BadScan { scanner: "gun".into(), error: noise.clone() });
    let error = json!({"code": "scan_noise", "message": noise.to_string()});
    assert_eq!(noise.code(), "scan_noise", "the framer's code is the event's");
    assert_eq!(data(event(&fx, "scan.rejected")), json!({"scanner": "gun", "error": error}));
    let fx = t.scan("4006381333932");
    let rejected = data(event(&fx, "scan.rejected"));
    assert_eq!((&rejected["code"], &rejected["class"]), (&json!("4006381333932"), &json!("product")));
    assert!(rejected.get("symbology").is_none(), "absent, not null: {rejected}");
    // Another badge: the leaving operator's logout names the next one and carries no scan.
    let fx = t.scan(SUPERVISOR);
    assert_eq!(data(event(&fx, "operator.logout")), json!({"reason": "switched", "next": SUPERVISOR}));
    let fx = t.scan("CMD:HOLD:dented");
    assert_eq!(
        data(event(&fx, "command.scanned")),
        json!({"scanner": "gun", "code": "CMD:HOLD:dented", "class": "command", "command": "HOLD", "argument": "dented"})
    );
    assert_eq!(
        data(event(&fx, "order.state")),
        json!({"from": "packing", "to": "held", "by": "station", "reason": "dented"})
    );
}
