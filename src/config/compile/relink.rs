//! The checks a compiled configuration gets on load: what it does not carry (selectors) is
//! rebuilt and every index checked, so that nothing read from a file can make a later lookup
//! fail.

use super::*;

/// Rebuilds what a compiled configuration does not carry (selectors) and checks every index,
/// so that nothing read from a file can make a later lookup fail.
pub(in crate::config) fn relink(site: &mut Site, path: &str, errs: &mut Errors) {
    for what in invalid_references(site) {
        errs.push(
            path,
            format!("compiled configuration has an invalid {what} reference"),
        );
    }
    for slot in &mut site.slots {
        let spath = format!("{path}.slots.{}", slot.name);
        slot.selector = parse_selector(&slot.selector_source, &format!("{spath}.selector"), errs);
        slot.items_selector = match &slot.items {
            Some(items) => parse_selector(
                &format!("{} {items}", slot.selector_source),
                &format!("{spath}.items"),
                errs,
            ),
            None => None,
        };
        if let Some(rank) = &mut slot.rank {
            for key in [&mut rank.category, &mut rank.sku] {
                let kpath = format!("{spath}.rank.{}.selector", key.capture);
                key.compiled = key
                    .selector
                    .as_deref()
                    .and_then(|s| parse_selector(s, &kpath, errs));
            }
        }
    }
}

/// The kinds of index that point outside the site (`variable`, `segment order`, `dimension`,
/// `experiment`, `policy`), each once, in that order.
fn invalid_references(site: &Site) -> Vec<&'static str> {
    let (dims, segs) = (site.dimensions.len(), site.segments.len());
    let (slots, exps, pols) = (
        site.slots.len(),
        site.experiments.len(),
        site.policies.len(),
    );
    let mut bad = Vec::new();
    if variables(site).iter().any(|v| {
        matches!(v, Var::Score(i) if *i >= dims) || matches!(v, Var::Segment(i) if *i >= segs)
    }) {
        bad.push("variable");
    }
    // A permutation of the segments (checked without a sort: no sort code in the bundles).
    let mut seen = vec![false; segs];
    let permutation = site.segment_order.len() == segs
        && site
            .segment_order
            .iter()
            .all(|&i| seen.get_mut(i).is_some_and(|s| !std::mem::replace(s, true)));
    if !permutation {
        bad.push("segment order");
    }
    if site
        .signals
        .iter()
        .any(|s| s.add.iter().any(|(d, _)| *d >= dims))
        || site.slots.iter().any(|s| {
            s.variants
                .iter()
                .any(|v| v.dimension.is_some_and(|d| d >= dims))
        })
        || site.slots.iter().any(|s| {
            s.rank.as_ref().is_some_and(|r| {
                r.key_sources.len() != r.keys.len()
                    || r.key_sources
                        .iter()
                        .any(|(d, _)| d.is_some_and(|d| d >= dims))
            })
        })
    {
        bad.push("dimension");
    }
    if site
        .slots
        .iter()
        .any(|s| s.experiment.is_some_and(|e| e >= exps))
        || site
            .experiments
            .iter()
            .any(|e| e.slots.iter().any(|s| *s >= slots))
    {
        bad.push("experiment");
    }
    if site.slots.iter().any(|s| {
        s.policies
            .iter()
            .chain(s.variants.iter().flat_map(|v| v.policies.iter()))
            .any(|p| *p >= pols)
    }) {
        bad.push("policy");
    }
    bad
}

/// Every variable the site's expressions and templates read (also what tells the query
/// parameters a page record keeps).
pub(super) fn variables(site: &Site) -> Vec<Var> {
    let mut vars = Vec::new();
    for e in site.conditions() {
        e.vars(&mut vars);
    }
    for v in site
        .slots
        .iter()
        .flat_map(|s| s.variants.iter())
        .flat_map(|v| v.html.iter().chain(v.value.iter()))
    {
        v.vars(&mut vars);
    }
    vars
}
