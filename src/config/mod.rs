//! Site configuration: the JSON document ([`model`]), its validation into a compiled [`Site`],
//! the compiled binary form (`to_compiled`, read back by `wire`), lint ([`lint()`]) and the JSON
//! Schema. Conditions are compiled by the expression language ([`crate::expr`]).
//!
//! Architecture Invariant: a [`Site`] is valid by construction. Selectors are parsed and
//! expressions compiled here, once; nothing on the request path parses configuration text.

mod compile;
mod item_key;
mod lint;
pub mod model;
mod pattern;
mod template;
mod wire;

use std::fmt;

use serde::Serialize;

pub use item_key::{ItemKey, MAX_KEY_BYTES};
pub use lint::{lint, Finding, Severity};
pub use model::{Action, Affinity, EventKind, Pick, SiteDoc, Suppress};
pub use pattern::PathPattern;
pub use template::{escape_html, Template};

use crate::expr::{EventField, Expr, Var};

/// The demo store's configuration (an outdoor shop), embedded in every build.
pub const DEMO_CONFIG: &str = include_str!("demo.json");

/// Most dimensions a site may declare (keeps the state cookie within its budget).
pub const MAX_DIMENSIONS: usize = 32;
/// Most slots a site may declare.
pub const MAX_SLOTS: usize = 32;
/// Longest SKU recorded in the visitor state, in bytes.
pub const MAX_SKU_LEN: usize = 32;

/// One mistake in a configuration, located by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every mistake found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A loaded configuration: one or more sites.
#[derive(Debug, Clone)]
pub struct Config {
    pub sites: Vec<Site>,
}

impl Config {
    /// Parses and validates a configuration document, reporting every mistake found.
    pub fn from_json(text: &str) -> Result<Config, ConfigErrors> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                message: format!("invalid JSON: {e}"),
            }])
        })?;
        let mut errs = compile::Errors::default();
        let mut sites = Vec::new();
        match value.get("sites") {
            Some(serde_json::Value::Array(list)) => {
                if list.is_empty() {
                    errs.push("sites", "needs at least one site");
                }
                for (i, v) in list.iter().enumerate() {
                    if let Some(site) =
                        compile::compile_site_value(v, &format!("sites[{i}]"), &mut errs)
                    {
                        sites.push(site);
                    }
                }
            }
            Some(_) => errs.push("sites", "must be a list of site objects"),
            None => {
                if let Some(site) = compile::compile_site_value(&value, "", &mut errs) {
                    sites.push(site);
                }
            }
        }
        compile::check_hosts(&sites, &mut errs);
        errs.finish(Config { sites })
    }

    /// The compiled form of this configuration: validated, expressions compiled, ready to use
    /// without a JSON parser (the browser module loads this). Bound to this version of Vitrine.
    ///
    /// Layout: `VTC5`, a length-prefixed crate version, then the sites in postcard encoding.
    pub fn to_compiled(&self) -> Vec<u8> {
        let version = env!("CARGO_PKG_VERSION").as_bytes();
        let mut out = COMPILED_MAGIC.to_vec();
        out.push(version.len() as u8);
        out.extend_from_slice(version);
        // NOTE: serializing owned, finite data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(&self.sites).unwrap_or_default());
        out
    }

    /// Loads a compiled configuration ([`Config::to_compiled`]). Never panics: a file of another
    /// version, a truncated or altered one is an error.
    pub fn from_compiled(bytes: &[u8]) -> Result<Config, ConfigErrors> {
        let fail = |message: String| {
            ConfigErrors(vec![ConfigError {
                path: String::new(),
                message,
            }])
        };
        if [b"VTC1", b"VTC2", b"VTC3", b"VTC4"]
            .iter()
            .any(|m| bytes.starts_with(*m))
        {
            return Err(fail(
                "compiled in an older format: compile it again (vitrine compile)".into(),
            ));
        }
        let rest = bytes
            .strip_prefix(COMPILED_MAGIC.as_slice())
            .ok_or_else(|| fail("not a compiled Vitrine configuration".into()))?;
        let (&len, rest) = rest
            .split_first()
            .ok_or_else(|| fail("compiled configuration is truncated".into()))?;
        let (version, body) = (rest.get(..usize::from(len)), rest.get(usize::from(len)..));
        let (Some(version), Some(body)) = (version, body) else {
            return Err(fail("compiled configuration is truncated".into()));
        };
        if version != env!("CARGO_PKG_VERSION").as_bytes() {
            return Err(fail(format!(
                "compiled by vitrine {}, this is {}: compile it again (vitrine compile)",
                String::from_utf8_lossy(version),
                env!("CARGO_PKG_VERSION")
            )));
        }
        let mut sites = wire::read_sites(body)
            .map_err(|e| fail(format!("compiled configuration is damaged: {e}")))?;
        let mut errs = compile::Errors::default();
        for (i, site) in sites.iter_mut().enumerate() {
            compile::relink(site, &format!("sites[{i}]"), &mut errs);
        }
        errs.finish(Config { sites })
    }

    /// The site serving `host` (port ignored): an exact name first, then `*.domain`, then `*`.
    pub fn site_for_host(&self, host: &str) -> Option<&Site> {
        let host = host
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let by =
            |f: &dyn Fn(&str) -> bool| self.sites.iter().find(|s| s.hosts.iter().any(|h| f(h)));
        by(&|h| h == host)
            .or_else(|| {
                by(&|h| {
                    h.strip_prefix("*.").is_some_and(|d| {
                        host.ends_with(d)
                            && host.len() > d.len() + 1
                            && host.as_bytes()[host.len() - d.len() - 1] == b'.'
                    })
                })
            })
            .or_else(|| by(&|h| h == "*"))
    }
}

/// The compiled form's magic and format: `VTC5` carries `privacy.consent` (`VTC4` where
/// purchases are stated; `VTC3` read a reorder slot's item keys from [`ItemKey`]s as now; `VTC2` had two attribute
/// names; `VTC1` an index among all variables for a built-in name): older ones are refused
/// with a hint.
const COMPILED_MAGIC: &[u8; 4] = b"VTC5";

// ---------------------------------------------------------------------------------------------
// Compiled model

/// A validated site: everything the request path needs, precompiled.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Site {
    pub name: String,
    pub hosts: Vec<String>,
    pub dimensions: Vec<Dimension>,
    pub page_types: Vec<PageType>,
    pub signals: Vec<Signal>,
    /// Segments in name order; `Var::Segment(i)` indexes this list.
    pub segments: Vec<Segment>,
    /// Segment indices in an order where every segment comes after those it reads.
    pub segment_order: Vec<usize>,
    pub slots: Vec<Slot>,
    pub experiments: Vec<Experiment>,
    pub policies: Vec<Policy>,
    pub privacy: Privacy,
    pub limits: Limits,
    pub events: EventsConfig,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Dimension {
    pub name: String,
    /// Stable key stored in the state cookie ([`stable_key`] of the name).
    pub key: u16,
    pub half_life_secs: f64,
    /// Cap in hundredths of a point.
    pub cap: u32,
    /// Whether it can be `top_dimension`.
    pub top: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct PageType {
    pub pattern: PathPattern,
    pub kind: String,
    pub search_param: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Signal {
    pub on: EventKind,
    pub when: Option<Expr>,
    /// (dimension index, hundredths of a point; may be negative).
    pub add: Vec<(usize, i32)>,
    /// Hundredths added to the dimension named by the event's category.
    pub add_category: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Segment {
    pub name: String,
    pub source: String,
    pub expr: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Slot {
    pub name: String,
    pub key: u16,
    /// Compiled from `selector_source` at load (and again when a compiled config is read).
    #[serde(skip)]
    pub selector: Option<CompiledSelector>,
    pub selector_source: String,
    pub action: Action,
    pub pick: Pick,
    pub variants: Vec<Variant>,
    pub attribute: Option<String>,
    /// For `reorder`: the item selector as written.
    pub items: Option<String>,
    /// For `reorder`: the compiled `<selector> <items>` selector.
    #[serde(skip)]
    pub items_selector: Option<CompiledSelector>,
    pub rank: Option<Rank>,
    pub when: Option<Expr>,
    pub max_buffer_bytes: u32,
    pub cap_per_session: Option<u8>,
    pub cap_per_visitor: Option<u16>,
    pub experiment: Option<usize>,
    /// Bucketing salt of the weighted split (`slot:<name>`).
    pub split_salt: String,
    /// Policies whose target matches the reorder decision of this slot (`slot:reorder`).
    pub policies: Vec<usize>,
}

/// Variant id used for exposures and policies of `reorder` slots.
pub const REORDER_VARIANT: &str = "reorder";

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Variant {
    pub id: String,
    pub when: Option<Expr>,
    pub html: Option<Template>,
    pub value: Option<Template>,
    pub weight: f64,
    pub dimension: Option<usize>,
    pub requires_signed: bool,
    /// Policies whose target matches `slot:variant`, in config order.
    pub policies: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Rank {
    /// Where an item's category is read (the value its score and boost are looked up by).
    pub category: ItemKey,
    /// Where an item's SKU is read (pins, buries, suppression).
    pub sku: ItemKey,
    pub affinity: Affinity,
    pub suppress: Vec<Suppress>,
    pub pin: Vec<String>,
    pub bury: Vec<String>,
    /// Category values that carry a score: every dimension (with `affinity: score`), then
    /// boosted values that name no dimension.
    pub keys: Vec<String>,
    /// For each key: the dimension whose score it reads, and its boost in hundredths.
    pub key_sources: Vec<(Option<usize>, i32)>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Experiment {
    pub name: String,
    pub slots: Vec<usize>,
    /// Control share in basis points (0–10,000).
    pub control_bp: u32,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Policy {
    pub deny: bool,
    pub target: String,
    pub when: Option<Expr>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Privacy {
    pub honor_gpc: bool,
    pub state_max_age_secs: u32,
    /// The signals that grant consent, when state and records wait for it.
    pub consent: Option<Consent>,
}

/// `privacy.consent` compiled: consent is granted when any signal grants it. Flat (an empty
/// name: that signal is not used), which keeps the bundles' readers small.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Consent {
    /// A consent platform's cookie, and the text its percent-decoded value holds (`exact`: is).
    pub cookie: String,
    pub value: String,
    pub exact: bool,
    /// The cookie holding an IAB TCF v2 TC string, and the purposes that must all have
    /// consent: bit `p − 1` for purpose `p`.
    pub tcf_cookie: String,
    pub tcf_purposes: u32,
    /// Google Consent Mode types that must all be `granted` (the page's signal).
    pub consent_mode: Vec<String>,
}

/// What `page` records hold and for whom.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct EventsConfig {
    /// Visitors sampled for `page` records, in parts per million (0 = none).
    pub page_sample_ppm: u32,
    /// The query parameters the configuration reads (sorted): the only ones a `page` record
    /// keeps, so that no other parameter (an e-mail in a link, say) is recorded by accident.
    pub page_query: Vec<String>,
    /// Purchases are stated by the origin's `X-Vitrine-Conversion` only (`events.purchases`).
    pub purchases_from_origin: bool,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct Limits {
    pub max_events: usize,
    /// Hundredths of a point.
    pub max_event_gain: u32,
    pub recent_items: usize,
    pub session_idle_secs: u32,
}

/// A slot selector compiled for the streaming rewriter.
#[cfg(feature = "rewrite")]
pub type CompiledSelector = lol_html::Selector;

/// Without the rewriter (the browser build), a selector is kept as text: the browser's
/// `querySelectorAll` checks it, and `vitrine check` has checked it before deploy.
#[cfg(not(feature = "rewrite"))]
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledSelector(pub String);

/// The stable 16-bit key of a name: FNV-1a (32-bit) folded by XOR of its halves.
///
/// Scores and counters are stored under these keys, so renaming, adding or reordering
/// dimensions never moves a score to another dimension.
pub fn stable_key(name: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    ((h >> 16) ^ (h & 0xffff)) as u16
}

/// Converts points to hundredths, rounding to nearest.
pub fn to_centi(points: f64) -> i64 {
    libm::round(points * 100.0) as i64
}

impl Site {
    /// Every condition of the site: segments, signals, policies, slots, variants.
    pub fn conditions(&self) -> impl Iterator<Item = &Expr> {
        self.segments
            .iter()
            .map(|s| &s.expr)
            .chain(self.signals.iter().filter_map(|s| s.when.as_ref()))
            .chain(self.policies.iter().filter_map(|p| p.when.as_ref()))
            .chain(self.slots.iter().filter_map(|s| s.when.as_ref()))
            .chain(
                self.slots
                    .iter()
                    .flat_map(|s| s.variants.iter().filter_map(|v| v.when.as_ref())),
            )
    }

    pub fn dimension_index(&self, name: &str) -> Option<usize> {
        self.dimensions.iter().position(|d| d.name == name)
    }
    pub fn slot_index(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name)
    }
    /// The name of a variable as written in expressions.
    pub fn var_name(&self, var: &Var) -> String {
        match var {
            Var::Builtin(b) => b.name().into(),
            Var::Score(i) => format!("score.{}", self.dimensions[*i].name),
            Var::Query(q) => format!("query.{q}"),
            Var::PageParam(p) => format!("page.{p}"),
            Var::Segment(i) => format!("segment {}", self.segments[*i].name),
            Var::Event(f) => f.name().into(),
        }
    }
}

/// Device classes (`device`).
pub const DEVICES: [&str; 4] = ["desktop", "mobile", "tablet", "bot"];
/// Page type of a path no pattern matches.
pub const OTHER_PAGE: &str = "other";

/// Fields carried by each event type.
pub fn event_fields(kind: EventKind) -> &'static [EventField] {
    use EventField::*;
    match kind {
        EventKind::PageView => &[],
        EventKind::CategoryView => &[Category],
        EventKind::ProductView
        | EventKind::ProductClick
        | EventKind::AddToCart
        | EventKind::Purchase => &[Sku, Category, Price],
        EventKind::Search => &[Terms],
        EventKind::Filter => &[Filter, Value],
    }
}

/// The JSON Schema of the configuration document.
#[cfg(feature = "schema")]
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::ConfigDoc)).expect("schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_keys_are_fixed() {
        // Golden values: changing the hash would move every stored score.
        assert_eq!(stable_key("hiking"), stable_key("hiking"));
        assert_ne!(stable_key("hiking"), stable_key("running"));
        let h: u32 = {
            let mut h: u32 = 0x811c_9dc5;
            for b in b"a" {
                h ^= u32::from(*b);
                h = h.wrapping_mul(0x0100_0193);
            }
            h
        };
        assert_eq!(h, 0xe40c_292c, "FNV-1a test vector for 'a'");
        assert_eq!(stable_key("a"), 0xe40c ^ 0x292c);
    }
}
