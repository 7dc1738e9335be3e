//! Events → intent scores. Pure, total and deterministic: integer hundredths of a point.
//!
//! The request's own events (page view, category/product view, search from the URL) are trusted
//! as they are; events from the `vt_e` cookie are capped per dimension per request, so forged
//! events buy no more than a few real clicks would.

use crate::config::{EventKind, Site};
use crate::facts::{top_dimension, Env};
use crate::signals::{Event, RequestContext};
use crate::state::{ItemKind, VisitorState};

/// Where events came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Derived by Vitrine from the request.
    Request,
    /// Read from the untrusted events cookie.
    Cookie,
}

/// Applies events to the state: signals add to scores (clamped to 0…cap), items are remembered,
/// the page view is counted. Cookie events' total gain per dimension is capped.
pub fn fold(
    site: &Site,
    state: &mut VisitorState,
    ctx: &RequestContext,
    events: &[Event],
    source: Provenance,
) {
    let mut gained = vec![0u32; site.dimensions.len()];
    // Oldest first, so the newest item ends up at the front of the recent ring.
    for event in events.iter().rev() {
        let kind = event.kind();
        if kind == EventKind::PageView {
            state.session_views = state.session_views.saturating_add(1);
        }
        if let Some(sku) = &event.sku {
            let item = match kind {
                EventKind::ProductView => Some(ItemKind::Viewed),
                EventKind::AddToCart => Some(ItemKind::Carted),
                EventKind::Purchase => Some(ItemKind::Purchased),
                _ => None,
            };
            if let Some(item) = item {
                state.remember(item, sku, site.limits.recent_items);
            }
        }
        for signal in site.signals.iter().filter(|s| s.on == kind) {
            if let Some(when) = &signal.when {
                let env = Env {
                    site,
                    ctx,
                    state: Some(state),
                    traits: None,
                    segments: &[],
                    signed: false,
                    event: Some(event),
                    top: top_dimension(site, &state.scores),
                };
                if !when.eval(&env) {
                    continue;
                }
            }
            let category_dim = signal.add_category.and_then(|amount| {
                let cat = event.category.as_deref()?;
                Some((site.dimension_index(cat)?, amount))
            });
            for &(dim, amount) in signal.add.iter().chain(category_dim.iter()) {
                add(site, state, &mut gained, dim, amount, source);
            }
        }
    }
}

fn add(
    site: &Site,
    state: &mut VisitorState,
    gained: &mut [u32],
    dim: usize,
    amount: i32,
    source: Provenance,
) {
    let cap = site.dimensions[dim].cap;
    let current = state.scores[dim];
    if amount < 0 {
        state.scores[dim] = current.saturating_sub(amount.unsigned_abs());
        return;
    }
    let mut amount = amount as u32;
    if source == Provenance::Cookie {
        amount = amount.min(site.limits.max_event_gain.saturating_sub(gained[dim]));
        gained[dim] += amount;
    }
    state.scores[dim] = current.saturating_add(amount).min(cap);
}
