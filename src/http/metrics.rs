//! `/metrics` in the Prometheus text format: backlog and its age, journal size, publishes,
//! acks and reconnects (rates come from the counters), the command subscription, scans by result, print jobs by state,
//! device states, orders by state, the workflow heartbeat, clock skew and the HTTP side's
//! own connections.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::App;

struct Out(String);

impl Out {
    fn help(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn value(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        let labels: Vec<String> = labels.iter().map(|(k, val)| format!("{k}=\"{}\"", escape(val))).collect();
        let labels = if labels.is_empty() { String::new() } else { format!("{{{}}}", labels.join(",")) };
        let _ = writeln!(self.0, "{name}{labels} {v}");
    }

    fn metric(&mut self, name: &str, kind: &str, help: &str, v: f64) {
        self.help(name, kind, help);
        self.value(name, &[], v);
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

pub(super) async fn render(State(app): State<App>) -> impl IntoResponse {
    let s = &app.sources;
    let mut out = Out(String::with_capacity(4096));
    let j = s.journal.clone();
    if let Ok(Ok(q)) = tokio::task::spawn_blocking(move || j.status()).await {
        out.metric(
            "stationd_backlog_events",
            "gauge",
            "Events journaled and not yet acknowledged by the broker.",
            q.pending as f64,
        );
        out.metric(
            "stationd_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest event not yet acknowledged (0 when none).",
            q.oldest_pending_age_seconds.unwrap_or(0.0),
        );
        out.metric("stationd_journal_stored_bytes", "gauge", "Bytes of stored event records.", q.stored_bytes as f64);
        out.metric(
            "stationd_journal_max_bytes",
            "gauge",
            "journal.max_bytes: new work is refused beyond it.",
            q.max_bytes as f64,
        );
        if let Some(free) = q.disk_free {
            out.metric(
                "stationd_journal_disk_free_bytes",
                "gauge",
                "Free bytes on the journal's filesystem; below journal.min_free new scans are refused.",
                free as f64,
            );
        }
        out.metric(
            "stationd_journal_min_free_bytes",
            "gauge",
            "journal.min_free: free disk kept for the journal.",
            q.min_free as f64,
        );
        out.metric("stationd_journal_next_seq", "gauge", "The seq the next event will get.", q.next_seq as f64);
    }
    let h = s.journal.commit_latency();
    out.help(
        "stationd_journal_commit_seconds",
        "histogram",
        "Journal commits (batch + flush + fdatasync): what a scan waits for before its beep.",
    );
    for (le, n) in &h.buckets {
        out.value("stationd_journal_commit_seconds_bucket", &[("le", &le.to_string())], *n as f64);
    }
    out.value("stationd_journal_commit_seconds_bucket", &[("le", "+Inf")], h.count as f64);
    out.value("stationd_journal_commit_seconds_sum", &[], h.sum_seconds);
    out.value("stationd_journal_commit_seconds_count", &[], h.count as f64);
    if let Some(u) = &s.uplink {
        let u = u.lock().expect("uplink status poisoned").clone();
        out.metric(
            "stationd_broker_connected",
            "gauge",
            "1 while connected to the broker.",
            f64::from(u8::from(u.state == "connected")),
        );
        out.metric(
            "stationd_published_total",
            "counter",
            "Event publishes sent, resends included.",
            u.published as f64,
        );
        out.metric("stationd_acked_total", "counter", "Events acknowledged by the broker.", u.acked as f64);
        out.metric("stationd_reconnects_total", "counter", "Broker reconnects.", u.reconnects as f64);
        out.metric(
            "stationd_drain_paced",
            "gauge",
            "1 while a packer scans and the backlog drains at [mqtt] drain_rate_in_use.",
            f64::from(u8::from(u.drain_paced)),
        );
        if let Some(c) = &u.commands {
            let granted = c.state == crate::uplink::subscription::SubscriptionState::Granted;
            out.help(
                "stationd_command_subscription_granted",
                "gauge",
                "1 when the broker granted the {prefix}/cmd/# subscription at QoS 1, 0 when it refused or downgraded it (label: the last SubAck's return code).",
            );
            let code = c.return_code.map_or_else(|| "none".to_string(), |c| c.to_string());
            let labels = [("topic", c.topic.as_str()), ("state", c.state.as_str()), ("return_code", code.as_str())];
            out.value("stationd_command_subscription_granted", &labels, f64::from(u8::from(granted)));
        }
        out.metric(
            "stationd_command_subscription_refusals_total",
            "counter",
            "SubAcks that refused (0x80) or downgraded (QoS 0) the command subscription.",
            u.command_subscription_refusals as f64,
        );
    }
    let view = s.view.borrow().clone();
    out.help("stationd_scans_total", "counter", "Scans answered, by result (ok or the refusal's code).");
    for (result, n) in &view.scan_results {
        out.value("stationd_scans_total", &[("result", result)], *n as f64);
    }
    out.help("stationd_orders", "gauge", "Cached orders not shipped or cancelled, by state.");
    for (state, n) in &view.orders_by_state {
        out.value("stationd_orders", &[("state", state)], *n as f64);
    }
    out.metric("stationd_orders_cached", "gauge", "Orders in the station's cache.", view.orders_cached as f64);
    out.metric(
        "stationd_clock_skew_seconds",
        "gauge",
        "Box clock minus the order system's or cloud's clock, when over 30 s (else 0).",
        view.clock_skew_ms.unwrap_or(0) as f64 / 1000.0,
    );
    out.metric(
        "stationd_workflow_heartbeat_age_seconds",
        "gauge",
        "Time since the workflow loop last ran (the watchdog and /healthz use it).",
        s.heartbeat.age().as_secs_f64(),
    );
    if let Some(p) = &s.printing {
        out.help("stationd_print_jobs", "gauge", "Print jobs kept (finished ones for 7 days), by state.");
        for (state, n) in p.store().counts() {
            out.value("stationd_print_jobs", &[("state", state)], n as f64);
        }
    }
    out.help("stationd_device_state", "gauge", "1 for each device's current state.");
    for (device, state) in s.devices.snapshot() {
        out.value(
            "stationd_device_state",
            &[("device", &device), ("kind", state.kind.as_str()), ("state", &state.state)],
            1.0,
        );
    }
    let c = &app.counters;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed) as f64;
    out.metric("stationd_http_connections", "gauge", "HTTP connections open now.", load(&c.open));
    out.metric(
        "stationd_http_connections_refused_total",
        "counter",
        "HTTP connections closed at accept because [http] max_connections were open.",
        load(&c.refused),
    );
    out.metric(
        "stationd_http_connections_idle_closed_total",
        "counter",
        "HTTP connections closed after moving no byte for [http] idle_timeout.",
        load(&c.closed_idle),
    );
    out.metric(
        "stationd_http_streams",
        "gauge",
        "Live streams (/api/stream) open now.",
        (app.max_streams - app.streams.available_permits()) as f64,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out.0)
}
