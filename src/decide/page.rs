//! What the page showed of the decisions: the rewriter (or the browser module) reports, per
//! slot, what it found ([`OnPage`]), and the decisions settle with it, so that the explain
//! report, the records and the page's marker say what the shopper saw: a slot whose element
//! is not on the page is no exposure (nor is a control arm's there), a reorder its items could
//! not take is none either. A probe decides every
//! slot as if it applied, to count what a page holds (`vitrine check --page`).

use super::*;

/// What the page showed of one slot's decision, as the rewriter (or the browser module)
/// found it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnPage {
    /// Elements the slot's selector matched.
    pub found: u32,
    /// For a reorder: items in its containers (where their keys could be read), items with a
    /// key, and containers written in ranked order.
    pub items: u32,
    pub keyed: u32,
    pub reordered: u32,
    /// For a replaced slot: elements left as the origin sent them (over its buffer limit,
    /// never ended, or inside markup the rewriter gave up on).
    pub kept: u32,
}

impl SlotDecision<'_> {
    /// Whether the decision is an exposure to record: not when the page could not show it.
    pub fn recorded(&self) -> bool {
        !matches!(
            self.reason.code,
            ReasonCode::NoRankKey
                | ReasonCode::NotReordered
                | ReasonCode::NotOnPage
                | ReasonCode::NotApplied
                | ReasonCode::Forced
        )
    }
}

impl Decisions<'_> {
    /// Settles the decisions with what the page showed (`page`: per slot, in order): a
    /// reorder no container took is the origin content, with the reason — so the explain
    /// report, the records and the page's marker say what the shopper saw.
    pub fn settle(&mut self, page: &[OnPage]) {
        for (d, on) in self.slots.iter_mut().zip(page) {
            if on.found == 0 {
                // Nothing of it reached the shopper: no exposure, not even a control arm's.
                d.reason = Reason {
                    code: ReasonCode::NotOnPage,
                    text: format!("not on this page (decided: {})", d.reason.text),
                };
                d.choice = Choice::Origin;
                d.arm = None;
                continue;
            }
            if matches!(d.choice, Choice::Variant(_)) && on.kept >= on.found {
                // Every element of it kept the origin content: the variant was not shown.
                d.reason = Reason {
                    code: ReasonCode::NotApplied,
                    text: format!(
                        "not applied: left as the origin sent it (over the slot's buffer limit, never ended, or markup the rewriter gave up on; decided: {})",
                        d.reason.text
                    ),
                };
                d.choice = Choice::Origin;
                d.arm = None;
                continue;
            }
            if !matches!(d.choice, Choice::Reorder(_)) || on.reordered > 0 {
                continue;
            }
            let (code, text) = if on.items > 0 && on.keyed == 0 {
                (
                    ReasonCode::NoRankKey,
                    format!(
                        "not reordered: {} items, 0 with a key ({}); origin order",
                        on.items,
                        match &d.choice {
                            Choice::Reorder(plan) => format!(
                                "category: {}; sku: {}",
                                plan.rank.category.describe(),
                                plan.rank.sku.describe()
                            ),
                            _ => String::new(),
                        }
                    ),
                )
            } else {
                (
                    ReasonCode::NotReordered,
                    "not reordered: left in origin order (no items, the buffer limit, or markup that does not balance)".into(),
                )
            };
            d.choice = Choice::Origin;
            d.reason = Reason { code, text };
        }
    }

    /// Every slot decided as if it applied (a variant slot: its origin content marked; a
    /// reorder: ranked by nothing), to count what a page holds for each.
    pub fn probe(site: &Site) -> Decisions<'_> {
        let slots = site
            .slots
            .iter()
            .enumerate()
            .map(|(i, slot)| SlotDecision {
                slot: i,
                choice: match &slot.rank {
                    Some(rank) => Choice::Reorder(RankPlan {
                        rank,
                        affinity: vec![0; rank.keys.len()],
                        suppressed: Vec::new(),
                    }),
                    None => Choice::Origin,
                },
                arm: None,
                would_show: None,
                reason: Reason {
                    code: ReasonCode::Matched,
                    text: "probe".into(),
                },
                content: None,
            })
            .collect();
        Decisions {
            segments: vec![false; site.segments.len()],
            slots,
        }
    }
}
