//! The configuration document as written by a merchandiser: plain serde types, no behaviour.
//! `super::compile` turns a [`SiteDoc`] into a validated [`super::Site`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// A configuration file: one site, or several selected by host.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(untagged)]
pub enum ConfigDoc {
    /// Several sites (brands) served by one deployment, selected by the request's host.
    Multi {
        sites: Vec<SiteDoc>,
    },
    Single(Box<SiteDoc>),
}

/// One site's personalization rules.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SiteDoc {
    /// Format version; must be 1.
    pub version: u32,
    /// Site identifier, used in logs and exposures.
    pub site: String,
    /// Hosts this site answers for: exact names, `*.example.com`, or `*` for any host.
    #[serde(default = "default_hosts")]
    pub hosts: Vec<String>,
    /// Intent dimensions, each a decaying score.
    pub dimensions: BTreeMap<String, DimensionDoc>,
    /// URL patterns that give a page its type and parameters, first match wins.
    #[serde(default)]
    pub page_types: Vec<PageTypeDoc>,
    /// Rules that turn events into score changes.
    #[serde(default)]
    pub signals: Vec<SignalDoc>,
    /// Named conditions over scores and context.
    #[serde(default)]
    pub segments: BTreeMap<String, String>,
    /// Page sections Vitrine may rewrite.
    #[serde(default)]
    pub slots: BTreeMap<String, SlotDoc>,
    /// Holdout experiments over slots.
    #[serde(default)]
    pub experiments: BTreeMap<String, ExperimentDoc>,
    /// Rules that override every decision.
    #[serde(default)]
    pub policies: Vec<PolicyDoc>,
    #[serde(default)]
    pub privacy: PrivacyDoc,
    #[serde(default)]
    pub limits: LimitsDoc,
    /// What the event stream records beyond exposures and conversions.
    #[serde(default)]
    pub events: EventsDoc,
}

/// Event recording options (docs/events.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EventsDoc {
    /// Share of visitors (0–1) whose page views are recorded as `page` records, the click stream
    /// `vitrine simulate` replays. Sampled by visitor, so a sampled visitor's journey is whole.
    /// 0 records none. Default: `0`.
    #[serde(default)]
    pub page_sample: f64,
    /// Where purchases are stated: `origin` when the order-confirmation page sends
    /// `X-Vitrine-Conversion` (the browser's purchase records are then refused by
    /// `/vitrine/collect`, and `vitrine analyze` counts purchases from the origin only), or
    /// `any`. Default: `any`.
    #[serde(default)]
    pub purchases: PurchasesDoc,
}

/// Where a site's purchases are stated (`events.purchases`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PurchasesDoc {
    #[default]
    Any,
    Origin,
}

fn default_hosts() -> Vec<String> {
    vec!["*".into()]
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DimensionDoc {
    /// Time for the score to halve, in hours (> 0).
    pub half_life_hours: f64,
    /// Highest value the score can reach (0 < cap ≤ 1000). Default: `100`.
    #[serde(default = "default_cap")]
    pub cap: f64,
    /// Whether this dimension can be `top_dimension`: `false` for a need or a price
    /// sensitivity (premium, bargain) that must never outrank the shopper's interests.
    /// Default: `true`.
    #[serde(default = "default_true")]
    pub top: bool,
}

fn default_true() -> bool {
    true
}

fn default_cap() -> f64 {
    100.0
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PageTypeDoc {
    /// Path pattern: literal segments and `{param}` captures, e.g. `/c/{category}` or `/p/{category}-{slug}`.
    pub path: String,
    /// Page type name (`page.type`). Types `category`, `product` and `search` also emit events.
    #[serde(rename = "type")]
    pub kind: String,
    /// For search pages: the query parameter holding the search terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_param: Option<String>,
}

/// Event types that signals react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    PageView,
    CategoryView,
    ProductView,
    ProductClick,
    AddToCart,
    Purchase,
    Search,
    Filter,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::PageView,
        EventKind::CategoryView,
        EventKind::ProductView,
        EventKind::ProductClick,
        EventKind::AddToCart,
        EventKind::Purchase,
        EventKind::Search,
        EventKind::Filter,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::PageView => "page_view",
            EventKind::CategoryView => "category_view",
            EventKind::ProductView => "product_view",
            EventKind::ProductClick => "product_click",
            EventKind::AddToCart => "add_to_cart",
            EventKind::Purchase => "purchase",
            EventKind::Search => "search",
            EventKind::Filter => "filter",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SignalDoc {
    /// The event this signal reacts to.
    pub on: EventKind,
    /// Condition over the event's fields (`sku`, `category`, `price`, `terms`, `filter`, `value`) and the request.
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Fixed amounts added per dimension.
    #[serde(default)]
    pub add: BTreeMap<String, f64>,
    /// Adds `amount` to the dimension named by this event field (only `category`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_attr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
}

/// What a slot does to the element its selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    ReplaceInner,
    Replace,
    InsertBefore,
    InsertAfter,
    Prepend,
    Append,
    SetAttribute,
    Remove,
    Reorder,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::ReplaceInner => "replace_inner",
            Action::Replace => "replace",
            Action::InsertBefore => "insert_before",
            Action::InsertAfter => "insert_after",
            Action::Prepend => "prepend",
            Action::Append => "append",
            Action::SetAttribute => "set_attribute",
            Action::Remove => "remove",
            Action::Reorder => "reorder",
        }
    }
    /// Whether variants of this action carry `html`.
    pub fn takes_html(self) -> bool {
        !matches!(
            self,
            Action::SetAttribute | Action::Remove | Action::Reorder
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// The first variant whose condition holds, in the order written.
    #[default]
    FirstMatch,
    /// Among eligible variants, the one whose `dimension` scores highest.
    BestScore,
    /// A deterministic weighted split by visitor id among eligible variants.
    Weighted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SlotDoc {
    /// CSS selector of the section (lol_html syntax), checked at load.
    pub selector: String,
    pub action: Action,
    /// How a variant is picked. Default: `first_match`.
    #[serde(default)]
    pub pick: Pick,
    #[serde(default)]
    pub variants: Vec<VariantDoc>,
    /// For `set_attribute`: the attribute to set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// For `reorder`: selector of the items, children of the section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
    /// For `reorder`: how items are ranked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<RankDoc>,
    /// For `reorder`: condition for reordering at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// For `reorder`: most bytes buffered before the section is left in origin order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_buffer_bytes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap: Option<CapDoc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// Only shown when the visitor state was verified by its MAC (never from browser-only state).
    SignedState,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct VariantDoc {
    pub id: String,
    /// Condition; a bare segment name is the usual form. Absent: always eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Trusted HTML from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// For `set_attribute`: the attribute's new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// For `weighted`: relative weight (> 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// For `best_score`: the dimension this variant speaks to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<Requirement>,
}

/// Affinity source for ranking grid items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Affinity {
    /// Items rank by the visitor's score in the dimension named by the item's `by_attr`.
    #[default]
    Score,
    /// No affinity: only pins, boosts, buries and suppression.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Suppress {
    /// Items the visitor bought sink to the end.
    Purchased,
    /// Items the visitor viewed recently sink to the end.
    Viewed,
    /// Items in the visitor's cart sink to the end.
    Carted,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RankDoc {
    /// Item attribute naming its dimension, on the item element itself (shorthand for
    /// `category: {"attr": …}`). Default: `data-vt-category`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_attr: Option<String>,
    /// Item attribute holding its SKU, on the item element itself (shorthand for
    /// `sku: {"attr": …}`). Default: `data-vt-sku`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku_attr: Option<String>,
    /// Where an item's category (the value ranked by the visitor's scores and the boosts) is
    /// read from its markup. Default: `{"attr": "data-vt-category"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<ItemKeyDoc>,
    /// Where an item's SKU (for pins, buries and suppression) is read from its markup.
    /// Default: `{"attr": "data-vt-sku"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<ItemKeyDoc>,
    /// Whether the visitor's scores rank the items (`none`: boosts, pins and buries only).
    /// Default: `score`.
    #[serde(default)]
    pub affinity: Affinity,
    #[serde(default)]
    pub suppress: Vec<Suppress>,
    /// SKUs placed first, in this order.
    #[serde(default)]
    pub pin: Vec<String>,
    /// Extra points per category value.
    #[serde(default)]
    pub boost: BTreeMap<String, f64>,
    /// SKUs placed last.
    #[serde(default)]
    pub bury: Vec<String>,
}

/// Where one key of a grid item (its category or its SKU) is read from the item's markup: an
/// attribute of the item element or of its first descendant matching `selector`, taken whole,
/// as the class-like token after `prefix`, or as the `{category}` / `{sku}` capture of a path
/// pattern its URL matches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ItemKeyDoc {
    /// A descendant of the item (lol_html syntax); the first one whose attribute yields a key
    /// is read. Absent: the item element itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// The attribute read (`href`, `class`, `data-product-id`, …).
    pub attr: String,
    /// The key is the first whitespace-separated token of the value starting with this text,
    /// without it (`"prefix": "cat-"` reads `ps4` from `class="tile cat-ps4"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The value is a URL whose path must match this pattern (`page_types` syntax); the key is
    /// its `{category}` (or `{sku}`) capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// As `pattern`, with the path patterns of this page type (`product`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CapDoc {
    /// Most times the slot is personalized per session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_session: Option<u8>,
    /// Most times the slot is personalized per visitor, ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_visitor: Option<u16>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExperimentDoc {
    /// Slots under this experiment.
    pub slots: Vec<String>,
    /// Share of visitors (0–100) in the control arm, who see origin content.
    pub control_percent: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// `slot:variant` glob denied when the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny: Option<String>,
    /// `slot:variant` glob allowed only when the condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Shown in explanations.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PrivacyDoc {
    /// With `Sec-GPC: 1`, read and write no behavioral state. Default: `true`.
    #[serde(default = "yes")]
    pub honor_gpc: bool,
    /// Lifetime of the state cookie, and the age beyond which a state is discarded, in days.
    /// Default: `30`.
    #[serde(default = "default_max_age")]
    pub state_max_age_days: u32,
    /// Whether behavioral state and records wait for the shopper's consent: `"none"` (they do
    /// not), or the consent platform's signals, any of which grants it (docs/privacy.md).
    /// Default: `none`.
    #[serde(default)]
    pub consent: ConsentDoc,
}

impl Default for PrivacyDoc {
    fn default() -> Self {
        PrivacyDoc {
            honor_gpc: true,
            state_max_age_days: default_max_age(),
            consent: ConsentDoc::None,
        }
    }
}

/// `privacy.consent`: `"none"`, or the signals that mean "personalization allowed".
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ConsentDoc {
    /// No consent asked: state and records from the first page view.
    #[default]
    None,
    Required(ConsentSignalsDoc),
}

/// The consent platform's signals; consent is granted when any of them grants it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentSignalsDoc {
    /// A cookie the consent platform sets, and what its value says when personalization is
    /// allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<ConsentCookieDoc>,
    /// The IAB TCF v2 consent string (TC string), read from a cookie in the worker and in the
    /// page, and from the CMP's `__tcfapi` in the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcf: Option<TcfDoc>,
    /// Google Consent Mode types that must be `granted` (`gtag('consent', …)` in the page's
    /// `dataLayer`): read in the browser only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_mode: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentCookieDoc {
    /// The cookie's name.
    pub name: String,
    /// Its value (percent-decoded) is exactly this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// Its value (percent-decoded) holds this text (`C0004:1` in OneTrust's `OptanonConsent`,
    /// `preferences:true` in Cookiebot's `CookieConsent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TcfDoc {
    /// The cookie holding the TC string. Default: `euconsent-v2`.
    #[serde(default = "default_tcf_cookie")]
    pub cookie: String,
    /// The TCF purposes that must all have consent. Default: `[1, 5, 6]` (store information
    /// on a device; create and use profiles to personalise content).
    #[serde(default = "default_tcf_purposes")]
    pub purposes: Vec<u8>,
}

fn default_tcf_cookie() -> String {
    "euconsent-v2".into()
}
fn default_tcf_purposes() -> Vec<u8> {
    vec![1, 5, 6]
}

// `"none"` or an object: an object is read by its own derived code, so that its errors
// (an unknown field, a wrong type) keep their precise messages.
impl<'de> Deserialize<'de> for ConsentDoc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = ConsentDoc;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"none\" or an object with cookie, tcf or consent_mode")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ConsentDoc, E> {
                match v {
                    "none" => Ok(ConsentDoc::None),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<ConsentDoc, A::Error> {
                let de = serde::de::value::MapAccessDeserializer::new(map);
                ConsentSignalsDoc::deserialize(de).map(ConsentDoc::Required)
            }
        }
        d.deserialize_any(Visit)
    }
}

impl Serialize for ConsentDoc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ConsentDoc::None => s.serialize_str("none"),
            ConsentDoc::Required(signals) => signals.serialize(s),
        }
    }
}

#[cfg(feature = "schema")]
impl JsonSchema for ConsentDoc {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ConsentDoc".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let signals = generator.subschema_for::<ConsentSignalsDoc>();
        schemars::json_schema!({ "oneOf": [{ "const": "none" }, signals] })
    }
}

fn yes() -> bool {
    true
}
fn default_max_age() -> u32 {
    30
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitsDoc {
    /// Most click-stream events read from one request's events cookie (≤ 32). Default: `16`.
    #[serde(default = "default_max_events")]
    pub max_events: u8,
    /// Most points click-stream events may add to one dimension in one request. Default: `60`.
    #[serde(default = "default_max_event_gain")]
    pub max_event_gain: f64,
    /// Recently viewed / carted / purchased items kept in the state (≤ 16). Default: `8`.
    #[serde(default = "default_recent_items")]
    pub recent_items: u8,
    /// Idle minutes after which a new session starts. Default: `30`.
    #[serde(default = "default_session_idle")]
    pub session_idle_minutes: u32,
    /// Buffer limit of `reorder` sections (and of replaced slots), in bytes, unless a slot
    /// sets its own. Default: `262144`.
    #[serde(default = "default_max_buffer")]
    pub max_buffer_bytes: u32,
}

impl Default for LimitsDoc {
    fn default() -> Self {
        LimitsDoc {
            max_events: default_max_events(),
            max_event_gain: default_max_event_gain(),
            recent_items: default_recent_items(),
            session_idle_minutes: default_session_idle(),
            max_buffer_bytes: default_max_buffer(),
        }
    }
}

fn default_max_events() -> u8 {
    16
}
fn default_max_event_gain() -> f64 {
    60.0
}
fn default_recent_items() -> u8 {
    8
}
fn default_session_idle() -> u32 {
    30
}
fn default_max_buffer() -> u32 {
    256 * 1024
}
