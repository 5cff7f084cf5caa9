//! The data of the events the station's own machinery reports: print jobs (`print.*`) and
//! the journal (`journal.recovered`, `journal.trimmed`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::parts::{Clock, SeqRange};
use super::vocab::Printout;

/// A print job changed state (`print.queued`, `.sent`, `.written`, `.confirmed`, `.failed`,
/// `.expired`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintJob {
    /// The job's id (a UUID).
    #[schemars(extend("format" = "uuid"))]
    pub job: String,
    pub printer: String,
    pub document: Printout,
    /// Sends started so far.
    pub attempts: u32,
    /// What happened (sent, failed, expired), or on `print.queued` the fields printed without
    /// a font; absent when nothing to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The job this one reprints; absent for a first print.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "uuid"))]
    pub reprint_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `print.failed`: a job that failed at its printer, or a document that could not be made
/// valid (`job` null, nothing queued).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum PrintFailed {
    Job(PrintJob),
    NotQueued(PrintRefused),
}

/// A document that could not be made: nothing was queued.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrintRefused {
    /// Always null: no job was made.
    pub job: (),
    pub document: Printout,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

/// `journal.recovered`: the journal's database was quarantined and a new one started at the
/// seq reservation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
// `may_be_lost` is always there, null or not.
#[schemars(extend("required" = ["quarantined", "reason", "may_be_lost", "salvage"]))]
pub struct JournalRecovered {
    /// Where the damaged database was moved.
    pub quarantined: String,
    pub reason: String,
    /// Seqs that may never have reached the broker; null when none can be.
    pub may_be_lost: Option<SeqRange>,
    /// The command that reads what is left of it.
    pub salvage: String,
}

/// Why acked events were trimmed early.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrimReason {
    DiskLow,
}

/// `journal.trimmed`: acked (delivered) events were deleted before `journal.retain_acked`
/// because the disk ran low, so the station could keep accepting scans; `resync` can no
/// longer resend seqs `from..=to`. Sent at most once a minute, covering what was trimmed
/// since.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JournalTrimmed {
    pub reason: TrimReason,
    #[schemars(range(min = 1))]
    pub from: u64,
    pub to: u64,
    /// Bytes free on the journal's filesystem when it was sent.
    pub disk_free: u64,
    /// `journal.min_free`.
    pub min_free: u64,
    pub retain_acked_seconds: u64,
}
