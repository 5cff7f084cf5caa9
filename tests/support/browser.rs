//! The station screen in a real browser: Debian's Chromium driven by playwright-core
//! (`tests/browser/screen.mjs`), at the kiosk's 1024×600.

use std::path::Path;

/// What the page showed once it contained `wait_for` (or after 15 s without it).
#[derive(Debug)]
pub struct Screen {
    /// Whether the page came to contain `wait_for`.
    pub found: bool,
    pub dom: String,
    /// Console messages and script errors, `type: text` (CSP violations among them).
    pub logged: Vec<String>,
}

/// Opens `url` in headless Chromium and waits until its DOM contains `wait_for`; saves a
/// screenshot to `screenshot` when given.
pub fn open_screen(url: &str, wait_for: &str, screenshot: Option<&Path>) -> Screen {
    let chromium = super::require_tool("chromium", "apt-get install -y chromium");
    let node = super::require_tool("node", "apt-get install -y nodejs npm");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: npm ci --prefix tests/browser (tests/ci.sh does it)"
    );
    let mut cmd = std::process::Command::new(node);
    cmd.arg(dir.join("screen.mjs")).args([url, wait_for]).env("CHROMIUM", chromium);
    if let Some(s) = screenshot {
        cmd.arg(s);
    }
    let out = cmd.output().expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the browser failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    Screen {
        found: v["found"].as_bool().unwrap_or(false),
        dom: v["dom"].as_str().unwrap_or_default().to_string(),
        logged: v["logged"].as_array().into_iter().flatten().filter_map(|l| l.as_str().map(String::from)).collect(),
    }
}
