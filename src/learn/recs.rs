//! Recommendation lists learned from sessions of product views: `also_viewed`, sequential rules
//! (for each view, 1/d is added to the rule "item viewed d steps earlier in the session → this
//! item", d = 1…10; the 20 strongest kept per item, ties by item id), their held-out evaluation
//! against popularity, and the compiled table the slots read.

use std::collections::BTreeMap;

// Fx: tens of millions of rule updates; SipHash's collision resistance buys nothing here.
use rustc_hash::FxHashMap as HashMap;

use serde::{Deserialize, Serialize};

/// How far back a view still votes for the next one.
pub const WINDOW: usize = 10;
/// Neighbours kept per item, and the list length evaluated (hit rate and MRR at 20).
pub const LIST_LENGTH: usize = 20;

/// One product view of a click log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub session: String,
    pub item: String,
    /// Unix seconds (orders views within a session; equal times keep the input order).
    pub time: u64,
}

/// Views grouped into sessions, each in time order (equal times in input order); sessions
/// ordered by id (deterministic). One sort of indices, not a map of strings.
pub fn sessions(clicks: Vec<Click>) -> Vec<Vec<String>> {
    let mut order: Vec<usize> = (0..clicks.len()).collect();
    order.sort_unstable_by(|&a, &b| {
        let (x, y) = (&clicks[a], &clicks[b]);
        (&x.session, x.time, a).cmp(&(&y.session, y.time, b))
    });
    let mut slots: Vec<Option<Click>> = clicks.into_iter().map(Some).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut last: Option<String> = None;
    for i in order {
        let Some(c) = slots[i].take() else { continue };
        if last.as_ref() != Some(&c.session) {
            out.push(Vec::new());
            last = Some(c.session);
        }
        if let Some(s) = out.last_mut() {
            s.push(c.item);
        }
    }
    out
}

/// Per item, its strongest neighbours with their scores, strongest first.
pub type Lists = BTreeMap<String, Vec<(String, f64)>>;

/// The `also_viewed` lists of `sessions` (see the module's documentation): each item's
/// [`LIST_LENGTH`] strongest rules of [`rule_weights`], ties by the neighbour's id.
pub fn also_viewed(sessions: &[Vec<String>]) -> Lists {
    let (names, weights) = weights_by_id(sessions);
    let mut per: HashMap<u32, Vec<(u32, f64)>> = HashMap::default();
    for ((from, to), w) in weights {
        per.entry(from).or_default().push((to, w));
    }
    per.into_iter()
        .map(|(from, mut list)| {
            // Strongest first; ties by the neighbour's id.
            list.sort_by(|a, b| {
                b.1.total_cmp(&a.1)
                    .then_with(|| names[a.0 as usize].cmp(names[b.0 as usize]))
            });
            list.truncate(LIST_LENGTH);
            let list = list
                .into_iter()
                .map(|(to, w)| (names[to as usize].to_string(), w))
                .collect();
            (names[from as usize].to_string(), list)
        })
        .collect()
}

/// Every rule's weight — (earlier item, later item) → Σ 1/d over d = 1…[`WINDOW`] — before any
/// list is cut: what `--sql` computes in a warehouse. A view of the same item again is no rule.
pub fn rule_weights(sessions: &[Vec<String>]) -> BTreeMap<(String, String), f64> {
    let (names, weights) = weights_by_id(sessions);
    weights
        .into_iter()
        .map(|((a, b), w)| ((names[a as usize].into(), names[b as usize].into()), w))
        .collect()
}

/// The rules' weights by interned item id, and the ids' names.
fn weights_by_id(sessions: &[Vec<String>]) -> (Vec<&str>, HashMap<(u32, u32), f64>) {
    let mut ids: HashMap<&str, u32> = HashMap::default();
    let mut names: Vec<&str> = Vec::new();
    let mut weights: HashMap<(u32, u32), f64> = HashMap::default();
    for s in sessions {
        let seq: Vec<u32> = s
            .iter()
            .map(|item| {
                *ids.entry(item.as_str()).or_insert_with(|| {
                    names.push(item.as_str());
                    (names.len() - 1) as u32
                })
            })
            .collect();
        for (j, &to) in seq.iter().enumerate() {
            for d in 1..=WINDOW.min(j) {
                let from = seq[j - d];
                if from != to {
                    *weights.entry((from, to)).or_default() += 1.0 / d as f64;
                }
            }
        }
    }
    (names, weights)
}

/// The most viewed items, most first (ties by id): the popularity baseline.
pub fn popular(sessions: &[Vec<String>], n: usize) -> Vec<String> {
    let mut counts: HashMap<&str, u64> = HashMap::default();
    for item in sessions.iter().flatten() {
        *counts.entry(item.as_str()).or_default() += 1;
    }
    let mut list: Vec<(&str, u64)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    list.into_iter()
        .take(n)
        .map(|(i, _)| i.to_string())
        .collect()
}

/// Held-out quality of next-item prediction at [`LIST_LENGTH`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub k: usize,
    /// Positions predicted (a target never seen in training is skipped).
    pub predictions: u64,
    pub hit_rate: f64,
    pub mrr: f64,
    /// Share of the training items that some prediction recommended.
    pub coverage: f64,
    pub popularity: Baseline,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub hit_rate: f64,
    pub mrr: f64,
}

/// Every position after the first of each test session: the list of the previous item
/// predicts the next one (hit if it is among the first [`LIST_LENGTH`], reciprocal rank for
/// MRR); the popularity list of the training sessions likewise.
pub fn evaluate(train: &[Vec<String>], lists: &Lists, test: &[Vec<String>]) -> Evaluation {
    let known: std::collections::HashSet<&str> =
        train.iter().flatten().map(String::as_str).collect();
    let popular = popular(train, LIST_LENGTH);
    let rank = |list: &mut dyn Iterator<Item = &str>, target: &str| {
        list.take(LIST_LENGTH)
            .position(|i| i == target)
            .map(|p| p + 1)
    };
    let (mut n, mut hits, mut rr, mut pop_hits, mut pop_rr) = (0u64, 0u64, 0.0, 0u64, 0.0);
    let mut recommended: std::collections::HashSet<&str> = Default::default();
    for s in test {
        for pair in s.windows(2) {
            let (last, target) = (pair[0].as_str(), pair[1].as_str());
            if !known.contains(target) {
                continue;
            }
            n += 1;
            let list = lists.get(last).map(Vec::as_slice).unwrap_or_default();
            recommended.extend(list.iter().map(|(i, _)| i.as_str()));
            if let Some(r) = rank(&mut list.iter().map(|(i, _)| i.as_str()), target) {
                hits += 1;
                rr += 1.0 / r as f64;
            }
            if let Some(r) = rank(&mut popular.iter().map(String::as_str), target) {
                pop_hits += 1;
                pop_rr += 1.0 / r as f64;
            }
        }
    }
    let per = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
    Evaluation {
        k: LIST_LENGTH,
        predictions: n,
        hit_rate: per(hits as f64),
        mrr: per(rr),
        coverage: if known.is_empty() {
            0.0
        } else {
            recommended.len() as f64 / known.len() as f64
        },
        popularity: Baseline {
            hit_rate: per(pop_hits as f64),
            mrr: per(pop_rr),
        },
    }
}

/// The compiled lists' magic.
const MAGIC: &[u8; 4] = b"VTR1";

/// One compiled list: per item (sorted by id), its neighbours with their scores, strongest
/// first.
pub type CompiledList = Vec<(String, Vec<(String, f32)>)>;

/// The compiled table of named lists (`also_viewed`, …): what the slots read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Tables {
    /// List name → its list.
    pub lists: BTreeMap<String, CompiledList>,
}

impl Tables {
    pub fn insert(&mut self, name: &str, lists: &Lists) {
        self.lists.insert(
            name.to_string(),
            lists
                .iter()
                .map(|(item, l)| {
                    (
                        item.clone(),
                        l.iter().map(|(n, w)| (n.clone(), *w as f32)).collect(),
                    )
                })
                .collect(),
        );
    }

    pub fn to_compiled(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        let version = env!("CARGO_PKG_VERSION").as_bytes();
        out.push(version.len() as u8);
        out.extend_from_slice(version);
        // NOTE: serializing owned, finite data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    pub fn from_compiled(bytes: &[u8]) -> Option<Tables> {
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let (&len, rest) = rest.split_first()?;
        let (version, body) = rest.split_at_checked(usize::from(len))?;
        if version != env!("CARGO_PKG_VERSION").as_bytes() {
            return None;
        }
        postcard::from_bytes(body).ok()
    }

    /// The lists as CSV for review: `item,list,rank,neighbour,score`.
    pub fn dump(&self) -> String {
        let mut out = String::from("item,list,rank,neighbour,score\n");
        for (name, lists) in &self.lists {
            for (item, list) in lists {
                for (rank, (n, w)) in list.iter().enumerate() {
                    out.push_str(&format!(
                        "{},{name},{},{},{w}\n",
                        csv_field(item),
                        rank + 1,
                        csv_field(n)
                    ));
                }
            }
        }
        out
    }
}

/// A CSV field, quoted when it must be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
