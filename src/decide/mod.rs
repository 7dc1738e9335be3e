//! Scores + segments → one decision per slot: experiments, policies, frequency caps,
//! `requires: signed_state`, pick strategies and grid ranking, each with its reason.
//!
//! Architecture Invariant: deciding is total and deterministic. Equal inputs give equal
//! decisions, bit for bit, native and wasm; time and randomness arrive as inputs.

pub mod bucket;
mod force;
mod page;
mod rank;

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::config::{Pick, Rank, Site, Slot, Suppress, REORDER_VARIANT};
use crate::expr::{write_num, Explanation, Expr, Var};
use crate::facts::{top_dimension, Env};
use crate::signals::{RequestContext, Traits};
use crate::state::{ItemKind, VisitorState};

pub use bucket::{bucket, BUCKETS};
pub use force::FORCE_PARAM;
pub use page::OnPage;
pub use rank::{ItemKeys, RankPlan};

/// How far the visitor state can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// Verified by its MAC at the edge.
    Signed,
    /// Browser-only state: usable, but never for `requires: signed_state`.
    Unsigned,
    /// No behavioral state may be read (Global Privacy Control): context-only rules.
    Anonymous,
}

/// An experiment's arm, as decided, explained and recorded (one type for all three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    Treatment,
    Control,
}

impl Arm {
    /// The arm's name in records and reports.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Treatment => "treatment",
            Arm::Control => "control",
        }
    }
}

/// What a slot showed the visitor: the one answer to that question. The explain report, the
/// event records, the rewriter's `data-vt-applied` marker, the browser module and `simulate`
/// all read it from [`SlotDecision::shown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown<'s> {
    /// A variant, by id.
    Variant(&'s str),
    /// The slot's items in a new order.
    Reorder,
    /// The origin content, outside any experiment (nothing matched, a cap, a condition).
    Origin,
    /// The origin content in an experiment's control arm, holding back what the treatment
    /// arm shows (a variant id or `reorder`).
    Control { held_back: &'s str },
}

impl<'s> Shown<'s> {
    /// The one word for it, as exposure records and the `data-vt-applied` marker write it:
    /// the variant id, `reorder`, `origin` or `control`.
    pub fn label(self) -> &'s str {
        match self {
            Shown::Variant(id) => id,
            Shown::Reorder => REORDER_VARIANT,
            Shown::Origin => "origin",
            Shown::Control { .. } => "control",
        }
    }

    /// What replaced the origin content (a variant id or `reorder`); `None` when the origin
    /// content stayed.
    pub fn changed(self) -> Option<&'s str> {
        match self {
            Shown::Variant(id) => Some(id),
            Shown::Reorder => Some(REORDER_VARIANT),
            Shown::Origin | Shown::Control { .. } => None,
        }
    }

    /// In the control arm, what was held back.
    pub fn held_back(self) -> Option<&'s str> {
        match self {
            Shown::Control { held_back } => Some(held_back),
            _ => None,
        }
    }

    /// What the decision is about: the content shown, or the content a control arm held back
    /// (the explain report's exposure rows name the treatment this way); `None` for origin.
    pub fn subject(self) -> Option<&'s str> {
        self.changed().or(self.held_back())
    }
}

/// Why a slot got what it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    Matched,
    NoMatch,
    Blocked,
    Control,
    FrequencyCap,
    Reordered,
    NoIntent,
    SlotCondition,
    /// A reorder the page could not take: its items carry no key the ranking reads.
    NoRankKey,
    /// A reorder the page did not take otherwise: no items, the buffer limit, markup that did
    /// not balance.
    NotReordered,
    /// The slot's element is not on the page: nothing was shown, nothing is recorded.
    NotOnPage,
    /// A replaced slot the page kept as the origin sent it (its buffer limit, never ended).
    NotApplied,
    /// Forced for QA (`?vt-force`): shown, never recorded.
    Forced,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Choice<'s> {
    /// Show this variant (index into the slot's variants).
    Variant(usize),
    /// Reorder the slot's items.
    Reorder(RankPlan<'s>),
    /// Leave the origin content.
    Origin,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SlotDecision<'s> {
    /// Index into `site.slots`.
    pub slot: usize,
    pub choice: Choice<'s>,
    /// Set when the slot is under an experiment and the visitor is bucketed.
    pub arm: Option<Arm>,
    /// What the visitor would have seen outside the control arm (variant id or `reorder`);
    /// read it through [`SlotDecision::shown`].
    would_show: Option<&'s str>,
    pub reason: Reason,
    /// The chosen variant's HTML (or attribute value), placeholders rendered and escaped.
    pub content: Option<Cow<'s, str>>,
}

/// One row of the explain report's exposures: a slot that showed something, or whose control
/// arm held something back ([`Shown::subject`]); origin slots have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exposure {
    pub slot: String,
    pub variant: String,
    pub experiment: Option<String>,
    pub arm: Option<Arm>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decisions<'s> {
    /// One flag per site segment.
    pub segments: Vec<bool>,
    pub slots: Vec<SlotDecision<'s>>,
}

pub struct DecideInput<'s, 'a> {
    pub site: &'s Site,
    pub ctx: &'a RequestContext,
    /// `None` under [`Trust::Anonymous`].
    pub state: Option<&'a VisitorState>,
    pub traits: Option<&'a Traits>,
    pub trust: Trust,
    /// QA forcing (`?vt-force`'s value), where it is allowed.
    pub force: Option<&'a str>,
}

/// Evaluates segments, then decides every slot.
pub fn decide<'s>(input: &DecideInput<'s, '_>) -> Decisions<'s> {
    let site = input.site;
    let top = input
        .state
        .and_then(|s| top_dimension(input.site, &s.scores));
    let mut segments = vec![false; site.segments.len()];
    for &i in &site.segment_order {
        let value = site.segments[i].expr.eval(&env(input, &segments, top));
        segments[i] = value;
    }
    let env = env(input, &segments, top);
    let policies: Vec<bool> = site
        .policies
        .iter()
        .map(|p| p.when.as_ref().is_none_or(|w| w.eval(&env)))
        .collect();
    let slots = site
        .slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let decided = decide_slot(input, &env, &policies, i, slot);
            match input.force {
                Some(spec) => force::force(spec, &env, slot, decided),
                None => decided,
            }
        })
        .collect();
    Decisions { segments, slots }
}

fn env<'a>(input: &'a DecideInput<'_, 'a>, segments: &'a [bool], top: Option<usize>) -> Env<'a> {
    Env {
        site: input.site,
        ctx: input.ctx,
        state: input.state,
        traits: input.traits,
        segments,
        signed: input.trust == Trust::Signed,
        event: None,
        top,
    }
}

/// Writes the facts that decided `expr` after `prefix`; a segment is written with the facts
/// that made it true: `segment hiker (score.hiking=42 ≥ 30)`.
fn explain(site: &Site, env: &Env<'_>, expr: &Expr, prefix: String) -> String {
    let names = |var: &Var, out: &mut Explanation<'_>| match var {
        Var::Segment(i) => {
            let seg = &site.segments[*i];
            out.text.push_str("segment ");
            out.text.push_str(&seg.name);
            out.open();
            seg.expr.explain(env, out);
            out.close();
        }
        Var::Score(i) => {
            out.text.push_str("score.");
            out.text.push_str(&site.dimensions[*i].name);
        }
        other => out.text.push_str(&site.var_name(other)),
    };
    let mut out = Explanation::new(prefix, &names);
    expr.explain(env, &mut out);
    out.text
}

/// The first policy that blocks `(slot, variant)`, if any: an active deny, or allows of which none is active.
fn blocking_policy<'s>(site: &'s Site, active: &[bool], targeting: &[usize]) -> Option<&'s str> {
    let mut allow_seen = None;
    let mut allowed = false;
    for &p in targeting {
        let pol = &site.policies[p];
        if pol.deny {
            if active[p] {
                return Some(&pol.reason);
            }
        } else {
            allow_seen.get_or_insert(pol.reason.as_str());
            allowed |= active[p];
        }
    }
    if allowed {
        None
    } else {
        allow_seen
    }
}

/// A slot's decision, in three steps: what the rules pick, the frequency caps, the experiment.
fn decide_slot<'s>(
    input: &DecideInput<'s, '_>,
    env: &Env<'_>,
    active: &[bool],
    index: usize,
    slot: &'s Slot,
) -> SlotDecision<'s> {
    let origin = |reason| SlotDecision {
        slot: index,
        choice: Choice::Origin,
        arm: None,
        would_show: None,
        reason,
        content: None,
    };
    // 1. What the rules pick.
    let picked = match &slot.rank {
        Some(rank) => rank_choice(input, env, active, slot, rank),
        None => pick_variant(input, env, active, slot).map(|(vi, text)| {
            let reason = Reason {
                code: ReasonCode::Matched,
                text,
            };
            (Choice::Variant(vi), reason)
        }),
    };
    let (choice, reason) = match picked {
        Ok(picked) => picked,
        Err(reason) => return origin(reason),
    };
    let shown = match &choice {
        Choice::Variant(v) => slot.variants[*v].id.as_str(),
        _ => REORDER_VARIANT,
    };
    // 2. Frequency caps apply to both arms alike, so arms stay comparable.
    if let Some(reason) = capped(input.state, index, slot) {
        return origin(reason);
    }
    // 3. Experiments: the control arm sees the origin content.
    let mut arm = None;
    if let (Some(e), Some(state)) = (slot.experiment, input.state) {
        let exp = &input.site.experiments[e];
        let b = bucket(&state.id, &exp.name);
        if b < exp.control_bp {
            return SlotDecision {
                arm: Some(Arm::Control),
                would_show: Some(shown),
                ..origin(Reason {
                    code: ReasonCode::Control,
                    text: format!(
                        "control arm of {} (bucket {b} < {}); origin content instead of {shown}",
                        exp.name, exp.control_bp
                    ),
                })
            };
        }
        arm = Some(Arm::Treatment);
    }
    let content = match &choice {
        Choice::Variant(v) => {
            let v = &slot.variants[*v];
            v.html.as_ref().or(v.value.as_ref()).map(|t| t.render(env))
        }
        _ => None,
    };
    SlotDecision {
        slot: index,
        choice,
        arm,
        would_show: Some(shown),
        reason,
        content,
    }
}

/// A reorder slot's plan and its reason; `Err` with the reason the origin order stays.
fn rank_choice<'s>(
    input: &DecideInput<'s, '_>,
    env: &Env<'_>,
    active: &[bool],
    slot: &Slot,
    rank: &'s Rank,
) -> Result<(Choice<'s>, Reason), Reason> {
    let site = input.site;
    let origin = |code, text| Err(Reason { code, text });
    if let Some(when) = &slot.when {
        if !when.eval(env) {
            let mut text = explain(site, env, when, "condition not met (".into());
            text.push_str("); origin order");
            return origin(ReasonCode::SlotCondition, text);
        }
    }
    if let Some(policy) = blocking_policy(site, active, &slot.policies) {
        return origin(ReasonCode::Blocked, format!("policy: {policy}"));
    }
    let plan = rank_plan(input.state, rank);
    if !plan.is_active() {
        return origin(
            ReasonCode::NoIntent,
            "no intent signal yet; origin order".into(),
        );
    }
    let mut text = format!("reorder by {}:", rank.category.describe());
    let mut ranked: Vec<rank::SortKey> = (0..plan.affinity.len())
        .filter(|&k| plan.affinity[k] != 0)
        .map(|k| ((plan.affinity[k].saturating_neg(), 0), k))
        .collect();
    rank::sort_keyed(&mut ranked);
    for (n, &(_, k)) in ranked.iter().enumerate() {
        text.push_str(if n == 0 { " " } else { ", " });
        text.push_str(&rank.keys[k]);
        text.push('=');
        write_num(&mut text, plan.affinity[k] as f64 / 100.0);
    }
    if ranked.is_empty() {
        text.push_str(" no affinity");
    }
    if !plan.suppressed.is_empty() {
        let _ = write!(text, "; {} suppressed item(s) last", plan.suppressed.len());
    }
    let reason = Reason {
        code: ReasonCode::Reordered,
        text,
    };
    Ok((Choice::Reorder(plan), reason))
}

/// The frequency cap a slot has reached, as the reason it shows the origin content.
fn capped(state: Option<&VisitorState>, index: usize, slot: &Slot) -> Option<Reason> {
    if slot.cap_per_session.is_none() && slot.cap_per_visitor.is_none() {
        return None;
    }
    let text = match state {
        None => "frequency cap cannot be counted without visitor state".into(),
        Some(state) => {
            let c = state.counters[index];
            if let Some(cap) = slot.cap_per_session.filter(|cap| c.session >= *cap) {
                format!(
                    "frequency cap: shown {} of {cap} times this session",
                    c.session
                )
            } else if let Some(cap) = slot.cap_per_visitor.filter(|cap| c.total >= *cap) {
                format!("frequency cap: shown {} of {cap} times in all", c.total)
            } else {
                return None;
            }
        }
    };
    Some(Reason {
        code: ReasonCode::FrequencyCap,
        text,
    })
}

/// Picks a variant by the slot's strategy; `Err` carries the reason nothing was picked.
fn pick_variant(
    input: &DecideInput<'_, '_>,
    env: &Env<'_>,
    active: &[bool],
    slot: &Slot,
) -> Result<(usize, String), Reason> {
    let site = input.site;
    let mut blocked: Option<String> = None;
    let mut eligible = Vec::new();
    for (i, v) in slot.variants.iter().enumerate() {
        if !v.when.as_ref().is_none_or(|w| w.eval(env)) {
            continue;
        }
        if let Some(policy) = blocking_policy(site, active, &v.policies) {
            blocked.get_or_insert_with(|| format!("{} blocked by policy: {policy}", v.id));
            continue;
        }
        if v.requires_signed && input.trust != Trust::Signed {
            blocked.get_or_insert_with(|| format!("{} requires signed state", v.id));
            continue;
        }
        eligible.push(i);
        if slot.pick == Pick::FirstMatch {
            break;
        }
    }
    // The weighted split's bucket and total weight, kept for the reason.
    let mut split_bucket = None;
    let weight_total: f64 = eligible.iter().map(|&i| slot.variants[i].weight).sum();
    let chosen = match slot.pick {
        Pick::FirstMatch => eligible.first().copied(),
        Pick::BestScore => {
            let score = |i: usize| {
                slot.variants[i]
                    .dimension
                    .and_then(|d| input.state.map(|s| s.scores[d]))
                    .unwrap_or(0)
            };
            // Ties go to the earlier variant: max_by_key keeps the last maximum, so compare reversed indices.
            eligible
                .iter()
                .copied()
                .filter(|&i| score(i) > 0)
                .max_by_key(|&i| (score(i), std::cmp::Reverse(i)))
        }
        Pick::Weighted => {
            let total = weight_total;
            match input.state {
                Some(state) if total > 0.0 => {
                    let b = bucket(&state.id, &slot.split_salt);
                    split_bucket = Some(b);
                    let point = f64::from(b) / f64::from(BUCKETS) * total;
                    let mut acc = 0.0;
                    eligible
                        .iter()
                        .copied()
                        .find(|&i| {
                            acc += slot.variants[i].weight;
                            point < acc
                        })
                        .or(eligible.last().copied())
                }
                _ => eligible.first().copied(),
            }
        }
    };
    let Some(i) = chosen else {
        return Err(match blocked {
            Some(b) => Reason {
                code: ReasonCode::Blocked,
                text: format!("no eligible variant ({b})"),
            },
            None if slot.pick == Pick::BestScore && !eligible.is_empty() => Reason {
                code: ReasonCode::NoMatch,
                text: "no variant's dimension has a score yet".into(),
            },
            None => Reason {
                code: ReasonCode::NoMatch,
                text: "no variant matched".into(),
            },
        });
    };
    let text = pick_reason(input, env, slot, i, split_bucket, weight_total);
    Ok((i, text))
}

/// Why variant `i` was picked: its condition explained, then the pick strategy's part.
fn pick_reason(
    input: &DecideInput<'_, '_>,
    env: &Env<'_>,
    slot: &Slot,
    i: usize,
    split_bucket: Option<u32>,
    weight_total: f64,
) -> String {
    let site = input.site;
    let v = &slot.variants[i];
    let mut text = String::with_capacity(96);
    text.push_str(&v.id);
    text.push_str(": ");
    if let Some(w) = &v.when {
        text = explain(site, env, w, text);
    }
    let plain = v.when.is_none();
    match slot.pick {
        Pick::FirstMatch if plain => text.push_str("default (no condition)"),
        Pick::FirstMatch => {}
        Pick::BestScore => {
            let d = v.dimension.unwrap_or(0);
            text.push_str(if plain {
                "best score "
            } else {
                ", best score "
            });
            text.push_str(&site.dimensions[d].name);
            text.push('=');
            write_num(&mut text, input.state.map_or(0.0, |s| s.points(d)));
        }
        Pick::Weighted => {
            text.push_str(if plain {
                "weighted split"
            } else {
                ", weighted split"
            });
            match split_bucket {
                Some(b) => {
                    let _ = write!(text, ", bucket {b}");
                }
                None => text.push_str(" without a visitor id: first eligible"),
            }
            text.push_str(" (weight ");
            write_num(&mut text, v.weight);
            text.push_str(" of ");
            write_num(&mut text, weight_total);
            text.push(')');
        }
    }
    text
}

fn rank_plan<'s>(state: Option<&VisitorState>, rank: &'s Rank) -> RankPlan<'s> {
    let affinity = rank
        .key_sources
        .iter()
        .map(|(dim, boost)| {
            i64::from(dim.and_then(|d| state.map(|s| s.scores[d])).unwrap_or(0)) + i64::from(*boost)
        })
        .collect();
    let mut suppressed = Vec::new();
    if let Some(state) = state {
        for r in &state.recent {
            let hit = rank.suppress.iter().any(|s| {
                matches!(
                    (s, r.kind),
                    (Suppress::Purchased, ItemKind::Purchased)
                        | (Suppress::Viewed, ItemKind::Viewed)
                        | (Suppress::Carted, ItemKind::Carted)
                )
            });
            if hit && !suppressed.contains(&r.sku) {
                suppressed.push(r.sku.clone());
            }
        }
    }
    RankPlan {
        rank,
        affinity,
        suppressed,
    }
}

/// Counts what was shown against the slots' frequency caps.
pub fn record(site: &Site, state: &mut VisitorState, decisions: &Decisions<'_>) {
    for d in &decisions.slots {
        let slot = &site.slots[d.slot];
        // A forced slot (QA) counts toward no cap.
        let shown = !matches!(d.choice, Choice::Origin) && d.reason.code != ReasonCode::Forced;
        if shown && (slot.cap_per_session.is_some() || slot.cap_per_visitor.is_some()) {
            let c = &mut state.counters[d.slot];
            c.session = c.session.saturating_add(1);
            c.total = c.total.saturating_add(1);
        }
    }
}

impl<'s> SlotDecision<'s> {
    /// What the slot showed.
    pub fn shown(&self) -> Shown<'s> {
        match (&self.choice, self.arm, self.would_show) {
            (Choice::Variant(_), _, Some(id)) => Shown::Variant(id),
            (Choice::Reorder(_), ..) => Shown::Reorder,
            (Choice::Origin, Some(Arm::Control), Some(held_back)) => Shown::Control { held_back },
            // A variant always names itself (decide_slot); origin otherwise.
            (Choice::Variant(_), _, None) | (Choice::Origin, ..) => Shown::Origin,
        }
    }

    /// The experiment the visitor was bucketed into for this slot, by name.
    pub fn experiment<'a>(&self, site: &'a Site) -> Option<&'a str> {
        let e = site.slots[self.slot].experiment?;
        self.arm.map(|_| site.experiments[e].name.as_str())
    }
}

impl Decisions<'_> {
    /// The explain report's exposure rows (see [`Exposure`]).
    pub fn exposures(&self, site: &Site) -> Vec<Exposure> {
        self.slots
            .iter()
            .filter(|d| d.recorded())
            .filter_map(|d| {
                Some(Exposure {
                    slot: site.slots[d.slot].name.clone(),
                    variant: d.shown().subject()?.to_string(),
                    experiment: d.experiment(site).map(String::from),
                    arm: d.arm,
                })
            })
            .collect()
    }

    /// Names of the segments the visitor is in.
    pub fn active_segments<'s>(&self, site: &'s Site) -> Vec<&'s str> {
        site.segments
            .iter()
            .zip(&self.segments)
            .filter(|(_, on)| **on)
            .map(|(s, _)| s.name.as_str())
            .collect()
    }
}
