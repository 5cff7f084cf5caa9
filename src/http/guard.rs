//! What every request passes and what every response carries: the `Host` check, the bearer
//! token and the headers that tell a browser how to protect the screen.
//!
//! # Design constraints
//! - Exactly one `Host` naming this station (an IP address, `localhost` on loopback, or a
//!   name from `[http] hosts`): two `Host` headers are 400 (RFC 9112 §3.2; a proxy and the
//!   station could read different ones), a foreign name 421, so a page on another site that
//!   rebinds its DNS name to this box gets no orders. `/healthz` needs no `Host` and no token.
//! - With a token file, every other path, known or not, needs `Authorization: Bearer <token>`
//!   (or `?token=` for the page and its live stream, which a browser cannot give headers);
//!   anything else is a bare 401, never a 404 that tells an outsider which paths exist.
//! - Every response carries [`SECURITY_HEADERS`]: a Content-Security-Policy that runs only the
//!   page's own script and style (pinned by hash, [`super::page::CSP`]) and talks only to this
//!   origin, no framing by any page (`frame-ancestors 'none'`, `X-Frame-Options: DENY`), no
//!   `Referer` with the token in it, and no content sniffing.

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::App;

/// The headers set on every response (besides the CSP, which is made from the page).
pub const SECURITY_HEADERS: [(&str, &str); 3] =
    [("x-frame-options", "DENY"), ("referrer-policy", "no-referrer"), ("x-content-type-options", "nosniff")];

/// Sets the browser protections on whatever the inner layers answered (401 and 421 included).
pub async fn protect(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, super::page::CSP.clone());
    for (name, value) in SECURITY_HEADERS {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    response
}

/// `Host` first (400 for two, 421 for a name that is not this station's), then the bearer
/// token (or `?token=`) when one is configured (a bare 401). `/healthz` needs neither.
pub async fn check(State(app): State<App>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let mut hosts = headers.get_all(header::HOST).iter();
    let (host, second) = (hosts.next(), hosts.next());
    if second.is_some() {
        return (StatusCode::BAD_REQUEST, "a request must name the host once (two Host headers)\n").into_response();
    }
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    match host.map(|h| h.to_str().map(host_name)) {
        Some(Ok(host)) if host_allowed(&host, &app.hosts) => {}
        None => return (StatusCode::BAD_REQUEST, "a request must name the host (Host header)\n").into_response(),
        Some(_) => {
            let msg = "this Host is not a name of this station; add it to [http] hosts if it is\n";
            return (StatusCode::MISDIRECTED_REQUEST, msg).into_response();
        }
    }
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

/// The host part of a `Host` value, lower case, without port or trailing dot.
fn host_name(value: &str) -> String {
    let v = value.trim();
    let host = if let Some(rest) = v.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        v.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(v, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// An IP address is always this station's (a rebinding page always sends its own name);
/// a name must be one of the configured ones.
fn host_allowed(host: &str, names: &[String]) -> bool {
    host.parse::<std::net::IpAddr>().is_ok() || names.iter().any(|n| n == host)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
