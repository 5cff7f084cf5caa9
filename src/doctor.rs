//! `stationd doctor`: checks a box the way an IT admin would, and says how to fix each
//! problem. Exit 0 only when nothing failed.
//!
//! Checks: the config, the journal folder (writable, free space, held by a running
//! daemon?), every configured device (present, permissions, printer status), the broker
//! (TCP, TLS and credentials, with its own client id so a running daemon is not kicked off),
//! the order system (answers HTTP with the token), the clock (against the order system's
//! `Date`), and the systemd unit. What this build cannot check is
//! reported as `skip`, never as `ok`.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use stationd_drivers::printer;

use crate::config::{Config, PrinterKind, ScannerKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub check: String,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do about it (empty when nothing is wrong).
    pub fix: String,
}

fn finding(check: impl Into<String>, verdict: Verdict, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding { check: check.into(), verdict, detail: detail.into(), fix: fix.into() }
}

/// Runs every check. A config that does not load is the only finding then.
pub async fn run(config_path: &Path) -> Vec<Finding> {
    let config = match Config::load(config_path) {
        Ok(c) => c,
        Err(errs) => {
            return vec![finding(
                "config",
                Verdict::Fail,
                errs.to_string(),
                format!("fix the lines above; `stationd check-config {}` repeats this check", config_path.display()),
            )]
        }
    };
    let mut out = vec![finding("config", Verdict::Ok, format!("{} is valid", config_path.display()), "")];
    out.extend(journal_folder(&config));
    for s in &config.scanners {
        out.push(scanner(s).await);
    }
    for p in &config.printers {
        out.push(printer_check(&config, p).await);
    }
    out.extend(brokers(&config).await);
    out.extend(order_system(&config).await);
    out.push(systemd_unit());
    out
}

fn journal_folder(config: &Config) -> Vec<Finding> {
    let dir = &config.journal.path;
    let mut out = Vec::new();
    let probe_dir = if dir.exists() { dir.clone() } else { dir.parent().map(Path::to_path_buf).unwrap_or_default() };
    let probe = probe_dir.join(".stationd-doctor");
    match std::fs::write(&probe, b"x") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            out.push(finding("journal folder", Verdict::Ok, format!("{} is writable", dir.display()), ""));
        }
        Err(e) => out.push(finding(
            "journal folder",
            Verdict::Fail,
            format!("cannot write to {}: {e}", probe_dir.display()),
            format!(
                "create it and give it to the service user: install -d -o stationd -g stationd -m 0750 {}",
                dir.display()
            ),
        )),
    }
    if dir.exists() {
        let open = crate::journal::permissions::too_open(dir);
        out.push(match open.first() {
            None => finding("journal privacy", Verdict::Ok, format!("{} is private to the service user and group", dir.display()), ""),
            Some((path, mode)) => finding(
                "journal privacy",
                Verdict::Warn,
                format!(
                    "{} entries under {} are open to other users (e.g. {} is mode {:04o}); they hold customer addresses",
                    open.len(),
                    dir.display(),
                    path.display(),
                    mode & 0o7777
                ),
                format!("chmod -R g-w,o-rwx {} (stationd also does this when it starts)", dir.display()),
            ),
        });
    }
    if let Some(free) = free_bytes(&probe_dir) {
        let need = config.journal.max_bytes.saturating_mul(2);
        let detail = format!(
            "{} free; the journal may use up to about {} (2 × journal.max_bytes)",
            bytesize::ByteSize(free),
            bytesize::ByteSize(need)
        );
        let verdict = if free >= need { Verdict::Ok } else { Verdict::Warn };
        let fix = if verdict == Verdict::Ok { String::new() } else { "free space or lower journal.max_bytes".into() };
        out.push(finding("disk space", verdict, detail, fix));
    }
    let lock = dir.join("journal.lock");
    if let Ok(f) = std::fs::OpenOptions::new().read(true).write(true).open(&lock) {
        if let Err(std::fs::TryLockError::WouldBlock) = f.try_lock() {
            let pid = std::fs::read_to_string(&lock).unwrap_or_default();
            out.push(finding(
                "daemon",
                Verdict::Ok,
                format!("stationd is running (pid {}) and holds the journal", pid.trim()),
                "",
            ));
        } else {
            out.push(finding(
                "daemon",
                Verdict::Warn,
                "no stationd process holds the journal",
                "start it: systemctl start stationd",
            ));
        }
    }
    out
}

fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs on a valid C string with a zeroed out-struct.
    unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        (libc::statvfs(c.as_ptr(), &mut s) == 0).then(|| s.f_bavail as u64 * s.f_frsize as u64)
    }
}

/// Read and write access for this process (run doctor as the service user to see theirs).
fn device_access(check: String, path: &Path, group_hint: &str) -> Finding {
    use std::os::unix::ffi::OsStrExt;
    if !path.exists() {
        return finding(
            check,
            Verdict::Fail,
            format!("{} does not exist (unplugged, or another by-id name?)", path.display()),
            "plug it in; `stationd devices` lists what is there",
        );
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
    // SAFETY: access(2) on a valid C string.
    let rw = unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) } == 0;
    if rw {
        finding(check, Verdict::Ok, format!("{} is present and accessible", path.display()), "")
    } else {
        finding(
            check,
            Verdict::Fail,
            format!("{} is present but not readable and writable by this user", path.display()),
            format!("add the service user to group {group_hint} (systemd/udev/60-stationd.rules)"),
        )
    }
}

async fn tcp_reachable(address: &str) -> Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("cannot connect to {address}: {e}")),
        Err(_) => Err(format!("no answer from {address} within 2 s")),
    }
}

async fn scanner(s: &crate::config::ScannerConfig) -> Finding {
    let check = format!("scanner {}", s.name);
    match &s.kind {
        ScannerKind::Serial { path, .. } => device_access(check, path, "dialout"),
        ScannerKind::Hid { path } => device_access(check, path, "input"),
        ScannerKind::Tcp { address, listen: false } => match tcp_reachable(address).await {
            Ok(()) => finding(check, Verdict::Ok, format!("{address} answers"), ""),
            Err(e) => finding(check, Verdict::Fail, e, "check the scanner's network settings and power"),
        },
        ScannerKind::Tcp { address, listen: true } => finding(
            check,
            Verdict::Skip,
            format!("listens on {address}; the scanner connects when it has something to send"),
            "",
        ),
        ScannerKind::Stdin { .. } => finding(check, Verdict::Skip, "stdin scanner (demo/tests)", ""),
    }
}

async fn printer_check(config: &Config, p: &crate::config::PrinterConfig) -> Finding {
    let check = format!("printer {}", p.name);
    let printers = match crate::print::printers_from_config(config) {
        Ok(ps) => ps,
        Err(e) => return finding(check, Verdict::Fail, e, "fix the [[printer]] entry"),
    };
    let Some(cp) = printers.into_iter().find(|c| c.spec.name == p.name) else {
        return finding(check, Verdict::Fail, "not configured", "");
    };
    if let PrinterKind::Serial { path, .. } = &p.kind {
        let access = device_access(check.clone(), path, "dialout");
        if access.verdict != Verdict::Ok {
            return access;
        }
    }
    let status = printer::status(&cp.spec).await;
    if status.is_ready() {
        finding(check, Verdict::Ok, format!("answers: {status}"), "")
    } else {
        let fix = match status.state() {
            "offline" => "check power, cable / network address, and (USB) the udev rule for group lp",
            "paper_out" => "load paper",
            "cover_open" | "head_open" => "close the cover / print head",
            "ribbon_out" => "load a ribbon",
            _ => "see the printer's display",
        };
        finding(check, Verdict::Fail, format!("printer is {status}"), fix)
    }
}

/// One finding per broker in `[mqtt] url`/`urls`: the station fails over between them, so
/// each must take its TLS and credentials.
async fn brokers(config: &Config) -> Vec<Finding> {
    let Some(m) = &config.mqtt else {
        return vec![finding("broker", Verdict::Skip, "no [mqtt] configured: events stay in the journal", "")];
    };
    let mut out = Vec::with_capacity(m.urls.len());
    for url in &m.urls {
        out.extend(broker(m, url).await);
    }
    out
}

/// The broker takes the connection (TLS, credentials) and grants the command subscription
/// at QoS 1 (its ACL lets the station's account read `{prefix}/cmd/#`): two findings when it
/// connects, one when it does not.
async fn broker(m: &crate::config::MqttConfig, url: &url::Url) -> Vec<Finding> {
    // Our own client id and a clean session: a running daemon keeps its connection.
    let mut cfg = m.clone();
    cfg.client_id = format!("{}-doctor", m.client_id);
    let mut options = match crate::uplink::tls::client_options(&cfg, url) {
        Ok(o) => o,
        Err(e) => return vec![finding("broker", Verdict::Fail, e.to_string(), "fix the file named above")],
    };
    options.set_clean_session(true);
    let (client, mut el) = rumqttc::AsyncClient::new(options, 10);
    el.network_options.set_connection_timeout(5);
    let result = tokio::time::timeout(Duration::from_secs(8), el.poll()).await;
    let url = url.as_str();
    let connected = match result {
        Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_)))) => {
            finding("broker", Verdict::Ok, format!("{url}: connected (TLS and credentials accepted)"), "")
        }
        Ok(Ok(other)) => finding("broker", Verdict::Fail, format!("{url}: unexpected answer {other:?}"), ""),
        Ok(Err(e)) => finding(
            "broker",
            Verdict::Fail,
            format!("{url}: {}", crate::uplink::describe_error(&e)),
            "check [mqtt] url/urls, ca_file, cert_file/key_file, username/password_file and the network path",
        ),
        Err(_) => finding(
            "broker",
            Verdict::Fail,
            format!("{url}: no answer within 8 s"),
            "check the network path and firewall",
        ),
    };
    if connected.verdict != Verdict::Ok {
        let _ = client.try_disconnect();
        return vec![connected];
    }
    let commands = command_subscription(&client, &mut el, &format!("{}/cmd/#", m.prefix), url).await;
    let _ = client.try_disconnect();
    vec![connected, commands]
}

/// Subscribes to the station's command topic as the station does (QoS 1) and judges the
/// SubAck: a broker ACL that refuses it leaves the station deaf to every command.
async fn command_subscription(
    client: &rumqttc::AsyncClient,
    el: &mut rumqttc::EventLoop,
    topic: &str,
    url: &str,
) -> Finding {
    use crate::uplink::subscription::{judge, SubscriptionState};
    if client.try_subscribe(topic, rumqttc::QoS::AtLeastOnce).is_err() {
        return finding("commands", Verdict::Skip, format!("{url}: could not send the subscription"), "");
    }
    let suback = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(ack))) => return Ok(ack),
                Ok(_) => {}
                Err(e) => return Err(crate::uplink::describe_error(&e)),
            }
        }
    })
    .await;
    let answer = match suback {
        Ok(Ok(ack)) => judge(topic, &ack.return_codes),
        Ok(Err(e)) => {
            return finding("commands", Verdict::Fail, format!("{url}: {e} after subscribing to {topic}"), "")
        }
        Err(_) => return finding("commands", Verdict::Warn, format!("{url}: no SubAck for {topic} within 5 s"), ""),
    };
    let detail = format!("{url}: {}", answer.describe());
    match answer.state {
        SubscriptionState::Granted => finding("commands", Verdict::Ok, detail, ""),
        SubscriptionState::Downgraded => finding("commands", Verdict::Warn, detail, answer.fix()),
        SubscriptionState::Refused | SubscriptionState::Unanswered => {
            finding("commands", Verdict::Fail, detail, answer.fix())
        }
    }
}

/// The order system answers HTTP (with the token), and the box clock agrees with its `Date`.
async fn order_system(config: &Config) -> Vec<Finding> {
    let no_clock = |why: &str| finding("clock", Verdict::Skip, format!("not checked: {why}"), "");
    let oms = match crate::oms::Oms::from_config(&config.orders) {
        Ok(Some(o)) => o,
        Ok(None) => {
            return vec![
                finding("order system", Verdict::Skip, "no [orders] url configured", ""),
                no_clock("the order system's HTTP Date is the time source, and none is configured"),
            ]
        }
        Err(e) => return vec![finding("order system", Verdict::Fail, e, "fix [orders]"), no_clock("no order system")],
    };
    let url = config.orders.url.as_ref().map(|u| u.to_string()).unwrap_or_default();
    let (status, remote) = match oms.probe().await {
        Ok(answer) => answer,
        Err(e) => {
            return vec![
                finding(
                    "order system",
                    Verdict::Fail,
                    format!("{url}: {e}"),
                    "check the network path; orders then come only over MQTT",
                ),
                no_clock("the order system did not answer"),
            ]
        }
    };
    let system = match status {
        401 | 403 => finding(
            "order system",
            Verdict::Fail,
            format!("{url} answers {status}: the token is refused"),
            "put the right token in [orders] token_file",
        ),
        500.. => {
            finding("order system", Verdict::Warn, format!("{url} answers {status}"), "ask the order system's team")
        }
        _ => finding("order system", Verdict::Ok, format!("{url} answers HTTP {status}"), ""),
    };
    let clock = match remote {
        None => no_clock("the order system's answer has no Date header"),
        Some(remote) => {
            let skew = (time::OffsetDateTime::now_utc() - remote).whole_milliseconds() as f64 / 1000.0;
            let detail = format!(
                "box clock is {:.0} s {} the order system's",
                skew.abs(),
                if skew >= 0.0 { "ahead of" } else { "behind" }
            );
            if skew.abs() * 1000.0 > crate::station::SKEW_LIMIT_MS as f64 {
                finding(
                    "clock",
                    Verdict::Fail,
                    detail,
                    "enable time sync: `timedatectl set-ntp true` (events are stamped with the box clock)",
                )
            } else {
                finding("clock", Verdict::Ok, detail, "")
            }
        }
    };
    vec![system, clock]
}

fn systemd_unit() -> Finding {
    if !Path::new("/run/systemd/system").is_dir() {
        return finding("systemd unit", Verdict::Skip, "this box does not run systemd", "");
    }
    match std::process::Command::new("systemctl").args(["is-active", "stationd"]).output() {
        Ok(o) => {
            let state = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if state == "active" {
                finding("systemd unit", Verdict::Ok, "stationd.service is active", "")
            } else {
                finding(
                    "systemd unit",
                    Verdict::Fail,
                    format!("stationd.service is {state}"),
                    "systemctl enable --now stationd; journalctl -u stationd shows why it stopped",
                )
            }
        }
        Err(e) => finding("systemd unit", Verdict::Skip, format!("systemctl not usable: {e}"), ""),
    }
}

/// Prints findings; returns the exit code (0 only when nothing failed).
pub fn report(findings: &[Finding], json: bool) -> i32 {
    let failed = findings.iter().any(|f| f.verdict == Verdict::Fail);
    if json {
        println!("{}", serde_json::json!({ "ok": !failed, "findings": findings }));
    } else {
        for f in findings {
            let tag = match f.verdict {
                Verdict::Ok => "ok  ",
                Verdict::Warn => "warn",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "skip",
            };
            println!("{tag}  {:<20} {}", f.check, f.detail);
            if !f.fix.is_empty() {
                println!("      {:<20} fix: {}", "", f.fix);
            }
        }
        println!("{}", if failed { "some checks failed" } else { "all checks passed" });
    }
    if failed {
        crate::process::EXIT_CONFIG
    } else {
        crate::process::EXIT_OK
    }
}
