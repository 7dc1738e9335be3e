//! The request path composed from the stages: context → state → events → scores → decisions →
//! new state. One pure function, [`personalize`], shared by the edge, the browser and the CLI.

use serde::{Serialize, Serializer};

use crate::config::Site;
use crate::decide::{self, Arm, DecideInput, Decisions, Exposure, Reason, Trust};
use crate::expr::render_num;
use crate::scoring::{self, Provenance};
use crate::signals::{self, Geo, RequestContext, RequestFacts};
use crate::state::{self, Keyring, Protection, VisitorState};

/// Development state key (`id:base64url`): public, for local runs and tests only.
pub const DEV_STATE_KEYS: &str = "0:ZGV2ZWxvcG1lbnQtc3RhdGUta2V5LW5vdC1mb3ItcHJvZHVjdGlvbg";
/// Development traits key: public, for local runs and tests only.
pub const DEV_TRAITS_KEYS: &str = "0:ZGV2ZWxvcG1lbnQtdHJhaXRzLWtleS1ub3QtZm9yLXByb2R1Y3Rpb24";

/// The secrets of a deployment.
#[derive(Debug, Clone)]
pub struct Keys {
    pub state: Keyring,
    /// Verifies `vt_t`; without it traits are ignored.
    pub traits: Option<Keyring>,
}

/// Where a deployment's keys came from ([`Keys::for_deployment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The deployment's own secrets.
    Configured,
    /// The public development keys, explicitly allowed (local runs and tests).
    Development,
}

impl Keys {
    /// The public development keys (state and traits): anyone can sign with them, so only
    /// local runs and tests may use them.
    pub fn development() -> Keys {
        Keys {
            state: Keyring::parse(DEV_STATE_KEYS).expect("the development state key parses"),
            traits: Some(
                Keyring::parse(DEV_TRAITS_KEYS).expect("the development traits key parses"),
            ),
        }
    }

    /// Parses key lists (`id:secret[,id:secret]`). Without a traits key, traits are ignored.
    pub fn from_specs(state: &str, traits: Option<&str>) -> Result<Keys, state::keyring::KeyError> {
        Ok(Keys {
            state: Keyring::parse(state)?,
            traits: traits.map(Keyring::parse).transpose()?,
        })
    }

    /// The keys a deployment may trust. Its own secrets when `state` is given; the public
    /// development keys only when `allow_dev` says so explicitly; otherwise `None`: nothing is
    /// trusted (state is kept unsigned, traits are ignored, `requires: signed_state` variants
    /// are never shown). A key list that holds a public development secret counts as not
    /// given, so copying an example into production makes nothing trusted.
    ///
    /// Architecture Invariant: a deployment without secrets trusts nothing by default.
    pub fn for_deployment(
        state: Option<&str>,
        traits: Option<&str>,
        allow_dev: bool,
    ) -> Result<Option<(Keys, KeySource)>, state::keyring::KeyError> {
        let public = |spec: &str| {
            [DEV_STATE_KEYS, DEV_TRAITS_KEYS]
                .iter()
                .filter_map(|k| k.split_once(':'))
                .any(|(_, secret)| spec.contains(secret))
        };
        match state {
            Some(s) if !public(s) => Ok(Some((
                Keys::from_specs(s, traits.filter(|t| !public(t)))?,
                KeySource::Configured,
            ))),
            _ if allow_dev => Ok(Some((Keys::development(), KeySource::Development))),
            _ => Ok(None),
        }
    }
}

/// Whether this build verifies and signs state: every build but the browser bundle (feature
/// `browser` alone), whose engine refuses keys and which carries no signing code (2 KB gzip),
/// so that `Mode::Edge` there keeps state as `Mode::Browser` does.
pub const SIGNS_STATE: bool = cfg!(not(browser_bundle));

/// Where the visitor state is kept.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'k> {
    /// Signed cookie, verified with the deployment's keys.
    Edge(&'k Keys),
    /// Browser-only: unsigned state, never trusted for `requires: signed_state`.
    Browser,
}

impl<'k> Mode<'k> {
    /// The deployment's keys, if state is signed. The browser bundle never has any (its engine
    /// refuses them), and so carries none of the verifying and signing code ([`SIGNS_STATE`]).
    fn keys(self) -> Option<&'k Keys> {
        #[cfg(browser_bundle)]
        return None;
        #[cfg(not(browser_bundle))]
        match self {
            Mode::Edge(keys) => Some(keys),
            Mode::Browser => None,
        }
    }
}

/// Everything one request brings.
#[derive(Debug, Clone, Default)]
pub struct RequestInput<'a> {
    pub facts: RequestFacts<'a>,
    /// The raw `Cookie` header.
    pub cookie_header: Option<&'a str>,
    /// Random bytes, used as the visitor id when a new state starts.
    pub fresh_id: [u8; 16],
    /// Browser mode only: traits the page supplied, unverified. They feed segments, but
    /// variants that require signed state are never shown from them.
    pub page_traits: Option<crate::signals::Traits>,
    /// QA forcing (`?vt-force`) is allowed: the debug token at the edge, `?vt-debug` in
    /// browser-only mode.
    pub allow_force: bool,
    /// The page's answer to `privacy.consent` (the browser module asks
    /// [`signals::consent_granted`] with the page's signals); `None`: read from the `Cookie`
    /// header (the worker).
    pub consent: Option<bool>,
}

/// Why a request is decided from its context only: no behavioral state is read or written,
/// nothing is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextOnly {
    /// `Sec-GPC: 1`, honored (`privacy.honor_gpc`).
    Gpc,
    /// `privacy.consent` asks for consent and no signal grants it.
    NoConsent,
}

impl ContextOnly {
    pub fn text(self) -> &'static str {
        match self {
            ContextOnly::Gpc => "Global Privacy Control: context only",
            ContextOnly::NoConsent => "no consent: context only",
        }
    }
}

impl<'a> RequestInput<'a> {
    /// A request for `url` (a path or an absolute URL) at `now_ms`, whose visitor gets
    /// `fresh_id` if no state comes with it; nothing else known until a setter says.
    pub fn new(url: &'a str, now_ms: u64, fresh_id: [u8; 16]) -> RequestInput<'a> {
        RequestInput {
            facts: RequestFacts {
                url,
                now_ms,
                ..RequestFacts::default()
            },
            fresh_id,
            ..RequestInput::default()
        }
    }

    /// The raw `Cookie` header.
    pub fn cookie(mut self, header: Option<&'a str>) -> Self {
        self.cookie_header = header;
        self
    }

    pub fn user_agent(mut self, user_agent: Option<&'a str>) -> Self {
        self.facts.user_agent = user_agent;
        self
    }

    pub fn referrer(mut self, referrer: Option<&'a str>) -> Self {
        self.facts.referrer = referrer;
        self
    }

    /// `Sec-GPC: 1` was sent.
    pub fn gpc(mut self, gpc: bool) -> Self {
        self.facts.gpc = gpc;
        self
    }

    pub fn geo(mut self, geo: Geo) -> Self {
        self.facts.geo = geo;
        self
    }

    /// Only the country of the geo facts (what tools and tests know).
    pub fn country(self, country: Option<String>) -> Self {
        self.geo(Geo {
            country,
            ..Geo::default()
        })
    }

    /// QA forcing by `?vt-force` is allowed for this request.
    pub fn allow_force(mut self, allow: bool) -> Self {
        self.allow_force = allow;
        self
    }

    /// Browser mode: whether the page's signals grant consent.
    pub fn consent(mut self, granted: bool) -> Self {
        self.consent = Some(granted);
        self
    }

    /// Browser mode: traits the page supplied.
    pub fn page_traits(mut self, traits: Option<crate::signals::Traits>) -> Self {
        self.page_traits = traits;
        self
    }
}

/// The result of personalizing one request.
#[derive(Debug, Clone)]
pub struct Outcome<'s> {
    pub ctx: RequestContext,
    pub trust: Trust,
    /// Set when no behavioral state may be kept (GPC, no consent).
    pub context_only: Option<ContextOnly>,
    /// The request carried state that no consent lets it keep (`vt`, `vt_e`): the worker
    /// deletes those cookies.
    pub forget: bool,
    /// The updated state; `None` under GPC.
    pub state: Option<VisitorState>,
    pub decisions: Decisions<'s>,
    /// New state token to store; `None` when nothing may be written (GPC).
    pub state_token: Option<String>,
    /// Whether the request carried a click-stream cookie (to clear in the response).
    pub had_events: bool,
    /// The click-stream events read from that cookie and folded into the state.
    pub folded: Vec<signals::Event>,
    /// State read from a previous-key cookie (re-sealed under the current key).
    pub rotated: bool,
    /// Whether the state started fresh on this request.
    pub fresh: bool,
    /// Issue codes of everything ignored; never the input's content.
    pub issues: Vec<&'static str>,
}

/// `?vt-force`'s value, where forcing is allowed.
fn force<'c>(input: &RequestInput<'_>, ctx: &'c RequestContext) -> Option<&'c str> {
    input
        .allow_force
        .then(|| ctx.query_value(decide::FORCE_PARAM))
        .flatten()
}

/// Why `input` may keep no behavioral state, if it may not: honored GPC, or a consent
/// `privacy.consent` asks for and no signal grants (the page's answer in the browser, the
/// `Cookie` header's at the edge).
fn context_only(
    site: &Site,
    ctx: &RequestContext,
    input: &RequestInput<'_>,
) -> Option<ContextOnly> {
    let consented = || {
        input.consent.unwrap_or_else(|| {
            let signals = signals::ConsentSignals {
                cookie: input.cookie_header.unwrap_or(""),
                ..Default::default()
            };
            signals::consent_granted(site.privacy.consent.as_ref(), &signals)
        })
    };
    if ctx.gpc && site.privacy.honor_gpc {
        Some(ContextOnly::Gpc)
    } else if !consented() {
        Some(ContextOnly::NoConsent)
    } else {
        None
    }
}

/// A request decided from its context only: no state read or written, no events folded, no
/// traits; without consent, the state and click-stream cookies it carried are to be deleted.
fn context_only_outcome<'s>(
    site: &'s Site,
    ctx: RequestContext,
    input: &RequestInput<'_>,
    why: ContextOnly,
    issues: Vec<&'static str>,
) -> Outcome<'s> {
    let decisions = decide::decide(&DecideInput {
        site,
        ctx: &ctx,
        state: None,
        traits: None,
        trust: Trust::Anonymous,
        force: force(input, &ctx),
    });
    let header = input.cookie_header.unwrap_or("");
    let had = |name| !signals::cookie_values(header, name).is_empty();
    let had_events = had(signals::EVENTS_COOKIE);
    Outcome {
        ctx,
        trust: Trust::Anonymous,
        context_only: Some(why),
        forget: why == ContextOnly::NoConsent && (had_events || had(signals::STATE_COOKIE)),
        state: None,
        decisions,
        state_token: None,
        had_events,
        folded: Vec::new(),
        rotated: false,
        fresh: true,
        issues,
    }
}

/// Personalizes one request. Total: never fails, never panics on shopper input.
pub fn personalize<'s>(site: &'s Site, mode: Mode<'_>, input: &RequestInput<'_>) -> Outcome<'s> {
    let ctx = signals::read_context(site, &input.facts);
    let now = u32::try_from(input.facts.now_ms / 1000).unwrap_or(u32::MAX);
    let header = input.cookie_header.unwrap_or("");
    let mut issues = Vec::new();
    let request_events = signals::request_events(&ctx);

    if let Some(why) = context_only(site, &ctx, input) {
        return context_only_outcome(site, ctx, input, why, issues);
    }

    let keys = mode.keys();
    let protection = keys.map_or(Protection::Unsigned, |k| Protection::Signed(&k.state));
    let values: Vec<&str> = signals::cookie_values(header, signals::STATE_COOKIE)
        .into_iter()
        .filter(|v| !v.is_empty())
        .collect();
    let loaded = state::open(&values, protection, site, now, input.fresh_id);
    if let Some(issue) = loaded.issue {
        issues.push(issue.code());
    }
    let mut st = loaded.state;
    state::touch(&mut st, site, now);

    let event_values = signals::cookie_values(header, signals::EVENTS_COOKIE);
    let had_events = !event_values.is_empty();
    let mut folded = Vec::new();
    if let Some(raw) = event_values.first() {
        let (events, ev_issues) = signals::decode_events(raw, site.limits.max_events);
        issues.extend(ev_issues.iter().map(|i| i.code()));
        scoring::fold(site, &mut st, &ctx, &events, Provenance::Cookie);
        folded = events;
    }
    scoring::fold(site, &mut st, &ctx, &request_events, Provenance::Request);

    let traits = match (
        keys,
        signals::cookie_values(header, signals::TRAITS_COOKIE).first(),
    ) {
        (Some(keys), Some(token)) => match signals::open_traits(token, keys.traits.as_ref(), now) {
            Ok(t) => Some(t),
            Err(e) => {
                issues.push(e.code());
                None
            }
        },
        (None, _) => input.page_traits.clone(),
        (Some(_), None) => None,
    };
    let trust = match keys {
        Some(_) => Trust::Signed,
        None => Trust::Unsigned,
    };
    let decisions = decide::decide(&DecideInput {
        site,
        ctx: &ctx,
        state: Some(&st),
        traits: traits.as_ref(),
        trust,
        force: force(input, &ctx),
    });
    decide::record(site, &mut st, &decisions);
    let token = state::seal(&st, protection, site);
    Outcome {
        ctx,
        trust,
        context_only: None,
        forget: false,
        state: Some(st),
        decisions,
        state_token: Some(token),
        had_events,
        folded,
        rotated: loaded.rotated,
        fresh: loaded.fresh,
        issues,
    }
}

// ---------------------------------------------------------------------------------------------
// The explain report: one serializable view of an outcome, for `--explain`, the explain header,
// golden vectors and the browser's debug overlay.

/// Name → value pairs written as a JSON object, in their order (no map type to build, and no
/// sort code in the wasm bundles).
pub(crate) fn as_map<S: Serializer, V: Serialize>(
    pairs: &[(String, V)],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplainReport {
    pub site: String,
    pub page: PageReport,
    pub trust: Trust,
    /// Why no behavioral state was used ("no consent: context only").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_only: Option<&'static str>,
    pub state: Option<StateReport>,
    pub segments: Vec<String>,
    pub decisions: Vec<DecisionReport>,
    pub exposures: Vec<Exposure>,
    pub issues: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageReport {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: String,
    #[serde(serialize_with = "as_map")]
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateReport {
    pub fresh: bool,
    pub rotated: bool,
    pub visits: u32,
    pub session_views: u32,
    /// Points per dimension (all dimensions, in config order).
    #[serde(serialize_with = "as_map")]
    pub scores: Vec<(String, f64)>,
    pub recent: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionReport {
    pub slot: String,
    pub action: &'static str,
    /// The variant shown, `reorder`, or `None` for origin content.
    pub variant: Option<String>,
    pub arm: Option<Arm>,
    pub reason: Reason,
}

impl Outcome<'_> {
    pub fn report(&self, site: &Site) -> ExplainReport {
        ExplainReport {
            site: site.name.clone(),
            page: PageReport {
                kind: self.ctx.page_type.clone(),
                path: self.ctx.path.clone(),
                params: self.ctx.page_params.clone(),
            },
            trust: self.trust,
            context_only: self.context_only.map(ContextOnly::text),
            state: self.state.as_ref().map(|s| StateReport {
                fresh: self.fresh,
                rotated: self.rotated,
                visits: s.visits,
                session_views: s.session_views,
                scores: site
                    .dimensions
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (d.name.clone(), s.points(i)))
                    .collect(),
                recent: s
                    .recent
                    .iter()
                    .map(|r| format!("{}:{}", r.kind.name(), r.sku))
                    .collect(),
            }),
            segments: self
                .decisions
                .active_segments(site)
                .into_iter()
                .map(String::from)
                .collect(),
            decisions: self
                .decisions
                .slots
                .iter()
                .map(|d| {
                    let slot = &site.slots[d.slot];
                    DecisionReport {
                        slot: slot.name.clone(),
                        action: slot.action.name(),
                        variant: d.shown().changed().map(String::from),
                        arm: d.arm,
                        reason: d.reason.clone(),
                    }
                })
                .collect(),
            exposures: self.decisions.exposures(site),
            issues: self.issues.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl ExplainReport {
    /// One line per slot: `hero → hero-trail: segment hiker (score.hiking=42 ≥ 30)`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        if let Some(why) = self.context_only {
            out.push_str(why);
            out.push('\n');
        }
        if let Some(s) = &self.state {
            let scores: Vec<String> = s
                .scores
                .iter()
                .filter(|(_, v)| *v > 0.0)
                .map(|(k, v)| format!("{k}={}", render_num(*v)))
                .collect();
            out.push_str(&format!(
                "visits={} scores: {}\n",
                s.visits,
                if scores.is_empty() {
                    "none".into()
                } else {
                    scores.join(", ")
                }
            ));
        }
        out.push_str(&format!(
            "segments: {}\n",
            if self.segments.is_empty() {
                "none".into()
            } else {
                self.segments.join(", ")
            }
        ));
        for d in &self.decisions {
            match (&d.variant, d.reason.code) {
                (Some(_), decide::ReasonCode::Matched) => {
                    out.push_str(&format!("{} → {}\n", d.slot, d.reason.text))
                }
                (v, _) => out.push_str(&format!(
                    "{} → {}: {}\n",
                    d.slot,
                    v.as_deref().unwrap_or("origin"),
                    d.reason.text
                )),
            }
        }
        if !self.issues.is_empty() {
            out.push_str(&format!("issues: {}\n", self.issues.join(", ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "4:b3duLXN0YXRlLXNlY3JldC1mb3ItdGhlLXRlc3Rz";
    const OWN_TRAITS: &str = "5:b3duLXRyYWl0cy1zZWNyZXQtZm9yLXRoZS10ZXN0cw";

    #[test]
    fn a_deployment_without_secrets_trusts_nothing_unless_told() {
        assert!(Keys::for_deployment(None, None, false).unwrap().is_none());
        // A traits key alone does not make state trusted.
        assert!(Keys::for_deployment(None, Some(OWN_TRAITS), false)
            .unwrap()
            .is_none());
        let (dev, source) = Keys::for_deployment(None, None, true).unwrap().unwrap();
        assert_eq!(source, KeySource::Development);
        assert_eq!(dev.state.current_id(), 0);
        assert!(dev.traits.is_some());
    }

    #[test]
    fn own_secrets_are_used_and_public_ones_count_as_none() {
        let (k, source) = Keys::for_deployment(Some(OWN), Some(OWN_TRAITS), false)
            .unwrap()
            .unwrap();
        assert_eq!((source, k.state.current_id()), (KeySource::Configured, 4));
        assert!(k.traits.is_some());
        // Own state keys never pair with the public traits key: traits are then ignored.
        let (k, _) = Keys::for_deployment(Some(OWN), None, false)
            .unwrap()
            .unwrap();
        assert!(k.traits.is_none());
        let (k, _) = Keys::for_deployment(Some(OWN), Some(DEV_TRAITS_KEYS), false)
            .unwrap()
            .unwrap();
        assert!(k.traits.is_none());
        // The development secret pasted as a deployment's own (even under another id, or as
        // the previous key of a rotation) is not trusted.
        let pasted = format!("7:{}", DEV_STATE_KEYS.split_once(':').unwrap().1);
        for spec in [
            DEV_STATE_KEYS.to_string(),
            pasted,
            format!("{OWN},{DEV_STATE_KEYS}"),
        ] {
            assert!(
                Keys::for_deployment(Some(&spec), None, false)
                    .unwrap()
                    .is_none(),
                "{spec}"
            );
        }
        assert!(Keys::for_deployment(Some("x:abc"), None, false).is_err());
    }
}
