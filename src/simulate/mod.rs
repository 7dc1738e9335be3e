//! Traffic replayed through the engine (`vitrine simulate`): what a configuration decides for
//! recorded visitors (`page` records) or for seeded synthetic ones, and what a change to it
//! would decide differently.
//!
//! A journey is one visitor's page views in order; each is run through [`crate::personalize`]
//! as the edge runs it (signed state, the click stream folded from `vt_e`), the state cookie
//! carried from one view to the next. Journeys are independent: they run in parallel (rayon)
//! in fixed chunks whose results merge in order, so a seed gives the same output on any
//! number of cores.
//!
//! Synthetic journeys (documented in docs/cli.md): each visitor has a device (55% desktop,
//! 40% mobile, 5% tablet), a country, a referrer (30% search, 10% social), a favourite
//! dimension, and 1–12 page views a few minutes apart over the configuration's page types
//! (home, category, product, search, …), with paths filled from the patterns, search terms
//! and configured query parameters drawn from the configuration's own words, product clicks
//! and add-to-carts written to `vt_e`. A planted uplift (`--plant`) raises the purchase
//! probability of the visitors whose first exposure put them in one variation: the events
//! written (`--events-out`) then hold a known effect for `vitrine analyze` to find.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{EventKind, Site};
use crate::events::{self, Source, Stamp};
use crate::signals;
use crate::{personalize, Keys, Mode, RequestInput};

/// One page view of a journey.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Path and query.
    pub url: String,
    pub at_ms: u64,
    /// Click-stream events since the previous view (sent in `vt_e`), newest first.
    pub events: Vec<signals::Event>,
}

/// One visitor's page views, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    pub id: [u8; 16],
    pub user_agent: &'static str,
    pub country: Option<String>,
    pub referrer: Option<String>,
    pub views: Vec<View>,
}

const DESKTOP: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const MOBILE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const TABLET: &str =
    "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";

/// A user agent of the device class a record names.
pub fn user_agent_of(device: &str) -> &'static str {
    match device {
        "mobile" => MOBILE,
        "tablet" => TABLET,
        _ => DESKTOP,
    }
}

/// Journeys from `page` records (any order; grouped by visitor, ordered by time).
pub fn journeys_from_pages(pages: Vec<events::PageView>) -> Vec<Journey> {
    let mut by_visitor: BTreeMap<String, Vec<events::PageView>> = BTreeMap::new();
    for p in pages {
        by_visitor.entry(p.visitor.clone()).or_default().push(p);
    }
    by_visitor
        .into_values()
        .map(|mut views| {
            views.sort_by_key(|p| p.ts);
            let first = &views[0];
            Journey {
                id: crate::state::id_from_hex(&first.visitor).unwrap_or_default(),
                user_agent: user_agent_of(&first.device),
                country: first.country.clone(),
                referrer: first.referrer.as_ref().map(|h| format!("https://{h}/")),
                views: views
                    .iter()
                    .map(|p| {
                        let query = form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(p.query.iter())
                            .finish();
                        View {
                            url: if query.is_empty() {
                                p.path.clone()
                            } else {
                                format!("{}?{query}", p.path)
                            },
                            at_ms: p.ts,
                            // The record lists them oldest first; `vt_e` holds newest first.
                            events: p.events.iter().rev().map(|e| e.to_signal()).collect(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// How synthetic traffic is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    pub visitors: u64,
    pub seed: u64,
    /// The first visit's earliest time, unix ms; visits spread over `days`.
    pub start_ms: u64,
    pub days: u32,
    /// Words for search terms and query values: the configuration's own string literals.
    pub words: Vec<String>,
}

/// The string literals of a configuration document's expressions (`'trail-*'` → `trail-x`):
/// synthetic visitors search for them and arrive with them in campaign parameters.
pub fn words_of(config_json: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut rest = config_json;
    while let Some(start) = rest.find('\'') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('\'') else { break };
        let w = after[..end].replace('*', "x");
        if !w.is_empty() && w.len() <= 40 && !w.contains(['"', '\\']) && !words.contains(&w) {
            words.push(w);
        }
        rest = &after[end + 1..];
    }
    words
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> Option<&'a T> {
    if items.is_empty() {
        None
    } else {
        Some(&items[rng.random_range(0..items.len())])
    }
}

/// The journey of synthetic visitor `index`: a function of the seed and the index alone.
pub fn synthetic_journey(site: &Site, spec: &Synthetic, index: u64) -> Journey {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut id = [0u8; 16];
    rng.fill(&mut id);
    let user_agent = match rng.random_range(0..100) {
        0..=54 => DESKTOP,
        55..=94 => MOBILE,
        _ => TABLET,
    };
    let country =
        pick(&mut rng, &["US", "US", "DE", "GB", "FR", "NL", "SE"]).map(|c| c.to_string());
    let referrer = match rng.random_range(0..10) {
        0..=2 => Some("https://www.google.com/".to_string()),
        3 => Some("https://www.instagram.com/".to_string()),
        _ => None,
    };
    let dims: Vec<&str> = site.dimensions.iter().map(|d| d.name.as_str()).collect();
    let favourite = pick(&mut rng, &dims).copied().unwrap_or("all");
    let n_views = 1 + (0..11).take_while(|_| rng.random_bool(0.75)).count();
    let span = u64::from(spec.days.max(1)) * 86_400_000;
    let mut at = spec.start_ms + rng.random_range(0..span);
    let mut views = Vec::with_capacity(n_views);
    let mut pending: Vec<signals::Event> = Vec::new();
    for v in 0..n_views {
        let kind = view_kind(&mut rng, v == 0);
        let category = if rng.random_bool(0.7) {
            favourite.to_string()
        } else {
            pick(&mut rng, &dims).copied().unwrap_or("all").to_string()
        };
        let item = rng.random_range(1..40);
        let pattern = site.page_types.iter().find(|p| p.kind == kind);
        let mut path = match pattern {
            Some(p) => p.pattern.example(&mut |name| match name {
                "category" => category.clone(),
                _ => format!("item-{item}"),
            }),
            None => "/".to_string(),
        };
        let query = view_query(&mut rng, site, spec, kind == "search", &category);
        if !query.is_empty() {
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter())
                .finish();
            path = format!("{path}?{q}");
        }
        views.push(View {
            url: path,
            at_ms: at,
            events: std::mem::take(&mut pending),
        });
        if kind == "product" {
            let sku = format!("{category}-item-{item}");
            let price = f64::from(rng.random_range(20..400));
            let event = |kind: EventKind| signals::Event {
                sku: Some(sku.clone()),
                category: Some(category.clone()),
                price: Some(price),
                ..signals::Event::new(kind)
            };
            if rng.random_bool(0.3) {
                pending.insert(0, event(EventKind::ProductClick));
            }
            if rng.random_bool(0.12) {
                let mut e = event(EventKind::AddToCart);
                e.id = Some(format!("{:016x}", rng.random::<u64>()));
                pending.insert(0, e);
            }
        }
        at += rng.random_range(30_000..300_000);
    }
    Journey {
        id,
        user_agent,
        country,
        referrer,
        views,
    }
}

/// The kind of a synthetic view: the first of a journey lands mostly home, later ones browse.
fn view_kind(rng: &mut ChaCha8Rng, first: bool) -> &'static str {
    let kinds: &[(&str, u32)] = if first {
        &[
            ("home", 50),
            ("category", 25),
            ("product", 15),
            ("search", 10),
        ]
    } else {
        &[
            ("home", 10),
            ("category", 30),
            ("product", 45),
            ("search", 15),
        ]
    };
    let roll = rng.random_range(0..100);
    let mut acc = 0;
    kinds
        .iter()
        .find(|(_, w)| {
            acc += w;
            roll < acc
        })
        .map_or("home", |(k, _)| *k)
}

/// A synthetic view's query: the search term on a search page, and now and then a word for a
/// parameter the configuration reads.
fn view_query(
    rng: &mut ChaCha8Rng,
    site: &Site,
    spec: &Synthetic,
    search: bool,
    category: &str,
) -> Vec<(String, String)> {
    let search_params: Vec<&str> = site
        .page_types
        .iter()
        .filter_map(|p| p.search_param.as_deref())
        .collect();
    let mut query: Vec<(String, String)> = Vec::new();
    if search {
        let term = if rng.random_bool(0.6) {
            category.to_string()
        } else {
            pick(rng, &spec.words)
                .cloned()
                .unwrap_or_else(|| "gift".into())
        };
        query.push((
            search_params.first().copied().unwrap_or("q").to_string(),
            term,
        ));
    }
    for param in &site.events.page_query {
        if search_params.contains(&param.as_str()) || !rng.random_bool(0.1) {
            continue;
        }
        if let Some(w) = pick(rng, &spec.words) {
            query.push((param.clone(), w.clone()));
        }
    }
    query
}

/// What one view decided: per slot, its name and the variant label (`origin`, `control`, a
/// variant id, `reorder`), borrowed from the configuration.
pub type Labels<'s> = Vec<(&'s str, &'s str)>;

/// A journey run through the engine: the labels of each view, and (when asked) its events.
pub struct Run<'s> {
    pub views: Vec<Labels<'s>>,
    /// Per view, the site's segment flags (true at that view).
    pub segments: Vec<Vec<bool>>,
    /// First arm per experiment, in first-exposure order.
    pub arms: Vec<(&'s str, &'static str)>,
    /// NDJSON event records of the journey (exposures and conversions), when asked.
    pub events: String,
}

/// A planted effect: visitors whose first exposure to `unit` put them in `variation` buy with
/// probability `base × (1 + uplift)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plant {
    pub unit: String,
    pub variation: String,
    pub uplift: f64,
}

impl Plant {
    /// `hero-holdout:treatment=+10%` or `slot:hero:hero-trail=+0.1`.
    pub fn parse(text: &str) -> Result<Plant, String> {
        let (target, amount) = text
            .split_once('=')
            .ok_or_else(|| format!("--plant '{text}': expected UNIT:VARIATION=+10%"))?;
        let (unit, variation) = target
            .rsplit_once(':')
            .ok_or_else(|| format!("--plant '{text}': expected UNIT:VARIATION=+10%"))?;
        let amount = amount.trim();
        let uplift = match amount.strip_suffix('%') {
            Some(p) => p.parse::<f64>().map(|p| p / 100.0),
            None => amount.parse::<f64>(),
        }
        .ok()
        .filter(|u| u.is_finite() && *u > -1.0)
        .ok_or_else(|| format!("--plant '{text}': '{amount}' is not an uplift above −100%"))?;
        Ok(Plant {
            unit: unit.to_string(),
            variation: variation.to_string(),
            uplift,
        })
    }
}

/// What the events of a synthetic run hold beyond exposures.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcomes {
    /// Probability that a visitor buys once during the journey.
    pub purchase_rate: f64,
    pub plants: Vec<Plant>,
}

/// Runs one journey through the engine.
pub fn run<'s>(
    site: &'s Site,
    keys: &Keys,
    journey: &Journey,
    outcomes: Option<&Outcomes>,
) -> Run<'s> {
    let mut token: Option<String> = None;
    let mut out = Run {
        views: Vec::with_capacity(journey.views.len()),
        segments: Vec::with_capacity(journey.views.len()),
        arms: Vec::new(),
        events: String::new(),
    };
    // First exposure per unit (for planted effects), as `analyze` attributes.
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut rng = ChaCha8Rng::from_seed({
        let mut s = [0u8; 32];
        s[..16].copy_from_slice(&journey.id);
        s
    });
    let mut last_stamp = None;
    let mut cookie = String::new();
    for view in &journey.views {
        cookie.clear();
        if let Some(t) = &token {
            cookie.push_str("vt=");
            cookie.push_str(t);
        }
        if !view.events.is_empty() {
            cookie.push_str("; vt_e=");
            cookie.push_str(&signals::encode_events(&view.events));
        }
        let input = RequestInput::new(&view.url, view.at_ms, journey.id)
            .cookie(Some(&cookie))
            .user_agent(Some(journey.user_agent))
            .referrer(journey.referrer.as_deref())
            .country(journey.country.clone());
        let mut o = personalize(site, Mode::Edge(keys), &input);
        let mut labels = Vec::with_capacity(o.decisions.slots.len());
        for d in &o.decisions.slots {
            let slot = &site.slots[d.slot];
            labels.push((slot.name.as_str(), d.shown().label()));
            if let (Some(name), Some(arm)) = (d.experiment(site), d.arm) {
                let arm = arm.name();
                if !out.arms.iter().any(|(n, _)| *n == name) {
                    out.arms.push((name, arm));
                }
            }
        }
        if outcomes.is_some() {
            for &(slot, label) in &labels {
                if label != "control" {
                    first
                        .entry(format!("slot:{slot}"))
                        .or_insert_with(|| label.to_string());
                }
            }
            for &(name, arm) in &out.arms {
                first
                    .entry(name.to_string())
                    .or_insert_with(|| arm.to_string());
            }
        }
        if outcomes.is_some() {
            if let Some(stamp) = Stamp::of(site, &o, view.at_ms, rng.random(), Source::Edge) {
                // No page records: these views are replayed, not recorded.
                let records = events::RequestEvents {
                    exposures: events::Exposures::of(site, &o),
                    conversions: events::folded_conversions(&o, &stamp),
                    page: None,
                    stamp,
                };
                records.write_ndjson(&mut out.events);
                last_stamp = Some(records.stamp);
            }
        }
        out.segments.push(std::mem::take(&mut o.decisions.segments));
        out.views.push(labels);
        token = o.state_token;
    }
    if let (Some(outcomes), Some(stamp)) = (outcomes, last_stamp) {
        planted_purchase(outcomes, &first, stamp, &mut rng, &mut out.events);
    }
    out
}

/// The journey's purchase, drawn at the configured rate raised by the planted uplifts of the
/// arms the visitor was first exposed to; written as the origin's conversion record.
fn planted_purchase(
    outcomes: &Outcomes,
    first: &BTreeMap<String, String>,
    stamp: Stamp,
    rng: &mut ChaCha8Rng,
    out: &mut String,
) {
    let mut p = outcomes.purchase_rate;
    for plant in &outcomes.plants {
        if first.get(&plant.unit) == Some(&plant.variation) {
            p *= 1.0 + plant.uplift;
        }
    }
    if !rng.random_bool(p.clamp(0.0, 1.0)) {
        return;
    }
    let value = f64::from(rng.random_range(2_000..40_000)) / 100.0;
    let header = format!(
        "purchase; value={value:.2}; currency=USD; order=SIM-{}",
        &stamp.visitor[..12]
    );
    let stamp = Stamp {
        ts: stamp.ts + 60_000,
        source: Source::Origin,
        ..stamp
    };
    if let Ok(c) = events::parse_conversion(&header, &stamp) {
        out.push_str(&events::to_ndjson([&events::Record::Conversion(c)]));
    }
}

/// Share counts of one configuration over the traffic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    pub visitors: u64,
    pub views: u64,
    /// slot → variant → page views.
    pub slots: BTreeMap<String, BTreeMap<String, u64>>,
    /// segment → page views where it was true.
    pub segment_views: BTreeMap<String, u64>,
    /// segment → visitors for whom it was ever true.
    pub segment_visitors: BTreeMap<String, u64>,
    /// experiment → arm → visitors (by first bucketed arm).
    pub arms: BTreeMap<String, BTreeMap<String, u64>>,
}

/// `map[key] += n`, allocating the key only when it is new.
fn bump(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
    match map.get_mut(key) {
        Some(count) => *count += n,
        None => {
            map.insert(key.to_string(), n);
        }
    }
}

/// `map[outer][inner] += n`, as [`bump`].
fn bump2(map: &mut BTreeMap<String, BTreeMap<String, u64>>, outer: &str, inner: &str, n: u64) {
    match map.get_mut(outer) {
        Some(m) => bump(m, inner, n),
        None => {
            map.insert(outer.to_string(), BTreeMap::from([(inner.to_string(), n)]));
        }
    }
}

impl Tally {
    /// Counts a journey run through `site`.
    fn add(&mut self, site: &Site, r: &Run<'_>) {
        self.visitors += 1;
        self.views += r.views.len() as u64;
        for labels in &r.views {
            for (slot, label) in labels {
                bump2(&mut self.slots, slot, label, 1);
            }
        }
        let mut ever = vec![false; site.segments.len()];
        for flags in &r.segments {
            for ((segment, on), was) in site.segments.iter().zip(flags).zip(&mut ever) {
                if *on {
                    bump(&mut self.segment_views, &segment.name, 1);
                    *was = true;
                }
            }
        }
        for (segment, _) in site.segments.iter().zip(ever).filter(|(_, was)| *was) {
            bump(&mut self.segment_visitors, &segment.name, 1);
        }
        for (e, arm) in &r.arms {
            bump2(&mut self.arms, e, arm, 1);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.visitors += other.visitors;
        self.views += other.views;
        for (slot, m) in other.slots {
            let t = self.slots.entry(slot).or_default();
            for (k, v) in m {
                *t.entry(k).or_default() += v;
            }
        }
        for (k, v) in other.segment_views {
            *self.segment_views.entry(k).or_default() += v;
        }
        for (k, v) in other.segment_visitors {
            *self.segment_visitors.entry(k).or_default() += v;
        }
        for (e, m) in other.arms {
            let t = self.arms.entry(e).or_default();
            for (k, v) in m {
                *t.entry(k).or_default() += v;
            }
        }
    }
}

/// What a second configuration decides differently, view by view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diff {
    pub views_changed: u64,
    pub visitors_changed: u64,
    /// slot → page views whose decision changed.
    pub slots_changed: BTreeMap<String, u64>,
    /// (slot, old, new) → page views.
    pub pairs: BTreeMap<(String, String, String), u64>,
}

impl Diff {
    fn add(&mut self, a: &Run<'_>, b: &Run<'_>) {
        let mut visitor_changed = false;
        for (va, vb) in a.views.iter().zip(&b.views) {
            let mut view_changed = false;
            let mut slots: Vec<&str> = va.iter().chain(vb).map(|(s, _)| *s).collect();
            slots.sort_unstable();
            slots.dedup();
            for slot in slots {
                fn find<'l>(v: &[(&str, &'l str)], slot: &str) -> &'l str {
                    v.iter()
                        .find(|(s, _)| *s == slot)
                        .map_or("absent", |(_, l)| *l)
                }
                let (old, new) = (find(va, slot), find(vb, slot));
                if old != new {
                    view_changed = true;
                    bump(&mut self.slots_changed, slot, 1);
                    *self
                        .pairs
                        .entry((slot.to_string(), old.to_string(), new.to_string()))
                        .or_default() += 1;
                }
            }
            if view_changed {
                self.views_changed += 1;
                visitor_changed = true;
            }
        }
        if visitor_changed {
            self.visitors_changed += 1;
        }
    }

    fn merge(&mut self, other: Diff) {
        self.views_changed += other.views_changed;
        self.visitors_changed += other.visitors_changed;
        for (k, v) in other.slots_changed {
            *self.slots_changed.entry(k).or_default() += v;
        }
        for (k, v) in other.pairs {
            *self.pairs.entry(k).or_default() += v;
        }
    }
}

/// The result of a simulation.
#[derive(Debug, Default)]
pub struct Simulation {
    pub tally: Tally,
    pub against: Option<(Tally, Diff)>,
    /// The events of the traffic (with `Outcomes`), in journey order.
    pub events: String,
}

/// Where the journeys come from.
pub enum Traffic<'a> {
    Recorded(&'a [Journey]),
    Synthetic(&'a Synthetic),
}

impl Traffic<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Traffic::Recorded(j) => j.len() as u64,
            Traffic::Synthetic(s) => s.visitors,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Journeys per parallel chunk (the unit of the deterministic merge).
const CHUNK: u64 = 512;

/// Runs the traffic through `site` (and `against`, with the same visitors); `progress(n)` is
/// called as journeys finish. The events are collected into [`Simulation::events`]; for many
/// visitors, [`simulate_into`] writes them as it goes.
pub fn simulate(
    site: &Site,
    against: Option<&Site>,
    keys: &Keys,
    traffic: &Traffic<'_>,
    outcomes: Option<&Outcomes>,
    progress: &(dyn Fn(u64) + Sync),
) -> Simulation {
    let mut events = String::new();
    let mut out = simulate_into(site, against, keys, traffic, outcomes, progress, &mut |e| {
        events.push_str(e)
    });
    out.events = events;
    out
}

/// [`simulate`], handing the events to `events` in journey order as they are made: a wave of
/// chunks runs on every core, then its events go out, then the next wave — memory holds the
/// visitors in flight, not the run.
pub fn simulate_into(
    site: &Site,
    against: Option<&Site>,
    keys: &Keys,
    traffic: &Traffic<'_>,
    outcomes: Option<&Outcomes>,
    progress: &(dyn Fn(u64) + Sync),
    events: &mut dyn FnMut(&str),
) -> Simulation {
    let chunks = traffic.len().div_ceil(CHUNK);
    let wave = (rayon::current_num_threads() as u64 * 4).max(1);
    let mut out = Simulation {
        against: against.map(|_| (Tally::default(), Diff::default())),
        ..Simulation::default()
    };
    for first in (0..chunks).step_by(wave as usize) {
        let parts: Vec<Simulation> = (first..(first + wave).min(chunks))
            .into_par_iter()
            .map(|c| {
                let mut part = Simulation {
                    against: against.map(|_| (Tally::default(), Diff::default())),
                    ..Simulation::default()
                };
                let (start, end) = (c * CHUNK, ((c + 1) * CHUNK).min(traffic.len()));
                for i in start..end {
                    let synthetic;
                    let journey = match traffic {
                        Traffic::Recorded(j) => &j[i as usize],
                        Traffic::Synthetic(spec) => {
                            synthetic = synthetic_journey(site, spec, i);
                            &synthetic
                        }
                    };
                    let a = run(site, keys, journey, outcomes);
                    part.tally.add(site, &a);
                    part.events.push_str(&a.events);
                    if let (Some(other), Some((tally, diff))) = (against, part.against.as_mut()) {
                        let b = run(other, keys, journey, None);
                        tally.add(other, &b);
                        diff.add(&a, &b);
                    }
                }
                progress(end - start);
                part
            })
            .collect();
        for p in parts {
            out.tally.merge(p.tally);
            if !p.events.is_empty() {
                events(&p.events);
            }
            if let (Some((t, d)), Some((pt, pd))) = (out.against.as_mut(), p.against) {
                t.merge(pt);
                d.merge(pd);
            }
        }
    }
    out
}
