//! The station as the status page shows it: who is logged in, the open order with its
//! expected and done lines, the last feedback and recent alerts — their text in the locale
//! the station speaks now (`locale`, for the page's `lang`), their codes in English.

use serde::Serialize;

use super::{at_string as at, Alert, Feedback, Station};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct View {
    pub role: &'static str,
    /// The language of the texts below (`en`, `de`, `zh-CN`, …): the logged-in operator's,
    /// else the station's.
    pub locale: &'static str,
    pub operator: Option<OperatorView>,
    pub order: Option<OrderView>,
    /// A command waiting for its item (`cancel-line`, `damaged`).
    pub armed: Option<&'static str>,
    /// An order being looked up in the order system.
    pub lookup: Option<String>,
    pub last_feedback: Option<FeedbackView>,
    pub alerts: Vec<AlertView>,
    /// Box clock minus the remote clock, when over the limit.
    pub clock_skew_ms: Option<i64>,
    pub orders_cached: usize,
    /// Non-terminal orders per state.
    pub orders_by_state: std::collections::BTreeMap<&'static str, usize>,
    pub scans: u64,
    /// Answers given, by result: `ok` or the refusal's code.
    pub scan_results: std::collections::BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OperatorView {
    pub badge: String,
    pub name: String,
    pub role: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderView {
    pub id: String,
    pub state: &'static str,
    pub hold_reason: Option<String>,
    pub tote: Option<String>,
    pub label: super::LabelStatus,
    pub lines: Vec<LineView>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LineView {
    pub line: u32,
    pub sku: String,
    pub name: String,
    pub qty: u32,
    pub picked: u32,
    pub verified: u32,
    pub damaged: u32,
    pub cancelled: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedbackView {
    /// `ok`, `error` or `alert`.
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub text: String,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertView {
    pub code: &'static str,
    pub message: String,
    pub at: String,
}

pub(super) fn build(s: &Station) -> View {
    let order = s.session.order.as_ref().and_then(|id| s.orders.get(id)).map(|e| {
        let p = &e.order.progress;
        let n = |m: &std::collections::BTreeMap<u32, u32>, l: u32| m.get(&l).copied().unwrap_or(0);
        OrderView {
            id: e.order.id.clone(),
            state: e.order.state.as_str(),
            hold_reason: p.hold_reason.clone(),
            tote: p.tote.clone(),
            label: p.label,
            lines: e
                .lines
                .iter()
                .map(|l| LineView {
                    line: l.line,
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    qty: l.qty,
                    picked: n(&p.picked, l.line),
                    verified: n(&p.verified, l.line),
                    damaged: n(&p.damaged, l.line),
                    cancelled: p.cancelled_lines.contains(&l.line),
                })
                .collect(),
        }
    });
    let locale = s.locale();
    let last_feedback = s.last_feedback.as_ref().map(|(f, ms)| {
        let text = f.say().render(locale);
        match f {
            Feedback::Ok { .. } => FeedbackView { kind: "ok", code: None, text, at: at(*ms) },
            Feedback::Error { code, .. } => FeedbackView { kind: "error", code: Some(code), text, at: at(*ms) },
            Feedback::Alert { code, .. } => FeedbackView { kind: "alert", code: Some(code), text, at: at(*ms) },
        }
    });
    View {
        role: s.settings.role.as_str(),
        locale: locale.as_str(),
        operator: s.session.operator.as_ref().map(|o| OperatorView {
            badge: o.badge.clone(),
            name: o.name.clone(),
            role: o.role.as_str(),
        }),
        order,
        armed: s.session.armed.map(|a| match a {
            super::Armed::CancelLine => "cancel-line",
            super::Armed::Damaged => "damaged",
        }),
        lookup: s.session.lookup.clone(),
        last_feedback,
        alerts: s
            .alerts
            .iter()
            .rev()
            .map(|Alert { code, message, at_ms }| AlertView { code, message: message.render(locale), at: at(*at_ms) })
            .collect(),
        clock_skew_ms: s.clock.skew_ms(),
        orders_cached: s.orders.len(),
        orders_by_state: s.by_state.clone(),
        scans: s.scans,
        scan_results: s.results.clone(),
    }
}
