//! The order system over HTTP (`[orders] url`): order lookups on a cache miss and carrier
//! label fetches. Both are bounded so the station never waits on them: a lookup tries
//! [`LOOKUP_ATTEMPTS`] times with a [`LOOKUP_TIMEOUT`] each; label fetches are limited per
//! carrier (concurrency and timeout), so one failing carrier never delays the others.
//!
//! Endpoints (relative to `url`): `GET orders/{id}` → the order object as `order-upsert`
//! carries it (or `{"order": {...}}`); `GET orders/{id}/label?carrier=C` → ZPL. The bearer
//! token comes from `token_file`. Every answer's `Date` header is a clock sample.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use crate::config::OrdersConfig;
use crate::station::OrderPayload;

pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
pub const LOOKUP_ATTEMPTS: u32 = 3;
/// Pause before the 2nd and 3rd attempt.
const LOOKUP_BACKOFF: [Duration; 2] = [Duration::from_millis(200), Duration::from_millis(600)];
/// Largest label accepted from the order system.
const MAX_LABEL_BYTES: usize = 512 * 1024;

/// Why an order could not be had: a stable code and words for the packer.
pub use crate::station::LookupError;

#[derive(Clone)]
pub struct Oms {
    http: reqwest::Client,
    base: url::Url,
    token: Option<String>,
    fetch_labels: bool,
    label_timeout: Duration,
    label_concurrency: usize,
    carriers: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Oms {
    /// From the config; `None` without `[orders] url`. The token file is read here.
    pub fn from_config(c: &OrdersConfig) -> Result<Option<Oms>, String> {
        let Some(url) = &c.url else { return Ok(None) };
        let token = crate::config::read_token("[orders]", c.token_file.as_deref())?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("stationd/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(LOOKUP_TIMEOUT)
            .build()
            .map_err(|e| format!("[orders] HTTP client: {e}"))?;
        let mut base = url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(Some(Oms {
            http,
            base,
            token,
            fetch_labels: c.fetch_labels,
            label_timeout: c.label_timeout,
            label_concurrency: c.label_concurrency.max(1) as usize,
            carriers: Arc::default(),
        }))
    }

    fn url(&self, segments: &[&str]) -> url::Url {
        let mut u = self.base.clone();
        if let Ok(mut p) = u.path_segments_mut() {
            p.pop_if_empty().extend(segments);
        }
        u
    }

    fn get(&self, url: url::Url) -> reqwest::RequestBuilder {
        let req = self.http.get(url);
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Asks the order system's base URL once: its HTTP status and clock (for `doctor`).
    pub async fn probe(&self) -> Result<(u16, Option<OffsetDateTime>), String> {
        match self.get(self.base.clone()).timeout(LOOKUP_TIMEOUT).send().await {
            Ok(r) => Ok((r.status().as_u16(), date_of(&r))),
            Err(e) if e.is_timeout() => Err(format!("no answer within {LOOKUP_TIMEOUT:?}")),
            Err(e) => Err(root_cause(&e)),
        }
    }

    /// Looks an order up; returns the validated order object and the server's clock.
    /// The clock comes with how stale it can be: the request's round trip plus the
    /// `Date` header's one-second resolution.
    pub async fn lookup(&self, id: &str) -> (Result<OrderPayload, LookupError>, Option<(OffsetDateTime, Duration)>) {
        let mut last: LookupError = LookupError::new("lookup_failed", "no attempt made");
        let mut clock = None;
        for attempt in 0..LOOKUP_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(LOOKUP_BACKOFF[(attempt - 1) as usize]).await;
            }
            let asked = std::time::Instant::now();
            let sent = self.get(self.url(&["orders", id])).timeout(LOOKUP_TIMEOUT).send().await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    last = LookupError::new(
                        "lookup_timeout",
                        format!("the order system did not answer within {LOOKUP_TIMEOUT:?}"),
                    );
                    continue;
                }
                Err(e) => {
                    last = LookupError::new(
                        "lookup_unreachable",
                        format!("the order system is unreachable: {}", root_cause(&e)),
                    );
                    continue;
                }
            };
            clock = date_of(&resp).map(|d| (d, asked.elapsed() + Duration::from_secs(1))).or(clock);
            let status = resp.status();
            if status == reqwest::StatusCode::NOT_FOUND {
                return (Err(LookupError::new("not_found", "the order system does not know it")), clock);
            }
            if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
                return (
                    Err(LookupError::new(
                        "lookup_unauthorized",
                        format!("the order system refused the token ({status})"),
                    )),
                    clock,
                );
            }
            if !status.is_success() {
                last = LookupError::new("lookup_failed", format!("the order system answered {status}"));
                continue;
            }
            let body = match tokio::time::timeout(LOOKUP_TIMEOUT, resp.bytes()).await {
                Ok(Ok(b)) => b,
                Ok(Err(e)) => {
                    last = LookupError::new("lookup_failed", format!("reading the answer: {}", root_cause(&e)));
                    continue;
                }
                Err(_) => {
                    last = LookupError::new(
                        "lookup_timeout",
                        format!("the answer did not arrive within {LOOKUP_TIMEOUT:?}"),
                    );
                    continue;
                }
            };
            return (parse_lookup(id, &body), clock);
        }
        (Err(last), clock)
    }

    /// Whether labels missing from orders are fetched here (`[orders] fetch_labels`).
    pub fn fetches_labels(&self) -> bool {
        self.fetch_labels
    }

    /// Fetches the carrier label of an order, within the carrier's limits.
    pub async fn fetch_label(&self, id: &str, carrier: &str) -> Result<Vec<u8>, String> {
        let permits = {
            let mut m = self.carriers.lock().expect("carrier limits lock");
            m.entry(carrier.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.label_concurrency))).clone()
        };
        let work = async {
            let _permit = permits.acquire().await.map_err(|e| e.to_string())?;
            let mut url = self.url(&["orders", id, "label"]);
            url.query_pairs_mut().append_pair("carrier", carrier);
            let resp = self.get(url).send().await.map_err(|e| root_cause(&e))?;
            if !resp.status().is_success() {
                return Err(format!("the order system answered {}", resp.status()));
            }
            let body = resp.bytes().await.map_err(|e| root_cause(&e))?;
            if body.len() > MAX_LABEL_BYTES {
                return Err(format!("label of {} bytes is over the {MAX_LABEL_BYTES}-byte limit", body.len()));
            }
            stationd_drivers::carrier_zpl::check(&body).map_err(|e| format!("refused: {e}"))?;
            Ok(body.to_vec())
        };
        match tokio::time::timeout(self.label_timeout, work).await {
            Ok(r) => r.map_err(|e| format!("{carrier} label: {e}")),
            Err(_) => Err(format!("{carrier} label: no answer within {:?}", self.label_timeout)),
        }
    }
}

/// The order in a lookup answer, validated like `order-upsert`.
fn parse_lookup(id: &str, body: &[u8]) -> Result<OrderPayload, LookupError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| LookupError::new("bad_order", format!("the order system sent no JSON: {e}")))?;
    let order = match v.get("order") {
        Some(o) if o.is_object() => o.clone(),
        _ => v,
    };
    let order =
        OrderPayload::parse(&order).map_err(|e| LookupError::new("bad_order", format!("the order system sent {e}")))?;
    if order.id != id {
        return Err(LookupError::new("bad_order", format!("asked for {id}, the order system sent {}", order.id)));
    }
    Ok(order)
}

fn date_of(resp: &reqwest::Response) -> Option<OffsetDateTime> {
    let raw = resp.headers().get(reqwest::header::DATE)?.to_str().ok()?;
    let t = httpdate::parse_http_date(raw).ok()?;
    Some(OffsetDateTime::from(t))
}

/// The innermost cause of an HTTP error ("connection refused"), not reqwest's wrapper text.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_answer_is_validated_like_an_upsert() {
        let good = br#"{"order":{"id":"SO-1","lines":[{"line":1,"sku":"A","qty":1}]}}"#;
        assert_eq!(parse_lookup("SO-1", good).unwrap().id, "SO-1");
        let bare = br#"{"id":"SO-1","lines":[{"line":1,"sku":"A","qty":1}]}"#;
        assert!(parse_lookup("SO-1", bare).is_ok());
        assert_eq!(parse_lookup("SO-2", bare).unwrap_err().code, "bad_order");
        let no_lines = br#"{"id":"SO-1","lines":[]}"#;
        assert_eq!(parse_lookup("SO-1", no_lines).unwrap_err().code, "bad_order");
        assert_eq!(parse_lookup("SO-1", b"<html>").unwrap_err().code, "bad_order");
    }
}
