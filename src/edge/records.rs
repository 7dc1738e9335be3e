//! The event records of a personalized request: its exposures, the conversions folded from the
//! click stream and stated by the origin, its page record; built on the request path (names
//! borrowed from the site), written and sent after the response.

use worker::{console_error, Context, Date, Response};

use crate::config::Site;
use crate::events::{self, RequestEvents, Source, Stamp};
use crate::pipeline::Outcome;

use super::json::ndjson;
use super::origin::CONVERSION_HEADER;
use super::random_bytes;
use super::sinks::Sinks;

/// Records what `outcome` showed, and what the origin's response says was bought, to every
/// sink, after the response.
pub fn record(
    sinks: &Sinks,
    ctx: &Context,
    site: &'static Site,
    outcome: &Outcome<'static>,
    origin: &Response,
) {
    if !sinks.any() {
        return;
    }
    let mut request_id = [0u8; 8];
    random_bytes(&mut request_id);
    let now = Date::now().as_millis();
    let Some(stamp) = Stamp::of(site, outcome, now, request_id, Source::Edge) else {
        return;
    };
    let mut records = RequestEvents::of(site, outcome, stamp);
    if let Some(header) = origin.headers().get(CONVERSION_HEADER).ok().flatten() {
        let stamp = Stamp {
            source: Source::Origin,
            ..records.stamp.clone()
        };
        match events::parse_conversion(&header, &stamp) {
            Ok(c) => records.conversions.push(c),
            Err(e) => console_error!("vitrine: {CONVERSION_HEADER}: {e}; no conversion recorded"),
        }
    }
    if !records.is_empty() {
        sinks.send(ctx, move || ndjson(records.views()));
    }
}
