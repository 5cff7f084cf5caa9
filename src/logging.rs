//! Log output, on stderr (stdout is reserved for the packer's feedback lines):
//! - `human` (default): readable lines, colours only on a terminal;
//! - `json`: one JSON object per line for log shippers;
//! - `journald`: native journal entries with the structured fields (`station`, `device`,
//!   `seq`, ...) as journal fields. Chosen automatically under systemd when stderr is the
//!   journal (`JOURNAL_STREAM` names stderr) and `--log-format` was left at `human`.

use std::io::IsTerminal;

use tracing_subscriber::prelude::*;
use tracing_subscriber::EnvFilter;

/// Where and how logs are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines on stderr (native journald entries when stderr is the journal).
    Human,
    /// One JSON object per line on stderr.
    Json,
    /// Native journald entries.
    Journald,
}

pub fn init(format: LogFormat, level: &str) {
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let journald = format == LogFormat::Journald || (format == LogFormat::Human && stderr_is_journal());
    if journald {
        if let Ok(layer) = tracing_journald::layer() {
            let _ = tracing_subscriber::registry()
                .with(filter())
                .with(layer.with_syslog_identifier("stationd".into()))
                .try_init();
            return;
        }
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter()).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
        _ => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
    };
}

/// True when systemd connected stderr to the journal: `JOURNAL_STREAM` is `dev:inode` of it.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(var) = std::env::var("JOURNAL_STREAM") else { return false };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else { return false };
    journal_stream_matches(&var, meta.dev(), meta.ino())
}

fn journal_stream_matches(var: &str, dev: u64, ino: u64) -> bool {
    var.split_once(':').is_some_and(|(d, i)| d.parse() == Ok(dev) && i.parse() == Ok(ino))
}

#[cfg(test)]
mod tests {
    #[test]
    fn journal_stream_must_name_our_stderr() {
        assert!(super::journal_stream_matches("8:1234", 8, 1234));
        assert!(!super::journal_stream_matches("8:1234", 8, 99), "stderr redirected elsewhere");
        assert!(!super::journal_stream_matches("garbage", 8, 1234));
    }
}
