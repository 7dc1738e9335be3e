//! Validation: a configuration document ([`SiteDoc`]) becomes a compiled [`Site`], with every
//! mistake reported by its JSON path. Also the checks a compiled configuration gets on load.

use std::collections::{BTreeMap, BTreeSet};

#[cfg(not(feature = "config-paths"))]
use serde::Deserialize as _;

use super::model::{Action, Affinity, EventKind, Pick, SiteDoc, SlotDoc, VariantDoc};
use super::{
    event_fields, stable_key, to_centi, CompiledSelector, ConfigError, ConfigErrors, Dimension,
    EventsConfig, Experiment, Limits, PageType, PathPattern, Policy, Privacy, Rank, Segment,
    Signal, Site, Slot, Template, Variant, DEVICES, MAX_DIMENSIONS, MAX_SLOTS, OTHER_PAGE,
    REORDER_VARIANT,
};
use crate::expr::names::{self, BUILTINS};
use crate::expr::{self, Builtin, EventField, Expr, Scope, Type, Var};

/// Rebuilds what a compiled configuration does not carry (selectors) and checks every index,
/// so that nothing read from a file can make a later lookup fail.
#[allow(
    clippy::too_many_lines,
    reason = "FIXME(issue 22): to be split with the compile.rs split"
)]
pub(super) fn relink(site: &mut Site, path: &str, errs: &mut Errors) {
    let (dims, segs, slots, exps, pols) = (
        site.dimensions.len(),
        site.segments.len(),
        site.slots.len(),
        site.experiments.len(),
        site.policies.len(),
    );
    let mut bad = |what: &str| {
        errs.push(
            path,
            format!("compiled configuration has an invalid {what} reference"),
        )
    };
    let mut vars = Vec::new();
    let exprs = site
        .segments
        .iter()
        .map(|s| &s.expr)
        .chain(site.signals.iter().filter_map(|s| s.when.as_ref()))
        .chain(site.policies.iter().filter_map(|p| p.when.as_ref()))
        .chain(site.slots.iter().filter_map(|s| s.when.as_ref()))
        .chain(
            site.slots
                .iter()
                .flat_map(|s| s.variants.iter().filter_map(|v| v.when.as_ref())),
        );
    for e in exprs {
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
    if vars.iter().any(|v| {
        matches!(v, Var::Score(i) if *i >= dims) || matches!(v, Var::Segment(i) if *i >= segs)
    }) {
        bad("variable");
    }
    // A permutation of the segments (checked without a sort: no sort code in the bundles).
    let mut seen = vec![false; segs];
    let permutation = site.segment_order.len() == segs
        && site
            .segment_order
            .iter()
            .all(|&i| seen.get_mut(i).is_some_and(|s| !std::mem::replace(s, true)));
    if !permutation {
        bad("segment order");
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
        bad("dimension");
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
        bad("experiment");
    }
    if site.slots.iter().any(|s| {
        s.policies
            .iter()
            .chain(s.variants.iter().flat_map(|v| v.policies.iter()))
            .any(|p| *p >= pols)
    }) {
        bad("policy");
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
    }
}

pub(super) fn check_hosts(sites: &[Site], errs: &mut Errors) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, s) in sites.iter().enumerate() {
        for h in &s.hosts {
            if let Some(other) = seen.insert(h, &s.name) {
                let path = if sites.len() > 1 {
                    format!("sites[{i}].hosts")
                } else {
                    "hosts".into()
                };
                errs.push(
                    path,
                    format!("host '{h}' is already served by site '{other}'"),
                );
            }
        }
    }
}

#[derive(Default)]
pub(super) struct Errors(pub(super) Vec<ConfigError>);

impl Errors {
    pub(super) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }
    pub(super) fn finish<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigErrors(self.0))
        }
    }
}

/// Joins a JSON path and a key (`slots` + `hero` → `slots.hero`).
pub(super) fn join(base: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (base.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{base}.{key}"),
        (_, false) => format!("{base}[{key:?}]"),
    }
}

pub(super) fn compile_site_value(
    value: &serde_json::Value,
    base: &str,
    errs: &mut Errors,
) -> Option<Site> {
    #[cfg(feature = "config-paths")]
    let doc: SiteDoc = match serde_path_to_error::deserialize(value) {
        Ok(doc) => doc,
        Err(e) => {
            let inner = e.path().to_string();
            let path = if inner == "." {
                base.to_string()
            } else if base.is_empty() {
                inner
            } else {
                format!("{base}.{inner}")
            };
            errs.push(path, e.into_inner().to_string());
            return None;
        }
    };
    #[cfg(not(feature = "config-paths"))]
    let doc: SiteDoc = match SiteDoc::deserialize(value) {
        Ok(doc) => doc,
        Err(e) => {
            errs.push(base, e.to_string());
            return None;
        }
    };
    let before = errs.0.len();
    let site = compile_site(doc, base, errs);
    (errs.0.len() == before).then_some(site)
}

// ---------------------------------------------------------------------------------------------
// Name resolution

struct SiteScope<'a> {
    dims: &'a [String],
    segments: &'a [String],
    page_params: &'a BTreeSet<String>,
    page_types: &'a BTreeSet<String>,
    event: Option<EventKind>,
}

pub(super) fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let best = candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= 2)
        .min();
    best.map(|(_, c)| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

impl Scope for SiteScope<'_> {
    fn resolve(&self, name: &str) -> Result<(Var, Type), String> {
        if let Some(b) = Builtin::named(name) {
            return Ok((Var::Builtin(b), b.ty()));
        }
        if let Some(unknown) = names::unknown_in_namespace(name) {
            return Err(unknown);
        }
        if let Some((ns, rest)) = name.split_once('.') {
            return match ns {
                "score" => match self.dims.iter().position(|d| d == rest) {
                    Some(i) => Ok((Var::Score(i), Type::Num)),
                    None => Err(format!(
                        "unknown dimension '{rest}'{}",
                        did_you_mean(rest, self.dims.iter().map(String::as_str))
                    )),
                },
                "query" if !rest.contains('.') => Ok((Var::Query(rest.to_string()), Type::Str)),
                "page" => {
                    if self.page_params.contains(rest) {
                        Ok((Var::PageParam(rest.to_string()), Type::Str))
                    } else {
                        let known: Vec<&str> =
                            self.page_params.iter().map(String::as_str).collect();
                        Err(format!(
                            "unknown page parameter '{rest}' (page_types capture: {})",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ))
                    }
                }
                "segment" => self.segment(rest),
                _ => Err(format!("unknown name '{name}'")),
            };
        }
        let field = EventKind::ALL
            .iter()
            .flat_map(|k| event_fields(*k))
            .find(|f| f.name() == name)
            .copied();
        if let Some(field) = field {
            let ty = match field {
                EventField::Price => Type::Num,
                EventField::Terms => Type::List,
                _ => Type::Str,
            };
            return match self.event {
                Some(kind) if event_fields(kind).contains(&field) => Ok((Var::Event(field), ty)),
                Some(kind) => Err(format!("'{name}' is not a field of {} events", kind.name())),
                None if !self.segments.iter().any(|s| s == name) => Err(format!(
                    "'{name}' is an event field, usable only in signals"
                )),
                None => self.segment(name),
            };
        }
        self.segment(name)
    }

    fn check_literal(&self, var: &Var, lit: &str) -> Result<(), String> {
        let (what, allowed): (&str, Vec<&str>) = match var {
            Var::Builtin(Builtin::TopDimension) => {
                ("dimension", self.dims.iter().map(String::as_str).collect())
            }
            Var::Builtin(Builtin::PageType) => (
                "page type",
                self.page_types
                    .iter()
                    .map(String::as_str)
                    .chain([OTHER_PAGE])
                    .collect(),
            ),
            Var::Builtin(Builtin::Device) => ("device", DEVICES.to_vec()),
            _ => return Ok(()),
        };
        if allowed.contains(&lit) {
            Ok(())
        } else {
            Err(format!(
                "unknown {what} '{lit}'{}",
                did_you_mean(lit, allowed.iter().copied())
            ))
        }
    }
}

impl SiteScope<'_> {
    fn segment(&self, name: &str) -> Result<(Var, Type), String> {
        if let Some(kind) = self.event {
            return Err(format!(
                "unknown name '{name}' ({} signals read event fields, page, query and scores; segments are evaluated after scoring)",
                kind.name()
            ));
        }
        match self.segments.iter().position(|s| s == name) {
            Some(i) => Ok((Var::Segment(i), Type::Bool)),
            None => Err(format!(
                "unknown segment '{name}'{}",
                did_you_mean(
                    name,
                    self.segments
                        .iter()
                        .map(String::as_str)
                        .chain(BUILTINS.iter().map(|b| b.name))
                )
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn compile_expr(src: &str, scope: &SiteScope<'_>, path: &str, errs: &mut Errors) -> Option<Expr> {
    match expr::compile(src, scope) {
        Ok(e) => Some(e),
        Err(e) => {
            errs.push(path, e.to_string());
            None
        }
    }
}

#[cfg(feature = "rewrite")]
fn parse_selector(src: &str, path: &str, errs: &mut Errors) -> Option<CompiledSelector> {
    match src.parse::<lol_html::Selector>() {
        Ok(s) => Some(s),
        Err(e) => {
            let msg = e.to_string();
            errs.push(
                path,
                format!(
                    "invalid selector '{src}': {}",
                    // lol_html's messages are ASCII; `str::to_lowercase` would bring its
                    // Unicode case tables into the edge bundle for this one line.
                    msg.trim_end_matches('.').to_ascii_lowercase()
                ),
            );
            None
        }
    }
}

#[cfg(not(feature = "rewrite"))]
fn parse_selector(src: &str, path: &str, errs: &mut Errors) -> Option<CompiledSelector> {
    if src.trim().is_empty() {
        errs.push(
            path,
            format!("invalid selector '{src}': the selector is empty"),
        );
        return None;
    }
    Some(CompiledSelector(src.to_string()))
}

fn finite(x: f64) -> bool {
    x.is_finite()
}

/// What every slot is compiled against: the names in scope, the compiled policies and defaults.
struct Cx<'a> {
    base: &'a str,
    dims: &'a [String],
    segments: &'a [String],
    page_params: &'a BTreeSet<String>,
    page_kinds: &'a BTreeSet<String>,
    policies: &'a [Policy],
    max_buffer_bytes: u32,
}

impl Cx<'_> {
    fn scope(&self, event: Option<EventKind>) -> SiteScope<'_> {
        SiteScope {
            dims: self.dims,
            segments: self.segments,
            page_params: self.page_params,
            page_types: self.page_kinds,
            event,
        }
    }

    /// Policies whose target matches `slot:variant`, in config order.
    fn policies_for(&self, slot: &str, variant: &str) -> Vec<usize> {
        self.policies
            .iter()
            .enumerate()
            .filter(|(_, pol)| {
                pol.target
                    .split_once(':')
                    .is_some_and(|(s, v)| expr::glob_match(s, slot) && expr::glob_match(v, variant))
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// One variant of a slot: condition, templates, pick-specific fields, policies that target it.
#[allow(
    clippy::too_many_lines,
    reason = "FIXME(issue 22): to be split with the compile.rs split"
)]
fn compile_variant(
    cx: &Cx<'_>,
    name: &str,
    sd: &SlotDoc,
    vd: &VariantDoc,
    vpath: &str,
    ids: &mut BTreeSet<String>,
    errs: &mut Errors,
) -> Variant {
    if !valid_name(&vd.id) {
        errs.push(
            format!("{vpath}.id"),
            format!(
                "'{}' is not a valid variant id (letters, digits, '_' and '-')",
                vd.id
            ),
        );
    } else if vd.id == REORDER_VARIANT {
        errs.push(
            format!("{vpath}.id"),
            format!("'{REORDER_VARIANT}' is reserved"),
        );
    }
    if !ids.insert(vd.id.clone()) {
        errs.push(
            format!("{vpath}.id"),
            format!("duplicate variant id '{}'", vd.id),
        );
    }
    let vwhen = vd
        .when
        .as_deref()
        .and_then(|w| compile_expr(w, &cx.scope(None), &format!("{vpath}.when"), errs));
    if sd.action.takes_html() && vd.html.is_none() {
        errs.push(
            format!("{vpath}.html"),
            format!("{} needs html", sd.action.name()),
        );
    }
    if !sd.action.takes_html() && vd.html.is_some() {
        errs.push(
            format!("{vpath}.html"),
            format!("{} takes no html", sd.action.name()),
        );
    }
    match (sd.action == Action::SetAttribute, vd.value.is_some()) {
        (true, false) => errs.push(format!("{vpath}.value"), "set_attribute needs a value"),
        (false, true) => errs.push(
            format!("{vpath}.value"),
            "only set_attribute variants take a value",
        ),
        _ => {}
    }
    let weight = match (sd.pick, vd.weight) {
        (Pick::Weighted, Some(w)) if finite(w) && w > 0.0 => w,
        (Pick::Weighted, Some(w)) => {
            errs.push(
                format!("{vpath}.weight"),
                format!("must be a positive number, got {w}"),
            );
            0.0
        }
        (Pick::Weighted, None) => {
            errs.push(
                format!("{vpath}.weight"),
                "weighted pick needs a weight on every variant",
            );
            0.0
        }
        (_, Some(_)) => {
            errs.push(
                format!("{vpath}.weight"),
                "weight is only used with pick 'weighted'",
            );
            0.0
        }
        (_, None) => 0.0,
    };
    let dimension = match (&vd.dimension, sd.pick) {
        (Some(d), _) => {
            let idx = cx.dims.iter().position(|n| n == d);
            if idx.is_none() {
                errs.push(
                    format!("{vpath}.dimension"),
                    format!(
                        "unknown dimension '{d}'{}",
                        did_you_mean(d, cx.dims.iter().map(String::as_str))
                    ),
                );
            }
            if sd.pick != Pick::BestScore {
                errs.push(
                    format!("{vpath}.dimension"),
                    "dimension is only used with pick 'best_score'",
                );
            }
            idx
        }
        (None, Pick::BestScore) => {
            errs.push(
                format!("{vpath}.dimension"),
                "best_score pick needs a dimension on every variant",
            );
            None
        }
        (None, _) => None,
    };
    let mut template = |src: &Option<String>, field: &str| {
        let src = src.as_deref()?;
        match Template::parse(src, &cx.scope(None)) {
            Ok(t) => Some(t),
            Err(e) => {
                errs.push(format!("{vpath}.{field}"), e);
                None
            }
        }
    };
    let html = template(&vd.html, "html");
    let value = template(&vd.value, "value");
    Variant {
        id: vd.id.clone(),
        when: vwhen,
        html,
        value,
        weight,
        dimension,
        requires_signed: vd.requires.is_some(),
        policies: cx.policies_for(name, &vd.id),
    }
}

/// One slot: selector, action-specific fields, variants and their templates, rank, caps.
#[allow(
    clippy::too_many_lines,
    reason = "FIXME(issue 22): to be split with the compile.rs split"
)]
fn compile_slot(cx: &Cx<'_>, name: &str, sd: &SlotDoc, errs: &mut Errors) -> Slot {
    let path = join(&join(cx.base, "slots"), name);
    if !valid_name(name) {
        errs.push(
            &path,
            format!("'{name}' is not a valid slot name (letters, digits, '_' and '-')"),
        );
    }
    let selector = parse_selector(&sd.selector, &format!("{path}.selector"), errs);
    let reorder = sd.action == Action::Reorder;
    let items = match (&sd.items, reorder) {
        // Items are matched by `<container> <items>`, compiled once here.
        (Some(_), true) if sd.selector.contains(',') => {
            errs.push(
                format!("{path}.selector"),
                "a reorder container selector cannot be a list (',')",
            );
            None
        }
        (Some(src), true) if src.contains(',') => {
            errs.push(
                format!("{path}.items"),
                "a reorder item selector cannot be a list (',')",
            );
            None
        }
        (Some(src), true) => parse_selector(src, &format!("{path}.items"), errs).and_then(|_| {
            parse_selector(
                &format!("{} {src}", sd.selector),
                &format!("{path}.items"),
                errs,
            )
        }),
        (None, true) => {
            errs.push(format!("{path}.items"), "reorder needs an item selector");
            None
        }
        (Some(_), false) => {
            errs.push(
                format!("{path}.items"),
                format!("only reorder slots take items, not {}", sd.action.name()),
            );
            None
        }
        (None, false) => None,
    };
    if !reorder {
        for (field, present) in [
            ("rank", sd.rank.is_some()),
            ("when", sd.when.is_some()),
            ("max_buffer_bytes", sd.max_buffer_bytes.is_some()),
        ] {
            if present {
                errs.push(
                    format!("{path}.{field}"),
                    format!("only reorder slots take {field}; put conditions on variants"),
                );
            }
        }
    }
    match (sd.action, &sd.attribute) {
        (Action::SetAttribute, None) => errs.push(
            format!("{path}.attribute"),
            "set_attribute needs an attribute name",
        ),
        (Action::SetAttribute, Some(a))
            if a.is_empty()
                || a.chars()
                    .any(|c| c.is_whitespace() || "\"'<>/=".contains(c)) =>
        {
            errs.push(
                format!("{path}.attribute"),
                format!("'{a}' is not a valid attribute name"),
            )
        }
        (a, Some(_)) if a != Action::SetAttribute => errs.push(
            format!("{path}.attribute"),
            format!(
                "only set_attribute slots take an attribute, not {}",
                a.name()
            ),
        ),
        _ => {}
    }
    if reorder && !sd.variants.is_empty() {
        errs.push(
            format!("{path}.variants"),
            "reorder slots take no variants (use rank)",
        );
    }
    if !reorder && sd.variants.is_empty() {
        errs.push(format!("{path}.variants"), "needs at least one variant");
    }
    let when = sd
        .when
        .as_deref()
        .and_then(|w| compile_expr(w, &cx.scope(None), &format!("{path}.when"), errs));
    let mut variants = Vec::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for (vi, vd) in sd.variants.iter().enumerate() {
        let vpath = format!("{path}.variants[{vi}]");
        variants.push(compile_variant(cx, name, sd, vd, &vpath, &mut ids, errs));
    }
    let rank = reorder.then(|| {
        let rd = sd
            .rank
            .clone()
            .unwrap_or_else(|| serde_json::from_str("{}").expect("empty rank object"));
        let mut keys = Vec::new();
        let mut key_sources = Vec::new();
        if rd.affinity == Affinity::Score {
            for (i, d) in cx.dims.iter().enumerate() {
                keys.push(d.clone());
                key_sources.push((Some(i), 0));
            }
        }
        for (value, boost) in rd.boost.iter().filter(|(_, v)| finite(**v)) {
            let centi = to_centi(boost.clamp(-1000.0, 1000.0)) as i32;
            match keys.iter().position(|k| k == value) {
                Some(k) => key_sources[k].1 += centi,
                None => {
                    keys.push(value.clone());
                    key_sources.push((None, centi));
                }
            }
        }
        Rank {
            by_attr: rd.by_attr,
            sku_attr: rd.sku_attr,
            affinity: rd.affinity,
            suppress: rd.suppress,
            pin: rd.pin,
            bury: rd.bury,
            keys,
            key_sources,
        }
    });
    if let Some(r) = &sd.rank {
        for (k, v) in &r.boost {
            if !(finite(*v) && v.abs() <= 1000.0) {
                errs.push(
                    join(&format!("{path}.rank.boost"), k),
                    format!("boost must be within ±1000, got {v}"),
                );
            }
        }
    }
    if let Some(cap) = &sd.frequency_cap {
        if cap.per_session.is_none() && cap.per_visitor.is_none() {
            errs.push(
                format!("{path}.frequency_cap"),
                "needs per_session or per_visitor",
            );
        }
        if cap.per_session == Some(0) || cap.per_visitor == Some(0) {
            errs.push(
                format!("{path}.frequency_cap"),
                "a cap of 0 never shows the slot; remove the slot instead",
            );
        }
    }
    Slot {
        name: name.to_string(),
        key: stable_key(name),
        selector,
        selector_source: sd.selector.clone(),
        action: sd.action,
        pick: sd.pick,
        variants,
        attribute: sd.attribute.clone(),
        items: if items.is_some() {
            sd.items.clone()
        } else {
            None
        },
        items_selector: items,
        rank,
        when,
        max_buffer_bytes: sd.max_buffer_bytes.unwrap_or(cx.max_buffer_bytes),
        cap_per_session: sd.frequency_cap.as_ref().and_then(|c| c.per_session),
        cap_per_visitor: sd.frequency_cap.as_ref().and_then(|c| c.per_visitor),
        experiment: None,
        split_salt: format!("slot:{name}"),
        policies: cx.policies_for(name, REORDER_VARIANT),
    }
}

/// `dimensions`: names, half-lives, caps and stable keys.
fn compile_dimensions(doc: &SiteDoc, base: &str, errs: &mut Errors) -> Vec<Dimension> {
    let p = |k: &str| join(base, k);
    let mut dimensions = Vec::new();
    if doc.dimensions.is_empty() {
        errs.push(p("dimensions"), "needs at least one dimension");
    }
    if doc.dimensions.len() > MAX_DIMENSIONS {
        errs.push(
            p("dimensions"),
            format!(
                "{} dimensions; at most {MAX_DIMENSIONS}",
                doc.dimensions.len()
            ),
        );
    }
    let mut keys: BTreeMap<u16, &str> = BTreeMap::new();
    for (name, d) in &doc.dimensions {
        let path = join(&p("dimensions"), name);
        if !valid_name(name) {
            errs.push(
                &path,
                format!("'{name}' is not a valid name (letters, digits, '_' and '-')"),
            );
        }
        if !(finite(d.half_life_hours) && d.half_life_hours > 0.0) {
            errs.push(
                format!("{path}.half_life_hours"),
                format!(
                    "must be a positive number of hours, got {}",
                    d.half_life_hours
                ),
            );
        }
        if !(finite(d.cap) && d.cap > 0.0 && d.cap <= 1000.0) {
            errs.push(
                format!("{path}.cap"),
                format!("must be in (0, 1000], got {}", d.cap),
            );
        }
        let key = stable_key(name);
        if let Some(other) = keys.insert(key, name) {
            errs.push(
                &path,
                format!("stable key {key:#06x} collides with dimension '{other}'; rename one"),
            );
        }
        dimensions.push(Dimension {
            name: name.clone(),
            key,
            half_life_secs: d.half_life_hours * 3600.0,
            cap: to_centi(d.cap.clamp(0.0, 1000.0)) as u32,
        });
    }
    dimensions
}

/// `page_types`: path patterns, with the parameter names and page types they define.
fn compile_page_types(
    doc: &SiteDoc,
    base: &str,
    errs: &mut Errors,
) -> (Vec<PageType>, BTreeSet<String>, BTreeSet<String>) {
    let p = |k: &str| join(base, k);
    let mut page_types = Vec::new();
    let mut page_params = BTreeSet::new();
    let mut page_kinds = BTreeSet::new();
    for (i, pt) in doc.page_types.iter().enumerate() {
        let path = format!("{}[{i}]", p("page_types"));
        match PathPattern::parse(&pt.path) {
            Ok(pattern) => {
                page_params.extend(pattern.params().map(String::from));
                page_types.push(PageType {
                    pattern,
                    kind: pt.kind.clone(),
                    search_param: pt.search_param.clone(),
                });
            }
            Err(e) => errs.push(format!("{path}.path"), e),
        }
        if !valid_name(&pt.kind) {
            errs.push(
                format!("{path}.type"),
                format!("'{}' is not a valid page type name", pt.kind),
            );
        }
        if pt.search_param.is_some() && pt.kind != "search" {
            errs.push(
                format!("{path}.search_param"),
                "only pages of type 'search' take a search_param",
            );
        }
        page_kinds.insert(pt.kind.clone());
    }
    (page_types, page_params, page_kinds)
}

/// `segments`: each compiled against every name (segments may read segments), then ordered.
fn compile_segments(doc: &SiteDoc, cx: &Cx<'_>, errs: &mut Errors) -> (Vec<Segment>, Vec<usize>) {
    let p = |k: &str| join(cx.base, k);
    let mut segments = Vec::new();
    for (name, src) in &doc.segments {
        let path = join(&p("segments"), name);
        if !valid_name(name) {
            errs.push(&path, format!("'{name}' is not a valid segment name"));
        } else if Builtin::named(name).is_some() || name == "true" || name == "false" {
            errs.push(&path, format!("'{name}' is a built-in name"));
        }
        let expr = compile_expr(src, &cx.scope(None), &path, errs).unwrap_or(Expr::Const(false));
        segments.push(Segment {
            name: name.clone(),
            source: src.clone(),
            expr,
        });
    }
    let order = order_segments(&segments, &p("segments"), errs);
    (segments, order)
}

/// `signals`: conditions over their event's fields, amounts per dimension or by category.
fn compile_signals(doc: &SiteDoc, cx: &Cx<'_>, errs: &mut Errors) -> Vec<Signal> {
    let p = |k: &str| join(cx.base, k);
    let mut signals = Vec::new();
    for (i, s) in doc.signals.iter().enumerate() {
        let path = format!("{}[{i}]", p("signals"));
        let when = s
            .when
            .as_deref()
            .and_then(|w| compile_expr(w, &cx.scope(Some(s.on)), &format!("{path}.where"), errs));
        let mut add = Vec::new();
        for (dim, amount) in &s.add {
            let apath = join(&format!("{path}.add"), dim);
            match cx.dims.iter().position(|d| d == dim) {
                Some(idx) if finite(*amount) && amount.abs() <= 1000.0 => {
                    add.push((idx, to_centi(*amount) as i32))
                }
                Some(_) => errs.push(apath, format!("amount must be within ±1000, got {amount}")),
                None => errs.push(
                    apath,
                    format!(
                        "unknown dimension '{dim}'{}",
                        did_you_mean(dim, cx.dims.iter().map(String::as_str))
                    ),
                ),
            }
        }
        let add_category = match (&s.add_attr, s.amount) {
            (None, None) => None,
            (Some(attr), Some(amount)) => {
                if attr != "category" {
                    errs.push(
                        format!("{path}.add_attr"),
                        format!("unsupported attribute '{attr}' (only 'category')"),
                    );
                } else if !event_fields(s.on).contains(&EventField::Category) {
                    errs.push(
                        format!("{path}.add_attr"),
                        format!("{} events carry no category", s.on.name()),
                    );
                }
                if !(finite(amount) && amount.abs() <= 1000.0) {
                    errs.push(
                        format!("{path}.amount"),
                        format!("amount must be within ±1000, got {amount}"),
                    );
                }
                Some(to_centi(amount.clamp(-1000.0, 1000.0)) as i32)
            }
            (Some(_), None) => {
                errs.push(format!("{path}.amount"), "add_attr needs an amount");
                None
            }
            (None, Some(_)) => {
                errs.push(format!("{path}.add_attr"), "amount needs add_attr");
                None
            }
        };
        if s.add.is_empty() && add_category.is_none() && s.add_attr.is_none() {
            errs.push(
                &path,
                "a signal must add something (add, or add_attr with amount)",
            );
        }
        signals.push(Signal {
            on: s.on,
            when,
            add,
            add_category,
        });
    }
    signals
}

/// `policies`: deny/allow targets (which must match a slot) and their conditions.
fn compile_policies(doc: &SiteDoc, cx: &Cx<'_>, errs: &mut Errors) -> Vec<Policy> {
    let p = |k: &str| join(cx.base, k);
    let mut policies = Vec::new();
    for (i, pd) in doc.policies.iter().enumerate() {
        let path = format!("{}[{i}]", p("policies"));
        let (deny, target) = match (&pd.deny, &pd.allow) {
            (Some(t), None) => (true, t.clone()),
            (None, Some(t)) => (false, t.clone()),
            _ => {
                errs.push(&path, "a policy needs exactly one of 'deny' or 'allow'");
                continue;
            }
        };
        let key = if deny { "deny" } else { "allow" };
        match target.split_once(':') {
            Some((slot_glob, var_glob)) if !slot_glob.is_empty() && !var_glob.is_empty() => {
                if !doc.slots.keys().any(|s| expr::glob_match(slot_glob, s)) {
                    errs.push(
                        format!("{path}.{key}"),
                        format!("'{target}' matches no slot"),
                    );
                }
            }
            _ => errs.push(
                format!("{path}.{key}"),
                format!("target '{target}' must be 'slot:variant' (globs allowed)"),
            ),
        }
        let when = pd
            .when
            .as_deref()
            .and_then(|w| compile_expr(w, &cx.scope(None), &format!("{path}.when"), errs));
        if pd.reason.trim().is_empty() {
            errs.push(format!("{path}.reason"), "must explain the policy");
        }
        policies.push(Policy {
            deny,
            target,
            when,
            reason: pd.reason.clone(),
        });
    }
    policies
}

/// `experiments`: holdouts over slots (a slot in at most one), control share in basis points.
fn compile_experiments(
    doc: &SiteDoc,
    base: &str,
    slots: &mut [Slot],
    errs: &mut Errors,
) -> Vec<Experiment> {
    let p = |k: &str| join(base, k);
    let mut experiments = Vec::new();
    for (name, ed) in &doc.experiments {
        let path = join(&p("experiments"), name);
        if !valid_name(name) {
            errs.push(&path, format!("'{name}' is not a valid experiment name"));
        }
        if !(finite(ed.control_percent) && (0.0..=100.0).contains(&ed.control_percent)) {
            errs.push(
                format!("{path}.control_percent"),
                format!("must be within 0–100, got {}", ed.control_percent),
            );
        }
        if ed.slots.is_empty() {
            errs.push(format!("{path}.slots"), "needs at least one slot");
        }
        let mut idxs = Vec::new();
        for (si, s) in ed.slots.iter().enumerate() {
            let spath = format!("{path}.slots[{si}]");
            match slots.iter().position(|x| &x.name == s) {
                Some(idx) => {
                    if let Some(prev) = slots[idx].experiment {
                        let other: &Experiment = &experiments[prev];
                        errs.push(
                            spath,
                            format!("slot '{s}' is already in experiment '{}'", other.name),
                        );
                    } else {
                        slots[idx].experiment = Some(experiments.len());
                        idxs.push(idx);
                    }
                }
                None => errs.push(spath, format!("unknown slot '{s}'")),
            }
        }
        let control_bp = libm::round(ed.control_percent.clamp(0.0, 100.0) * 100.0) as u32;
        experiments.push(Experiment {
            name: name.clone(),
            slots: idxs,
            control_bp,
        });
    }
    experiments
}

/// `privacy` and `limits`: range checks (the values are clamped where they are used).
fn check_privacy_and_limits(doc: &SiteDoc, base: &str, errs: &mut Errors) {
    let p = |k: &str| join(base, k);
    let l = &doc.limits;
    if l.max_events == 0 || l.max_events > 32 {
        errs.push(
            format!("{}.max_events", p("limits")),
            format!("must be within 1–32, got {}", l.max_events),
        );
    }
    if !(finite(l.max_event_gain) && l.max_event_gain >= 0.0 && l.max_event_gain <= 1000.0) {
        errs.push(
            format!("{}.max_event_gain", p("limits")),
            format!("must be within 0–1000, got {}", l.max_event_gain),
        );
    }
    if l.recent_items > 16 {
        errs.push(
            format!("{}.recent_items", p("limits")),
            format!("must be within 0–16, got {}", l.recent_items),
        );
    }
    if l.session_idle_minutes == 0 || l.session_idle_minutes > 24 * 60 {
        errs.push(
            format!("{}.session_idle_minutes", p("limits")),
            format!("must be within 1–1440, got {}", l.session_idle_minutes),
        );
    }
    let rate = doc.events.page_sample;
    if !(finite(rate) && (0.0..=1.0).contains(&rate)) {
        errs.push(
            format!("{}.page_sample", p("events")),
            format!("must be within 0–1, got {rate}"),
        );
    }
    if l.max_buffer_bytes < 1024 {
        errs.push(
            format!("{}.max_buffer_bytes", p("limits")),
            format!("must be at least 1024, got {}", l.max_buffer_bytes),
        );
    }
    let pr = &doc.privacy;
    if pr.state_max_age_days == 0 || pr.state_max_age_days > 400 {
        errs.push(
            format!("{}.state_max_age_days", p("privacy")),
            format!("must be within 1–400, got {}", pr.state_max_age_days),
        );
    }
}

fn compile_site(doc: SiteDoc, base: &str, errs: &mut Errors) -> Site {
    let p = |k: &str| join(base, k);
    if doc.version != 1 {
        errs.push(
            p("version"),
            format!(
                "unsupported version {} (this build reads version 1)",
                doc.version
            ),
        );
    }
    if doc.site.trim().is_empty() {
        errs.push(p("site"), "must not be empty");
    }
    for (i, h) in doc.hosts.iter().enumerate() {
        let ok = h == "*"
            || h.strip_prefix("*.")
                .unwrap_or(h)
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        if !ok || h.chars().any(|c| c.is_ascii_uppercase()) {
            errs.push(
                format!("{}[{i}]", p("hosts")),
                format!("'{h}' is not a lowercase host name, '*.domain' or '*'"),
            );
        }
    }

    let dimensions = compile_dimensions(&doc, base, errs);
    let dim_names: Vec<String> = dimensions.iter().map(|d| d.name.clone()).collect();
    let (page_types, page_params, page_kinds) = compile_page_types(&doc, base, errs);
    // Every segment name is known before any expression is compiled.
    let segment_names: Vec<String> = doc.segments.keys().cloned().collect();
    let names = Cx {
        base,
        dims: &dim_names,
        segments: &segment_names,
        page_params: &page_params,
        page_kinds: &page_kinds,
        policies: &[],
        max_buffer_bytes: doc.limits.max_buffer_bytes,
    };
    let (segments, segment_order) = compile_segments(&doc, &names, errs);
    let signals = compile_signals(&doc, &names, errs);
    // Policies come before slots, so that variants can list the ones that target them.
    let policies = compile_policies(&doc, &names, errs);

    // Slots.
    let mut slots = Vec::new();
    if doc.slots.len() > MAX_SLOTS {
        errs.push(
            p("slots"),
            format!("{} slots; at most {MAX_SLOTS}", doc.slots.len()),
        );
    }
    let cx = Cx {
        policies: &policies,
        ..names
    };
    for (name, sd) in &doc.slots {
        slots.push(compile_slot(&cx, name, sd, errs));
    }
    let mut slot_keys: BTreeMap<u16, &str> = BTreeMap::new();
    for s in &slots {
        if let Some(other) = slot_keys.insert(s.key, &s.name) {
            errs.push(
                join(&p("slots"), &s.name),
                format!("stable key collides with slot '{other}'; rename one"),
            );
        }
    }

    let experiments = compile_experiments(&doc, base, &mut slots, errs);
    check_privacy_and_limits(&doc, base, errs);
    let (l, pr) = (&doc.limits, &doc.privacy);
    let mut site = Site {
        name: doc.site.clone(),
        hosts: doc.hosts.clone(),
        dimensions,
        page_types,
        signals,
        segments,
        segment_order,
        slots,
        experiments,
        policies,
        privacy: Privacy {
            honor_gpc: pr.honor_gpc,
            state_max_age_secs: pr.state_max_age_days.min(400) * 86_400,
        },
        limits: Limits {
            max_events: usize::from(l.max_events.min(32)),
            max_event_gain: to_centi(l.max_event_gain.clamp(0.0, 1000.0)) as u32,
            recent_items: usize::from(l.recent_items.min(16)),
            session_idle_secs: l.session_idle_minutes.clamp(1, 1440) * 60,
        },
        events: EventsConfig {
            page_sample_ppm: (doc.events.page_sample.clamp(0.0, 1.0) * 1e6).round() as u32,
            page_query: Vec::new(),
        },
    };
    site.events.page_query = query_params_read(&site);
    site
}

/// The query parameters `site` reads: in expressions, templates and search pages.
fn query_params_read(site: &Site) -> Vec<String> {
    let mut vars = Vec::new();
    let exprs = site
        .segments
        .iter()
        .map(|s| Some(&s.expr))
        .chain(site.signals.iter().map(|s| s.when.as_ref()))
        .chain(site.policies.iter().map(|p| p.when.as_ref()))
        .chain(site.slots.iter().flat_map(|s| {
            std::iter::once(s.when.as_ref()).chain(s.variants.iter().map(|v| v.when.as_ref()))
        }));
    for e in exprs.flatten() {
        e.vars(&mut vars);
    }
    for v in site.slots.iter().flat_map(|s| &s.variants) {
        for t in [&v.html, &v.value].into_iter().flatten() {
            t.vars(&mut vars);
        }
    }
    let mut names: BTreeSet<String> = vars
        .into_iter()
        .filter_map(|v| match v {
            Var::Query(q) => Some(q),
            _ => None,
        })
        .collect();
    names.extend(
        site.page_types
            .iter()
            .filter_map(|p| p.search_param.clone()),
    );
    names.into_iter().collect()
}

/// Orders segments so each comes after the segments it reads; reports cycles.
fn order_segments(segments: &[Segment], path: &str, errs: &mut Errors) -> Vec<usize> {
    let deps: Vec<Vec<usize>> = segments
        .iter()
        .map(|s| {
            let mut vars = Vec::new();
            s.expr.vars(&mut vars);
            vars.into_iter()
                .filter_map(|v| {
                    if let Var::Segment(i) = v {
                        Some(i)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut mark = vec![0u8; segments.len()];
    let mut order = Vec::with_capacity(segments.len());
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        mark: &mut [u8],
        order: &mut Vec<usize>,
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        match mark[i] {
            2 => return None,
            1 => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let mut cycle = stack[start..].to_vec();
                cycle.push(i);
                return Some(cycle);
            }
            _ => {}
        }
        mark[i] = 1;
        stack.push(i);
        for &d in &deps[i] {
            if let Some(c) = visit(d, deps, mark, order, stack) {
                return Some(c);
            }
        }
        stack.pop();
        mark[i] = 2;
        order.push(i);
        None
    }
    for i in 0..segments.len() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(i, &deps, &mut mark, &mut order, &mut stack) {
            let names: Vec<&str> = cycle.iter().map(|&c| segments[c].name.as_str()).collect();
            errs.push(
                join(path, names[0]),
                format!("segments form a cycle: {}", names.join(" -> ")),
            );
            for &c in &cycle {
                mark[c] = 2;
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_works() {
        assert_eq!(edit_distance("hikr", "hiker"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("hikr", ["hiker", "runner"].into_iter()),
            " (did you mean 'hiker'?)"
        );
    }

    #[test]
    fn joins_paths() {
        assert_eq!(join("", "slots"), "slots");
        assert_eq!(join("slots", "hero"), "slots.hero");
        assert_eq!(join("slots", "a.b"), "slots[\"a.b\"]");
    }
}
