//! The browser module (feature `browser`): the only code that names wasm_bindgen / js_sys.
//!
//! An [`Engine`] holds one configuration. The DOM work is done by the ES module
//! (`www/vitrine/vitrine.js`): it asks [`Engine::slots`] what to look for, collects the items of
//! reorder slots, calls [`Engine::decide`] and applies the result. Ranking, decisions and state
//! all come from the same core as the edge, so the same inputs give the same decisions.
//! State is unsigned here: variants that require signed state are never shown.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::config::{Config, EventKind, Site};
use crate::config::{ItemKey, Slot};
use crate::decide::{Choice, ItemKeys, OnPage};
use crate::events::RecordView;
#[cfg(feature = "rewrite")]
use crate::pipeline::Keys;
use crate::pipeline::{personalize, ExplainReport, Mode, RequestInput};
#[cfg(feature = "rewrite")]
use crate::rewrite::{rewrite_bytes, rewrite_str, RewritePlan};
use crate::signals::{RequestFacts, Traits};

/// The one place errors become JS values.
fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// A result as a JS value: written as JSON in wasm and parsed by the engine's `JSON.parse`, one
/// crossing in all (building the objects field by field from wasm costs a crossing a value).
fn to_js(value: &impl Serialize) -> Result<JsValue, JsError> {
    // Our own types always serialize (no maps with other than string keys); not formatting
    // serde_json's error keeps its messages (and io::Error's) out of the bundle.
    let json =
        serde_json::to_string(value).map_err(|_| js_error("vitrine: cannot write the result"))?;
    js_sys::JSON::parse(&json).map_err(|_| js_error("vitrine: result is not JSON"))
}

/// What the page knows about the request, filled by the ES module: `new PageRequest(url,
/// nowMs)`, then setters. wasm-bindgen's typed boundary: no object deserialization (and none of
/// its error-formatting code) in the bundle.
#[wasm_bindgen]
#[derive(Default)]
pub struct PageRequest {
    url: String,
    /// `vt=<unsigned state>; vt_e=<events>` as the module keeps them.
    cookie: Option<String>,
    user_agent: Option<String>,
    referrer: Option<String>,
    gpc: bool,
    country: Option<String>,
    now_ms: f64,
    /// 32 hex digits from `crypto.getRandomValues`, used if a new state starts.
    id: Option<String>,
    /// Traits the page supplies (unverified).
    traits: Option<Traits>,
    /// Items of each reorder slot on the page, in DOM order: (slot, items packed as
    /// [`PageRequest::set_items`] takes them). One string a slot, however many items.
    items: Vec<(String, String)>,
    /// Also return the full explain report (scores, segments, reasons) for the debug overlay.
    explain: bool,
    /// `onPage`: the slots the page holds.
    on_page: Option<String>,
    /// The page's signals grant consent (`Engine.consented`); unset: as the cookie says.
    consent: Option<bool>,
}

#[wasm_bindgen]
impl PageRequest {
    #[wasm_bindgen(constructor)]
    pub fn new(url: String, now_ms: f64) -> PageRequest {
        PageRequest {
            url,
            now_ms,
            ..PageRequest::default()
        }
    }

    #[wasm_bindgen(setter)]
    pub fn set_cookie(&mut self, cookie: Option<String>) {
        self.cookie = cookie;
    }

    #[wasm_bindgen(setter = userAgent)]
    pub fn set_user_agent(&mut self, user_agent: Option<String>) {
        self.user_agent = user_agent;
    }

    #[wasm_bindgen(setter)]
    pub fn set_referrer(&mut self, referrer: Option<String>) {
        self.referrer = referrer;
    }

    #[wasm_bindgen(setter)]
    pub fn set_gpc(&mut self, gpc: bool) {
        self.gpc = gpc;
    }

    #[wasm_bindgen(setter)]
    pub fn set_country(&mut self, country: Option<String>) {
        self.country = country;
    }

    #[wasm_bindgen(setter)]
    pub fn set_id(&mut self, id: Option<String>) {
        self.id = id;
    }

    /// The slots whose element the page holds, `\x1e`-separated: the others are decided as
    /// not on this page (no exposure; the report says so).
    #[wasm_bindgen(setter = onPage)]
    pub fn set_on_page(&mut self, names: Option<String>) {
        self.on_page = names;
    }

    /// Whether the page's consent signals grant consent (`Engine.consented`): without it the
    /// decision is from context only and no state or record comes back.
    #[wasm_bindgen(setter)]
    pub fn set_consent(&mut self, granted: bool) {
        self.consent = Some(granted);
    }

    #[wasm_bindgen(setter)]
    pub fn set_explain(&mut self, explain: bool) {
        self.explain = explain;
    }

    /// Traits the page knows (unverified): purchases in 90 days, average order value, tier.
    #[wasm_bindgen(js_name = setTraits)]
    pub fn set_traits(&mut self, purchases_90d: u32, aov: f64, tier: String) {
        self.traits = Some(Traits {
            purchases_90d,
            aov,
            tier,
            issued_at: 0,
        });
    }

    /// All items of a reorder slot in one call, in DOM order, after any added before:
    /// `sku \x1f category` per item, items separated by `\x1e`, each field the values of the
    /// attribute `slots()` names for it (of the item, or of its descendants matching the
    /// selector named there) separated by `\x1d`: the first that yields a key is the key (an
    /// empty field: none). One string crosses into wasm, not one per item, and it is kept as
    /// it is.
    #[wasm_bindgen(js_name = setItems)]
    pub fn set_items(&mut self, slot: &str, packed: &str) {
        if packed.is_empty() {
            return;
        }
        let items = self.slot_items(slot);
        if !items.is_empty() {
            items.push(ITEM_SEPARATOR);
        }
        items.push_str(packed);
    }
}

/// [`PageRequest::set_items`]' separators: ASCII's record and unit separators, which no SKU or
/// attribute value a page means to rank by contains.
const ITEM_SEPARATOR: char = '\u{1e}';
const FIELD_SEPARATOR: char = '\u{1f}';
const VALUE_SEPARATOR: char = '\u{1d}';

impl PageRequest {
    /// The request as the core takes it: the one conversion `decide` and `rewrite` share.
    fn input(&self) -> RequestInput<'_> {
        let now_ms = self.now_ms.max(0.0) as u64;
        let mut input = RequestInput::new(&self.url, now_ms, hex_id(self.id.as_deref()));
        input.consent = self.consent;
        input
            .cookie(self.cookie.as_deref())
            .user_agent(self.user_agent.as_deref())
            .referrer(self.referrer.as_deref())
            .gpc(self.gpc)
            .country(self.country.clone())
            .page_traits(self.traits.clone())
            // QA forcing, in browser-only mode behind `?vt-debug` (which asks for the report).
            .allow_force(self.explain)
    }

    /// Whether the page holds slot `name`'s element (everything counts as present until
    /// `onPage` says).
    fn on_page(&self, name: &str) -> bool {
        self.on_page
            .as_deref()
            .is_none_or(|list| list.split(ITEM_SEPARATOR).any(|n| n == name))
    }

    fn slot_items(&mut self, slot: &str) -> &mut String {
        let at = match self.items.iter().position(|(s, _)| s == slot) {
            Some(at) => at,
            None => {
                self.items.push((slot.to_string(), String::new()));
                self.items.len() - 1
            }
        };
        &mut self.items[at].1
    }

    /// The keys of the items sent for a slot, read by its rank's [`ItemKey`]s.
    fn items(&self, slot: &Slot) -> Vec<(Option<String>, Option<String>)> {
        let (Some(rank), Some((_, packed))) =
            (&slot.rank, self.items.iter().find(|(s, _)| *s == slot.name))
        else {
            return Vec::new();
        };
        let first =
            |key: &ItemKey, values: &str| values.split(VALUE_SEPARATOR).find_map(|v| key.read(v));
        packed
            .split(ITEM_SEPARATOR)
            .map(|item| {
                let (sku, category) = item.split_once(FIELD_SEPARATOR).unwrap_or((item, ""));
                (first(&rank.sku, sku), first(&rank.category, category))
            })
            .collect()
    }
}

#[derive(Serialize)]
struct PageInfo<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(serialize_with = "crate::pipeline::as_map")]
    params: &'a [(String, String)],
    sku: Option<&'a str>,
    category: Option<&'a str>,
    query: Option<&'a str>,
}

/// Static description of a slot, for the DOM side.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SlotInfo<'a> {
    name: &'a str,
    selector: &'a str,
    action: &'static str,
    attribute: Option<&'a str>,
    items: Option<&'a str>,
    /// For reorder: where each item's category and SKU are read.
    category: Option<KeyInfo<'a>>,
    sku: Option<KeyInfo<'a>>,
}

/// Where the DOM side reads the values of an item key: the attribute of the item, or of its
/// descendants matching `selector`.
#[derive(Serialize)]
struct KeyInfo<'a> {
    selector: Option<&'a str>,
    attr: &'a str,
}

impl<'a> KeyInfo<'a> {
    fn of(key: &'a ItemKey) -> KeyInfo<'a> {
        KeyInfo {
            selector: key.selector.as_deref(),
            attr: &key.attr,
        }
    }
}

/// One slot's decision, ready to apply.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SlotResult<'a> {
    name: &'a str,
    selector: &'a str,
    action: &'static str,
    attribute: Option<&'a str>,
    /// The variant shown, `reorder`, or `None` (leave the origin content).
    variant: Option<&'a str>,
    /// HTML (or attribute value) to apply, placeholders rendered and escaped.
    content: Option<&'a str>,
    /// For reorder: the new order, as indices into the items sent.
    order: Option<Vec<u32>>,
    reason: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Decided<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<ExplainReport>,
    segments: Vec<&'a str>,
    /// The new unsigned state (store it; send it back as `vt=`).
    state_token: Option<&'a str>,
    slots: Vec<SlotResult<'a>>,
    /// The state's visitor id (32 hex digits), for the records the page sends; `None` under GPC.
    visitor: Option<&'a str>,
    // `records` is set on the parsed object beside these (see `Engine::decide`).
}

/// A loaded configuration.
#[wasm_bindgen]
pub struct Engine {
    config: Config,
    /// Server-side use only (Node, feature `rewrite`): verify and sign state like the edge.
    /// The browser build has no signing code at all.
    #[cfg(feature = "rewrite")]
    keys: Option<Keys>,
}

fn hex_id(hex: Option<&str>) -> [u8; 16] {
    hex.and_then(crate::state::id_from_hex).unwrap_or_default()
}

impl Engine {
    #[cfg(feature = "rewrite")]
    fn with_keys(config: Config, state_keys: Option<String>) -> Result<Engine, JsError> {
        let keys = match state_keys.filter(|k| !k.is_empty()) {
            Some(spec) => Some(Keys::from_specs(&spec, None).map_err(js_error)?),
            None => None,
        };
        Ok(Engine { config, keys })
    }

    #[cfg(not(feature = "rewrite"))]
    fn with_keys(config: Config, state_keys: Option<String>) -> Result<Engine, JsError> {
        if state_keys.is_some_and(|k| !k.is_empty()) {
            return Err(js_error(
                "vitrine: state keys are for the server-side build (make wasm-node)",
            ));
        }
        Ok(Engine { config })
    }

    #[cfg(feature = "rewrite")]
    fn mode(&self) -> Mode<'_> {
        self.keys.as_ref().map_or(Mode::Browser, Mode::Edge)
    }

    #[cfg(not(feature = "rewrite"))]
    fn mode(&self) -> Mode<'_> {
        Mode::Browser
    }

    fn site(&self, url: &str) -> Option<&Site> {
        let host = crate::text::split_once_sub(url, "://")
            .map_or("", |(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""));
        self.config.site_for_host(host)
    }
}

#[wasm_bindgen]
impl Engine {
    /// Loads a compiled configuration (`vitrine compile`). `state_keys` (`id:secret,…`) is for
    /// server-side use only (the build with feature `rewrite`): state is then signed as at the
    /// edge. Browsers pass none; the browser build refuses keys.
    #[wasm_bindgen(constructor)]
    pub fn new(compiled: &[u8], state_keys: Option<String>) -> Result<Engine, JsError> {
        let config = Config::from_compiled(compiled).map_err(js_error)?;
        Engine::with_keys(config, state_keys)
    }

    /// Loads a configuration from its JSON text, with every mistake reported. Only in the
    /// server-side build (feature `rewrite`): the browser build carries no JSON parser.
    #[cfg(feature = "rewrite")]
    #[wasm_bindgen(js_name = fromJson)]
    pub fn from_json(config_json: &str, state_keys: Option<String>) -> Result<Engine, JsError> {
        let config = Config::from_json(config_json).map_err(js_error)?;
        Engine::with_keys(config, state_keys)
    }

    /// The slots of the site serving `url`: what the page should look for.
    pub fn slots(&self, url: &str) -> Result<JsValue, JsError> {
        let Some(site) = self.site(url) else {
            return Ok(JsValue::NULL);
        };
        let info: Vec<SlotInfo<'_>> = site
            .slots
            .iter()
            .map(|s| SlotInfo {
                name: &s.name,
                selector: &s.selector_source,
                action: s.action.name(),
                attribute: s.attribute.as_deref(),
                items: s.items.as_deref(),
                category: s.rank.as_ref().map(|r| KeyInfo::of(&r.category)),
                sku: s.rank.as_ref().map(|r| KeyInfo::of(&r.sku)),
            })
            .collect();
        to_js(&info)
    }

    /// The page type and parameters the site's patterns give `url`, and what a view of it
    /// means — a product's `sku` and `category`, a search's `query` — read as the edge reads
    /// a request: the DOM side records views from `data-vt-*`/`<meta name="vt:*">` only where
    /// the URL does not already stand for one, and captures clicks on product links and
    /// searches from forms by the URLs they lead to (docs/browser.md, the capture contract).
    pub fn page(&self, url: &str) -> Result<JsValue, JsError> {
        let Some(site) = self.site(url) else {
            return Ok(JsValue::NULL);
        };
        let ctx = crate::signals::read_context(
            site,
            &RequestFacts {
                url,
                ..RequestFacts::default()
            },
        );
        let events = crate::signals::request_events(&ctx);
        let product = events
            .iter()
            .find(|e| e.kind == Some(EventKind::ProductView));
        let page = PageInfo {
            kind: &ctx.page_type,
            params: &ctx.page_params,
            sku: product.and_then(|e| e.sku.as_deref()),
            category: product.and_then(|e| e.category.as_deref()),
            query: ctx.search_param.as_deref().and_then(|p| ctx.query_value(p)),
        };
        to_js(&page)
    }

    /// Whether the page's signals grant the consent the site serving `url` asks for
    /// (`privacy.consent`; a site that asks none: `true`): `cookie` is `document.cookie`,
    /// `tc_string` what the CMP's `__tcfapi` gave (empty: none), `consent_mode` the Google
    /// Consent Mode types granted in `dataLayer`, comma-separated. The worker answers the same
    /// function from the request's cookies.
    pub fn consented(&self, url: &str, cookie: &str, tc_string: &str, consent_mode: &str) -> bool {
        self.site(url).is_some_and(|site| {
            let signals = crate::signals::ConsentSignals {
                cookie,
                tc_string: Some(tc_string).filter(|t| !t.is_empty()),
                consent_mode: Some(consent_mode),
            };
            crate::signals::consent_granted(site.privacy.consent.as_ref(), &signals)
        })
    }

    /// Decides for a page request (browser-only mode: unsigned state).
    pub fn decide(&self, req: &PageRequest) -> Result<JsValue, JsError> {
        let Some(site) = self.site(&req.url) else {
            return Ok(JsValue::NULL);
        };
        let input = req.input();
        let mut outcome = personalize(site, self.mode(), &input);
        // What the page holds settles the decisions before anything reads them: a slot not on
        // the page, a grid whose items yield no key.
        let mut page: Vec<OnPage> = outcome
            .decisions
            .slots
            .iter()
            .map(|d| OnPage {
                found: u32::from(req.on_page(&site.slots[d.slot].name)),
                ..OnPage::default()
            })
            .collect();
        let mut orders: Vec<Option<Vec<u32>>> = vec![None; page.len()];
        for ((d, on), order) in outcome
            .decisions
            .slots
            .iter()
            .zip(&mut page)
            .zip(&mut orders)
        {
            let Choice::Reorder(plan) = &d.choice else {
                continue;
            };
            let owned = req.items(&site.slots[d.slot]);
            let keys: Vec<ItemKeys<'_>> = owned
                .iter()
                .map(|(sku, category)| ItemKeys {
                    sku: sku.as_deref(),
                    category: category.as_deref(),
                })
                .collect();
            let keyed = keys.iter().filter(|k| k.any()).count() as u32;
            *on = OnPage {
                found: on
                    .found
                    .min(u32::from(!keys.is_empty() || req.on_page.is_some())),
                items: keys.len() as u32,
                keyed,
                reordered: u32::from(keyed > 0),
                kept: 0,
            };
            if keyed > 0 {
                *order = Some(plan.order(&keys).into_iter().map(|i| i as u32).collect());
            }
        }
        outcome.decisions.settle(&page);
        let report = req.explain.then(|| outcome.report(site));
        let slots = outcome
            .decisions
            .slots
            .iter()
            .zip(orders)
            .map(|(d, order)| {
                let slot = &site.slots[d.slot];
                let variant = d.shown().changed();
                SlotResult {
                    name: &slot.name,
                    selector: &slot.selector_source,
                    action: slot.action.name(),
                    attribute: slot.attribute.as_deref(),
                    variant,
                    content: d.content.as_deref(),
                    order: order.filter(|_| variant.is_some()),
                    reason: &d.reason.text,
                }
            })
            .collect();
        // The request id: random per call (the page's fresh id bytes).
        let mut request_id = [0u8; 8];
        request_id.copy_from_slice(&input.fresh_id[8..]);
        let stamp = crate::events::Stamp::of(
            site,
            &outcome,
            input.facts.now_ms,
            request_id,
            crate::events::Source::Browser,
        );
        let exposures = crate::events::Exposures::of(site, &outcome);
        let decided = Decided {
            visitor: stamp.as_ref().map(|s| s.visitor.as_str()),
            state_token: outcome.state_token.as_deref(),
            report,
            segments: outcome.decisions.active_segments(site),
            slots,
        };
        // One exposure record per decided slot (the event schema's) as NDJSON, ready for the
        // beacon: a string of its own, not a string escaped inside the JSON, and never built
        // as JS objects here (the module parses the records for `dataLayer` after the slots
        // are shown); empty under GPC and for bots.
        let records = stamp
            .as_ref()
            .map(|s| crate::events::to_ndjson(exposures.views(s).map(RecordView::Exposure)))
            .unwrap_or_default();
        let value = to_js(&decided)?;
        js_sys::Reflect::set(
            &value,
            &JsValue::from_str("records"),
            &JsValue::from_str(&records),
        )
        .map_err(|_| js_error("vitrine: cannot set the records"))?;
        Ok(value)
    }

    /// Decides for a request and returns only the new state token: the lean call for a server
    /// that sets the cookie itself (strings in, a string out, no object conversion). Only in
    /// the server-side build (feature `rewrite`): a page has no use for it.
    #[cfg(feature = "rewrite")]
    #[wasm_bindgen(js_name = decideToken)]
    pub fn decide_token(
        &self,
        url: &str,
        cookie: &str,
        user_agent: &str,
        now_ms: f64,
        id: &str,
    ) -> Option<String> {
        let site = self.site(url)?;
        let input = RequestInput::new(url, now_ms.max(0.0) as u64, hex_id(Some(id)))
            .cookie(Some(cookie))
            .user_agent(Some(user_agent));
        personalize(site, self.mode(), &input).state_token
    }

    /// Rewrites a whole HTML document for a request, as the edge would (needs feature
    /// `rewrite`; the browser build goes without it). Takes the page as a string, and returns
    /// a string, or as UTF-8 bytes (a `Uint8Array`, as a server reads it off the wire), and
    /// returns a `Uint8Array`: then nothing is transcoded on the way in or out, only copied.
    #[cfg(feature = "rewrite")]
    pub fn rewrite(&self, html: JsValue, req: &PageRequest) -> Result<JsValue, JsError> {
        let bytes = html.dyn_ref::<js_sys::Uint8Array>();
        let Some(site) = self.site(&req.url) else {
            return Ok(html);
        };
        let input = req.input();
        let outcome = personalize(site, self.mode(), &input);
        let nonce = u64::from_le_bytes(input.fresh_id[..8].try_into().unwrap_or([7; 8]))
            ^ 0x9e37_79b9_7f4a_7c15;
        let plan = RewritePlan::new(site, &outcome.decisions, nonce);
        if let Some(bytes) = bytes {
            let (out, _) = rewrite_bytes(&plan, &bytes.to_vec());
            return Ok(js_sys::Uint8Array::from(out.as_slice()).into());
        }
        let Some(text) = html.as_string() else {
            return Err(js_error(
                "vitrine: rewrite takes the page as a string or a Uint8Array",
            ));
        };
        Ok(JsValue::from_str(&rewrite_str(&plan, &text).0))
    }
}
