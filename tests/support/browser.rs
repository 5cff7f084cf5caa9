//! The station screen in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/browser/screen.mjs`), at the kiosk's 1024×600. A [`Browser`] keeps one page open
//! while the test scans, so the page sees each verdict arrive as the kiosk does.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

/// What the page showed once it contained `wait_for` (or after 15 s without it).
#[derive(Debug)]
pub struct Screen {
    /// Whether the page came to contain `wait_for`.
    pub found: bool,
    pub dom: String,
    /// Console messages and script errors since the last answer, `type: text` (CSP
    /// violations among them).
    pub logged: Vec<String>,
    /// The sounds the page started since the last answer: oscillator type and frequency (Hz).
    pub sounds: Vec<(String, u32)>,
    /// Elements whose text spills out of their box (when asked to check).
    pub overflow: Vec<String>,
}

/// A page open in headless Chromium.
pub struct Browser {
    child: Child,
    requests: Option<ChildStdin>,
    answers: BufReader<ChildStdout>,
}

impl Browser {
    /// Opens `url`; `pseudo` shows the page's own words in the driver's pseudo-locale.
    pub fn open(url: &str, pseudo: bool) -> Browser {
        let chromium = super::require_tool("chromium", "apt-get install -y chromium");
        let node = super::require_tool("node", "apt-get install -y nodejs npm");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        assert!(
            dir.join("node_modules/playwright-core").is_dir(),
            "playwright-core is missing: npm ci --prefix tests/browser (tests/ci.sh does it)"
        );
        let mut cmd = std::process::Command::new(node);
        cmd.arg(dir.join("screen.mjs")).arg(url).env("CHROMIUM", chromium);
        if pseudo {
            cmd.arg("--pseudo");
        }
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("run node");
        let requests = child.stdin.take();
        let answers = BufReader::new(child.stdout.take().expect("piped"));
        Browser { child, requests, answers }
    }

    /// Waits until the page contains `wait_for`; saves a screenshot when asked to, and with
    /// `fit` lists what overflows its box.
    pub fn wait_for(&mut self, wait_for: &str, screenshot: Option<&Path>, fit: bool) -> Screen {
        self.request(serde_json::json!({ "wait_for": wait_for, "screenshot": screenshot, "fit": fit }))
    }

    /// Clicks (touches) the element `selector`, then waits until the page contains `wait_for`.
    pub fn click(&mut self, selector: &str, wait_for: &str) -> Screen {
        self.request(serde_json::json!({ "click": selector, "wait_for": wait_for }))
    }

    fn request(&mut self, request: serde_json::Value) -> Screen {
        let stdin = self.requests.as_mut().expect("open");
        writeln!(stdin, "{request}").expect("the browser driver reads its requests");
        let mut line = String::new();
        self.answers.read_line(&mut line).expect("read the browser driver");
        assert!(!line.is_empty(), "the browser driver stopped: {:?}", self.child.try_wait());
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
        let strings = |key: &str| -> Vec<String> {
            v[key].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(String::from)).collect()
        };
        let sounds = v["sounds"].as_array().into_iter().flatten();
        Screen {
            found: v["found"].as_bool().unwrap_or(false),
            dom: v["dom"].as_str().unwrap_or_default().to_string(),
            logged: strings("logged"),
            sounds: sounds.map(|s| (s[0].as_str().unwrap_or("").into(), s[1].as_u64().unwrap_or(0) as u32)).collect(),
            overflow: strings("overflow"),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End of input closes the browser and the driver exits; one that hangs is killed.
        drop(self.requests.take());
        let start = std::time::Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Opens `url` in headless Chromium and waits until its DOM contains `wait_for`; saves a
/// screenshot to `screenshot` when given.
pub fn open_screen(url: &str, wait_for: &str, screenshot: Option<&Path>) -> Screen {
    Browser::open(url, false).wait_for(wait_for, screenshot, false)
}
