//! The station screen and the local API (`[http]`): a page for the station's display with
//! live updates, a JSON API, `/healthz` and Prometheus `/metrics`.
//!
//! # Design constraints
//! - Read-only: nothing here changes the station; it reads the workflow's view (a `watch`
//!   channel), the journal status, the uplink status, device states and the order store.
//! - Listens on loopback by default; off loopback the config requires a token file. What
//!   every request must show (`Host`, the token) and the headers every response carries are
//!   [`guard`]'s.
//! - Nothing a client does here can starve scanning: connections, live streams and timeouts
//!   are capped ([`server`]).
//! - The page ([`page`]) is embedded in the binary with its words in every shipped language,
//!   and shows text from scans and orders as text, never markup.

mod guard;
mod metrics;
mod page;
mod server;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::devices::DeviceStates;
use crate::journal::Journal;
use crate::orders::OrderStore;
use crate::print::Printing;
use crate::service::Heartbeat;
use crate::station::View;
use crate::uplink::SharedStatus;

/// `/healthz` fails when the workflow loop has not beaten for this long.
const STALE: Duration = Duration::from_secs(5);
/// The live stream re-sends the status at least this often (backlog, broker, devices).
const REFRESH: Duration = Duration::from_secs(2);

/// What the routes read.
#[derive(Clone)]
pub struct Sources {
    pub station: String,
    pub journal: Journal,
    pub orders: OrderStore,
    pub view: watch::Receiver<View>,
    pub uplink: Option<SharedStatus>,
    pub devices: DeviceStates,
    pub printing: Option<Printing>,
    pub heartbeat: Heartbeat,
}

#[derive(Clone)]
struct App {
    sources: Arc<Sources>,
    token: Option<Arc<str>>,
    /// Names `Host` may carry besides IP addresses.
    hosts: Arc<[String]>,
    /// One permit per live stream (`[http] max_streams`).
    streams: Arc<Semaphore>,
    max_streams: usize,
    counters: Arc<server::Counters>,
    /// Whether the screen sounds its verdicts (`[http] sounds`).
    sounds: bool,
}

/// Starts the server; returns once it listens (so a bad address is a start-up error).
pub async fn serve(
    cfg: &crate::config::HttpConfig,
    sources: Sources,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, String> {
    let token = crate::config::read_token("[http]", cfg.token_file.as_deref())?;
    let mut hosts = cfg.hosts.iter().map(|h| h.trim_end_matches('.').to_ascii_lowercase()).collect::<Vec<_>>();
    if cfg.listen.ip().is_loopback() || cfg.listen.ip().is_unspecified() {
        hosts.push("localhost".into());
    }
    let app = App {
        sources: Arc::new(sources),
        token: token.map(Arc::from),
        hosts: hosts.into(),
        streams: Arc::new(Semaphore::new(cfg.max_streams)),
        max_streams: cfg.max_streams,
        counters: Arc::default(),
        sounds: cfg.sounds,
    };
    let router = Router::new()
        .route("/", get(page::page))
        .route("/api/status", get(status))
        .route("/api/stream", get(stream))
        .route("/api/orders/{id}", get(order))
        .route("/api/devices", get(devices))
        .route("/api/queue", get(queue))
        .route("/metrics", get(metrics::render))
        .route("/healthz", get(healthz))
        // A layer, not a route layer: unknown paths are checked too, so they answer 401
        // (or 421), never a 404 that tells an outsider which paths exist.
        .layer(middleware::from_fn_with_state(app.clone(), guard::check))
        .layer(middleware::from_fn(guard::protect))
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("[http] cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    info!(url = %format!("http://{addr}/"), max_connections = cfg.max_connections, "station screen and API listening");
    let limits = server::Limits {
        max_connections: cfg.max_connections,
        header_timeout: cfg.header_timeout,
        idle_timeout: cfg.idle_timeout,
    };
    Ok(tokio::spawn(server::serve(listener, router, limits, app.counters.clone(), shutdown)))
}

async fn healthz(State(app): State<App>) -> Response {
    let age = app.sources.heartbeat.age();
    let body = json!({ "ok": age < STALE, "workflow_heartbeat_ms": age.as_millis() as u64 });
    let code = if age < STALE { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

/// Everything the screen shows, in one document.
async fn snapshot(s: &Sources) -> Value {
    let j = s.journal.clone();
    let queue = tokio::task::spawn_blocking(move || j.status()).await;
    let queue = match queue {
        Ok(Ok(q)) => serde_json::to_value(q).unwrap_or_default(),
        Ok(Err(e)) => json!({ "error": e.to_string() }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    let uplink = match &s.uplink {
        Some(u) => serde_json::to_value(&*u.lock().expect("uplink status poisoned")).unwrap_or_default(),
        None => json!({ "state": "disabled" }),
    };
    json!({
        "station": s.station,
        "version": env!("CARGO_PKG_VERSION"),
        "workflow": *s.view.borrow(),
        "queue": queue,
        "uplink": uplink,
        "devices": s.devices.snapshot(),
    })
}

async fn status(State(app): State<App>) -> Json<Value> {
    Json(snapshot(&app.sources).await)
}

/// Server-sent events: the status whenever the station's view changes, and every
/// [`REFRESH`] for the rest. At most `max_streams` at once (each holds a permit); one more
/// is answered 503.
async fn stream(State(app): State<App>) -> Response {
    let Ok(permit) = app.streams.clone().try_acquire_owned() else {
        let msg =
            format!("too many live streams ({} open): close a screen, or raise [http] max_streams", app.max_streams);
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": msg }))).into_response();
    };
    let sources = app.sources.clone();
    let view = sources.view.clone();
    let state = (sources, view, true, permit);
    let updates = futures_util::stream::unfold(state, |(s, mut view, first, permit)| async move {
        if !first {
            // Either the view changed or it is time to refresh the rest.
            let _ = tokio::time::timeout(REFRESH, view.changed()).await;
        }
        let doc = snapshot(&s).await;
        let event = Event::default().event("status").data(doc.to_string());
        Some((Ok::<_, Infallible>(event), (s, view, false, permit)))
    });
    Sse::new(updates).keep_alive(KeepAlive::default()).into_response()
}

async fn order(State(app): State<App>, Path(id): Path<String>) -> Response {
    let store = app.sources.orders.clone();
    let found = tokio::task::spawn_blocking(move || store.get(&id).map(|o| (id, o))).await;
    match found {
        Ok(Ok((_, Some(o)))) => Json(serde_json::to_value(o).unwrap_or_default()).into_response(),
        Ok(Ok((id, None))) => {
            (StatusCode::NOT_FOUND, Json(json!({ "error": format!("order {id} is not cached at this station") })))
                .into_response()
        }
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() }))).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() }))).into_response(),
    }
}

async fn devices(State(app): State<App>) -> Json<Value> {
    Json(json!(app.sources.devices.snapshot()))
}

async fn queue(State(app): State<App>) -> Response {
    let j = app.sources.journal.clone();
    match tokio::task::spawn_blocking(move || j.status()).await {
        Ok(Ok(q)) => Json(serde_json::to_value(q).unwrap_or_default()).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() }))).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() }))).into_response(),
    }
}
