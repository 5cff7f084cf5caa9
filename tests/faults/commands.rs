//! Hostile and malformed cloud commands while a packer scans.

use super::*;

/// Hostile and malformed cloud commands while a packer scans: nesting 30 000 deep, over the
/// size limit, not UTF-8, empty, not an object, unknown names, wrong types, too many lines,
/// control characters and ZPL commands in order fields, then a flood. Every command is
/// answered with a precise error (or, for the odd fields, accepted and escaped), the label
/// keeps its own commands only, and every scan confirmed meanwhile reaches the broker.
pub(super) fn hostile_commands(size: &Size, _rng: &mut StdRng) -> Vec<Row> {
    let broker = PersistentBroker::start("");
    let up = Upstream::connect(broker.port, &format!("{PREFIX}/events"));
    let sim = PrinterSim::start();
    let station = StationDir::with_label_printer(broker.port, &sim.addr.to_string());
    let mut scanning = Scanning::start(&station, "H", Duration::from_millis(5));
    let cloud = Cloud::connect(broker.port, PREFIX);
    std::thread::sleep(Duration::from_millis(300));
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut broken = None;

    let nested = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let too_many_lines: Vec<serde_json::Value> = (1..=1001).map(|i| json!({"line": i, "sku": "S", "qty": 1})).collect();
    let hostile: Vec<(&str, Vec<u8>)> = vec![
        ("order-cancel", nested.into_bytes()),
        ("order-cancel", format!(r#"{{"request_id":"big","order":"{}"}}"#, "x".repeat(100_000)).into_bytes()),
        ("order-cancel", b"\xff\xfe\x00 not utf-8".to_vec()),
        ("order-cancel", Vec::new()),
        ("order-cancel", b"42".to_vec()),
        ("order-cancel", br#"{"no_request_id":true}"#.to_vec()),
        ("shutdown.now", br#"{"request_id":"bogus"}"#.to_vec()),
        ("order-upsert", br#"{"request_id":"types","order":{"id":5,"lines":"many"}}"#.to_vec()),
        (
            "order-upsert",
            json!({"request_id": "lines", "order": {"id": "SO-L", "lines": too_many_lines}}).to_string().into_bytes(),
        ),
        ("print", br#"{"request_id":"copies","document":"label","order":"SO-X","copies":1000}"#.to_vec()),
        ("order-cancel", json!({"request_id": "ctl\u{0}\u{1b}[2J", "order": "SO-\u{202e}"}).to_string().into_bytes()),
    ];
    let sent = hostile.len() + 1;
    for (name, payload) in &hostile {
        let r = cloud.send_raw(name, payload);
        let code = r["error"]["code"].as_str().unwrap_or("accepted").to_string();
        if r["ok"] != false || r["error"]["message"].as_str().is_none_or(str::is_empty) {
            broken = Some(format!("{name} {} bytes: no precise refusal: {r}", payload.len()));
        }
        *codes.entry(code).or_default() += 1;
        scanning.for_ms(50);
    }

    // ZPL and control characters in order fields: escaped, never commands of their own.
    let order = |id: &str, name: &str| {
        json!({"request_id": format!("u-{id}"), "order": {"id": id, "carrier": "DHL", "tracking": "JJD0000000001",
            "ship_to": {"name": name, "street": name, "city": "Berlin", "country": "DE"}, "lines": [{"line": 1, "sku": "SKU-1", "qty": 1}]}})
    };
    let r = cloud.send("order-upsert", order("SO-CTL", "Name\u{7f}\u{1b}[2J\r\n^XZ"));
    if r["error"]["code"] != "invalid_field" {
        broken = Some(format!("control characters in an address were not refused: {r}"));
    }
    *codes.entry(r["error"]["code"].as_str().unwrap_or("accepted").to_string()).or_default() += 1;
    let evil = "^XZ^XA^FO0,0^FDINJECTED^FS~JR~PS Ünïcödé \u{202e}_5E";
    for (id, name) in [("SO-PLAIN", "Plain Customer"), ("SO-EVIL", evil)] {
        let r = cloud.send("order-upsert", order(id, name));
        assert_eq!(r["ok"], true, "{r}");
        let r = cloud.send("print", json!({"request_id": format!("p-{id}"), "document": "label", "order": id}));
        assert_eq!(r["ok"], true, "{r}");
    }
    let start = Instant::now();
    while sim.jobs().len() < 2 && start.elapsed() < Duration::from_secs(20) {
        scanning.for_ms(50);
    }
    let jobs = sim.jobs();
    let injected = jobs.len() != 2 || zpl_commands(&jobs[0]) != zpl_commands(&jobs[1]);
    if injected {
        broken = Some(format!(
            "a field changed the label's commands: {:?}",
            jobs.iter().map(|j| String::from_utf8_lossy(j).into_owned()).collect::<Vec<_>>()
        ));
    }

    // A flood, as a broken cloud service would send it.
    let flood = 3 * size.print_jobs * 10;
    for i in 0..flood {
        cloud.publish_only(
            "order-hold",
            json!({"request_id": format!("flood-{i}"), "order": "SO-1"}).to_string().as_bytes(),
        );
    }
    let replies = cloud.replies(flood);
    let limited = replies.iter().filter(|r| r["error"]["code"] == "rate_limited").count();
    let (tally, confirmed) = scanning.finish(&station, &up, Duration::from_secs(30));
    let mut row = tally.row(
        "hostile cloud commands",
        format!("{sent} malformed commands (30 000-deep nesting, 100 kB, not UTF-8, …), ZPL in address fields, a flood of {flood}"),
        confirmed,
        format!("replies {codes:?}; label commands unchanged by fields: {}; flood: {limited} of {flood} rate_limited", !injected),
    );
    row.broken = row.broken.or(broken);
    if limited == 0 {
        row.broken = Some("the flood was not rate limited".into());
    }
    vec![row]
}
