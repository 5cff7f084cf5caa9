//! The codes of refusals, one enum per event kind that carries one, so each kind's schema
//! lists exactly the codes it can have. The same words are the packer's feedback codes
//! (`as_str`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Defines a code enum, its `as_str` and `ALL` from one list, so each code is written once
/// (also the reply's `ErrorCode`).
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $( $(#[$doc:meta])* $code:literal => $variant:ident, )* }) => {
        $(#[$meta])*
        #[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, JsonSchema)]
        pub enum $name {
            $( $(#[$doc])* #[serde(rename = $code)] $variant, )*
        }

        impl $name {
            /// Every code, in the list's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $code, )*
                }
            }
        }
    };
}
pub(crate) use codes;

codes! {
    /// Why a scan was refused (`scan.rejected`).
    ScanRefusal {
        /// Framing: longer than the scanner's limit.
        "scan_too_long" => ScanTooLong,
        /// Framing: a control byte in the scan.
        "scan_noise" => ScanNoise,
        /// Framing: not UTF-8.
        "scan_not_utf8" => ScanNotUtf8,
        /// A product code with a wrong check digit (a misread).
        "bad_barcode" => BadBarcode,
        "not_logged_in" => NotLoggedIn,
        "unknown_badge" => UnknownBadge,
        "no_order" => NoOrder,
        "wrong_station" => WrongStation,
        "order_held" => OrderHeld,
        "order_cancelled" => OrderCancelled,
        "order_done" => OrderDone,
        "supervisor_required" => SupervisorRequired,
        "unknown_command" => UnknownCommand,
        "illegal_transition" => IllegalTransition,
        "not_shippable" => NotShippable,
        "unknown_tracking" => UnknownTracking,
        "nothing_to_reprint" => NothingToReprint,
        "no_label_printer" => NoLabelPrinter,
        "wrong_state" => WrongState,
        "nothing_picked" => NothingPicked,
        /// An armed `CMD:CANCEL-LINE` or `CMD:DAMAGED` met an item of a cancelled line.
        "line_cancelled" => LineCancelled,
        /// A tote that is not the open order's, scanned while packing.
        "unknown_barcode" => UnknownBarcode,
    }
}

codes! {
    /// Why an item scan did not count for the open order (`item.rejected`).
    ItemRefusal {
        "wrong_item" => WrongItem,
        "unknown_barcode" => UnknownBarcode,
        "over_quantity" => OverQuantity,
        "line_cancelled" => LineCancelled,
    }
}

codes! {
    /// Why a well-formed cloud command could not be carried out now (`command.refused`).
    CommandRefusal {
        "unknown_order" => UnknownOrder,
        "illegal_transition" => IllegalTransition,
    }
}
