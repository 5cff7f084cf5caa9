//! The envelope's wire shape: `at`, omissions, and the schema the types generate (the
//! contract's examples are read back through these types by `contract`).

use super::*;

#[test]
fn at_is_utc_with_milliseconds_and_z() {
    let t = time::macros::datetime!(2026-11-23 10:04:05.123456 +01:00);
    assert_eq!(format_at(t), "2026-11-23T09:04:05.123Z");
    assert_eq!(parse_at("2026-11-23T09:04:05.123Z").unwrap(), t.replace_nanosecond(123_000_000).unwrap());
}

fn lookup(code: &str) -> Event {
    Event::OrderLookup(Scanned { scan: Scan::new("stdin", code, ScanClass::Order), clock: None })
}

#[test]
fn envelope_omits_absent_order_and_operator() {
    let e = Envelope {
        v: 1,
        id: uuid::Uuid::nil(),
        seq: 7,
        warehouse: "WH1".into(),
        station: "PACK-07".into(),
        at: "2026-11-23T10:04:05.123Z".into(),
        order: None,
        operator: None,
        event: lookup("123"),
    };
    let s = serde_json::to_string(&e).unwrap();
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert!(v.get("order").is_none() && v.get("operator").is_none(), "{s}");
    assert_eq!(serde_json::from_str::<Envelope>(&s).unwrap(), e);
    let any: AnyEnvelope = serde_json::from_str(&s).unwrap();
    assert_eq!((any.kind.as_str(), &any.data["code"]), ("order.lookup", &serde_json::json!("123")));
}

#[test]
fn the_schema_names_each_kind_as_a_const() {
    let schema = serde_json::to_value(schemars::schema_for!(Event)).unwrap();
    let variants = schema["oneOf"].as_array().expect("one schema per kind");
    let kinds: Vec<&str> = variants.iter().filter_map(|v| v["properties"]["kind"]["const"].as_str()).collect();
    assert_eq!(kinds, Event::KINDS);
    assert!(variants.iter().all(|v| v["required"] == serde_json::json!(["kind", "data"])), "{schema:#}");
    let defs = &schema["$defs"];
    assert_eq!(defs["OrderStateChanged"]["additionalProperties"], false);
    assert_eq!(defs["ItemCounted"]["additionalProperties"], false, "flattened scan fields are listed too");
    assert!(defs["ItemCounted"]["properties"]["gtin"].is_object());
    // Each kind's error lists its own codes.
    let def = |r: &serde_json::Value| defs[r["$ref"].as_str().unwrap().trim_start_matches("#/$defs/")].clone();
    let codes = def(&def(&defs["ScanRejected"]["properties"]["error"])["properties"]["code"]).to_string();
    assert!(codes.contains("\"scan_noise\"") && !codes.contains("\"over_quantity\""), "{codes}");
    let codes = def(&def(&defs["ItemRejected"]["properties"]["error"])["properties"]["code"]).to_string();
    assert!(codes.contains("\"over_quantity\"") && !codes.contains("\"scan_noise\""), "{codes}");
    let lost = &defs["JournalRecovered"];
    assert!(lost["required"].as_array().unwrap().contains(&serde_json::json!("may_be_lost")));
    assert!(lost["properties"]["may_be_lost"]["anyOf"][1]["type"] == "null", "{lost:#}");
}

#[test]
fn a_data_field_the_type_does_not_know_is_refused() {
    let json = r#"{"kind": "order.interrupted", "data": {"state": "held", "extra": 1}}"#;
    assert!(serde_json::from_str::<Event>(json).is_err());
    let json = r#"{"kind": "order.interrupted", "data": {"state": "picked"}}"#;
    assert!(serde_json::from_str::<Event>(json).is_err(), "held or cancelled only");
}

#[test]
fn a_failed_print_is_a_job_or_a_document_that_was_not_queued() {
    let refused = r#"{"kind":"print.failed","data":{"job":null,"document":"label","detail":"no tracking"}}"#;
    let e: Event = serde_json::from_str(refused).unwrap();
    assert!(matches!(e, Event::PrintFailed(PrintFailed::NotQueued(_))), "{e:?}");
    let v: serde_json::Value = serde_json::from_str(refused).unwrap();
    assert_eq!(serde_json::to_value(&e).unwrap(), v);
}
