//! The records themselves: the schema (exposure, conversion, page), their shared fields, bounded
//! strings, NDJSON.

use serde::{Deserialize, Serialize};

use crate::decide::Arm;

/// The version every record carries as `"v"`.
pub const SCHEMA_VERSION: u32 = 1;
/// Longest string taken from the visitor or the origin, in bytes (cut at a char boundary).
pub const MAX_TEXT: usize = 128;
/// The largest value a browser's (unsigned) conversion may carry; what the origin states has
/// no bound.
pub const MAX_BROWSER_VALUE: f64 = 1_000_000.0;
/// Whether a browser's conversion may carry `value`: 0 to [`MAX_BROWSER_VALUE`] (both readers
/// of browser records, the edge's and the collector's, ask this).
pub fn browser_value_ok(value: f64) -> bool {
    (0.0..=MAX_BROWSER_VALUE).contains(&value)
}
/// The most conversions one body from a browser may carry.
pub const MAX_BROWSER_CONVERSIONS: usize = 10;

/// Where a record was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Edge,
    Browser,
    /// The origin's `X-Vitrine-Conversion` header.
    Origin,
}

/// How far the record can be trusted: signed state at the edge, or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventTrust {
    Signed,
    Unsigned,
}

/// One record of the event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// The schema has been titled `Event` since v1: kept, so that the printed schema does not change.
#[cfg_attr(feature = "schema", schemars(title = "Event"))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    Exposure(Exposure),
    Conversion(Conversion),
    Page(PageView),
}

/// A decided slot of one page view: what it showed (a variant id, `reorder`, `origin`, or
/// `control` for what the control arm held back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Exposure {
    pub v: u32,
    /// Unix milliseconds.
    pub ts: u64,
    pub site: String,
    /// The state's random visitor id, 32 hex digits.
    pub visitor: String,
    /// The visitor's session: the session's start, unix seconds.
    pub session: String,
    /// One id shared by the exposures of one response, 16 hex digits.
    pub request: String,
    pub slot: String,
    pub variant: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm: Option<Arm>,
    /// In the control arm: the variant the visitor would have seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_back: Option<String>,
    /// Segments true at decision time.
    pub segments: Vec<String>,
    pub page_type: String,
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    pub trust: EventTrust,
    pub source: Source,
}

/// A purchase, an add-to-cart, or a configured goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    pub v: u32,
    pub ts: u64,
    pub site: String,
    pub visitor: String,
    /// `purchase`, `add_to_cart`, or a goal name.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The dedupe key (an order id), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// The click-stream event's id (browser add-to-cart and purchase): the dedupe key when the
    /// same event reaches the records twice, from the browser and folded from `vt_e`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub source: Source,
    pub trust: EventTrust,
    /// Issue codes (`truncated:order`, …); absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<String>,
}

/// The click-stream record `vitrine simulate` replays (sampled, off by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PageView {
    pub v: u32,
    pub ts: u64,
    pub site: String,
    pub visitor: String,
    pub session: String,
    pub request: String,
    pub path: String,
    /// Only the query parameters the configuration reads, as name → value pairs.
    pub query: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The click-stream events folded in this request (from `vt_e`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<PageEvent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<String>,
}

/// A click-stream event as a `page` record holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PageEvent {
    pub kind: crate::config::EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<f64>,
    /// Search terms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl PageEvent {
    pub fn of(e: &crate::signals::Event) -> PageEvent {
        PageEvent {
            kind: e.kind(),
            sku: e.sku.clone(),
            category: e.category.clone(),
            price: e.price,
            terms: e.terms.clone(),
            filter: e.filter.clone(),
            value: e.value.clone(),
            id: e.id.clone(),
        }
    }

    /// Back to the engine's event (for replay).
    pub fn to_signal(&self) -> crate::signals::Event {
        crate::signals::Event {
            kind: Some(self.kind),
            sku: self.sku.clone(),
            category: self.category.clone(),
            price: self.price,
            terms: self.terms.clone(),
            filter: self.filter.clone(),
            value: self.value.clone(),
            id: self.id.clone(),
        }
    }
}

pub use crate::state::hex;

/// `text` cut to [`MAX_TEXT`] bytes; pushes `truncated:<field>` when it was cut.
pub fn bounded(text: &str, field: &str, issues: &mut Vec<String>) -> String {
    let kept = crate::text::cut(text, MAX_TEXT);
    if kept.len() < text.len() {
        issues.push(format!("truncated:{field}"));
    }
    kept.to_string()
}

/// Records as NDJSON: one JSON object a line, each line ending in `\n`.
pub fn to_ndjson(events: impl IntoIterator<Item = impl Serialize>) -> String {
    let mut out = String::new();
    for e in events {
        // NOTE: serializing these plain structs cannot fail (no maps with non-string keys).
        if let Ok(line) = serde_json::to_string(&e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

/// The JSON Schema of one record (`vitrine schema --events`).
#[cfg(feature = "schema")]
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(Record)
}
