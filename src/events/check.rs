//! Records from outside (collector bodies, browser beacons): read, checked field by field, and
//! owned by the verified visitor.

use super::record::{EventTrust, Record, Source, MAX_TEXT, SCHEMA_VERSION};
use super::request::Stamp;

// NOTE: the worker reads browser records field by field with the runtime's `JSON.parse` (no
// JSON deserializer in its bundle), a deliberate mirror of `read_record`; these lists are the
// fields it accepts, and a test holds them equal to the schema's.
/// Fields every record may carry (the worker replaces them with its own).
pub const BROWSER_COMMON_FIELDS: [&str; 11] = [
    "type", "v", "ts", "site", "visitor", "session", "request", "trust", "source", "issues",
    "country",
];
/// The fields of an exposure besides the common ones.
pub const BROWSER_EXPOSURE_FIELDS: [&str; 8] = [
    "slot",
    "variant",
    "experiment",
    "arm",
    "held_back",
    "segments",
    "page_type",
    "device",
];
/// The fields of a conversion besides the common ones.
pub const BROWSER_CONVERSION_FIELDS: [&str; 7] = [
    "kind", "value", "currency", "order", "event", "sku", "category",
];

/// Why a record from outside (a collector body line) was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// 1-based line number in the body.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads one NDJSON record and checks it: the schema, the version, and bounded strings.
pub fn read_record(line: &str, number: usize) -> Result<Record, RecordError> {
    let event: Record = serde_json::from_str(line).map_err(|e| RecordError {
        line: number,
        message: e.to_string(),
    })?;
    check_record(event, number)
}

/// Checks a record read by any JSON reader (the edge uses the runtime's): the version, the
/// visitor id's form, and bounded strings.
pub fn check_record(event: Record, number: usize) -> Result<Record, RecordError> {
    let err = |message: String| RecordError {
        line: number,
        message,
    };
    let (v, visitor, texts): (u32, &str, Vec<&str>) = match &event {
        Record::Exposure(e) => (
            e.v,
            &e.visitor,
            vec![&e.site, &e.slot, &e.variant, &e.page_type],
        ),
        Record::Conversion(c) => (
            c.v,
            &c.visitor,
            [
                Some(&c.kind),
                c.order.as_ref(),
                c.event.as_ref(),
                c.sku.as_ref(),
                c.category.as_ref(),
            ]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect(),
        ),
        Record::Page(p) => (p.v, &p.visitor, vec![&p.site, &p.path]),
    };
    if v != SCHEMA_VERSION {
        return Err(err(format!("schema version {v} is not {SCHEMA_VERSION}")));
    }
    if visitor.len() != 32 || !visitor.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(err("visitor is not 32 hex digits".into()));
    }
    if let Some(t) = texts.iter().find(|t| t.len() > 4 * MAX_TEXT) {
        return Err(err(format!(
            "a string of {} bytes (at most {})",
            t.len(),
            4 * MAX_TEXT
        )));
    }
    Ok(event)
}

/// A record the browser sent, owned by the visitor of the verified state cookie: its visitor,
/// session, site and time are the worker's, never the body's, and it is marked unsigned, from
/// the browser. `page` records are the edge's own: `None`.
pub fn from_browser(event: Record, stamp: &Stamp) -> Option<Record> {
    match event {
        Record::Exposure(mut e) => {
            e.ts = stamp.ts;
            e.site = stamp.site.clone();
            e.visitor = stamp.visitor.clone();
            e.session = stamp.session.clone();
            e.trust = EventTrust::Unsigned;
            e.source = Source::Browser;
            Some(Record::Exposure(e))
        }
        Record::Conversion(mut c) => {
            c.ts = stamp.ts;
            c.site = stamp.site.clone();
            c.visitor = stamp.visitor.clone();
            c.trust = EventTrust::Unsigned;
            c.source = Source::Browser;
            Some(Record::Conversion(c))
        }
        Record::Page(_) => None,
    }
}
