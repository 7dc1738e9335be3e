//! `analyze` on data whose truth is known: A/A tests reject at α, planted uplifts are covered
//! at the interval's level, SRM fires on a planted 48/52 split; the aggregation's rules
//! (first exposure, attribution, de-duplication, breakdowns); and end to end, synthetic traffic
//! through the real pipeline with a planted +10% uplift that the report finds.
#![cfg(not(target_arch = "wasm32"))]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use vitrine::analyze::aggregate::{Aggregate, Aggregator, By, Counted, Options, ALL};
use vitrine::analyze::report::{self, Analysis, Design, Settings, Table};
use vitrine::analyze::stats::{self, Difference, Kind, Moments, Sides, Statistic};
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::simulate::{self, Outcomes, Plant, Synthetic, Traffic};
use vitrine::Keys;

fn binomial(rng: &mut ChaCha8Rng, n: u32, p: f64) -> Statistic {
    let sum = (0..n).filter(|_| rng.random_bool(p)).count() as f64;
    Statistic::Plain(Moments {
        kind: Kind::Binomial,
        n: f64::from(n),
        sum,
        sum_squares: sum,
    })
}

fn relative_test(c: &Statistic, t: &Statistic) -> stats::Frequentist {
    let (a, b) = stats::summarize(c, t);
    let e = stats::effect(&a, &b, Difference::Relative).unwrap();
    stats::t_test(e, stats::welch_dof(&a, &b), 0.05, Sides::Two)
}

/// The share ± 3 binomial standard deviations of `runs` trials at rate `p`.
fn bound(p: f64, runs: f64) -> (f64, f64) {
    let sd = (p * (1.0 - p) / runs).sqrt();
    (p - 3.0 * sd, p + 3.0 * sd)
}

#[test]
fn a_over_a_rejects_at_alpha() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let runs = 2000;
    let rejected = (0..runs)
        .filter(|_| {
            let (c, t) = (binomial(&mut rng, 1000, 0.1), binomial(&mut rng, 1000, 0.1));
            relative_test(&c, &t).p_value.unwrap() < 0.05
        })
        .count() as f64
        / f64::from(runs);
    let (lo, hi) = bound(0.05, f64::from(runs));
    assert!(
        (lo..=hi).contains(&rejected),
        "A/A rejected {rejected} (bound {lo:.4}–{hi:.4})"
    );
}

#[test]
fn a_planted_uplift_is_covered_at_the_interval_level() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let runs = 2000;
    // 20% → 22%: +10% relative.
    let covered = (0..runs)
        .filter(|_| {
            let (c, t) = (
                binomial(&mut rng, 4000, 0.20),
                binomial(&mut rng, 4000, 0.22),
            );
            let r = relative_test(&c, &t);
            r.ci[0] <= 0.10 && 0.10 <= r.ci[1]
        })
        .count() as f64
        / f64::from(runs);
    let (lo, hi) = bound(0.95, f64::from(runs));
    assert!(
        (lo..=hi).contains(&covered),
        "covered {covered} (bound {lo:.4}–{hi:.4})"
    );
}

/// An exposure record line.
fn exposure(
    visitor: u32,
    ts: u64,
    slot: &str,
    variant: &str,
    arm: Option<&str>,
    device: &str,
    segments: &[&str],
) -> String {
    let mut e = json!({
        "type": "exposure", "v": 1, "ts": ts, "site": "s", "visitor": format!("{visitor:032x}"),
        "session": "1", "request": "r", "slot": slot, "variant": variant, "segments": segments,
        "page_type": "home", "device": device, "trust": "signed", "source": "edge"
    });
    if let Some(arm) = arm {
        e["experiment"] = json!("exp");
        e["arm"] = json!(arm);
    }
    e.to_string()
}

fn conversion(
    visitor: u32,
    ts: u64,
    kind: &str,
    value: f64,
    order: Option<&str>,
    event: Option<&str>,
) -> String {
    let mut c = json!({
        "type": "conversion", "v": 1, "ts": ts, "site": "s", "visitor": format!("{visitor:032x}"),
        "kind": kind, "value": value, "source": "origin", "trust": "signed"
    });
    if let Some(o) = order {
        c["order"] = json!(o);
    }
    if let Some(e) = event {
        c["event"] = json!(e);
    }
    c.to_string()
}

fn aggregate(lines: &[String], options: Options) -> Aggregate {
    let mut agg = Aggregator::new(options);
    for l in lines {
        agg.push_line(l).unwrap();
    }
    agg.finish()
}

const PLAIN: Options = Options {
    by: None,
    window_ms: None,
    counted: Counted::Signed,
    cap: None,
};

fn by(by: By) -> Options {
    Options {
        by: Some(by),
        ..PLAIN
    }
}

fn cell<'a>(
    agg: &'a Aggregate,
    unit: &str,
    variation: &str,
    dim: &str,
) -> &'a vitrine::analyze::aggregate::Cell {
    agg.cells
        .get(&(unit.to_string(), variation.to_string(), dim.to_string()))
        .unwrap_or_else(|| panic!("no cell {unit}/{variation}/{dim}: {:?}", agg.cells.keys()))
}

#[test]
fn srm_fires_on_a_planted_48_52_split_and_not_on_an_even_one() {
    let run = |control: u32| -> Analysis {
        let lines: Vec<String> = (0..20_000)
            .map(|v| {
                exposure(
                    v,
                    1000,
                    "hero",
                    "h",
                    Some(if v < control { "control" } else { "treatment" }),
                    "desktop",
                    &[],
                )
            })
            .collect();
        let agg = aggregate(&lines, PLAIN);
        let (table, days) = report::tables(&agg, false);
        let analyses = report::build(
            &table,
            &days,
            &Settings::default(),
            &|unit: &str, variations: &[&str]| (unit == "exp").then(|| vec![0.5; variations.len()]),
            &|_: &str| Design::Randomized,
        );
        analyses
            .into_iter()
            .find(|a| a.experiment == "exp" && a.metric == "purchase")
            .unwrap()
    };
    let planted = run(9_600);
    assert!(
        planted.srm && planted.srm_p.unwrap() < 1e-6,
        "{:?}",
        planted.srm_p
    );
    let even = run(10_000);
    assert!(!even.srm && even.srm_p == Some(1.0));
}

#[test]
fn first_exposure_fixes_the_arm_and_conversions_count_from_it() {
    let lines = vec![
        // Visitor 1: the later record (treatment) is out of order; the earlier (control) wins.
        exposure(1, 2_000, "hero", "h", Some("treatment"), "mobile", &[]),
        exposure(
            1,
            1_000,
            "hero",
            "control",
            Some("control"),
            "desktop",
            &["hiker"],
        ),
        // A purchase before the first exposure is the CUPED covariate, not an outcome.
        conversion(1, 500, "purchase", 10.0, Some("A-1"), None),
        conversion(1, 1_500, "purchase", 20.0, Some("A-2"), None),
        // The same order again (a reloaded confirmation page): once, the earliest.
        conversion(1, 1_600, "purchase", 20.0, Some("A-2"), None),
        // An add-to-cart beaconed and folded: one event id, once.
        conversion(1, 1_700, "add_to_cart", 5.0, None, Some("e-1")),
        conversion(1, 1_700, "add_to_cart", 5.0, None, Some("e-1")),
        // Visitor 2: treatment, buys twice, far later.
        exposure(
            2,
            1_000,
            "hero",
            "h",
            Some("treatment"),
            "desktop",
            &["hiker", "camper"],
        ),
        conversion(2, 1_100, "purchase", 30.0, Some("B-1"), None),
        conversion(2, 90_000_000, "purchase", 40.0, Some("B-2"), None),
        // Equal times: the variation whose name sorts first.
        exposure(3, 1_000, "grid", "reorder", None, "desktop", &[]),
        exposure(3, 1_000, "grid", "origin", None, "desktop", &[]),
    ];
    let agg = aggregate(&lines, PLAIN);
    assert_eq!(agg.duplicates, 2);
    let c = cell(&agg, "exp", "control", ALL);
    assert_eq!(c.users, 1.0);
    let p = &c.kinds["purchase"];
    assert_eq!((p.any, p.count, p.value), (1.0, 1.0, 20.0));
    assert_eq!(
        (p.pre_any, p.pre_value, p.value_pre_value),
        (1.0, 10.0, 200.0)
    );
    assert_eq!(c.kinds["add_to_cart"].count, 1.0);
    // The control arm's `control` exposure belongs to the experiment; the slot saw `h` later.
    assert_eq!(cell(&agg, "slot:hero", "h", ALL).users, 2.0);
    let t = &cell(&agg, "exp", "treatment", ALL).kinds["purchase"];
    assert_eq!(
        (t.count, t.value, t.value_sq, t.value_count),
        (2.0, 70.0, 4900.0, 140.0)
    );
    assert_eq!(cell(&agg, "slot:grid", "origin", ALL).users, 1.0);
    assert!(!agg
        .cells
        .contains_key(&("slot:grid".into(), "reorder".into(), ALL.into())));

    // A 24-hour window leaves out visitor 2's second purchase.
    let windowed = aggregate(
        &lines,
        Options {
            window_ms: Some(86_400_000),
            ..PLAIN
        },
    );
    assert_eq!(
        cell(&windowed, "exp", "treatment", ALL).kinds["purchase"].value,
        30.0
    );

    // Breakdowns use the first exposure's values; a visitor counts in each of its segments.
    let by_device = aggregate(&lines, by(By::Device));
    assert_eq!(cell(&by_device, "exp", "control", "desktop").users, 1.0);
    let by_segment = aggregate(&lines, by(By::Segment));
    assert_eq!(cell(&by_segment, "exp", "treatment", "camper").users, 1.0);
    assert_eq!(cell(&by_segment, "exp", "treatment", "hiker").users, 1.0);
    assert_eq!(
        cell(&by_segment, "slot:grid", "origin", "(none)").users,
        1.0
    );
    assert_eq!(
        cell(&by_segment, "exp", "treatment", ALL).users,
        1.0,
        "and the whole population"
    );
}

#[test]
fn bad_lines_say_why_and_are_skipped() {
    let mut agg = Aggregator::new(PLAIN);
    let good = exposure(1, 1, "hero", "h", None, "desktop", &[]);
    for (line, message) in [
        ("{", "EOF while parsing"),
        (
            &good.replace("\"v\":1", "\"v\":2"),
            "schema version 2 is not 1",
        ),
        (
            &good.replace(&format!("{:032x}", 1), "cookie"),
            "visitor is not 32 hex digits",
        ),
        (
            &good.replace("\"slot\":\"hero\",", ""),
            "exposure without slot",
        ),
    ] {
        let err = agg.push_line(line).unwrap_err();
        assert!(err.0.contains(message), "{err} lacks {message}");
    }
    agg.push_line(&good).unwrap();
    let errors = agg.push_block(&format!("{good}\nnot json\n\n{good}\n"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 2, "the line number in the block");
    assert_eq!(agg.finish().records, 3);
}

#[test]
fn rows_below_the_minimum_say_not_enough_data_and_corrections_adjust() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut lines = Vec::new();
    for v in 0..3000u32 {
        let device = match (v % 100 < 2, (v / 2) % 2) {
            (true, _) => "tablet",
            (false, 0) => "desktop",
            _ => "mobile",
        };
        let arm = if v % 2 == 0 { "control" } else { "treatment" };
        lines.push(exposure(v, 1000, "hero", "h", Some(arm), device, &[]));
        if rng.random_bool(if arm == "control" { 0.10 } else { 0.14 }) {
            lines.push(conversion(
                v,
                2000,
                "purchase",
                50.0,
                Some(&format!("O-{v}")),
                None,
            ));
        }
    }
    let agg = aggregate(&lines, by(By::Device));
    let (table, days) = report::tables(&agg, false);
    let a = report::build(
        &table,
        &days,
        &Settings::default(),
        &|_: &str, _: &[&str]| None,
        &|_: &str| Design::Randomized,
    )
    .into_iter()
    .find(|a| a.experiment == "exp" && a.metric == "purchase")
    .unwrap();
    let tablet = a.rows.iter().find(|r| r.dimension == "tablet").unwrap();
    assert!(tablet.users < 100.0 && tablet.verdict == "not enough data");
    // Holm over the breakdown rows with a verdict (desktop, mobile); the whole population's row
    // is the primary result, unadjusted.
    let row = |d: &str| {
        a.rows
            .iter()
            .find(|r| r.dimension == d)
            .unwrap_or_else(|| panic!("no {d}: {:?}", a.rows))
    };
    let raw = [
        row("desktop").relative.p_value.unwrap(),
        row("mobile").relative.p_value.unwrap(),
    ];
    let holm = stats::holm(&raw);
    assert_eq!(row("desktop").relative.p_adjusted, Some(holm[0]));
    assert_eq!(row("mobile").relative.p_adjusted, Some(holm[1]));
    // `ci` stays the unadjusted interval, like `p_value`; the adjusted one is beside it, wider.
    for d in ["desktop", "mobile"] {
        let r = &row(d).relative;
        let adjusted = r.ci_adjusted.unwrap();
        let unadjusted = row(d).relative.ci;
        assert!(
            unadjusted[0] < r.estimate && r.estimate < unadjusted[1],
            "{r:?}"
        );
        assert!(
            adjusted[0] <= unadjusted[0] && unadjusted[1] <= adjusted[1],
            "{r:?}"
        );
        // The unadjusted interval is the one the p-value belongs to: 0 is outside it exactly
        // when p < α.
        let excludes_zero = unadjusted[0] > 0.0 || unadjusted[1] < 0.0;
        assert_eq!(excludes_zero, r.p_value.unwrap() < 0.05, "{r:?}");
    }
    assert_eq!(row(ALL).relative.ci_adjusted, None);
    assert!(holm[0] > raw[0] && holm[1] >= raw[1]);
    assert_eq!(row(ALL).relative.p_adjusted, None);
    assert_eq!(tablet.relative.p_adjusted, None);
    assert_eq!(a.rows.len(), 4, "all, desktop, mobile, tablet");
    assert_eq!(a.rows[0].dimension, ALL);
}

#[test]
fn synthetic_traffic_with_a_planted_uplift_is_found() {
    // The demo with an even holdout split, so both arms are large.
    let mut doc: serde_json::Value = serde_json::from_str(DEMO_CONFIG).unwrap();
    doc["experiments"]["hero-holdout"]["control_percent"] = json!(50);
    let text = doc.to_string();
    let site = Config::from_json(&text).unwrap().sites.remove(0);
    let spec = Synthetic {
        visitors: 40_000,
        seed: 5,
        start_ms: 1_793_491_200_000,
        days: 7,
        words: simulate::words_of(&text),
    };
    let outcomes = Outcomes {
        purchase_rate: 0.2,
        plants: vec![Plant::parse("hero-holdout:treatment=+10%").unwrap()],
    };
    let run = simulate::simulate(
        &site,
        None,
        &Keys::development(),
        &Traffic::Synthetic(&spec),
        Some(&outcomes),
        &|_| {},
    );
    let mut agg = Aggregator::new(PLAIN);
    assert!(agg.push_block(&run.events).is_empty());
    let agg = agg.finish();
    let (table, days) = report::tables(&agg, false);
    let analyses = report::build(
        &table,
        &days,
        &Settings::default(),
        &|unit: &str, variations: &[&str]| {
            (unit == "hero-holdout").then(|| variations.iter().map(|_| 0.5).collect())
        },
        &|_: &str| Design::Randomized,
    );
    let a = analyses
        .iter()
        .find(|a| a.experiment == "hero-holdout" && a.metric == "purchase")
        .unwrap();
    let row = &a.rows[0];
    assert_eq!(
        (row.dimension.as_str(), row.variation.as_str()),
        (ALL, "treatment")
    );
    assert!(
        row.users > 5_000.0 && row.baseline_users > 5_000.0,
        "{row:?}"
    );
    assert!(row.relative.estimate > 0.0, "{row:?}");
    assert!(
        row.relative.ci[0] <= 0.10 && 0.10 <= row.relative.ci[1],
        "{row:?}"
    );
    assert_eq!(row.verdict, "better", "{row:?}");
    assert!(
        !a.srm,
        "the planted effect does not unbalance the split: {:?}",
        a.srm_p
    );
    // The cumulative view ends at the whole population's estimate.
    let last = a.timeline.last().unwrap();
    assert!((last.estimate - row.relative.estimate).abs() < 1e-12);
    // Same seed, same output.
    let again = simulate::simulate(
        &site,
        None,
        &Keys::development(),
        &Traffic::Synthetic(&spec),
        Some(&outcomes),
        &|_| {},
    );
    assert_eq!(again.events, run.events);
}

/// A table of binomial rows: (unit, dimension, variation) → (users, conversions).
fn binomial_table(rows: &[(&str, &str, &str, f64, f64)]) -> Table {
    let mut table = Table::new();
    for (unit, dim, variation, n, sum) in rows {
        table
            .entry((unit.to_string(), "purchase".to_string()))
            .or_default()
            .insert(
                (dim.to_string(), variation.to_string()),
                Statistic::Plain(Moments {
                    kind: Kind::Binomial,
                    n: *n,
                    sum: *sum,
                    sum_squares: *sum,
                }),
            );
    }
    table
}

#[test]
fn observational_rows_show_the_difference_but_no_verdict_and_no_chance_to_win() {
    // A large, clear difference between a segment-chosen variant and the origin content.
    let table = binomial_table(&[
        ("slot:theme", ALL, "origin", 50_000.0, 5_000.0),
        ("slot:theme", ALL, "theme-hiking", 50_000.0, 6_000.0),
        ("hero-holdout", ALL, "control", 50_000.0, 5_000.0),
        ("hero-holdout", ALL, "treatment", 50_000.0, 6_000.0),
    ]);
    let design = |unit: &str| {
        if unit.starts_with("slot:") {
            Design::Observational
        } else {
            Design::Randomized
        }
    };
    let analyses = report::build(
        &table,
        &Table::new(),
        &Settings::default(),
        &|_: &str, _: &[&str]| None,
        &design,
    );
    let theme = analyses
        .iter()
        .find(|a| a.experiment == "slot:theme")
        .unwrap();
    let holdout = analyses
        .iter()
        .find(|a| a.experiment == "hero-holdout")
        .unwrap();
    assert_eq!(
        (theme.design, holdout.design),
        (Design::Observational, Design::Randomized)
    );
    let (t, h) = (&theme.rows[0], &holdout.rows[0]);
    // The same numbers: the difference and its interval are shown for both…
    assert_eq!(t.relative.estimate, h.relative.estimate);
    assert_eq!(t.relative.ci, h.relative.ci);
    // …but only the randomized comparison gets a verdict and a chance to win.
    assert_eq!(h.verdict, "better");
    assert!(h.chance_to_win.unwrap() > 0.99);
    assert_eq!(t.verdict, "observational: no verdict");
    assert_eq!(t.chance_to_win, None);
    let report = report::Report {
        settings: Settings::default(),
        stats_rows: None,
        records: 1,
        visitors: 1,
        duplicates: 0,
        counted: Counted::Signed,
        not_counted: 0,
        cap: None,
        experiments: analyses.clone(),
    };
    let text = report::table_text(&report);
    assert!(
        text.contains("slot:theme · purchase (binomial) vs origin · observational"),
        "{text}"
    );
    assert!(
        text.contains("observational: the variants were chosen by the rules, not at random"),
        "{text}"
    );
    let json = serde_json::to_value(&report).unwrap();
    let theme = json["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["experiment"] == "slot:theme")
        .unwrap();
    assert_eq!(theme["design"], "observational");
    assert!(theme["rows"][0]["chance_to_win"].is_null());
    let html = vitrine::analyze::html::page(&report);
    assert!(
        html.contains("<span class=\"design\">observational</span>"),
        "{html}"
    );
}

#[test]
fn the_split_check_uses_the_rows_present_and_never_claims_without_users() {
    let weights = |_: &str, v: &[&str]| Some(vec![0.5; v.len()]);
    let build = |table: &Table| {
        report::build(
            table,
            &Table::new(),
            &Settings::default(),
            &weights,
            &|_: &str| Design::Randomized,
        )
        .remove(0)
    };
    // Breakdown rows only (a --stats file without `all`): 300 vs 340 users in all.
    let a = build(&binomial_table(&[
        ("exp", "desktop", "control", 200.0, 20.0),
        ("exp", "mobile", "control", 100.0, 10.0),
        ("exp", "desktop", "treatment", 220.0, 22.0),
        ("exp", "mobile", "treatment", 120.0, 12.0),
    ]));
    let p = a.srm_p.unwrap();
    assert!((p - 0.113846).abs() < 1e-5, "{p}");
    assert_eq!(a.srm_note, "from the breakdown rows summed (no `all` row)");
    // No users at all: no p-value.
    let empty = build(&binomial_table(&[
        ("exp", "desktop", "control", 0.0, 0.0),
        ("exp", "desktop", "treatment", 0.0, 0.0),
    ]));
    assert_eq!(empty.srm_p, None);
    assert_eq!(empty.srm_note, "not computed: no users in the rows");
    assert!(!empty.srm);
}

#[test]
fn streamed_simulation_events_come_in_journey_order() {
    // 5,000 visitors: 10 chunks of 512, more than one wave on a small machine; the events
    // handed out as the waves finish are the journeys' own, one after another.
    let site = Config::from_json(DEMO_CONFIG).unwrap().sites.remove(0);
    let spec = Synthetic {
        visitors: 5_000,
        seed: 11,
        start_ms: 1_793_491_200_000,
        days: 3,
        words: simulate::words_of(DEMO_CONFIG),
    };
    let outcomes = Outcomes {
        purchase_rate: 0.3,
        plants: vec![],
    };
    let keys = Keys::development();
    let mut pieces = 0;
    let mut streamed = String::new();
    simulate::simulate_into(
        &site,
        None,
        &keys,
        &Traffic::Synthetic(&spec),
        Some(&outcomes),
        &|_| {},
        &mut |e| {
            pieces += 1;
            streamed.push_str(e);
        },
    );
    let mut sequential = String::new();
    for i in 0..spec.visitors {
        let journey = simulate::synthetic_journey(&site, &spec, i);
        sequential.push_str(&simulate::run(&site, &keys, &journey, Some(&outcomes)).events);
    }
    assert!(pieces >= 10, "{pieces} pieces");
    assert!(
        streamed == sequential,
        "the streamed events are not the journeys' in order"
    );
}
