//! The event records of a personalized request: its exposures, the conversions folded from the
//! click stream and stated by the origin, its page record; sent after the response, once the
//! rewrite has ended and said what the page showed.

use worker::{console_error, Context, Date};

use crate::config::Site;
use crate::events::{self, RequestEvents, Source, Stamp};
use crate::pipeline::Outcome;

use super::json::ndjson;
use super::origin::CONVERSION_HEADER;
use super::random_bytes;
use super::sinks::Sinks;

/// Records what the page showed, and what the origin's `conversion` header says was bought,
/// to every sink, after the response. `page` gives what the rewrite found on the page when
/// it ends: the decisions settle with it, so a slot the page could not show records no
/// exposure; when the page was not delivered whole (the origin cut it, the shopper left),
/// no exposure at all — the conversions and the page record still go.
pub fn record(
    sinks: &Sinks,
    ctx: &Context,
    site: &'static Site,
    mut outcome: Outcome<'static>,
    conversion: Option<String>,
    page: super::shown::Receiver,
) {
    if !sinks.any() {
        return;
    }
    let mut request_id = [0u8; 8];
    random_bytes(&mut request_id);
    let now = Date::now().as_millis();
    sinks.send(ctx, async move {
        let shown = page.await;
        if let Some(page) = &shown {
            outcome.decisions.settle(page);
        }
        let Some(stamp) = Stamp::of(site, &outcome, now, request_id, Source::Edge) else {
            return String::new();
        };
        let mut records = RequestEvents::of(site, &outcome, stamp);
        if shown.is_none() {
            records.exposures.clear();
        }
        if let Some(header) = conversion {
            let stamp = Stamp {
                source: Source::Origin,
                ..records.stamp.clone()
            };
            match events::parse_conversion(&header, &stamp) {
                Ok(c) => records.conversions.push(c),
                Err(e) => {
                    console_error!("vitrine: {CONVERSION_HEADER}: {e}; no conversion recorded")
                }
            }
        }
        if records.is_empty() {
            String::new()
        } else {
            ndjson(records.views())
        }
    });
}
