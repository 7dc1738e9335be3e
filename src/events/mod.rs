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

use serde::{Deserialize, Serialize};

use crate::config::Site;
use crate::decide::{Arm, Trust};
use crate::pipeline::Outcome;

/// The version every record carries as `"v"`.
pub const SCHEMA_VERSION: u32 = 1;
/// Longest string taken from the visitor or the origin, in bytes (cut at a char boundary).
pub const MAX_TEXT: usize = 128;

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

/// Who and where, shared by the records of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    pub ts: u64,
    pub site: String,
    pub visitor: String,
    pub session: String,
    pub request: String,
    pub trust: EventTrust,
    pub source: Source,
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

/// `text` cut to [`MAX_TEXT`] bytes; pushes `truncated:<field>` when it was cut.
pub fn bounded(text: &str, field: &str, issues: &mut Vec<String>) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    issues.push(format!("truncated:{field}"));
    text[..end].to_string()
}

impl Stamp {
    /// The stamp of a personalized request, or `None` when nothing may be recorded: under GPC
    /// (no state, so no visitor) and for bots.
    pub fn of(
        site: &Site,
        outcome: &Outcome<'_>,
        now_ms: u64,
        request_id: [u8; 8],
        source: Source,
    ) -> Option<Stamp> {
        if outcome.ctx.device == crate::signals::Device::Bot {
            return None;
        }
        let state = outcome.state.as_ref()?;
        let trust = match outcome.trust {
            Trust::Signed => EventTrust::Signed,
            Trust::Unsigned => EventTrust::Unsigned,
            Trust::Anonymous => return None,
        };
        Some(Stamp {
            ts: now_ms,
            site: site.name.clone(),
            visitor: hex(&state.id),
            session: state.session_start.to_string(),
            request: hex(&request_id),
            trust,
            source,
        })
    }
}

/// The exposures of one page view, compact: one per decided slot (the control arm's
/// included), the fields every slot shares held once and the names borrowed from the site.
/// Built on the request path; written out after the response from borrowed views
/// ([`RequestEvents::views`]) or as owned records ([`Exposures::records`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Exposures<'s> {
    segments: Vec<&'s str>,
    page_type: String,
    device: &'static str,
    country: Option<String>,
    slots: Vec<SlotFields<'s>>,
}

/// An exposure's fields that depend on its slot, as [`Exposure`] orders them.
#[derive(Debug, Clone, PartialEq)]
struct SlotFields<'s> {
    slot: &'s str,
    /// The variant shown, `reorder`, `origin`, or `control` for what the control arm held back.
    variant: &'s str,
    experiment: Option<&'s str>,
    arm: Option<Arm>,
    held_back: Option<&'s str>,
}

/// An exposure record borrowed from [`Exposures`] and its [`Stamp`]: serializes as the owned
/// [`Exposure`] does (tagged by [`RecordView`]).
#[derive(Serialize)]
pub struct ExposureView<'a> {
    v: u32,
    ts: u64,
    site: &'a str,
    visitor: &'a str,
    session: &'a str,
    request: &'a str,
    slot: &'a str,
    variant: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arm: Option<Arm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    held_back: Option<&'a str>,
    segments: &'a [&'a str],
    page_type: &'a str,
    device: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    trust: EventTrust,
    source: Source,
}

impl<'s> Exposures<'s> {
    pub fn of(site: &'s Site, outcome: &Outcome<'s>) -> Exposures<'s> {
        let slots = outcome
            .decisions
            .slots
            .iter()
            .map(|d| {
                let shown = d.shown();
                SlotFields {
                    slot: &site.slots[d.slot].name,
                    variant: shown.label(),
                    experiment: d.experiment(site),
                    arm: d.arm,
                    held_back: shown.held_back(),
                }
            })
            .collect();
        Exposures {
            segments: outcome.decisions.active_segments(site),
            page_type: outcome.ctx.page_type.clone(),
            device: outcome.ctx.device.name(),
            country: outcome.ctx.geo.country.clone(),
            slots,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The records, borrowed, in slot order (untagged: [`RecordView`] adds the `type`).
    pub fn views<'a>(&'a self, stamp: &'a Stamp) -> impl Iterator<Item = ExposureView<'a>> {
        self.slots.iter().map(move |f| ExposureView {
            v: SCHEMA_VERSION,
            ts: stamp.ts,
            site: &stamp.site,
            visitor: &stamp.visitor,
            session: &stamp.session,
            request: &stamp.request,
            slot: f.slot,
            variant: f.variant,
            experiment: f.experiment,
            arm: f.arm,
            held_back: f.held_back,
            segments: &self.segments,
            page_type: &self.page_type,
            device: self.device,
            country: self.country.as_deref(),
            trust: stamp.trust,
            source: stamp.source,
        })
    }

    /// The records, owned.
    pub fn records(&self, stamp: &Stamp) -> Vec<Exposure> {
        let segments: Vec<String> = self.segments.iter().map(|s| s.to_string()).collect();
        self.slots
            .iter()
            .map(|f| Exposure {
                v: SCHEMA_VERSION,
                ts: stamp.ts,
                site: stamp.site.clone(),
                visitor: stamp.visitor.clone(),
                session: stamp.session.clone(),
                request: stamp.request.clone(),
                slot: f.slot.to_string(),
                variant: f.variant.to_string(),
                experiment: f.experiment.map(String::from),
                arm: f.arm,
                held_back: f.held_back.map(String::from),
                segments: segments.clone(),
                page_type: self.page_type.clone(),
                device: self.device.to_string(),
                country: self.country.clone(),
                trust: stamp.trust,
                source: stamp.source,
            })
            .collect()
    }
}

/// Everything one personalized request records, as built on the request path: its exposures,
/// the conversions folded from `vt_e` (and the origin's, pushed by the edge), and its `page`
/// record when the visitor is sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestEvents<'s> {
    pub stamp: Stamp,
    pub exposures: Exposures<'s>,
    pub conversions: Vec<Conversion>,
    pub page: Option<PageView>,
}

/// A record borrowed from [`RequestEvents`]: serializes exactly as the owned [`Record`].
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RecordView<'a> {
    Exposure(ExposureView<'a>),
    Conversion(&'a Conversion),
    Page(&'a PageView),
}

impl<'s> RequestEvents<'s> {
    pub fn of(site: &'s Site, outcome: &Outcome<'s>, stamp: Stamp) -> RequestEvents<'s> {
        RequestEvents {
            exposures: Exposures::of(site, outcome),
            conversions: folded_conversions(outcome, &stamp),
            page: page_view(site, outcome, &stamp),
            stamp,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.exposures.is_empty() && self.conversions.is_empty() && self.page.is_none()
    }

    /// The records, borrowed: exposures, conversions, then the page record.
    pub fn views(&self) -> impl Iterator<Item = RecordView<'_>> {
        let exposures = self.exposures.views(&self.stamp).map(RecordView::Exposure);
        let conversions = self.conversions.iter().map(RecordView::Conversion);
        exposures
            .chain(conversions)
            .chain(self.page.iter().map(RecordView::Page))
    }

    /// The records, owned, in the order of [`RequestEvents::views`].
    pub fn records(&self) -> Vec<Record> {
        let exposures = self.exposures.records(&self.stamp);
        let mut out: Vec<Record> = exposures.into_iter().map(Record::Exposure).collect();
        out.extend(self.conversions.iter().cloned().map(Record::Conversion));
        out.extend(self.page.iter().cloned().map(Record::Page));
        out
    }

    /// The records as NDJSON appended to `out` (written natively; the edge has the runtime
    /// write [`RequestEvents::views`]).
    pub fn write_ndjson(&self, out: &mut String) {
        out.push_str(&to_ndjson(self.views()));
    }
}

/// Why a conversion header or body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversionError {
    /// No kind before the first `;`.
    NoKind,
    /// A kind that is not a name (letters, digits, `_`, `-`).
    BadKind(String),
    /// `value=` that is not a finite, non-negative number.
    BadValue(String),
    /// A parameter without `=`.
    BadParameter(String),
}

impl std::fmt::Display for ConversionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConversionError::NoKind => write!(f, "no conversion kind before the first ';'"),
            ConversionError::BadKind(k) => {
                write!(
                    f,
                    "conversion kind '{k}' is not a name (letters, digits, '_', '-')"
                )
            }
            ConversionError::BadValue(v) => {
                write!(f, "value '{v}' is not a non-negative number")
            }
            ConversionError::BadParameter(p) => write!(f, "parameter '{p}' has no '='"),
        }
    }
}

impl std::error::Error for ConversionError {}

/// A conversion's fields as the origin states them in its response header:
/// `purchase; value=129.90; currency=EUR; order=A-1042` (also `sku=`, `category=`). Unknown
/// parameters are ignored; over-long values are cut and flagged.
pub fn parse_conversion(header: &str, stamp: &Stamp) -> Result<Conversion, ConversionError> {
    let mut parts = header.split(';').map(str::trim);
    let kind = parts
        .next()
        .filter(|k| !k.is_empty())
        .ok_or(ConversionError::NoKind)?;
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !valid(kind) {
        return Err(ConversionError::BadKind(kind.chars().take(64).collect()));
    }
    let mut c = Conversion {
        v: SCHEMA_VERSION,
        ts: stamp.ts,
        site: stamp.site.clone(),
        visitor: stamp.visitor.clone(),
        kind: kind.to_string(),
        value: None,
        currency: None,
        order: None,
        event: None,
        sku: None,
        category: None,
        source: stamp.source,
        trust: stamp.trust,
        issues: Vec::new(),
    };
    for p in parts.filter(|p| !p.is_empty()) {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| ConversionError::BadParameter(p.chars().take(64).collect()))?;
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "value" => {
                let v = crate::signals::events::parse_price(value)
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| ConversionError::BadValue(value.chars().take(64).collect()))?;
                c.value = Some(v);
            }
            "currency" => {
                c.currency = Some(bounded(
                    &value.to_ascii_uppercase(),
                    "currency",
                    &mut c.issues,
                ))
            }
            "order" => c.order = Some(bounded(value, "order", &mut c.issues)),
            "sku" => c.sku = Some(bounded(value, "sku", &mut c.issues)),
            "category" => c.category = Some(bounded(value, "category", &mut c.issues)),
            _ => {}
        }
    }
    Ok(c)
}

/// The purchases and add-to-carts folded from the click-stream cookie, as conversions (the
/// edge's third source; a browser that also sent one gave both the same `event` id).
pub fn folded_conversions(outcome: &Outcome<'_>, stamp: &Stamp) -> Vec<Conversion> {
    use crate::config::EventKind;
    outcome
        .folded
        .iter()
        .rev()
        .filter_map(|e| {
            let kind = match e.kind() {
                EventKind::Purchase => "purchase",
                EventKind::AddToCart => "add_to_cart",
                _ => return None,
            };
            Some(Conversion {
                v: SCHEMA_VERSION,
                ts: stamp.ts,
                site: stamp.site.clone(),
                visitor: stamp.visitor.clone(),
                kind: kind.into(),
                value: e.price,
                currency: None,
                order: None,
                event: e.id.clone(),
                sku: e.sku.clone(),
                category: e.category.clone(),
                source: Source::Edge,
                trust: stamp.trust,
                issues: Vec::new(),
            })
        })
        .collect()
}

/// Whether the visitor is sampled for `page` records: a fixed share of visitor ids
/// (`events.page_sample`), so that a sampled visitor's journey is recorded whole.
pub fn page_sampled(site: &Site, visitor_id: &[u8; 16]) -> bool {
    let ppm = u64::from(site.events.page_sample_ppm);
    let x = u64::from(u32::from_le_bytes([
        visitor_id[12],
        visitor_id[13],
        visitor_id[14],
        visitor_id[15],
    ]));
    (x * 1_000_000) >> 32 < ppm
}

/// The `page` record of a request by a sampled visitor: the click-stream record `simulate`
/// replays. Only the query parameters the configuration reads are kept.
pub fn page_view(site: &Site, outcome: &Outcome<'_>, stamp: &Stamp) -> Option<PageView> {
    let state = outcome.state.as_ref()?;
    if !page_sampled(site, &state.id) {
        return None;
    }
    let ctx = &outcome.ctx;
    let mut issues = Vec::new();
    let query = ctx
        .query
        .iter()
        .filter(|(k, _)| site.events.page_query.binary_search(k).is_ok())
        .map(|(k, v)| (k.clone(), bounded(v, "query", &mut issues)))
        .collect();
    Some(PageView {
        v: SCHEMA_VERSION,
        ts: stamp.ts,
        site: stamp.site.clone(),
        visitor: stamp.visitor.clone(),
        session: stamp.session.clone(),
        request: stamp.request.clone(),
        path: bounded(&ctx.path, "path", &mut issues),
        query,
        referrer: ctx
            .referrer
            .as_deref()
            .map(|r| bounded(r, "referrer", &mut issues)),
        device: ctx.device.name().to_string(),
        country: ctx.geo.country.clone(),
        events: outcome.folded.iter().rev().map(PageEvent::of).collect(),
        issues,
    })
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

/// The JSON Schema of one record (`vitrine schema --events`).
#[cfg(feature = "schema")]
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(Record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            ts: 1,
            site: "s".into(),
            visitor: "00".repeat(16),
            session: "1".into(),
            request: "ab".repeat(8),
            trust: EventTrust::Signed,
            source: Source::Origin,
        }
    }

    #[test]
    fn conversion_headers() {
        let c = parse_conversion(
            "purchase; value=129.90; currency=eur; order=A-1042; x=y",
            &stamp(),
        )
        .unwrap();
        assert_eq!(
            (
                c.kind.as_str(),
                c.value,
                c.currency.as_deref(),
                c.order.as_deref()
            ),
            ("purchase", Some(129.9), Some("EUR"), Some("A-1042"))
        );
        assert!(c.issues.is_empty());
        let long = format!("purchase; order={}", "é".repeat(100));
        let c = parse_conversion(&long, &stamp()).unwrap();
        assert_eq!(c.issues, vec!["truncated:order"]);
        assert!(c.order.unwrap().len() <= MAX_TEXT);
        assert_eq!(
            parse_conversion(" ; value=1", &stamp()),
            Err(ConversionError::NoKind)
        );
        assert!(matches!(
            parse_conversion("buy now", &stamp()),
            Err(ConversionError::BadKind(_))
        ));
        assert!(matches!(
            parse_conversion("purchase; value=-3", &stamp()),
            Err(ConversionError::BadValue(_))
        ));
        assert!(matches!(
            parse_conversion("purchase; value=NaN", &stamp()),
            Err(ConversionError::BadValue(_))
        ));
        assert!(matches!(
            parse_conversion("purchase; order", &stamp()),
            Err(ConversionError::BadParameter(_))
        ));
    }

    #[test]
    fn browser_records_belong_to_the_verified_visitor() {
        let forged = parse_conversion(
            "add_to_cart; sku=boot-1",
            &Stamp {
                visitor: "f".repeat(32),
                site: "evil".into(),
                ..stamp()
            },
        )
        .unwrap();
        let Some(Record::Conversion(c)) = from_browser(Record::Conversion(forged), &stamp()) else {
            panic!("a conversion stays a conversion");
        };
        assert_eq!(
            (c.visitor.as_str(), c.site.as_str(), c.trust, c.source),
            (
                "00".repeat(16).as_str(),
                "s",
                EventTrust::Unsigned,
                Source::Browser
            )
        );
        let page = PageView {
            v: 1,
            ts: 1,
            site: "s".into(),
            visitor: "0".repeat(32),
            session: "1".into(),
            request: "r".into(),
            path: "/".into(),
            query: vec![],
            referrer: None,
            device: "desktop".into(),
            country: None,
            events: vec![],
            issues: vec![],
        };
        assert_eq!(
            from_browser(Record::Page(page), &stamp()),
            None,
            "page records are the edge's own"
        );
    }

    #[test]
    fn records_round_trip_and_bad_ones_say_why() {
        let c = Record::Conversion(parse_conversion("add_to_cart; sku=boot-1", &stamp()).unwrap());
        let text = to_ndjson([&c]);
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        assert!(
            text.starts_with("{\"type\":\"conversion\",\"v\":1,"),
            "{text}"
        );
        assert_eq!(read_record(text.trim_end(), 1).unwrap(), c);
        let bad_version = text.replace("\"v\":1", "\"v\":2");
        assert_eq!(
            read_record(bad_version.trim_end(), 3)
                .unwrap_err()
                .to_string(),
            "line 3: schema version 2 is not 1"
        );
        let bad_visitor = text.replace(&"00".repeat(16), "cookie-value");
        assert!(read_record(bad_visitor.trim_end(), 1)
            .unwrap_err()
            .message
            .contains("32 hex digits"));
        let unknown = text.replace("\"v\":1,", "\"v\":1,\"email\":\"a@b\",");
        assert!(read_record(unknown.trim_end(), 1)
            .unwrap_err()
            .message
            .contains("unknown field `email`"));
        assert!(read_record("{\"type\":\"click\"}", 1)
            .unwrap_err()
            .message
            .contains("unknown variant"));
    }
}
