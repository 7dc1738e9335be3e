//! The ranking plan of a `reorder` slot: a pure function from item attributes to an order.
//!
//! Groups, in order: pinned items (in pin order), ranked items (by affinity + boost, highest
//! first), buried items, suppressed items (bought, carted or just seen). Ties keep origin order,
//! and no item is ever dropped.

use crate::config::Rank;

/// How to order the items of one grid for one visitor.
#[derive(Debug, Clone, PartialEq)]
pub struct RankPlan<'s> {
    pub rank: &'s Rank,
    /// Hundredths per `rank.keys` entry: the visitor's score plus the boost.
    pub affinity: Vec<i64>,
    /// SKUs sunk to the end.
    pub suppressed: Vec<String>,
}

/// One item's keys as read from its markup ([`crate::config::ItemKey::read`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemKeys<'a> {
    pub sku: Option<&'a str>,
    pub category: Option<&'a str>,
}

impl ItemKeys<'_> {
    /// Whether the item has a key the ranking can read.
    pub fn any(&self) -> bool {
        self.sku.is_some() || self.category.is_some()
    }
}

impl RankPlan<'_> {
    /// Whether the plan can change any order at all.
    pub fn is_active(&self) -> bool {
        self.affinity.iter().any(|s| *s != 0)
            || !self.rank.pin.is_empty()
            || !self.rank.bury.is_empty()
            || !self.suppressed.is_empty()
    }

    fn key(&self, item: &ItemKeys<'_>) -> (u8, i64) {
        let sku = item.sku.unwrap_or("");
        if let Some(p) = self.rank.pin.iter().position(|p| p == sku) {
            return (0, p as i64);
        }
        if !sku.is_empty() && self.suppressed.iter().any(|s| s == sku) {
            return (3, 0);
        }
        if self.rank.bury.iter().any(|b| b == sku) {
            return (2, 0);
        }
        let score = item
            .category
            .and_then(|a| {
                self.rank
                    .keys
                    .iter()
                    .position(|k| k.eq_ignore_ascii_case(a.trim()))
            })
            .map_or(0, |k| self.affinity[k]);
        (1, -score)
    }

    /// The new order, as indices into `items`: a permutation, stable for ties.
    pub fn order(&self, items: &[ItemKeys<'_>]) -> Vec<usize> {
        let mut keyed: Vec<SortKey> = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let (class, score) = self.key(item);
                ((i64::from(class), score), i)
            })
            .collect();
        sort_keyed(&mut keyed);
        keyed.into_iter().map(|(_, i)| i).collect()
    }
}

/// A sort key and the index it belongs to; the index makes every key distinct, so an unstable
/// sort gives the stable order.
pub(crate) type SortKey = ((i64, i64), usize);

/// The crate's one sort, a heapsort through `BinaryHeap`: each instantiation of `slice::sort*`
/// costs kilobytes in the wasm bundles (the pattern-defeating quicksort alone is 6 KB), a heap
/// a few hundred bytes, and every ordering goes through this one.
pub(crate) fn sort_keyed(keys: &mut Vec<SortKey>) {
    *keys = std::collections::BinaryHeap::from(std::mem::take(keys)).into_sorted_vec();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Affinity;

    fn rank(pin: &[&str], bury: &[&str]) -> Rank {
        Rank {
            category: crate::config::ItemKey::attribute("data-vt-category", "category"),
            sku: crate::config::ItemKey::attribute("data-vt-sku", "sku"),
            affinity: Affinity::Score,
            suppress: vec![],
            pin: pin.iter().map(|s| s.to_string()).collect(),
            bury: bury.iter().map(|s| s.to_string()).collect(),
            keys: vec!["hiking".into(), "camping".into(), "running".into()],
            key_sources: vec![(Some(0), 0), (Some(1), 0), (Some(2), 0)],
        }
    }

    fn item<'a>(sku: &'a str, attr: &'a str) -> ItemKeys<'a> {
        ItemKeys {
            sku: Some(sku),
            category: Some(attr),
        }
    }

    #[test]
    fn orders_by_group_then_affinity_then_origin() {
        let r = rank(&["p1"], &["b1"]);
        let plan = RankPlan {
            rank: &r,
            affinity: vec![4200, 1000, 0],
            suppressed: vec!["bought".into()],
        };
        let items = [
            item("r1", "running"),
            item("bought", "hiking"),
            item("c1", "camping"),
            item("h1", "hiking"),
            item("b1", "hiking"),
            item("r2", "running"),
            item("p1", "running"),
            item("h2", "Hiking"),
        ];
        let order: Vec<&str> = plan
            .order(&items)
            .into_iter()
            .map(|i| items[i].sku.unwrap())
            .collect();
        assert_eq!(
            order,
            vec!["p1", "h1", "h2", "c1", "r1", "r2", "b1", "bought"]
        );
    }

    #[test]
    fn inactive_plan_keeps_order() {
        let r = rank(&[], &[]);
        let p = RankPlan {
            rank: &r,
            affinity: vec![0, 0, 0],
            suppressed: vec![],
        };
        assert!(!p.is_active());
        let items = [item("a", "x"), ItemKeys::default(), item("c", "hiking")];
        assert_eq!(p.order(&items), vec![0, 1, 2]);
    }
}
