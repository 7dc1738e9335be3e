//! Sufficient statistics → the report: per experiment (or slot) and metric, one row per
//! breakdown value and variation against the baseline, with intervals, p-values (adjusted
//! across the rows), chance to win, and the sample-ratio check.

use std::collections::BTreeMap;

use serde::Serialize;

use super::aggregate::{Aggregate, Cap, Cell, Counted, KindSums, ALL};
use super::stats::{self, Difference, Frequentist, Kind, Moments, Prior, Sides, Statistic};

/// How the numbers are computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Settings {
    pub alpha: f64,
    /// Confidence sequences (valid at any peek) instead of fixed-horizon t-tests.
    pub sequential: bool,
    pub tuning: f64,
    pub correction: Correction,
    /// Below this many users in either arm a row says "not enough data" instead of a verdict.
    pub min_users: f64,
    /// Adjust by the pre-exposure value of the same metric (CUPED).
    pub cuped: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            alpha: 0.05,
            sequential: false,
            tuning: stats::DEFAULT_TUNING,
            correction: Correction::Holm,
            min_users: 100.0,
            cuped: false,
        }
    }
}

/// The multiple-comparison correction across the breakdown rows of one experiment and metric
/// (`--by`; the whole population's row is not adjusted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Correction {
    None,
    Holm,
    BenjaminiHochberg,
}

/// Per (experiment, metric): per (dimension value, variation), the arm's statistic.
pub type Table = BTreeMap<(String, String), BTreeMap<(String, String), Statistic>>;

/// An estimate with its interval and p-value, both unadjusted; after a correction across the
/// rows, the adjusted ones beside them (GrowthBook's `ciAdjusted`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub ci: [f64; 2],
    pub p_value: Option<f64>,
    /// After the correction across the rows (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_adjusted: Option<f64>,
    /// The interval that goes with `p_adjusted`; a bound may be infinite (JSON `null`) when
    /// the adjusted p-value is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci_adjusted: Option<[f64; 2]>,
}

impl Interval {
    fn of(f: Frequentist) -> Interval {
        Interval {
            estimate: f.estimate,
            ci: f.ci,
            p_value: f.p_value,
            p_adjusted: None,
            ci_adjusted: None,
        }
    }
}

/// How a comparison's arms were assigned, which decides what it can claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// By bucketing on the visitor id (an experiment's arms, a weighted split): the difference
    /// is the variant's effect.
    Randomized,
    /// By the rules (a segment-chosen variant against the origin content): the visitors who saw
    /// each differ in more than what they saw, so the difference is no effect — no verdict.
    Observational,
}

impl Design {
    /// What an observational row says instead of a verdict.
    pub const OBSERVATIONAL_VERDICT: &'static str = "observational: no verdict";
    /// Why, in one sentence (the table, the HTML).
    pub const OBSERVATIONAL_WHY: &'static str = "observational: the variants were chosen by the rules, not at random, so those who saw them differ from those who did not in more than what they saw; the difference is no effect of the variant (no verdict, no chance to win). Measure it with a holdout.";
}

/// One variation against the baseline in one breakdown value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub dimension: String,
    pub variation: String,
    pub users: f64,
    pub baseline_users: f64,
    pub mean: f64,
    pub baseline_mean: f64,
    pub relative: Interval,
    pub absolute: Interval,
    /// `None` for an observational comparison.
    pub chance_to_win: Option<f64>,
    /// Expected loss (relative) of choosing the variation, and of keeping the baseline.
    pub risk: [f64; 2],
    /// `better`, `worse`, `no significant difference`, `not enough data`, or what failed.
    pub verdict: String,
}

/// A point of the cumulative view: the relative uplift of the visitors first exposed up to
/// `day`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub day: String,
    pub variation: String,
    pub users: f64,
    pub baseline_users: f64,
    pub estimate: f64,
    pub ci: [f64; 2],
}

/// One experiment (or slot) and metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    pub experiment: String,
    pub metric: String,
    /// `binomial`, `mean` or `ratio`.
    pub metric_type: &'static str,
    pub baseline: String,
    pub design: Design,
    /// The sample-ratio check over the whole population (the `all` rows, or the breakdown rows
    /// summed when there are none); `None` when not computed, `srm_note` says why.
    pub srm_p: Option<f64>,
    /// Whether `srm_p` < 0.001: the split is not what was configured, the results are suspect.
    pub srm: bool,
    /// What the check was computed from, or why it was not.
    pub srm_note: String,
    pub rows: Vec<Row>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Point>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub settings: Settings,
    /// With `--stats`: the rows of sufficient statistics read (the counts below are then 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_rows: Option<u64>,
    pub records: u64,
    pub visitors: u64,
    pub duplicates: u64,
    /// Which conversion records counted, and how many did not.
    pub counted: Counted,
    pub not_counted: u64,
    /// The cap on each visitor's value, if any.
    pub cap: Option<Cap>,
    pub experiments: Vec<Analysis>,
}

impl Report {
    /// What counted, in words: the trust rule, what it left out, the cap.
    pub fn counting(&self) -> String {
        let rule = match self.counted {
            Counted::Signed => "conversions counted: signed state and the origin's (--trust signed)",
            Counted::Origin => "conversions counted: purchases from the origin's X-Vitrine-Conversion, others from signed state (--trust origin)",
            Counted::All => "conversions counted: all, the browser's unsigned ones included (--trust all)",
        };
        let left = match self.not_counted {
            0 => String::new(),
            n => format!("; {n} left out (--trust all counts them)"),
        };
        let cap = match self.cap {
            None => String::new(),
            Some(Cap::Absolute(v)) => format!("; each visitor's value capped at {v}"),
            Some(Cap::Percentile(q)) => format!(
                "; each visitor's value capped at the {}th percentile of the visitors with a value",
                q * 100.0
            ),
        };
        format!("{rule}{left}{cap}")
    }
}

/// The metrics the event stream gives for a conversion kind.
fn metrics_of(kind: &str) -> Vec<&'static str> {
    match kind {
        "purchase" => vec!["purchase", "revenue", "aov"],
        _ => vec!["rate"],
    }
}

/// The metric's name in the report.
fn metric_name(kind: &str, metric: &str) -> String {
    match metric {
        "rate" => kind.to_string(),
        m => m.to_string(),
    }
}

fn statistic(cell: &Cell, kind: &str, metric: &str, cuped: bool) -> Statistic {
    let empty = KindSums::default();
    let s = cell.kinds.get(kind).unwrap_or(&empty);
    let n = cell.users;
    let mean = |sum: f64, sum_squares: f64| Moments {
        kind: Kind::Mean,
        n,
        sum,
        sum_squares,
    };
    let binomial = |sum: f64| Moments {
        kind: Kind::Binomial,
        n,
        sum,
        sum_squares: sum,
    };
    match metric {
        "aov" => Statistic::Ratio {
            n,
            m: mean(s.value, s.value_sq),
            d: mean(s.count, s.count_sq),
            m_d_sum_of_products: s.value_count,
        },
        "revenue" if cuped => Statistic::Cuped {
            n,
            post: mean(s.value, s.value_sq),
            pre: mean(s.pre_value, s.pre_value_sq),
            post_pre_sum_of_products: s.value_pre_value,
            theta: None,
        },
        "revenue" => Statistic::Plain(mean(s.value, s.value_sq)),
        _ if cuped => Statistic::Cuped {
            n,
            post: binomial(s.any),
            pre: binomial(s.pre_any),
            post_pre_sum_of_products: s.any_pre_any,
            theta: None,
        },
        _ => Statistic::Plain(binomial(s.any)),
    }
}

fn metric_type(st: &Statistic) -> &'static str {
    match st {
        Statistic::Ratio { .. } => "ratio",
        Statistic::Plain(m) | Statistic::Cuped { post: m, .. } if m.kind == Kind::Binomial => {
            "binomial"
        }
        _ => "mean",
    }
}

/// The tables of an aggregation: every unit × metric, and the cumulative days.
pub fn tables(agg: &Aggregate, cuped: bool) -> (Table, Table) {
    let mut table = Table::new();
    let mut days = Table::new();
    let kinds: Vec<&str> = if agg.kinds.is_empty() {
        vec!["purchase"]
    } else {
        agg.kinds.iter().map(String::as_str).collect()
    };
    for (source, out, cumulative) in [
        (&agg.cells, &mut table, false),
        (&agg.days, &mut days, true),
    ] {
        // Per unit and variation, the running sum over days when cumulative.
        let mut running: BTreeMap<(String, String), Cell> = BTreeMap::new();
        for ((unit, variation, dim), cell) in source {
            let cell = if cumulative {
                let r = running
                    .entry((unit.clone(), variation.clone()))
                    .or_default();
                r.users += cell.users;
                for (k, s) in &cell.kinds {
                    let t = r.kinds.entry(k.clone()).or_default();
                    t.any += s.any;
                    t.count += s.count;
                    t.count_sq += s.count_sq;
                    t.value += s.value;
                    t.value_sq += s.value_sq;
                    t.value_count += s.value_count;
                }
                r.clone()
            } else {
                cell.clone()
            };
            for kind in &kinds {
                for metric in metrics_of(kind) {
                    let name = metric_name(kind, metric);
                    out.entry((unit.clone(), name)).or_default().insert(
                        (dim.clone(), variation.clone()),
                        statistic(&cell, kind, metric, cuped && !cumulative),
                    );
                }
            }
        }
    }
    // A day on which a variation had no first exposures carries its running total on.
    for per in days.values_mut() {
        let days_seen: std::collections::BTreeSet<String> =
            per.keys().map(|(d, _)| d.clone()).collect();
        let variations: std::collections::BTreeSet<String> =
            per.keys().map(|(_, v)| v.clone()).collect();
        for v in &variations {
            let mut last: Option<Statistic> = None;
            for d in &days_seen {
                match per.get(&(d.clone(), v.clone())) {
                    Some(s) => last = Some(*s),
                    None => {
                        if let Some(s) = last {
                            per.insert((d.clone(), v.clone()), s);
                        }
                    }
                }
            }
        }
    }
    (table, days)
}

/// The baseline of a unit: `control` for an experiment, `origin` for a slot's variants; a
/// slot that always shows a variant (a weighted split) is compared with its first variant.
fn baseline_of(variations: &[&str]) -> Option<String> {
    ["control", "origin"]
        .into_iter()
        .find(|b| variations.contains(b))
        .or_else(|| variations.first().copied())
        .map(String::from)
}

struct Compared {
    relative: Interval,
    absolute: Interval,
    chance_to_win: Option<f64>,
    risk: [f64; 2],
    error: Option<String>,
}

fn compare(c: &Statistic, t: &Statistic, settings: &Settings) -> Compared {
    let (a, b) = stats::summarize(c, t);
    let test = |diff: Difference| -> Result<(Frequentist, stats::Effect), stats::StatsError> {
        let e = stats::effect(&a, &b, diff)?;
        let f = if settings.sequential {
            stats::sequential(e, a.n + b.n, settings.alpha, settings.tuning, Sides::Two)
        } else {
            stats::t_test(e, stats::welch_dof(&a, &b), settings.alpha, Sides::Two)
        };
        Ok((f, e))
    };
    match (test(Difference::Relative), test(Difference::Absolute)) {
        (Ok((rel, e)), Ok((abs, _))) => {
            let post = stats::bayesian(e, Prior::FLAT, settings.alpha, false);
            Compared {
                relative: Interval::of(rel),
                absolute: Interval::of(abs),
                chance_to_win: Some(post.chance_to_win),
                risk: post.risk,
                error: None,
            }
        }
        (Err(e), _) | (_, Err(e)) => Compared {
            relative: Interval::of(Frequentist::empty()),
            absolute: Interval::of(Frequentist::empty()),
            chance_to_win: None,
            risk: [0.0, 0.0],
            error: Some(e.to_string()),
        },
    }
}

/// The configured split of an experiment's variations, when there is one.
pub type Weights<'a> = dyn Fn(&str, &[&str]) -> Option<Vec<f64>> + 'a;

/// The report of `table`; `weights(experiment, variations)` gives the configured split when
/// there is one (for the SRM check), `design(experiment)` how its arms were assigned.
pub fn build(
    table: &Table,
    days: &Table,
    settings: &Settings,
    weights: &Weights<'_>,
    design: &dyn Fn(&str) -> Design,
) -> Vec<Analysis> {
    let mut out = Vec::new();
    for ((experiment, metric), cells) in table {
        let variations: Vec<&str> = {
            let mut v: Vec<&str> = cells.keys().map(|(_, v)| v.as_str()).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        // Nothing to compare when only one variation was shown.
        let Some(baseline) = baseline_of(&variations).filter(|_| variations.len() > 1) else {
            continue;
        };
        let mut dims: Vec<&str> = cells.keys().map(|(d, _)| d.as_str()).collect();
        dims.dedup();
        // `all` first, then the breakdown values.
        dims.sort_by_key(|d| (*d != ALL, d.to_string()));
        let design = design(experiment);
        let mut rows = Vec::new();
        let mut mtype = "mean";
        for dim in &dims {
            let Some(c) = cells.get(&(dim.to_string(), baseline.clone())) else {
                continue;
            };
            mtype = metric_type(c);
            for v in variations.iter().filter(|v| **v != baseline) {
                let Some(t) = cells.get(&(dim.to_string(), v.to_string())) else {
                    continue;
                };
                let r = compare(c, t, settings);
                let (sa, sb) = stats::summarize(c, t);
                let verdict = if sa.n < settings.min_users || sb.n < settings.min_users {
                    "not enough data".to_string()
                } else if let Some(e) = &r.error {
                    e.clone()
                } else if design == Design::Observational {
                    Design::OBSERVATIONAL_VERDICT.to_string()
                } else {
                    String::new()
                };
                rows.push(Row {
                    dimension: dim.to_string(),
                    variation: v.to_string(),
                    users: sb.n,
                    baseline_users: sa.n,
                    mean: sb.mean,
                    baseline_mean: sa.mean,
                    relative: r.relative,
                    absolute: r.absolute,
                    chance_to_win: r.chance_to_win.filter(|_| design == Design::Randomized),
                    risk: r.risk,
                    verdict,
                });
            }
        }
        correct(&mut rows, settings);
        for row in rows.iter_mut().filter(|r| r.verdict.is_empty()) {
            let p = row
                .relative
                .p_adjusted
                .or(row.relative.p_value)
                .unwrap_or(1.0);
            row.verdict = if p < settings.alpha {
                if row.relative.estimate > 0.0 {
                    "better"
                } else {
                    "worse"
                }
                .into()
            } else {
                "no significant difference".into()
            };
        }
        let (srm_p, srm_note) = split_check(cells, &variations, weights(experiment, &variations));
        let timeline = timeline(
            days.get(&(experiment.clone(), metric.clone())),
            &baseline,
            settings,
        );
        out.push(Analysis {
            experiment: experiment.clone(),
            metric: metric.clone(),
            metric_type: mtype,
            baseline,
            design,
            srm: srm_p.is_some_and(|p| p < stats::SRM_THRESHOLD),
            srm_p,
            srm_note,
            rows,
            timeline,
        });
    }
    out
}

/// The sample-ratio check of a unit's split: over the whole population's rows, or, when the
/// table has none (a `--stats` file of breakdown rows), over the breakdown rows summed; never a
/// p-value without users or without a configured split.
fn split_check(
    cells: &BTreeMap<(String, String), Statistic>,
    variations: &[&str],
    weights: Option<Vec<f64>>,
) -> (Option<f64>, String) {
    let Some(weights) = weights else {
        return (None, "not computed: no configured split".into());
    };
    let has_all = cells.keys().any(|(d, _)| d == ALL);
    let users: Vec<f64> = variations
        .iter()
        .map(|v| {
            cells
                .iter()
                .filter(|((d, x), _)| x == v && (d == ALL) == has_all)
                .map(|(_, s)| s.n())
                .sum()
        })
        .collect();
    if users.iter().sum::<f64>() <= 0.0 {
        return (None, "not computed: no users in the rows".into());
    }
    let from = if has_all {
        "the whole population"
    } else {
        "the breakdown rows summed (no `all` row)"
    };
    (Some(stats::srm(&users, &weights)), format!("from {from}"))
}

fn correct(rows: &mut [Row], settings: &Settings) {
    // The family: the breakdown rows with a verdict to make (the whole population's row is
    // the primary result and stays as it is).
    let idx: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].verdict.is_empty() && rows[i].dimension != ALL)
        .filter(|&i| rows[i].relative.p_value.is_some())
        .collect();
    if settings.correction == Correction::None || idx.is_empty() {
        return;
    }
    let p: Vec<f64> = idx
        .iter()
        .map(|&i| rows[i].relative.p_value.unwrap_or(1.0))
        .collect();
    let adjusted = match settings.correction {
        Correction::Holm => stats::holm(&p),
        _ => stats::benjamini_hochberg(&p),
    };
    for (&i, adj) in idx.iter().zip(adjusted) {
        let r = &mut rows[i].relative;
        r.p_adjusted = Some(adj);
        r.ci_adjusted = Some(stats::adjusted_ci(r.ci, r.estimate, adj, settings.alpha));
    }
}

fn timeline(
    days: Option<&BTreeMap<(String, String), Statistic>>,
    baseline: &str,
    settings: &Settings,
) -> Vec<Point> {
    let Some(days) = days else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for ((day, variation), t) in days {
        if variation == baseline {
            continue;
        }
        let Some(c) = days.get(&(day.clone(), baseline.to_string())) else {
            continue;
        };
        let r = compare(c, t, settings);
        if r.error.is_some() {
            continue;
        }
        out.push(Point {
            day: day.clone(),
            variation: variation.clone(),
            users: t.n(),
            baseline_users: c.n(),
            estimate: r.relative.estimate,
            ci: r.relative.ci,
        });
    }
    out
}

/// A ratio as a signed percentage; an infinite bound is no number: "—".
pub fn pct(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    format!("{:+.1}%", x * 100.0)
}

/// A row's figures as the table and the HTML print them: the interval and p-value the verdict
/// reads (the adjusted ones, marked `*`, where a correction applied), no chance to win for an
/// observational row, "–" where there is not enough data.
pub struct Cells {
    pub uplift: String,
    pub ci: String,
    pub p: String,
    pub win: String,
    /// The interval and p-value are the adjusted ones.
    pub adjusted: bool,
    /// A bound of the printed interval is infinite (printed "—").
    pub unbounded: bool,
}

impl Cells {
    pub fn of(r: &Row) -> Cells {
        let dash = || "–".to_string();
        if r.verdict == "not enough data" {
            return Cells {
                uplift: dash(),
                ci: dash(),
                p: dash(),
                win: dash(),
                adjusted: false,
                unbounded: false,
            };
        }
        let (ci, p, adjusted) = match (r.relative.ci_adjusted, r.relative.p_adjusted) {
            (Some(ci), Some(p)) => (ci, Some(p), true),
            _ => (r.relative.ci, r.relative.p_value, false),
        };
        let mark = if adjusted { "*" } else { "" };
        Cells {
            uplift: pct(r.relative.estimate),
            ci: format!("[{}, {}]{mark}", pct(ci[0]), pct(ci[1])),
            p: p.map_or_else(dash, |p| format!("{p:.3}{mark}")),
            win: r
                .chance_to_win
                .map_or_else(dash, |w| format!("{:.0}%", w * 100.0)),
            adjusted,
            unbounded: !(ci[0].is_finite() && ci[1].is_finite()),
        }
    }
}

/// The notes under an analysis: its design when observational, what starred and "—" figures
/// mean, and what the split check was computed from.
pub fn notes(a: &Analysis, correction: Correction) -> Vec<String> {
    let cells: Vec<Cells> = a.rows.iter().map(Cells::of).collect();
    let mut out = Vec::new();
    if a.design == Design::Observational {
        out.push(Design::OBSERVATIONAL_WHY.to_string());
    }
    if cells.iter().any(|c| c.adjusted) {
        out.push(format!(
            "* adjusted across the breakdown rows ({}); the unadjusted interval and p-value are `ci` and `p_value` in --json",
            match correction {
                Correction::BenjaminiHochberg => "Benjamini–Hochberg",
                _ => "Holm",
            }
        ));
    }
    if cells.iter().any(|c| c.unbounded) {
        out.push(
            "— an adjusted interval without a bound on that side (its adjusted p-value is 1)"
                .into(),
        );
    }
    out
}

/// The report as a terminal table.
pub fn table_text(report: &Report) -> String {
    let input = match report.stats_rows {
        Some(rows) => format!("{rows} rows of sufficient statistics (--stats)"),
        None => format!(
            "{} records, {} visitors, {} duplicate conversions dropped",
            report.records, report.visitors, report.duplicates
        ),
    };
    let mut out = format!(
        "{input}; {} {}, α = {}, {} correction\n{}\n",
        if report.settings.sequential {
            "sequential"
        } else {
            "fixed-horizon"
        },
        if report.settings.cuped {
            "with CUPED"
        } else {
            "t-tests"
        },
        report.settings.alpha,
        match report.settings.correction {
            Correction::None => "no",
            Correction::Holm => "Holm",
            Correction::BenjaminiHochberg => "Benjamini–Hochberg",
        },
        report.counting()
    );
    for a in &report.experiments {
        out.push_str(&format!(
            "\n{} · {} ({}) vs {} · {}{}\n",
            a.experiment,
            a.metric,
            a.metric_type,
            a.baseline,
            match a.design {
                Design::Randomized => "randomized",
                Design::Observational => "observational",
            },
            match a.srm_p {
                Some(p) if a.srm =>
                    format!(" · SAMPLE RATIO MISMATCH p = {p:.2e}: results suspect"),
                Some(p) => format!(" · split ok (SRM p = {p:.3}, {})", a.srm_note),
                None => format!(" · split check {}", a.srm_note),
            }
        ));
        out.push_str(&format!(
            "  {:<16} {:<20} {:>8} {:>8} {:>10} {:>10} {:>9} {:>22} {:>7} {:>6}  {}\n",
            "dimension",
            "variation",
            "users",
            "base",
            "mean",
            "base mean",
            "uplift",
            "95% CI",
            "p",
            "win",
            "verdict"
        ));
        for r in &a.rows {
            let c = Cells::of(r);
            out.push_str(&format!(
                "  {:<16} {:<20} {:>8} {:>8} {:>10.4} {:>10.4} {:>9} {:>22} {:>7} {:>6}  {}\n",
                truncate(&r.dimension.replace('\u{1f}', "+"), 16),
                truncate(&r.variation, 20),
                r.users,
                r.baseline_users,
                r.mean,
                r.baseline_mean,
                c.uplift,
                c.ci,
                c.p,
                c.win,
                r.verdict
            ));
        }
        for note in notes(a, report.settings.correction) {
            out.push_str(&format!("  {note}\n"));
        }
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
