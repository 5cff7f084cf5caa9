//! HTTP for tests: an order system to look orders up from, and a plain GET.

#![allow(dead_code)]

use super::*;

/// An HTTP order system on loopback: per path, a list of answers used in turn (the last
/// one repeats). Its `Date` header is `clock_offset` seconds off real time.
pub struct OrderSystem {
    pub url: String,
    pub hits: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl OrderSystem {
    pub fn start(answers: Vec<(&str, Vec<Answer>)>, clock_offset: i64) -> OrderSystem {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let plan: std::collections::HashMap<String, Vec<Answer>> =
            answers.into_iter().map(|(p, a)| (p.to_string(), a)).collect();
        let plan = std::sync::Arc::new(std::sync::Mutex::new(plan));
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (plan, hits) = (plan.clone(), h.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut request = String::new();
                    if reader.read_line(&mut request).is_err() {
                        return;
                    }
                    let path = request.split_whitespace().nth(1).unwrap_or("").split('?').next().unwrap().to_string();
                    let mut auth = String::new();
                    loop {
                        let mut l = String::new();
                        if reader.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                            break;
                        }
                        if l.to_ascii_lowercase().starts_with("authorization:") {
                            auth = l.trim().to_string();
                        }
                    }
                    hits.lock().unwrap().push(format!("{path} {auth}"));
                    let answer = {
                        let mut plan = plan.lock().unwrap();
                        match plan.get_mut(&path) {
                            Some(list) if list.len() > 1 => list.remove(0),
                            Some(list) => list[0].clone(),
                            None => Answer::Status(404),
                        }
                    };
                    let date = std::time::SystemTime::now()
                        .checked_add_signed(clock_offset)
                        .unwrap_or_else(std::time::SystemTime::now);
                    let (status, body) = match answer {
                        Answer::Stall => {
                            std::thread::sleep(Duration::from_secs(30));
                            return;
                        }
                        Answer::Status(s) => (s, String::new()),
                        Answer::Json(v) => (200, v.to_string()),
                        Answer::Text(t) => (200, t),
                    };
                    let mut conn = conn;
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nDate: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len(),
                        httpdate::fmt_http_date(date)
                    );
                });
            }
        });
        OrderSystem { url, hits }
    }
}

trait AddSigned {
    fn checked_add_signed(self, secs: i64) -> Option<std::time::SystemTime>;
}

impl AddSigned for std::time::SystemTime {
    fn checked_add_signed(self, secs: i64) -> Option<std::time::SystemTime> {
        if secs >= 0 {
            self.checked_add(Duration::from_secs(secs as u64))
        } else {
            self.checked_sub(Duration::from_secs(secs.unsigned_abs()))
        }
    }
}

/// A plain HTTP/1.1 GET on loopback: (status, body). `headers` are extra header lines.
pub fn http_get(port: u16, path: &str, headers: &[&str]) -> (u16, String) {
    try_http_get(port, path, headers, Duration::from_secs(10)).expect("an answer from the http server")
}

/// [`http_get`] that gives up after `timeout` (connect and answer) instead of panicking.
/// A `Host` header among `headers` replaces the default `Host: 127.0.0.1`.
pub fn try_http_get(port: u16, path: &str, headers: &[&str], timeout: Duration) -> std::io::Result<(u16, String)> {
    try_http_exchange(port, path, headers, timeout).map(|a| (a.status, a.body))
}

/// An answer with its head: the status, the header lines (names lower case) and the body.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    /// Every value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// [`http_get`] with the answer's headers.
pub fn http_exchange(port: u16, path: &str, headers: &[&str]) -> HttpAnswer {
    try_http_exchange(port, path, headers, Duration::from_secs(10)).expect("an answer from the http server")
}

fn try_http_exchange(port: u16, path: &str, headers: &[&str], timeout: Duration) -> std::io::Result<HttpAnswer> {
    use std::io::Read;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut c = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    c.set_read_timeout(Some(timeout))?;
    let host =
        if headers.iter().any(|h| h.to_ascii_lowercase().starts_with("host:")) { "" } else { "Host: 127.0.0.1\r\n" };
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(c, "GET {path} HTTP/1.1\r\n{host}Connection: close\r\n{extra}\r\n")?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    // Chunked bodies (axum's default for streams) are not used by these routes.
    Ok(HttpAnswer { status, headers, body: body.to_string() })
}
