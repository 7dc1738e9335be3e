//! Decisions and conversions → event records: what was shown and what the shopper did.
//!
//! Pure data, schema version [`SCHEMA_VERSION`], written as NDJSON (one JSON object a line).
//! Field names are normative: the collector, `vitrine analyze` and users' warehouses read them.
//! Sinks (Queues, R2, HTTP, beacons) live in `edge/` and `browser/`; this module only builds and
//! validates records.
//!
//! Architecture Invariant: an event names the visitor by the state's random id (hex), never by a
//! cookie value; nothing is built under honored GPC (no state, so no visitor). Strings from the
//! visitor are bounded ([`MAX_TEXT`]); a cut one is flagged in `issues`, never silently.
//!
//! One file a job: `record` the schema, `request` the records of one request, `conversion` the
//! origin's conversion header, `check` records from outside.

mod check;
mod conversion;
mod record;
mod request;
#[cfg(test)]
mod tests;

pub use check::{
    check_record, from_browser, read_record, RecordError, BROWSER_COMMON_FIELDS,
    BROWSER_CONVERSION_FIELDS, BROWSER_EXPOSURE_FIELDS,
};
pub use conversion::{parse_conversion, ConversionError};
pub use record::*;
pub use request::*;
