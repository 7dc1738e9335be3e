//! The records of one personalized request, built on the request path from its outcome: who
//! and where ([`Stamp`]), its exposures, the conversions folded from the click stream, and its
//! `page` record when the visitor is sampled.

use serde::Serialize;

use super::record::{
    bounded, hex, to_ndjson, Conversion, EventTrust, Exposure, PageEvent, PageView, Record, Source,
    SCHEMA_VERSION,
};
use crate::config::Site;
use crate::decide::{Arm, Trust};
use crate::pipeline::Outcome;

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

impl Stamp {
    /// The stamp of a personalized request, or `None` when nothing may be recorded: under GPC
    /// or without consent (no state, so no visitor) and for bots.
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
            .filter(|d| d.recorded())
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

    /// No exposures after all: the page never reached the shopper whole.
    pub fn clear(&mut self) {
        self.slots.clear();
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

    /// The records, owned: the views read back as the schema's records, so that one place
    /// ([`Exposures::views`]) writes the fields (tests and tools; the request path writes the
    /// views).
    pub fn records(&self, stamp: &Stamp) -> Vec<Exposure> {
        self.views(stamp)
            .filter_map(|v| {
                let value = serde_json::to_value(RecordView::Exposure(v));
                match value.and_then(serde_json::from_value) {
                    Ok(Record::Exposure(e)) => Some(e),
                    _ => None,
                }
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
