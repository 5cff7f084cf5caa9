//! The station screen and the local API (`[http]`): a page for the station's display with
//! live updates, a JSON API, `/healthz` and Prometheus `/metrics`.
//!
//! # Design constraints
//! - Read-only: nothing here changes the station; it reads the workflow's view (a `watch`
//!   channel), the journal status, the uplink status, device states and the order store.
//! - Listens on loopback by default; off loopback the config requires a token file, and then
//!   every route but `/healthz` needs `Authorization: Bearer <token>` (or `?token=` for the
//!   page and its live stream, which a browser cannot give headers); anything else is a bare
//!   401.
//! - The page and its script are embedded in the binary: no internet, no files to install.

mod metrics;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::journal::Journal;
use crate::orders::OrderStore;
use crate::print::Printing;
use crate::service::Heartbeat;
use crate::station::View;
use crate::uplink::{DeviceStates, SharedStatus};

const PAGE: &str = include_str!("page.html");
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
}

/// Starts the server; returns once it listens (so a bad address is a start-up error).
pub async fn serve(
    cfg: &crate::config::HttpConfig,
    sources: Sources,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, String> {
    let token = crate::config::read_token("[http]", cfg.token_file.as_deref())?;
    let app = App { sources: Arc::new(sources), token: token.map(Arc::from) };
    let router = Router::new()
        .route("/", get(page))
        .route("/api/status", get(status))
        .route("/api/stream", get(stream))
        .route("/api/orders/{id}", get(order))
        .route("/api/devices", get(devices))
        .route("/api/queue", get(queue))
        .route("/metrics", get(metrics::render))
        .route_layer(middleware::from_fn_with_state(app.clone(), authorize))
        .route("/healthz", get(healthz))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("[http] cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    info!(url = %format!("http://{addr}/"), "station screen and API listening");
    Ok(tokio::spawn(async move {
        let served = axum::serve(listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await });
        if let Err(e) = served.await {
            warn!(error = %e, "http server stopped");
        }
    }))
}

/// Bearer token (or `?token=`) when one is configured; a bare 401 otherwise.
async fn authorize(State(app): State<App>, headers: HeaderMap, req: Request, next: Next) -> Response {
    let Some(token) = &app.token else { return next.run(req).await };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query =
        req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")).map(|t| t.to_string()));
    let given = bearer.map(str::to_string).or(query);
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => next.run(req).await,
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The page, with the current status in it (so it shows at once, also to a browser that
/// takes a snapshot on load). `</` is escaped so no text in the status can end the script.
async fn page(State(app): State<App>) -> Html<String> {
    let doc = snapshot(&app.sources).await.to_string().replace("</", "<\\/");
    Html(PAGE.replacen("/*INITIAL*/null", &doc, 1))
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
/// [`REFRESH`] for the rest.
async fn stream(State(app): State<App>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let sources = app.sources.clone();
    let view = sources.view.clone();
    let updates = futures_util::stream::unfold((sources, view, true), |(s, mut view, first)| async move {
        if !first {
            // Either the view changed or it is time to refresh the rest.
            let _ = tokio::time::timeout(REFRESH, view.changed()).await;
        }
        let doc = snapshot(&s).await;
        let event = Event::default().event("status").data(doc.to_string());
        Some((Ok(event), (s, view, false)))
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
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
