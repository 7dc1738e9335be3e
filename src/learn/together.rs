//! Lists learned from purchases: `bought_together` (items in the same basket beyond chance, by
//! Dunning's G²), `complements` (the same, less pairs of one product type) and `bestsellers`
//! per product type (the fallback of every list).
//!
//! One visitor is one vote: a pair counts the visitors who bought both in one basket, an item
//! the visitors who bought it, so no shopper can make a pair or a bestseller alone.

use std::collections::{BTreeMap, BTreeSet};

use super::llr;
use super::recs::{Lists, LIST_LENGTH};
use crate::catalog::Catalog;

/// A pair needs this many visitors who bought both in one basket…
pub const MIN_TOGETHER: u64 = 3;
/// …and this G² (p < 0.001 for one degree of freedom).
pub const MIN_G2: f64 = 10.83;
/// The `bestsellers` key of the list over every item, whatever its type.
pub const ALL_TYPES: &str = "*";

/// `bought_together` of `baskets` (visitor, items): per item, the items bought with it by at
/// least [`MIN_TOGETHER`] visitors and with G² ≥ [`MIN_G2`] over the 2×2 table of visitors
/// (bought both together / one without the other / neither), strongest first, ties by id, at
/// most [`LIST_LENGTH`].
pub fn bought_together(baskets: &[(String, BTreeSet<String>)]) -> Lists {
    let counts = Counts::of(baskets);
    let n = counts.visitors as f64;
    let mut lists: Lists = BTreeMap::new();
    for ((a, b), &k11) in &counts.pairs {
        if k11 < MIN_TOGETHER {
            continue;
        }
        let count = |i: &str| counts.items.get(i).copied().unwrap_or(0) as f64;
        let (k11, ka, kb) = (k11 as f64, count(a), count(b));
        let g2 = llr(k11, ka - k11, kb - k11, (n - ka - kb + k11).max(0.0));
        if g2 < MIN_G2 {
            continue;
        }
        lists
            .entry(a.to_string())
            .or_default()
            .push((b.to_string(), g2));
        lists
            .entry(b.to_string())
            .or_default()
            .push((a.to_string(), g2));
    }
    for list in lists.values_mut() {
        strongest_first(list);
    }
    lists
}

/// The visitor counts G² is computed from: what `--sql` computes in a warehouse.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    /// (item, other item), the first the smaller id → visitors who bought both in one basket.
    pub pairs: BTreeMap<(String, String), u64>,
    /// Item → visitors who bought it.
    pub items: BTreeMap<String, u64>,
    /// Visitors with a basket.
    pub visitors: u64,
}

impl Counts {
    pub fn of(baskets: &[(String, BTreeSet<String>)]) -> Counts {
        let mut items: BTreeSet<(&str, &str)> = BTreeSet::new();
        let mut pairs: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
        for (visitor, basket) in baskets {
            for a in basket {
                items.insert((a, visitor));
                let later = (std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded);
                for b in basket.range::<String, _>(later) {
                    pairs.insert((a, b, visitor));
                }
            }
        }
        let mut out = Counts {
            visitors: baskets
                .iter()
                .map(|(v, _)| v)
                .collect::<BTreeSet<_>>()
                .len() as u64,
            ..Counts::default()
        };
        for (item, _) in items {
            *out.items.entry(item.into()).or_default() += 1;
        }
        for (a, b, _) in pairs {
            *out.pairs.entry((a.into(), b.into())).or_default() += 1;
        }
        out
    }
}

/// `bought_together` less the pairs whose items share a product type (a second tent is no
/// complement of a tent). Items the catalog lacks or gives no type keep their pairs.
pub fn complements(together: &Lists, catalog: &Catalog) -> Lists {
    let kind = |id: &str| catalog.get(id).and_then(|i| i.product_type.as_deref());
    together
        .iter()
        .filter_map(|(item, list)| {
            let list: Vec<(String, f64)> = list
                .iter()
                .filter(|(other, _)| kind(item).is_none() || kind(item) != kind(other))
                .cloned()
                .collect();
            (!list.is_empty()).then(|| (item.clone(), list))
        })
        .collect()
}

/// Per product type (the catalog's; [`ALL_TYPES`] for every item), its items by visitors who
/// bought them, then visitors who viewed them, ties by id, at most [`LIST_LENGTH`]; an item's
/// score is `purchases + views / (1 + most views)`, which orders exactly so.
pub fn bestsellers(popularity: &BTreeMap<String, (u64, u64)>, catalog: Option<&Catalog>) -> Lists {
    let most_views = popularity.values().map(|p| p.1).max().unwrap_or(0) as f64;
    let mut lists: Lists = BTreeMap::new();
    for (item, &(bought, viewed)) in popularity {
        let score = bought as f64 + viewed as f64 / (1.0 + most_views);
        let kind = catalog
            .and_then(|c| c.get(item))
            .and_then(|i| i.product_type.clone());
        for key in [Some(ALL_TYPES.to_string()), kind].into_iter().flatten() {
            lists.entry(key).or_default().push((item.clone(), score));
        }
    }
    for list in lists.values_mut() {
        strongest_first(list);
    }
    lists
}

/// Strongest first, ties by id; at most [`LIST_LENGTH`].
fn strongest_first(list: &mut Vec<(String, f64)>) {
    list.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list.truncate(LIST_LENGTH);
}
