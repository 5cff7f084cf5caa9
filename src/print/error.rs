//! What can go wrong when printing, in words that name the thing, the value and the fix.
//! Print has its own errors: a missing printer is not a journal failure, and is not
//! reported as one.

use std::path::PathBuf;

use crate::journal::JournalError;
use crate::station::reply::ErrorCode;

/// The error underneath a failed read or write of the job store (sled, the file system,
/// the job's JSON, or the blocking task it ran on).
pub type StorageSource = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("no printer named {name:?} is configured; name one of the station's [[printers]]")]
    UnknownPrinter { name: String },
    #[error("no printer is configured for a {document}; add a [[printers]] entry to the station's config")]
    NoPrinterFor { document: String },
    #[error("a {document} needs `order`")]
    MissingOrder { document: &'static str },
    #[error("printer {printer:?} speaks {speaks}; {needs}")]
    WrongLanguage { printer: String, speaks: &'static str, needs: &'static str },
    #[error("unknown document {document:?}; print a label, slip or test")]
    UnknownDocument { document: String },
    #[error("carrier label of order {order}: {reason}")]
    CarrierLabel { order: String, reason: String },
    /// No valid document can be made for the order; the reason names the field and the fix.
    #[error("{reason}")]
    Render { reason: String },
    #[error("no print job {id} is kept (finished jobs are kept 7 days); print the document anew")]
    UnknownJob { id: String },
    #[error("print job {id} has no data; print the document anew")]
    NoData { id: String },
    #[error("print job store: cannot {op}: {source}; jobs are refused until the disk under journal.path is fixed (`stationd doctor`)")]
    Storage {
        op: &'static str,
        #[source]
        source: StorageSource,
    },
    #[error("cannot create the folder {path} of printer {printer:?}: {source}; make it writable by the user stationd runs as")]
    Folder { printer: String, path: PathBuf, source: std::io::Error },
    /// The job store's folder in the journal could not be opened (permissions, lock).
    #[error("print job store: {0}")]
    Open(#[source] JournalError),
}

impl PrintError {
    /// Short machine-readable reason used in command replies and logs.
    pub fn code(&self) -> ErrorCode {
        match self {
            PrintError::UnknownPrinter { .. } | PrintError::NoPrinterFor { .. } => ErrorCode::UnknownPrinter,
            PrintError::MissingOrder { .. } => ErrorCode::MissingField,
            PrintError::WrongLanguage { .. } | PrintError::UnknownDocument { .. } | PrintError::CarrierLabel { .. } => {
                ErrorCode::InvalidField
            }
            PrintError::Render { .. } => ErrorCode::RenderFailed,
            PrintError::UnknownJob { .. } | PrintError::NoData { .. } => ErrorCode::UnknownJob,
            PrintError::Storage { .. } => ErrorCode::PrintStorage,
            PrintError::Folder { .. } | PrintError::Open(_) => ErrorCode::PrintAccess,
        }
    }

    /// A failed read or write of the job store, for `map_err`: `op` says what was being done.
    pub(crate) fn storage<E: Into<StorageSource>>(op: &'static str) -> impl FnOnce(E) -> PrintError {
        move |e| PrintError::Storage { op, source: e.into() }
    }
}
