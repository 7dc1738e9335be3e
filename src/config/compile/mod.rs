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

mod consent;
mod rank;
mod relink;
mod rules;
mod scope;
mod slots;

pub(super) use relink::relink;
use rules::*;
pub(super) use scope::did_you_mean;
#[cfg(test)]
use scope::edit_distance;
use scope::SiteScope;
use slots::compile_slot;

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
            errs.push(
                path,
                format!("invalid selector '{src}': {}", selector_error(&e)),
            );
            None
        }
    }
}

/// lol_html's reason, lowercased (its messages are ASCII; `str::to_lowercase` would bring
/// Unicode case tables into the edge bundle for this one line).
#[cfg(all(feature = "rewrite", not(feature = "edge")))]
fn selector_error(e: &lol_html::errors::SelectorError) -> String {
    e.to_string().trim_end_matches('.').to_ascii_lowercase()
}

/// At the edge the configuration was compiled, and so checked, by `vitrine compile`: a
/// selector it cannot read means a damaged file, and the reason stays generic (formatting
/// lol_html's error brings the selector parser's token printing, float formatting included,
/// into the bundle: kilobytes for a message no visitor's request can cause).
#[cfg(feature = "edge")]
fn selector_error(_: &lol_html::errors::SelectorError) -> String {
    "not a selector this version reads (compile the configuration again)".into()
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

/// A number checked against its range and clamped into it, in one place: outside `lo..=hi`
/// (NaN included) it is reported at `path` as "must be within lo–hi, got value", and clamped
/// (a document with errors is never used; the clamp keeps what is built from it sane).
fn within<T: PartialOrd + Copy + std::fmt::Display>(
    value: T,
    (lo, hi): (T, T),
    path: String,
    errs: &mut Errors,
) -> T {
    if lo <= value && value <= hi {
        return value;
    }
    errs.push(path, format!("must be within {lo}–{hi}, got {value}"));
    if value > hi {
        hi
    } else {
        lo
    }
}

/// What every slot is compiled against: the names in scope, the compiled policies and defaults.
struct Cx<'a> {
    base: &'a str,
    dims: &'a [String],
    segments: &'a [String],
    page_params: &'a BTreeSet<String>,
    page_kinds: &'a BTreeSet<String>,
    /// The page types, for item keys read by a page type's patterns.
    page_types: &'a [PageType],
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
        page_types: &page_types,
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
    let (privacy, limits, events) = compile_limits(&doc, base, errs);
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
        privacy,
        limits,
        events,
    };
    site.events.page_query = query_params_read(&site);
    site
}

/// The query parameters `site` reads: in expressions, templates and search pages.
fn query_params_read(site: &Site) -> Vec<String> {
    let vars = relink::variables(site);
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
