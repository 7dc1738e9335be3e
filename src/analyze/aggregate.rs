//! Event records → per-arm sufficient statistics, streamed, in memory bounded by the visitors.
//!
//! Units are visitors. A visitor's first exposure to an experiment (its first record with an
//! arm) fixes the arm; its first exposure to a slot fixes the slot's variation (`origin` the
//! baseline; the control arm's `control` records belong to the experiment). The breakdown
//! value (`--by`) is the one recorded at that first exposure; equal times go to the variation
//! whose name sorts first, as the SQL (`sql.rs`) orders them.
//!
//! Conversions count from the first exposure on (within the attribution window, when one is
//! set); those before it are the CUPED covariate. Duplicates — the same `(site, kind, order)`,
//! or without an order the same `(site, kind, event)` — count once: the earliest, at equal
//! times the larger value.
//!
//! Memory: a visitor is a 16-byte key and a vector of 16-byte entries, one per unit it was
//! exposed to and per conversion (its value is kept aside, 8 bytes).

use std::borrow::Cow;
use std::collections::hash_map::Entry as MapEntry;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::hash::BuildHasher;

use serde::Deserialize;

/// The breakdown of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Segment,
    Device,
    Country,
    PageType,
}

impl By {
    pub fn parse(name: &str) -> Option<By> {
        Some(match name {
            "segment" => By::Segment,
            "device" => By::Device,
            "country" => By::Country,
            "page_type" => By::PageType,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            By::Segment => "segment",
            By::Device => "device",
            By::Country => "country",
            By::PageType => "page_type",
        }
    }
}

/// The dimension value of the whole population.
pub const ALL: &str = "all";

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Options {
    pub by: Option<By>,
    /// Conversions count only within this many milliseconds of the first exposure.
    pub window_ms: Option<u64>,
    /// Which conversion records count.
    pub counted: Counted,
    /// Each visitor's value per unit and conversion kind is capped here (winsorized) before
    /// the statistics.
    pub cap: Option<Cap>,
}

/// Which conversion records count: what the deployment can vouch for, or everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    /// Records from signed state or the origin (`trust: signed`): the browser's own
    /// (`unsigned`, e.g. a `POST /vitrine/collect` body) do not count.
    #[default]
    Signed,
    /// Purchases only from the origin's `X-Vitrine-Conversion`; other kinds as `Signed`.
    Origin,
    /// Every record, the browser's unsigned ones included (browser-only deployments).
    All,
}

impl Counted {
    pub fn parse(name: &str) -> Option<Counted> {
        Some(match name {
            "signed" => Counted::Signed,
            "origin" => Counted::Origin,
            "all" => Counted::All,
            _ => return None,
        })
    }

    fn counts(self, kind: &str, source: Option<&str>, trust: Option<&str>) -> bool {
        let signed = trust == Some("signed");
        match self {
            Counted::All => true,
            Counted::Signed => signed,
            Counted::Origin if kind == "purchase" => source == Some("origin"),
            Counted::Origin => signed,
        }
    }
}

/// A cap on each visitor's value (GrowthBook's metric capping): an absolute amount, or a
/// percentile of the visitors' values per unit and kind, among those with a value (zeros left
/// out, GrowthBook's `ignoreZeros`: with a 2% purchase rate, the 99th percentile of all
/// visitors would be 0).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cap {
    Absolute(f64),
    /// A fraction in (0, 1): `p99` is 0.99.
    Percentile(f64),
}

impl Cap {
    /// `500` (an amount) or `p99`, `p99.9` (a percentile).
    pub fn parse(text: &str) -> Result<Cap, String> {
        let bad = || {
            format!("--cap: '{text}' is neither an amount > 0 (500) nor a percentile (p99, p99.9)")
        };
        match text.strip_prefix('p') {
            Some(p) => {
                let p: f64 = p.parse().map_err(|_| bad())?;
                if p > 0.0 && p < 100.0 {
                    Ok(Cap::Percentile(p / 100.0))
                } else {
                    Err(bad())
                }
            }
            None => match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(Cap::Absolute(v)),
                _ => Err(bad()),
            },
        }
    }
}

/// The `q` quantile of `values` by linear interpolation between order statistics (numpy's
/// default, DuckDB's `quantile_cont`); sorts `values`.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let at = q * (values.len() - 1) as f64;
    let (lo, frac) = (at.floor() as usize, at.fract());
    match values.get(lo + 1) {
        Some(next) => values[lo] + (next - values[lo]) * frac,
        None => values[lo],
    }
}

/// One record line, as far as the analysis reads it (other fields are skipped unparsed).
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    record: Text<'a>,
    v: u32,
    ts: u64,
    #[serde(borrow)]
    visitor: Text<'a>,
    #[serde(default, borrow)]
    site: Option<Text<'a>>,
    #[serde(default, borrow)]
    slot: Option<Text<'a>>,
    #[serde(default, borrow)]
    variant: Option<Text<'a>>,
    #[serde(default, borrow)]
    experiment: Option<Text<'a>>,
    #[serde(default, borrow)]
    arm: Option<Text<'a>>,
    #[serde(default, borrow)]
    segments: Vec<Text<'a>>,
    #[serde(default, borrow)]
    page_type: Option<Text<'a>>,
    #[serde(default, borrow)]
    device: Option<Text<'a>>,
    #[serde(default, borrow)]
    country: Option<Text<'a>>,
    #[serde(default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default, borrow)]
    order: Option<Text<'a>>,
    #[serde(default, borrow)]
    event: Option<Text<'a>>,
    #[serde(default, borrow)]
    source: Option<Text<'a>>,
    #[serde(default, borrow)]
    trust: Option<Text<'a>>,
}

/// A string of a line, borrowed from it unless it holds escapes. (A `Cow` borrows only as a
/// field of its own; inside `Option` or `Vec` it would always be copied.)
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Strings ↔ small ids.
#[derive(Debug, Default, Clone)]
pub struct Names {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        id
    }
    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
    pub fn find(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }
}

const CONVERSION: u16 = u16::MAX;

/// A visitor's first exposure to a unit (`unit` < `CONVERSION`), or a conversion.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// The unit's id, or `CONVERSION`.
    unit: u16,
    /// The variation's id, or the conversion kind's.
    variation: u16,
    /// The breakdown value's id (a unit), or the index of the conversion's value.
    extra: u32,
    ts: u64,
}

/// What a conversion record contributes to one unit of one visitor.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    count: f64,
    value: f64,
}

/// Sums over the visitors of one (unit, variation, dimension value), per conversion kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KindSums {
    /// Visitors with at least one such conversion.
    pub any: f64,
    pub count: f64,
    pub count_sq: f64,
    pub value: f64,
    pub value_sq: f64,
    pub value_count: f64,
    /// Before the first exposure: the CUPED covariates and their products with the outcome.
    pub pre_any: f64,
    pub any_pre_any: f64,
    pub pre_value: f64,
    pub pre_value_sq: f64,
    pub value_pre_value: f64,
}

/// Users and per-kind sums of one cell.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub users: f64,
    pub kinds: BTreeMap<String, KindSums>,
}

/// Key of a cell: unit, variation, dimension value.
pub type CellKey = (String, String, String);

/// The aggregation's result.
#[derive(Debug, Clone, Default)]
pub struct Aggregate {
    pub cells: BTreeMap<CellKey, Cell>,
    /// Dimension `all` by the first exposure's UTC day (`YYYY-MM-DD`), for the cumulative
    /// view: (unit, variation, day) → cell.
    pub days: BTreeMap<CellKey, Cell>,
    /// Conversion kinds seen.
    pub kinds: Vec<String>,
    pub records: u64,
    pub duplicates: u64,
    pub visitors: u64,
    /// Conversion records left out by [`Options::counted`].
    pub not_counted: u64,
    /// Per unit and conversion kind, the cap applied to each visitor's value.
    pub caps: BTreeMap<(String, String), f64>,
}

/// Streams records in; [`Aggregator::finish`] gives the cells.
pub struct Aggregator {
    options: Options,
    names: Names,
    units: Names,
    visitors: HashMap<u128, Vec<Entry>>,
    values: Vec<f64>,
    /// Dedupe key hash → (visitor, value index) of the conversion kept.
    seen: std::collections::HashMap<u64, (u128, u32)>,
    /// SipHash for the dedupe keys (a 64-bit key must not collide by construction).
    hasher: std::collections::hash_map::RandomState,
    records: u64,
    duplicates: u64,
    not_counted: u64,
    scratch: String,
}

/// Why a line was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError(pub String);

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Bytes of lines parsed together (and counted while the next slice parses).
const SLICE: usize = 1 << 20;

/// `text` cut after a newline about every `size` bytes.
fn slices(text: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = match rest.len() <= size {
            true => rest.len(),
            false => {
                memchr::memchr(b'\n', &rest.as_bytes()[size..]).map_or(rest.len(), |i| size + i + 1)
            }
        };
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

/// Lines of a block, parsed (blank lines are `None`).
pub struct Block<'a>(Vec<Result<Option<Line<'a>>, LineError>>);

/// Parses a block of whole NDJSON lines in parallel (the costly part of reading events); it
/// borrows from `text` and needs no aggregator, so the next block parses while one is counted.
pub fn parse_block(text: &str) -> Block<'_> {
    use rayon::prelude::*;
    let mut lines: Vec<&str> = Vec::with_capacity(text.len() / 256);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
        lines.push(&text[start..end]);
        start = end + 1;
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    Block(
        lines
            .par_iter()
            .with_min_len(1024)
            .map(|l| {
                let l = l.trim_end();
                if l.is_empty() {
                    Ok(None)
                } else {
                    parse(l).map(Some)
                }
            })
            .collect(),
    )
}

fn parse(line: &str) -> Result<Line<'_>, LineError> {
    let l: Line<'_> = serde_json::from_str(line).map_err(|e| LineError(e.to_string()))?;
    if l.v != crate::events::SCHEMA_VERSION {
        return Err(LineError(format!("schema version {} is not 1", l.v)));
    }
    Ok(l)
}

fn visitor_key(hex: &str) -> Result<u128, LineError> {
    crate::state::id_from_hex(hex)
        .map(u128::from_be_bytes)
        .ok_or_else(|| LineError("visitor is not 32 hex digits".into()))
}

impl Aggregator {
    pub fn new(options: Options) -> Aggregator {
        Aggregator {
            options,
            names: Names::default(),
            units: Names::default(),
            visitors: HashMap::default(),
            values: Vec::new(),
            seen: std::collections::HashMap::new(),
            hasher: Default::default(),
            records: 0,
            duplicates: 0,
            not_counted: 0,
            scratch: String::new(),
        }
    }

    /// Reads one NDJSON line. `page` records and unknown types are skipped; a line that is not
    /// a record of schema version 1 is an error (the caller counts it and goes on).
    pub fn push_line(&mut self, line: &str) -> Result<(), LineError> {
        self.apply(parse(line)?)
    }

    /// Reads a block of whole NDJSON lines. The block is taken in slices: while one is counted
    /// (here), the next is parsed on the other cores. Returns the errors with their 1-based line
    /// numbers in `text`.
    pub fn push_block(&mut self, text: &str) -> Vec<(usize, LineError)> {
        let slices = slices(text, SLICE);
        let mut errors = Vec::new();
        let mut offset = 0;
        let mut parsed = slices.first().map(|s| parse_block(s));
        for i in 0..slices.len() {
            let Some(block) = parsed.take() else { break };
            let lines = block.0.len();
            let next = slices.get(i + 1);
            let (errs, next) =
                rayon::join(|| self.count_block(block), || next.map(|s| parse_block(s)));
            errors.extend(errs.into_iter().map(|(n, e)| (n + offset, e)));
            offset += lines;
            parsed = next;
        }
        errors
    }

    /// Counts parsed lines in order. Returns the errors with their 1-based line numbers.
    pub fn count_block(&mut self, block: Block<'_>) -> Vec<(usize, LineError)> {
        let mut errors = Vec::new();
        for (i, p) in block.0.into_iter().enumerate() {
            match p.and_then(|l| l.map_or(Ok(()), |l| self.apply(l))) {
                Ok(()) => {}
                Err(e) => errors.push((i + 1, e)),
            }
        }
        errors
    }

    fn apply(&mut self, l: Line<'_>) -> Result<(), LineError> {
        match &*l.record {
            "exposure" => self.exposure(&l),
            "conversion" => self.conversion(&l),
            _ => Ok(()),
        }?;
        self.records += 1;
        Ok(())
    }

    fn dimension(&mut self, l: &Line<'_>) -> u32 {
        let value: Cow<'_, str> = match self.options.by {
            None => Cow::Borrowed(ALL),
            Some(By::Device) => Cow::Borrowed(l.device.as_deref().unwrap_or("unknown")),
            Some(By::Country) => Cow::Borrowed(l.country.as_deref().unwrap_or("unknown")),
            Some(By::PageType) => Cow::Borrowed(l.page_type.as_deref().unwrap_or("unknown")),
            // Every segment true at the first exposure (a visitor counts in each); `\u{1f}`
            // joins them, `(none)` when there were none.
            Some(By::Segment) if l.segments.is_empty() => Cow::Borrowed("(none)"),
            Some(By::Segment) => Cow::Owned(
                l.segments
                    .iter()
                    .map(|s| &**s)
                    .collect::<Vec<_>>()
                    .join("\u{1f}"),
            ),
        };
        self.names.id(&value)
    }

    fn exposure(&mut self, l: &Line<'_>) -> Result<(), LineError> {
        let visitor = visitor_key(&l.visitor)?;
        let slot = l
            .slot
            .as_deref()
            .ok_or_else(|| LineError("exposure without slot".into()))?;
        let variant = l
            .variant
            .as_deref()
            .ok_or_else(|| LineError("exposure without variant".into()))?;
        let dim = self.dimension(l);
        // The experiment's arm, and the slot's variation (the control arm's `control` belongs
        // to the experiment only).
        let experiment = match (l.experiment.as_deref(), l.arm.as_deref()) {
            (Some(exp), Some(arm)) => Some((self.units.id(exp), self.names.id(arm))),
            _ => None,
        };
        let slot_unit = (variant != "control").then(|| {
            let mut key = std::mem::take(&mut self.scratch);
            key.clear();
            key.push_str("slot:");
            key.push_str(slot);
            let unit = (self.units.id(&key), self.names.id(variant));
            self.scratch = key;
            unit
        });
        let entries = self.visitors.entry(visitor).or_default();
        for (unit, variation) in experiment.into_iter().chain(slot_unit) {
            let (unit, variation) = (unit as u16, variation as u16);
            let new = Entry {
                unit,
                variation,
                extra: dim,
                ts: l.ts,
            };
            match entries.iter_mut().find(|e| e.unit == unit) {
                None => push_exact(entries, new),
                Some(e) => {
                    let earlier = l.ts < e.ts
                        || (l.ts == e.ts
                            && self.names.name(variation.into())
                                < self.names.name(e.variation.into()));
                    if earlier {
                        *e = new;
                    }
                }
            }
        }
        Ok(())
    }

    fn conversion(&mut self, l: &Line<'_>) -> Result<(), LineError> {
        let visitor = visitor_key(&l.visitor)?;
        let kind = l
            .kind
            .as_deref()
            .ok_or_else(|| LineError("conversion without kind".into()))?;
        let value = l.value.unwrap_or(0.0);
        if !value.is_finite() {
            return Err(LineError("value is not a finite number".into()));
        }
        if !self
            .options
            .counted
            .counts(kind, l.source.as_deref(), l.trust.as_deref())
        {
            self.not_counted += 1;
            return Ok(());
        }
        let kind_id = self.names.id(kind) as u16;
        let key = match (&l.order, &l.event) {
            (Some(o), _) => Some(("o", &**o)),
            (None, Some(e)) => Some(("e", &**e)),
            (None, None) => None,
        };
        if let Some((tag, id)) = key {
            let hash = self
                .hasher
                .hash_one((l.site.as_deref().unwrap_or(""), kind, tag, id));
            match self.seen.entry(hash) {
                MapEntry::Occupied(kept) => {
                    self.duplicates += 1;
                    let (kept_visitor, index) = *kept.get();
                    let entries = self.visitors.entry(kept_visitor).or_default();
                    let Some(e) = entries
                        .iter_mut()
                        .find(|e| e.unit == CONVERSION && e.extra == index)
                    else {
                        return Ok(());
                    };
                    let old = self.values[index as usize];
                    if l.ts < e.ts || (l.ts == e.ts && value > old) {
                        // This copy is the one kept: move it to its visitor.
                        let e = *e;
                        entries.retain(|x| !(x.unit == CONVERSION && x.extra == index));
                        self.values[index as usize] = value;
                        push_exact(
                            self.visitors.entry(visitor).or_default(),
                            Entry { ts: l.ts, ..e },
                        );
                        self.seen.insert(hash, (visitor, index));
                    }
                    return Ok(());
                }
                MapEntry::Vacant(slot) => {
                    slot.insert((visitor, self.values.len() as u32));
                }
            }
        }
        self.values.push(value);
        push_exact(
            self.visitors.entry(visitor).or_default(),
            Entry {
                unit: CONVERSION,
                variation: kind_id,
                extra: (self.values.len() - 1) as u32,
                ts: l.ts,
            },
        );
        Ok(())
    }

    /// Approximate bytes held per visitor (keys, entry vectors, values), for the memory bar.
    pub fn bytes_per_visitor(&self) -> f64 {
        let entries: usize = self.visitors.values().map(|v| v.capacity()).sum();
        let bytes = self.visitors.capacity() * (16 + 24 + 1)
            + entries * std::mem::size_of::<Entry>()
            + self.values.capacity() * 8
            + self.seen.capacity() * (8 + 24 + 1);
        bytes as f64 / self.visitors.len().max(1) as f64
    }

    pub fn visitors(&self) -> usize {
        self.visitors.len()
    }

    /// The cells: per (unit, variation, dimension value), users and per-kind sums.
    pub fn finish(self) -> Aggregate {
        let mut cells: BTreeMap<CellKey, Cell> = BTreeMap::new();
        let mut days: BTreeMap<CellKey, Cell> = BTreeMap::new();
        let kinds: Vec<u16> = {
            let mut k: Vec<u16> = self
                .visitors
                .values()
                .flatten()
                .filter(|e| e.unit == CONVERSION)
                .map(|e| e.variation)
                .collect();
            k.sort_unstable();
            k.dedup();
            k
        };
        let mut post = vec![Tally::default(); kinds.len()];
        let mut pre = vec![Tally::default(); kinds.len()];
        let caps = self.caps(&kinds);
        for entries in self.visitors.values() {
            for first in entries.iter().filter(|e| e.unit != CONVERSION) {
                self.tally(entries, first, &kinds, &mut post, &mut pre);
                // Winsorized: no visitor's value counts beyond the cap (the covariate alike).
                let row = usize::from(first.unit) * kinds.len();
                for (k, (p, q)) in post.iter_mut().zip(pre.iter_mut()).enumerate() {
                    let cap = caps.get(row + k).copied().unwrap_or(f64::INFINITY);
                    p.value = p.value.min(cap);
                    q.value = q.value.min(cap);
                }
                let unit = self.units.name(first.unit.into()).to_string();
                let variation = self.names.name(first.variation.into()).to_string();
                // The whole population, and the breakdown's values.
                let mut dims: Vec<&str> = vec![ALL];
                match self.options.by {
                    None => {}
                    Some(By::Segment) => dims.extend(self.names.name(first.extra).split('\u{1f}')),
                    Some(_) => dims.push(self.names.name(first.extra)),
                }
                for d in dims {
                    let key = (unit.clone(), variation.clone(), d.to_string());
                    add(
                        cells.entry(key).or_default(),
                        &kinds,
                        &self.names,
                        &post,
                        &pre,
                    );
                }
                add(
                    days.entry((unit, variation, day_of(first.ts))).or_default(),
                    &kinds,
                    &self.names,
                    &post,
                    &pre,
                );
            }
        }
        Aggregate {
            cells,
            days,
            kinds: kinds
                .iter()
                .map(|k| self.names.name((*k).into()).to_string())
                .collect(),
            records: self.records,
            duplicates: self.duplicates,
            visitors: self.visitors.len() as u64,
            not_counted: self.not_counted,
            caps: match self.options.cap {
                None => BTreeMap::new(),
                Some(_) => (0..self.units.names.len())
                    .flat_map(|u| (0..kinds.len()).map(move |k| (u, k)))
                    .map(|(u, k)| {
                        (
                            (
                                self.units.name(u as u32).to_string(),
                                self.names.name(kinds[k].into()).to_string(),
                            ),
                            caps[u * kinds.len() + k],
                        )
                    })
                    .collect(),
            },
        }
    }

    /// A visitor's conversions per kind after its first exposure `first` (within the window),
    /// into `post`, and before it, into `pre`.
    fn tally(
        &self,
        entries: &[Entry],
        first: &Entry,
        kinds: &[u16],
        post: &mut [Tally],
        pre: &mut [Tally],
    ) {
        post.iter_mut().for_each(|t| *t = Tally::default());
        pre.iter_mut().for_each(|t| *t = Tally::default());
        for c in entries.iter().filter(|e| e.unit == CONVERSION) {
            let k = kinds.binary_search(&c.variation).unwrap_or(0);
            let tally = if c.ts < first.ts {
                &mut pre[k]
            } else if self.options.window_ms.is_some_and(|w| c.ts - first.ts > w) {
                continue;
            } else {
                &mut post[k]
            };
            tally.count += 1.0;
            tally.value += self.values[c.extra as usize];
        }
    }

    /// The cap of each (unit, kind), at `unit * kinds.len() + kind`: the absolute one, or the
    /// percentile of the exposed visitors' non-zero values (a first pass over them); infinite
    /// without.
    fn caps(&self, kinds: &[u16]) -> Vec<f64> {
        let cells = self.units.names.len() * kinds.len();
        match self.options.cap {
            None => vec![f64::INFINITY; cells],
            Some(Cap::Absolute(v)) => vec![v; cells],
            Some(Cap::Percentile(q)) => {
                let mut values = vec![Vec::new(); cells];
                let (mut post, mut pre) = (
                    vec![Tally::default(); kinds.len()],
                    vec![Tally::default(); kinds.len()],
                );
                for entries in self.visitors.values() {
                    for first in entries.iter().filter(|e| e.unit != CONVERSION) {
                        self.tally(entries, first, kinds, &mut post, &mut pre);
                        let row = usize::from(first.unit) * kinds.len();
                        for (k, p) in post.iter().enumerate().filter(|(_, p)| p.value != 0.0) {
                            values[row + k].push(p.value);
                        }
                    }
                }
                values.iter_mut().map(|v| quantile(v, q)).collect()
            }
        }
    }
}

/// Pushes without doubling the capacity: a visitor holds a handful of entries, and the slack
/// of doubling would be most of its memory.
fn push_exact(entries: &mut Vec<Entry>, e: Entry) {
    if entries.len() == entries.capacity() {
        entries.reserve_exact(if entries.is_empty() { 4 } else { 2 });
    }
    entries.push(e);
}

fn add(cell: &mut Cell, kinds: &[u16], names: &Names, post: &[Tally], pre: &[Tally]) {
    cell.users += 1.0;
    for (i, k) in kinds.iter().enumerate() {
        let (p, q) = (post[i], pre[i]);
        let any = f64::from(u8::from(p.count > 0.0));
        let pre_any = f64::from(u8::from(q.count > 0.0));
        let s = cell
            .kinds
            .entry(names.name((*k).into()).to_string())
            .or_default();
        s.any += any;
        s.count += p.count;
        s.count_sq += p.count * p.count;
        s.value += p.value;
        s.value_sq += p.value * p.value;
        s.value_count += p.value * p.count;
        s.pre_any += pre_any;
        s.any_pre_any += any * pre_any;
        s.pre_value += q.value;
        s.pre_value_sq += q.value * q.value;
        s.value_pre_value += p.value * q.value;
    }
}

/// `YYYY-MM-DD` of unix milliseconds (UTC).
pub fn day_of(ts_ms: u64) -> String {
    let secs = i64::try_from(ts_ms / 1000).unwrap_or(i64::MAX);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        Err(_) => "9999-12-31".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(day_of(0), "1970-01-01");
        assert_eq!(day_of(1_763_805_600_000), "2025-11-22");
        assert_eq!(day_of(951_782_400_000), "2000-02-29");
    }
}
