//! What the event records say a learner needs: the product views of each session, in order,
//! and the baskets of items bought together. Read from the records the sinks write (`page`
//! records for views, `purchase` conversions with a `sku` for baskets). A page record's own view
//! is read from its path by the site's page types — the function the edge reads requests with —
//! and the views its click stream carried from the record's events.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::config::{EventKind, Site};
use crate::events::Record;
use crate::signals::{read_context, request_events, RequestFacts};

use super::recs::Click;

/// A visitor's purchases with no order id are one basket while they come within this many
/// seconds of each other (the default `session_idle_minutes`).
pub const BASKET_GAP_SECS: u64 = 30 * 60;

/// Views and purchases gathered from records, in any order; [`Observations::baskets`] groups
/// the purchases.
#[derive(Debug, Default)]
pub struct Observations {
    /// One product view each: `session` is `visitor/session`, `time` unix seconds.
    pub views: Vec<Click>,
    /// One purchased item each: (visitor, order id if any, unix seconds, sku).
    purchases: Vec<(String, Option<String>, u64, String)>,
}

impl Observations {
    /// Takes one record: a `page` record's product views — those its click stream carried, then
    /// its own, as `site`'s page types read its path (no site: the carried ones only) — and a
    /// `purchase` conversion's item. Other records (exposures, other conversions, purchases
    /// without a `sku`) teach nothing here.
    pub fn push(&mut self, record: Record, site: Option<&Site>) {
        match record {
            Record::Page(p) => {
                let session = format!("{}/{}", p.visitor, p.session);
                let carried = p
                    .events
                    .into_iter()
                    .filter(|e| e.kind == EventKind::ProductView);
                let mut skus: Vec<String> = carried.filter_map(|e| e.sku).collect();
                if let Some(site) = site {
                    let facts = RequestFacts {
                        url: &p.path,
                        ..RequestFacts::default()
                    };
                    let own = request_events(&read_context(site, &facts));
                    let view = own
                        .into_iter()
                        .find(|e| e.kind == Some(EventKind::ProductView));
                    skus.extend(view.and_then(|e| e.sku));
                }
                for sku in skus {
                    self.views.push(Click {
                        session: session.clone(),
                        item: sku,
                        time: p.ts / 1000,
                    });
                }
            }
            Record::Conversion(c) if c.kind == "purchase" => {
                if let Some(sku) = c.sku.filter(|s| !s.is_empty()) {
                    self.purchases.push((c.visitor, c.order, c.ts / 1000, sku));
                }
            }
            _ => {}
        }
    }

    /// The baskets, each with its visitor: the items of one order, or a visitor's order-less
    /// purchases no more than [`BASKET_GAP_SECS`] apart. Ordered by visitor, then time.
    pub fn baskets(&self) -> Vec<(String, BTreeSet<String>)> {
        let mut by_order: BTreeMap<(&str, &str), BTreeSet<String>> = BTreeMap::new();
        let mut loose: Vec<(&str, u64, &str)> = Vec::new();
        for (visitor, order, ts, sku) in &self.purchases {
            match order {
                Some(o) => {
                    by_order
                        .entry((visitor, o))
                        .or_default()
                        .insert(sku.clone());
                }
                None => loose.push((visitor, *ts, sku)),
            }
        }
        let mut out: Vec<(String, BTreeSet<String>)> = by_order
            .into_iter()
            .map(|((v, _), items)| (v.to_string(), items))
            .collect();
        loose.sort();
        let mut last: Option<(&str, u64)> = None;
        for (visitor, ts, sku) in loose {
            let same = last.is_some_and(|(v, t)| v == visitor && ts - t <= BASKET_GAP_SECS);
            if !same {
                out.push((visitor.to_string(), BTreeSet::new()));
            }
            if let Some((_, items)) = out.last_mut() {
                items.insert(sku.to_string());
            }
            last = Some((visitor, ts));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Per item, the visitors who bought it and who viewed it (each visitor once). Views of a
    /// click log count its sessions as visitors.
    pub fn popularity(&self) -> BTreeMap<String, (u64, u64)> {
        let bought = distinct_per_item(self.purchases.iter().map(|p| (p.3.as_str(), p.0.as_str())));
        let viewed = distinct_per_item(
            self.views
                .iter()
                .map(|v| (v.item.as_str(), v.session.split('/').next().unwrap_or(""))),
        );
        let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (sku, n) in bought {
            out.entry(sku.to_string()).or_default().0 += n;
        }
        for (sku, n) in viewed {
            out.entry(sku.to_string()).or_default().1 += n;
        }
        out
    }
}

/// Per item, how many distinct visitors the (item, visitor) pairs name: interned and sorted,
/// not a tree of millions of string pairs.
fn distinct_per_item<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<(&'a str, u64)> {
    let mut items: FxHashMap<&str, u32> = FxHashMap::default();
    let mut visitors: FxHashMap<&str, u32> = FxHashMap::default();
    let mut names: Vec<&str> = Vec::new();
    let mut ids: Vec<(u32, u32)> = pairs
        .map(|(item, visitor)| {
            let i = *items.entry(item).or_insert_with(|| {
                names.push(item);
                (names.len() - 1) as u32
            });
            let n = visitors.len() as u32;
            (i, *visitors.entry(visitor).or_insert(n))
        })
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: Vec<(&str, u64)> = Vec::new();
    for (i, _) in ids {
        match out.last_mut() {
            Some((name, n)) if *name == names[i as usize] => *n += 1,
            _ => out.push((names[i as usize], 1)),
        }
    }
    out
}
