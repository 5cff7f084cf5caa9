//! The station screen and API on the real binary: JSON routes, `/healthz`, `/metrics`, the
//! token off loopback, and the page rendered by headless Chromium.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{free_port, http_exchange, http_get, StationDir};

const ORDERS: &str = r#"[{"id": "SO-1", "state": "picked", "carrier": "DHL", "tracking": "JJD0000000001",
  "lines": [{"line": 1, "sku": "MUG-RED", "name": "Mug, red", "qty": 2, "barcodes": ["4006381333931"]},
            {"line": 2, "sku": "LID-01", "name": "Lid", "qty": 1, "barcodes": ["96385074"]}]}]"#;

/// A station with the screen on `port`, a file printer and one preloaded order.
fn station(port: u16, http_extra: &str) -> StationDir {
    station_with(port, ORDERS, "", http_extra)
}

/// A station with the screen on `port`, a file printer, `orders` preloaded, and `station_extra`
/// added to `[station]` and `http_extra` to `[http]` (other tables may follow it).
fn station_with(port: u16, orders: &str, station_extra: &str, http_extra: &str) -> StationDir {
    let s = StationDir::new("", "");
    let dir = s.tmp.path();
    std::fs::write(dir.join("orders.json"), orders).unwrap();
    let extra = format!(
        "[orders]\npreload = \"orders.json\"\n\n\
         [[printer]]\nname = \"label\"\nkind = \"file\"\npath = \"labels\"\nlanguage = \"zpl\"\nrole = \"label\"\n\n\
         [http]\nlisten = \"127.0.0.1:{port}\"\n{http_extra}\n"
    );
    let text = std::fs::read_to_string(&s.config).unwrap() + &extra;
    let text =
        text.replace("allow_unlisted_packers = true\n", &format!("allow_unlisted_packers = true\n{station_extra}"));
    std::fs::write(&s.config, text).unwrap();
    s
}

/// [`station`] with the token `t0ken-123` in a private file beside its config.
fn station_with_token(port: u16, http_extra: &str) -> StationDir {
    use std::os::unix::fs::PermissionsExt;
    let station = station(port, &format!("token_file = \"http.token\"\n{http_extra}"));
    let token = station.tmp.path().join("http.token");
    std::fs::write(&token, "t0ken-123\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    station
}

fn json(port: u16, path: &str) -> Value {
    let (status, body) = http_get(port, path, &[]);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn wait_http(port: u16) {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "the screen does not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running station after a login, SO-1 opened, one good and one wrong item.
fn after_scans(port: u16) -> (StationDir, support::Daemon) {
    let station = station(port, "");
    let mut daemon = station.spawn();
    daemon.wait_started();
    wait_http(port);
    for code in ["OP:0017", "SO-1", "4006381333931", "5012345678900"] {
        daemon.scan(code);
        daemon.expect_line();
    }
    (station, daemon)
}

#[test]
fn the_api_shows_the_station_its_orders_devices_queue_health_and_metrics() {
    let port = free_port();
    let (_station, mut daemon) = after_scans(port);
    let s = json(port, "/api/status");
    let w = &s["workflow"];
    assert_eq!((w["operator"]["badge"].as_str(), w["order"]["id"].as_str()), (Some("OP:0017"), Some("SO-1")), "{s}");
    assert_eq!(w["order"]["lines"][0]["verified"], 1, "{s}");
    assert_eq!(
        (w["last_feedback"]["kind"].as_str(), w["last_feedback"]["code"].as_str()),
        (Some("error"), Some("wrong_item"))
    );
    assert_eq!(w["locale"], "en", "the language of the texts, for the page's lang: {s}");
    assert_eq!(s["station"], "WH1/PACK-T");
    assert_eq!(s["uplink"]["state"], "disabled");
    assert!(s["queue"]["pending"].as_u64().unwrap() >= 5, "{s}");

    let o = json(port, "/api/orders/SO-1");
    assert_eq!((o["state"].as_str(), o["progress"]["verified"]["1"].as_u64()), (Some("packing"), Some(1)), "{o}");
    let (status, body) = http_get(port, "/api/orders/SO-404", &[]);
    assert_eq!(status, 404, "{body}");
    assert!(json(port, "/api/queue")["next_seq"].as_u64().unwrap() > 5);
    let devices = json(port, "/api/devices");
    assert_eq!(devices["label"]["state"], "ready", "{devices}");
    let health = json(port, "/healthz");
    assert_eq!(health["ok"], true, "{health}");

    let (status, metrics) = http_get(port, "/metrics", &[]);
    assert_eq!(status, 200);
    for line in [
        "stationd_scans_total{result=\"ok\"} 3",
        "stationd_scans_total{result=\"wrong_item\"} 1",
        "stationd_orders{state=\"packing\"} 1",
        "stationd_device_state{device=\"label\",kind=\"printer\",state=\"ready\"} 1",
        "# TYPE stationd_backlog_events gauge",
        "# TYPE stationd_journal_commit_seconds histogram",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
    let commits = metrics.lines().find_map(|l| l.strip_prefix("stationd_journal_commit_seconds_count ")).unwrap();
    assert!(commits.parse::<f64>().unwrap() >= 1.0, "{metrics}");
    assert!(metrics.contains("stationd_journal_commit_seconds_bucket{le=\"+Inf\"}"), "{metrics}");
    let (status, page) = http_get(port, "/", &[]);
    assert!(status == 200 && page.contains("<title>stationd</title>"));
    daemon.close_stdin();
    daemon.wait_exit(Duration::from_secs(5));
}

#[test]
fn with_a_token_everything_but_healthz_needs_it_and_a_wrong_one_gets_a_bare_401() {
    let port = free_port();
    let station = station_with_token(port, "");
    let daemon = station.spawn();
    daemon.wait_started();
    wait_http(port);
    for path in ["/", "/api/status", "/api/queue", "/api/devices", "/api/orders/SO-1", "/metrics", "/api/stream"] {
        for headers in [&[][..], &["Authorization: Bearer wrong"][..], &["Authorization: t0ken-123"][..]] {
            let (status, body) = http_get(port, path, headers);
            assert_eq!((status, body.as_str()), (401, ""), "{path} {headers:?}");
        }
        let (status, _) = http_get(port, &format!("{path}?token=nope"), &[]);
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = http_get(port, "/api/status", &["Authorization: Bearer t0ken-123"]);
    assert_eq!(status, 200);
    let (status, _) = http_get(port, "/?token=t0ken-123", &[]);
    assert_eq!(status, 200);
    assert_eq!(http_get(port, "/healthz", &[]).0, 200, "health checks need no token");
}

/// A German station's status carries its texts in German and says so; codes stay English.
#[test]
fn the_status_of_a_german_station_carries_german_texts_and_its_locale() {
    let port = free_port();
    let station = station(port, "");
    let text = std::fs::read_to_string(&station.config)
        .unwrap()
        .replace("allow_unlisted_packers = true\n", "allow_unlisted_packers = true\nlocale = \"de\"\n");
    std::fs::write(&station.config, text).unwrap();
    let mut daemon = station.spawn();
    daemon.wait_started();
    wait_http(port);
    for code in ["OP:0017", "SO-1", "5012345678900"] {
        daemon.scan(code);
        daemon.expect_line();
    }
    let s = json(port, "/api/status");
    let w = &s["workflow"];
    assert_eq!(w["locale"], "de", "{s}");
    assert_eq!(w["last_feedback"]["code"], "wrong_item", "{s}");
    assert_eq!(w["last_feedback"]["text"], "5012345678900 gehört nicht zu Auftrag SO-1", "{s}");
}

/// Opens the screen in headless Chromium after a few scans, with the station's
/// Content-Security-Policy enforced: the page's script runs, draws the operator, the order
/// and the last scan, follows the live stream, and the browser reports no violation.
#[test]
fn the_station_screen_renders_the_operator_the_order_and_the_last_scan_in_a_browser() {
    let port = free_port();
    let (station, _daemon) = after_scans(port);
    let shot = station.tmp.path().join("screen.png");
    let screen = support::open_screen(&format!("http://127.0.0.1:{port}/"), "live · updated ", Some(&shot));
    let dom = &screen.dom;
    assert!(screen.found, "the live stream did not reach the page:\n{dom}\n{:#?}", screen.logged);
    let blocked: Vec<&String> = screen.logged.iter().filter(|l| l.contains("Content Security Policy")).collect();
    assert!(blocked.is_empty(), "the browser blocked part of the page: {blocked:#?}");
    assert!(!screen.logged.iter().any(|l| l.starts_with("pageerror")), "{:#?}", screen.logged);
    assert!(dom.contains("<b id=\"operator\" dir=\"auto\">OP:0017 (packer)</b>"), "operator not rendered:\n{dom}");
    assert!(dom.contains("<span id=\"order-id\" dir=\"auto\">SO-1</span>"), "order not rendered:\n{dom}");
    assert!(dom.contains("<div id=\"result\" class=\"error\">"), "last scan not red:\n{dom}");
    assert!(dom.contains("5012345678900 is not on order SO-1"), "reason not shown:\n{dom}");
    assert!(dom.contains("MUG-RED Mug, red"), "lines not rendered:\n{dom}");
    assert!(shot.exists(), "no screenshot");
}

/// Every answer — the page, the API, metrics, refusals — tells the browser to run only the
/// page's own script and style, never to frame the screen, to send no referrer and not to
/// sniff types; a request naming the host twice is refused.
#[test]
fn every_response_carries_the_browser_protections_and_two_host_headers_are_refused() {
    let port = free_port();
    let station = station_with_token(port, "");
    let _daemon = station.spawn();
    wait_http(port);
    let auth = "Authorization: Bearer t0ken-123";
    let answers = [
        ("/", vec![auth], 200),
        ("/?token=t0ken-123", vec![], 200),
        ("/api/status", vec![auth], 200),
        ("/api/orders/SO-404", vec![auth], 404),
        ("/metrics", vec![auth], 200),
        ("/healthz", vec![], 200),
        ("/api/status", vec![], 401),
        ("/api/status", vec!["Host: attacker.example", auth], 421),
        ("/nothing-here", vec![auth], 404),
    ];
    for (path, headers, status) in answers {
        let a = http_exchange(port, path, &headers);
        assert_eq!(a.status, status, "{path} {headers:?}: {}", a.body);
        let csp = a.header("content-security-policy");
        assert_eq!(csp.len(), 1, "{path}: {:?}", a.headers);
        let directives: Vec<&str> = csp[0].split(';').map(str::trim).collect();
        for d in ["default-src 'none'", "frame-ancestors 'none'", "connect-src 'self'", "base-uri 'none'"] {
            assert!(directives.contains(&d), "{path}: {d} missing from {}", csp[0]);
        }
        let script = directives.iter().find(|d| d.starts_with("script-src ")).expect("script-src");
        assert!(script.starts_with("script-src 'sha256-") && !csp[0].contains("unsafe"), "{path}: {}", csp[0]);
        assert_eq!(a.header("x-frame-options"), ["DENY"], "{path}");
        assert_eq!(a.header("referrer-policy"), ["no-referrer"], "{path}");
        assert_eq!(a.header("x-content-type-options"), ["nosniff"], "{path}");
    }
    // Two Host headers: a proxy in front may read one and the station the other.
    for (first, second) in
        [("127.0.0.1", "attacker.example"), ("attacker.example", "127.0.0.1"), ("localhost", "localhost")]
    {
        for path in ["/api/status", "/healthz", "/"] {
            let a = http_exchange(port, path, &[&format!("Host: {first}"), &format!("Host: {second}"), auth]);
            assert_eq!(a.status, 400, "{path} with Host {first} and {second}: {}", a.body);
            assert!(a.body.contains("two Host headers"), "{}", a.body);
            assert!(!a.body.contains("SO-1"));
        }
    }
}

#[test]
fn a_page_naming_another_host_gets_421_and_unknown_paths_need_the_token_too() {
    let port = free_port();
    let station = station_with_token(port, "hosts = [\"station-7.local\"]\n");
    let _daemon = station.spawn();
    wait_http(port);
    let auth = "Authorization: Bearer t0ken-123";
    // DNS rebinding: the attacker's page talks to this box under the attacker's own name.
    for host in ["Host: attacker.example", "Host: attacker.example:8080", "Host: localhost.attacker.example"] {
        let (status, body) = http_get(port, "/api/orders/SO-1", &[host, auth]);
        assert_eq!(status, 421, "{host}: {body}");
        assert!(!body.contains("SO-1"), "{body}");
    }
    for host in ["Host: 127.0.0.1", "Host: localhost:8080", "Host: STATION-7.local.", "Host: [::1]:8080"] {
        assert_eq!(http_get(port, "/api/status", &[host, auth]).0, 200, "{host}");
    }
    // With a token, a path that does not exist is a bare 401 too: nothing tells an outsider
    // which paths exist.
    assert_eq!(http_get(port, "/api/nothing-here", &[]), (401, String::new()));
    assert_eq!(http_get(port, "/api/nothing-here", &[auth]).0, 404);
    assert_eq!(http_get(port, "/healthz", &["Host: anything.example"]).0, 200, "health checks need neither");
}

#[test]
fn text_that_looks_like_markup_in_every_field_shown_stays_text_in_a_browser() {
    const EVIL: &str = "<!--<script>&amp;</script><i id=x>\u{2028}";
    let port = free_port();
    let s = StationDir::new("", "");
    let dir = s.tmp.path();
    let orders = serde_json::json!([{"id": "SO-9", "state": "picked", "carrier": EVIL, "lines": [
        {"line": 1, "sku": EVIL, "name": EVIL, "qty": 2, "barcodes": ["4006381333931"]}]}]);
    std::fs::write(dir.join("orders.json"), orders.to_string()).unwrap();
    let extra = format!(
        "[http]\nlisten = \"127.0.0.1:{port}\"\n\n[orders]\npreload = \"orders.json\"\n\n\
         [[operator]]\nbadge = \"OP:0666\"\nname = {}\n",
        serde_json::to_string(EVIL).unwrap()
    );
    let text = std::fs::read_to_string(&s.config).unwrap() + &extra;
    std::fs::write(&s.config, text).unwrap();
    let mut daemon = s.spawn();
    daemon.wait_started();
    wait_http(port);
    for code in ["OP:0666", "SO-9", EVIL] {
        daemon.scan(code);
        daemon.expect_line();
    }
    let screen = support::open_screen(&format!("http://127.0.0.1:{port}/"), "live · updated ", None);
    let dom = &screen.dom;
    // The page's script ran (it stamps the footer) and drew the hostile text as text.
    assert!(screen.found, "the page's script did not run:\n{dom}");
    let shown = "&lt;!--&lt;script&gt;&amp;amp;&lt;/script&gt;&lt;i id=x&gt;\u{2028}";
    for place in [
        format!("<b id=\"operator\" dir=\"auto\">{shown} (packer)</b>"),
        format!("<td dir=\"auto\">{shown} {shown}</td>"),
        "<span id=\"order-id\" dir=\"auto\">SO-9</span>".to_string(),
    ] {
        assert!(dom.contains(&place), "{place} not in the page:\n{dom}");
    }
    let feedback = dom.split("id=\"result-text\"").nth(1).unwrap_or("");
    assert!(feedback.contains("&lt;!--&lt;script&gt;"), "the scanned text is not shown as text:\n{dom}");
    assert!(!dom.contains("<i id=\"x\">"), "hostile markup became an element:\n{dom}");
}

#[test]
fn silent_connections_are_closed_and_connections_and_streams_are_capped() {
    use std::io::{Read, Write};
    let port = free_port();
    let limits = "max_connections = 4\nmax_streams = 2\nheader_timeout = \"300ms\"\nidle_timeout = \"1s\"\n";
    let station = station(port, limits);
    let _daemon = station.spawn();
    wait_http(port);
    let connect = || {
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c
    };
    // Closed by the server: EOF (or a reset) within `within`.
    let closed_within = |c: &mut std::net::TcpStream, within: Duration| {
        let t = std::time::Instant::now();
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the server answered instead of closing");
        assert!(t.elapsed() < within, "closed only after {:?}", t.elapsed());
    };

    // A connection that sends nothing, and one that sends half a request, are closed after
    // the header timeout.
    let mut silent = connect();
    let mut half = connect();
    half.write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0").unwrap();
    closed_within(&mut silent, Duration::from_secs(2));
    closed_within(&mut half, Duration::from_secs(2));

    // Four connections are served; a fifth is closed at once.
    let mut held: Vec<_> = (0..4).map(|_| connect()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut fifth = connect();
    closed_within(&mut fifth, Duration::from_millis(200));
    held.clear();
    std::thread::sleep(Duration::from_millis(400));

    // Two live streams at once; a third is answered 503 with what to do.
    let mut streams: Vec<_> = (0..2)
        .map(|_| {
            let mut c = connect();
            c.write_all(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            let mut head = [0u8; 12];
            c.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200");
            c
        })
        .collect();
    let (status, body) = http_get(port, "/api/stream", &[]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("too many live streams") && body.contains("max_streams"), "{body}");
    let (_, metrics) = http_get(port, "/metrics", &[]);
    assert!(metrics.lines().any(|l| l == "stationd_http_streams 2"), "{metrics}");
    assert!(
        metrics.lines().any(|l| l.starts_with("stationd_http_connections_refused_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
    // Streams that are read keep flowing (one whose client stops reading is closed after the
    // idle timeout once its socket buffers are full: src/http/server.rs tests).
    let mut buf = [0u8; 4096];
    for s in &mut streams {
        assert!(s.read(&mut buf).unwrap() > 0, "a live stream that is read keeps flowing");
    }
}

/// The packers of the language tests: one per shipped language, with an order of their own.
const PACKERS: [(&str, &str, &str, &str); 6] = [
    ("en", "OP:0101", "Sam Taylor", "Mug, red 330 ml"),
    ("de", "OP:0102", "Jürgen Weiß", "Tasse rot 330 ml"),
    ("pl", "OP:0103", "Małgorzata Wiśniewska", "Kubek czerwony 330 ml"),
    ("es", "OP:0104", "José Núñez", "Taza roja 330 ml"),
    ("cs", "OP:0105", "Jiří Dvořák", "Hrnek červený 330 ml"),
    ("zh-CN", "OP:0106", "王芳", "红色马克杯 330 毫升"),
];

/// SO-1 … SO-6, each with a line in its packer's language.
fn packers_orders() -> String {
    let orders = PACKERS.iter().enumerate().map(|(i, (_, _, _, mug))| {
        serde_json::json!({"id": format!("SO-{}", i + 1), "state": "picked", "carrier": "DHL", "lines": [
            {"line": 1, "sku": "MUG-RED", "name": mug, "qty": 2, "barcodes": ["4006381333931"]},
            {"line": 2, "sku": "LID-01", "name": "Lid", "qty": 1, "barcodes": ["96385074"]}]})
    });
    serde_json::Value::Array(orders.collect()).to_string()
}

fn packers_config() -> String {
    let entries = PACKERS.iter().map(|(locale, badge, name, _)| {
        format!("[[operator]]\nbadge = \"{badge}\"\nname = \"{name}\"\nlocale = \"{locale}\"\n")
    });
    entries.collect::<Vec<_>>().join("\n")
}

/// What a station in `locale` says to a wrong item scanned for `order`.
fn wrong_item(locale: stationd::locale::Locale, order: &str) -> String {
    use stationd::locale::{render, Arg, Message};
    let args = vec![("code", Arg::Text("5012345678900".into())), ("order", Arg::Text(order.into()))];
    render(locale, &Message { key: "wrong-item", args })
}

/// A German station's page is German from its first byte; then each packer's badge turns the
/// open screen to their language at once — `<html lang>`, the page's own words, the order's
/// state and the last result — without reloading. With `STATIOND_SCREENSHOTS=docs/screens`
/// it saves the screen of each language there (`screen-<lang>.png`, the docs' pictures).
#[test]
fn the_screen_speaks_the_language_in_force_and_switches_with_each_packers_badge() {
    use stationd::locale::{screen_texts, Locale};
    let port = free_port();
    let station = station_with(port, &packers_orders(), "locale = \"de\"\n", &packers_config());
    let mut daemon = station.spawn();
    daemon.wait_started();
    wait_http(port);
    let (status, page) = http_get(port, "/", &[]);
    assert_eq!(status, 200);
    assert!(page.starts_with("<!doctype html>\n<html lang=\"de\">"), "the first paint is German:\n{page}");

    let mut browser = support::Browser::open(&format!("http://127.0.0.1:{port}/"), false);
    let first = browser.wait_for("live · ", None, false);
    assert!(first.found, "the live stream did not reach the page:\n{}\n{:#?}", first.dom, first.logged);
    assert!(first.dom.contains("<div id=\"result-text\" dir=\"auto\">Ausweis scannen</div>"), "{}", first.dom);
    assert!(first.dom.contains("<th data-t=\"col-item\">Artikel</th>"), "{}", first.dom);

    let shots = std::env::var_os("STATIOND_SCREENSHOTS").map(std::path::PathBuf::from);
    for (i, (tag, badge, name, mug)) in PACKERS.into_iter().enumerate() {
        let locale = Locale::parse(tag).unwrap();
        let order = format!("SO-{}", i + 1);
        for code in [badge, &order, "4006381333931", "5012345678900"] {
            daemon.scan(code);
            daemon.expect_line();
        }
        let reason = wrong_item(locale, &order);
        let shot = shots
            .as_ref()
            .map_or_else(|| station.tmp.path().join("screen.png"), |d| d.join(format!("screen-{tag}.png")));
        let screen = browser.wait_for(&reason, Some(&shot), false);
        let dom = &screen.dom;
        assert!(screen.found, "{tag}: the wrong item's reason {reason:?} is not shown:\n{dom}");
        assert!(
            screen.logged.iter().all(|l| !l.starts_with("pageerror") && !l.contains("Content Security")),
            "{:#?}",
            screen.logged
        );
        let words = screen_texts(locale);
        for expected in [
            format!("<html lang=\"{tag}\">"),
            format!("<th data-t=\"col-item\">{}</th>", words["col-item"]),
            format!("<h2 data-t=\"alerts\">{}</h2>", words["alerts"]),
            format!("<span data-t=\"backlog\">{}</span>", words["backlog"]),
            format!("<b id=\"operator\" dir=\"auto\">{name} ({})</b>", words["operator-packer"]),
            format!("<div id=\"result-kind\">{}: wrong_item</div>", words["verdict-error"]),
            format!("<span id=\"order-state\" class=\"state packing\">{}</span>", words["state-packing"]),
            format!("<td dir=\"auto\">MUG-RED {mug}</td>"),
            format!("<span id=\"updated\" data-t=\"connecting\">{} · ", words["live"]),
        ] {
            assert!(dom.contains(&expected), "{tag}: {expected} not on the screen:\n{dom}");
        }
        assert!(shot.exists(), "{tag}: no screenshot");
    }
}

/// Every verdict sounds once as it arrives — a good scan a short high beep, a wrong one a low
/// double buzz — never again on the refreshes that follow; the screen's button mutes it; and
/// `[http] sounds = false` keeps a station silent. (The test's browser records the
/// oscillators the page starts; the page has nothing for it.)
#[test]
fn each_new_verdict_plays_its_own_sound_once_unless_muted_or_turned_off() {
    let tones = |t: &[(&str, u32)]| t.iter().map(|(w, f)| (w.to_string(), *f)).collect::<Vec<_>>();
    let (ok, error) = (tones(&[("sine", 1320)]), tones(&[("square", 160), ("square", 160)]));
    let port = free_port();
    let loud = station(port, "");
    let mut daemon = loud.spawn();
    daemon.wait_started();
    wait_http(port);
    let mut browser = support::Browser::open(&format!("http://127.0.0.1:{port}/"), false);
    let opened = browser.wait_for("live · ", None, false);
    assert!(opened.found && opened.sounds.is_empty(), "{:?}\n{}", opened.sounds, opened.dom);
    assert!(opened.dom.contains("<button id=\"mute\" type=\"button\" class=\"\">sound on</button>"), "{}", opened.dom);

    let scan = |daemon: &mut support::Daemon, browser: &mut support::Browser, code: &str, shows: &str| {
        daemon.scan(code);
        daemon.expect_line();
        let screen = browser.wait_for(shows, None, false);
        assert!(screen.found, "{shows} not shown:\n{}", screen.dom);
        screen.sounds
    };
    let (d, b) = (&mut daemon, &mut browser);
    assert_eq!(scan(d, b, "OP:0017", "OP:0017 (packer)"), ok, "a login is a good scan");
    assert_eq!(scan(d, b, "5012345678900", "was not used: scan an order first"), error);
    assert_eq!(scan(d, b, "SO-1", "for packing (0/3 items)"), ok);
    assert_eq!(scan(d, b, "5012345678900", "5012345678900 is not on order SO-1"), error);
    assert_eq!(scan(d, b, "4006381333931", "item.verified MUG-RED line 1 (1/2)"), ok);
    // The live stream re-sends the status every 2 s: the same verdict does not sound again.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(b.wait_for("live · ", None, false).sounds, []);

    let muted = b.click("#mute", "class=\"off\">sound off</button>");
    assert!(muted.found, "the button does not mute:\n{}", muted.dom);
    assert_eq!(scan(d, b, "5012345678900", "error: wrong_item"), [], "muted");
    drop(browser);
    drop(daemon);

    let port = free_port();
    let silent = station(port, "sounds = false\n");
    let mut daemon = silent.spawn();
    daemon.wait_started();
    wait_http(port);
    let mut browser = support::Browser::open(&format!("http://127.0.0.1:{port}/"), false);
    assert!(browser.wait_for("live · ", None, false).dom.contains("<button id=\"mute\" type=\"button\" hidden=\"\""));
    for code in ["OP:0017", "SO-1", "5012345678900"] {
        daemon.scan(code);
        daemon.expect_line();
    }
    let screen = browser.wait_for("5012345678900 is not on order SO-1", None, false);
    assert!(screen.found && screen.sounds.is_empty(), "a station with sounds = false played {:?}", screen.sounds);
}

/// The page's own words in a pseudo-locale (the English ones accented, about 40% longer,
/// bracketed: tests/browser/screen.mjs), a Polish station's results and long names and items:
/// at the kiosk's 1024×600 nothing spills out of its box — long texts wrap or end in "…".
#[test]
fn the_screen_holds_texts_longer_than_english_at_1024_by_600() {
    let port = free_port();
    let long = "Kubek ceramiczny czerwony z uchem, pojemność 330 ml, do mycia w zmywarce (zestaw 6 sztuk)";
    let orders = serde_json::json!([{"id": "SO-2024-000123456", "state": "picked", "carrier": "DHL", "lines": [
        {"line": 1, "sku": "KUBEK-CZERWONY-330-ZESTAW-6", "name": long, "qty": 120, "barcodes": ["4006381333931"]},
        {"line": 2, "sku": "POKRYWKA-01", "name": "Pokrywka silikonowa", "qty": 1, "barcodes": ["96385074"]}]}]);
    let operator = "[[operator]]\nbadge = \"OP:0017\"\nname = \"Małgorzata Wiśniewska-Konstantynowicz\"\n";
    let station = station_with(port, &orders.to_string(), "locale = \"pl\"\n", operator);
    let mut daemon = station.spawn();
    daemon.wait_started();
    wait_http(port);
    for code in ["OP:0017", "SO-2024-000123456", "4006381333931", "5012345678900"] {
        daemon.scan(code);
        daemon.expect_line();
    }
    let mut browser = support::Browser::open(&format!("http://127.0.0.1:{port}/"), true);
    let shot = station.tmp.path().join("pseudo.png");
    let screen = browser.wait_for("nie ma w zamówieniu SO-2024-000123456", Some(&shot), true);
    if let Some(dest) = std::env::var_os("STATIOND_PSEUDO_SCREENSHOT") {
        std::fs::copy(&shot, dest).unwrap();
    }
    assert!(screen.found, "{}", screen.dom);
    assert!(screen.dom.contains("<th data-t=\"col-item\">[ííţéém]</th>"), "not the pseudo-locale:\n{}", screen.dom);
    assert!(screen.overflow.is_empty(), "overflowing at 1024×600:\n{:#?}", screen.overflow);
}
