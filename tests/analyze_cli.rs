//! `vitrine analyze` and `vitrine simulate` as processes: reports from event directories (plain
//! and gzipped), the statistics CSV both ways, the DuckDB SQL executed for real (DuckDB's Python
//! package) against the built-in aggregation, bad input with precise messages, and what a
//! config edit changes.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn vitrine(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("vitrine runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vitrine-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Synthetic events (the real pipeline's records) plus a gzipped file of duplicates and
/// late conversions in a partition directory, as the R2 consumer writes them.
fn events(name: &str) -> PathBuf {
    let dir = temp_dir(name);
    let (code, _, err) = vitrine(&[
        "simulate",
        "--synthetic",
        "3000",
        "--seed",
        "4",
        "--purchase-rate",
        "0.3",
        "--plant",
        "hero-holdout:treatment=+20%",
        "--events-out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.join("simulate-4.ndjson")).unwrap();
    let conversions: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"conversion\""))
        .take(40)
        .collect();
    let visitors: Vec<String> = text
        .lines()
        .filter(|l| l.contains("\"exposure\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["visitor"].as_str().unwrap().to_string())
        .take(200)
        .collect();
    let mut extra = String::new();
    for c in &conversions {
        // The same order again, later (and once earlier with a smaller value).
        let mut v: Value = serde_json::from_str(c).unwrap();
        v["ts"] = json!(v["ts"].as_u64().unwrap() + 5_000);
        extra.push_str(&format!("{v}\n"));
    }
    for (i, visitor) in visitors.iter().enumerate().step_by(7) {
        // Add-to-carts with event ids, each sent twice; and a purchase without any key.
        let ts = 1_793_900_000_000u64 + i as u64;
        let cart = json!({"type": "conversion", "v": 1, "ts": ts, "site": "trailhead-demo", "visitor": visitor,
                          "kind": "add_to_cart", "value": 12.5, "event": format!("e{i}"), "source": "browser", "trust": "unsigned"});
        extra.push_str(&format!("{cart}\n{cart}\n"));
        let buy = json!({"type": "conversion", "v": 1, "ts": ts, "site": "trailhead-demo", "visitor": visitor,
                         "kind": "purchase", "value": 99.0, "source": "browser", "trust": "unsigned"});
        extra.push_str(&format!("{buy}\n"));
    }
    let part = dir.join("dt=2026-11-05/hour=10");
    std::fs::create_dir_all(&part).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(part.join("batch-1.ndjson.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(extra.as_bytes()).unwrap();
    gz.finish().unwrap();
    dir
}

/// Rows of a statistics CSV as (experiment, variation, dimension) → (users, sum, sum of squares).
fn csv_rows(text: &str) -> std::collections::BTreeMap<(String, String, String), (f64, f64, f64)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (f[0].to_string(), f[1].to_string(), f[2].to_string()),
                (
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                ),
            )
        })
        .collect()
}

/// The rows `sql` gives over the events in `dir`: in DuckDB (reading the files itself) or in
/// ClickHouse's embedded engine, chDB (tests/data/sql/chdb_run.py loads them into `events`);
/// both from PyPI, installed by .ci/bootstrap.
fn run_sql(dialect: &str, dir: &str, sql: &str) -> Vec<Value> {
    let args: Vec<&str> = match dialect {
        "duckdb" => vec![
            "-c",
            "import duckdb, json, sys\nprint(json.dumps(duckdb.sql(sys.stdin.read()).fetchall()))",
        ],
        _ => vec!["tests/data/sql/chdb_run.py", dir],
    };
    common::python_rows(&args, sql)
}

#[test]
fn duckdb_and_clickhouse_sql_give_the_built_in_sufficient_statistics() {
    let dir = events("sql");
    let d = dir.to_str().unwrap();
    for dialect in ["duckdb", "clickhouse"] {
        // DuckDB reads the files (the source is their glob); ClickHouse a table.
        let source = if dialect == "duckdb" { d } else { "events" };
        // Revenue also capped (each visitor's value winsorized at 100) and counting every
        // record (the browser's unsigned ones too).
        let runs = [
            ("purchase", None, "signed"),
            ("revenue", None, "signed"),
            ("add_to_cart", None, "signed"),
            ("revenue", Some("100"), "all"),
        ];
        for (metric, cap, trust) in runs {
            for by in [None, Some("device"), Some("segment")] {
                let mut args = vec!["analyze", d, "--emit-stats", metric, "--trust", trust];
                let mut sql_args = vec![
                    "analyze", source, "--sql", dialect, "--metric", metric, "--trust", trust,
                ];
                if let Some(by) = by {
                    args.extend(["--by", by]);
                    sql_args.extend(["--by", by]);
                }
                if let Some(cap) = cap {
                    args.extend(["--cap", cap]);
                    sql_args.extend(["--cap", cap]);
                }
                let (code, built_in, err) = vitrine(&args);
                assert_eq!(code, 0, "{err}");
                let built_in = csv_rows(&built_in);
                assert!(built_in.len() > 10, "{metric} {by:?}: {built_in:?}");
                let (code, sql, err) = vitrine(&sql_args);
                assert_eq!(code, 0, "{err}");
                let rows = run_sql(dialect, d, &sql);
                assert_eq!(
                    rows.len(),
                    built_in.len(),
                    "{dialect} {metric} {by:?}: row count"
                );
                for r in rows {
                    let key = (
                        r[0].as_str().unwrap().to_string(),
                        r[1].as_str().unwrap().to_string(),
                        r[2].as_str().unwrap().to_string(),
                    );
                    let (users, sum, squares) = built_in.get(&key).unwrap_or_else(|| {
                        panic!("{dialect} {metric} {by:?}: no built-in row {key:?}")
                    });
                    let got = (
                        r[3].as_f64().unwrap(),
                        r[4].as_f64().unwrap(),
                        r[5].as_f64().unwrap(),
                    );
                    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
                    assert!(
                        close(got.0, *users) && close(got.1, *sum) && close(got.2, *squares),
                        "{dialect} {metric} {by:?} {key:?}: {got:?}, built-in {:?}",
                        (users, sum, squares)
                    );
                    assert_eq!(
                        r[6],
                        if metric == "revenue" {
                            "mean"
                        } else {
                            "binomial"
                        }
                    );
                }
            }
        }
    }
    // BigQuery's flavour prints; it is not executed here.
    let (code, sql, _) = vitrine(&[
        "analyze",
        "project.dataset.events",
        "--sql",
        "bigquery",
        "--by",
        "segment",
    ]);
    assert_eq!(code, 0);
    assert!(
        sql.contains("experiment, variation, dimension") && sql.contains("main_sum_squares"),
        "{sql}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_report_finds_the_planted_uplift_and_the_stats_csv_gives_the_same_numbers() {
    let dir = events("report");
    let d = dir.to_str().unwrap();
    let html = dir.join("report.html");
    let (code, out, err) = vitrine(&[
        "analyze",
        d,
        "--json",
        "--metric",
        "purchase",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    // The repeated orders are dropped as duplicates; the browser's unsigned add-to-carts and
    // purchases (29 visitors × 3 records) do not count by default.
    assert!(
        report["duplicates"].as_u64().unwrap() >= 40,
        "{}",
        report["duplicates"]
    );
    assert_eq!(report["not_counted"], 87);
    // Counted, the add-to-carts sent twice with one event id count once.
    let (_, all, _) = vitrine(&[
        "analyze", d, "--json", "--metric", "purchase", "--trust", "all",
    ]);
    let all: Value = serde_json::from_str(&all).unwrap();
    assert!(
        all["duplicates"].as_u64().unwrap() >= 40 + 29,
        "{}",
        all["duplicates"]
    );
    assert_eq!(all["not_counted"], 0);
    let holdout = report["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["experiment"] == "hero-holdout")
        .unwrap();
    assert_eq!(holdout["metric"], "purchase");
    assert!(
        holdout["srm_p"].as_f64().unwrap() > 0.001,
        "the configured 10/90 split holds"
    );
    let row = &holdout["rows"][0];
    for field in [
        "dimension",
        "variation",
        "users",
        "mean",
        "baseline_mean",
        "relative",
        "absolute",
        "chance_to_win",
    ] {
        assert!(row.get(field).is_some(), "{field} missing: {row}");
    }
    assert_eq!(row["relative"]["ci"].as_array().unwrap().len(), 2);
    assert!(row["relative"]["p_value"].is_number() && row["absolute"]["estimate"].is_number());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("<svg class=\"forest\"")
            && !page.contains("http://")
            && !page.contains("https://")
    );

    // The same metric through the statistics CSV: the same users, means and estimates.
    let (_, csv, _) = vitrine(&["analyze", d, "--emit-stats", "purchase"]);
    let stats = dir.join("stats.csv");
    std::fs::write(&stats, &csv).unwrap();
    let (code, out, err) = vitrine(&[
        "analyze",
        "--stats",
        stats.to_str().unwrap(),
        "--json",
        "--weights",
        "control=0.1,treatment=0.9",
    ]);
    assert_eq!(code, 0, "{err}");
    let from_csv: Value = serde_json::from_str(&out).unwrap();
    let same = from_csv["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["experiment"] == "hero-holdout")
        .unwrap();
    assert_eq!(same["metric"], "main");
    for k in ["users", "baseline_users", "mean", "baseline_mean"] {
        assert_eq!(same["rows"][0][k], row[k], "{k}");
    }
    for k in ["estimate", "p_value"] {
        let (a, b) = (
            same["rows"][0]["relative"][k].as_f64().unwrap(),
            row["relative"][k].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-12, "{k}: {a} vs {b}");
    }
    assert!((same["srm_p"].as_f64().unwrap() - holdout["srm_p"].as_f64().unwrap()).abs() < 1e-12);

    // The terminal table names the verdicts and intervals.
    let (_, table, _) = vitrine(&["analyze", d, "--metric", "purchase"]);
    assert!(
        table.contains("hero-holdout · purchase (binomial) vs control · randomized · split ok"),
        "{table}"
    );
    assert!(table.contains("95% CI"), "{table}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_input_gets_a_precise_error() {
    let dir = temp_dir("bad-analyze");
    let header = "experiment,variation,dimension,users,main_sum,main_sum_squares,metric_type\n";
    for (text, message) in [
        ("experiment,variation,users\n", "no `dimension` column"),
        (
            &format!(
                "{header}e,control,all,100,10,10,binomial\ne,treatment,all,many,10,10,binomial\n"
            ),
            "line 3: users is not a number: 'many'",
        ),
        (
            &format!("{header}e,control,all,100,120,120,binomial\n"),
            "line 2: a binomial main_sum is within 0–users (100), got 120",
        ),
        (
            &format!("{header}e,control,all,100,1,1,poisson\n"),
            "line 2: metric_type must be binomial or mean, got 'poisson'",
        ),
        (
            &format!("{header}e,control,all,100,1,1,mean\ne,control,all,100,1,1,mean\n"),
            "line 3: a second row for variation 'control'",
        ),
    ] {
        let path = write(&dir, "stats.csv", text);
        let (code, _, err) = vitrine(&["analyze", "--stats", &path]);
        assert_eq!(code, 2, "{text}");
        assert!(err.contains(message), "{err:?} lacks {message:?}");
    }
    let (code, _, err) = vitrine(&["analyze"]);
    assert_eq!(code, 2);
    assert!(err.contains("name event files or directories"), "{err}");
    let (code, _, err) = vitrine(&["analyze", "/nonexistent/events"]);
    assert!(code == 2 && err.contains("/nonexistent/events"), "{err}");
    let (code, _, err) = vitrine(&["analyze", "x", "--sql", "duckdb", "--metric", "aov"]);
    assert!(code == 2 && err.contains("aov is a ratio metric"), "{err}");
    // Broken lines in event files are skipped with their place, the rest is read.
    let good = r#"{"type":"exposure","v":1,"ts":1,"site":"s","visitor":"0000000000000000000000000000000a","session":"1","request":"r","slot":"hero","variant":"h","segments":[],"page_type":"home","device":"desktop","trust":"signed","source":"edge"}"#;
    let path = write(&dir, "e.ndjson", &format!("{good}\n{{broken\n{good}\n"));
    let (code, out, err) = vitrine(&["analyze", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("e.ndjson:2:"), "{err}");
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap()["records"], 2);
    let (code, _, err) = vitrine(&[
        "simulate",
        "--synthetic",
        "10",
        "--plant",
        "hero-holdout=lots",
    ]);
    assert!(
        code == 2 && err.contains("expected UNIT:VARIATION=+10%"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn simulate_shows_what_a_config_edit_changes_and_repeats_itself() {
    let dir = temp_dir("simulate");
    // The edit: the running hero goes, and the holdout doubles.
    let mut doc: Value = serde_json::from_str(vitrine::config::DEMO_CONFIG).unwrap();
    let variants = doc["slots"]["hero"]["variants"].as_array_mut().unwrap();
    variants.retain(|v| v["id"] != "hero-run");
    doc["experiments"]["hero-holdout"]["control_percent"] = json!(20);
    let edited = write(&dir, "edited.json", &doc.to_string());
    let run = || {
        let (code, out, err) = vitrine(&[
            "simulate",
            "--synthetic",
            "4000",
            "--seed",
            "9",
            "--against",
            &edited,
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let mut v: Value = serde_json::from_str(&out).unwrap();
        for k in ["seconds", "requests_per_second", "threads"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    let report = run();
    assert_eq!(report["visitors"], 4000);
    let hero = &report["slots"]["hero"];
    assert!(hero["hero-run"].as_f64().unwrap() > 0.0, "{hero}");
    let against = &report["against"];
    let changed = against["slots"]["hero"]["share_of_views_changed"]
        .as_f64()
        .unwrap();
    assert!(changed > 0.0 && changed < 0.5, "{against}");
    let changes = against["slots"]["hero"]["changes"].as_array().unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c["from"] == "hero-run" && c["to"] != "hero-run"),
        "{changes:?}"
    );
    assert!(against["new"]["slots"]["hero"].get("hero-run").is_none());
    assert!(against["share_of_visitors_changed"].as_f64().unwrap() >= changed);
    assert!(
        report["experiments"]["hero-holdout"]["srm_p"]
            .as_f64()
            .unwrap()
            > 0.001
    );
    // The same seed gives the same report.
    assert_eq!(run(), report);
    // Recorded page records replay as journeys (the demo samples them).
    let pages: Vec<String> = ["/", "/c/hiking", "/search?q=tent"]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (path, query) = p.split_once('?').map_or((*p, vec![]), |(a, q)| (a, vec![q.split_once('=').unwrap()]));
            json!({"type": "page", "v": 1, "ts": 1_793_900_000_000u64 + i as u64 * 60_000, "site": "trailhead-demo",
                   "visitor": "cd".repeat(16), "session": "1", "request": "r", "path": path, "query": query, "device": "mobile"})
                .to_string()
        })
        .collect();
    let path = write(&dir, "pages.ndjson", &(pages.join("\n") + "\n"));
    let (code, out, err) = vitrine(&["simulate", &path, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["visitors"].as_u64(), v["views"].as_u64()),
        (Some(1), Some(3))
    );
    assert!(
        v["slots"]["hero"]["hero-search"].as_f64().unwrap() > 0.3,
        "{v}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn one_visitor_cannot_move_revenue() {
    // 20,000 visitors; then one treatment visitor posts a 1e12 purchase and 50 more orders of
    // 1e12 through /vitrine/collect (as the collector writes them: the browser's, unsigned).
    let dir = temp_dir("poison");
    let d = dir.to_str().unwrap();
    let (code, _, err) = vitrine(&[
        "simulate",
        "--synthetic",
        "20000",
        "--seed",
        "7",
        "--purchase-rate",
        "0.3",
        "--plant",
        "hero-holdout:treatment=+20%",
        "--events-out",
        d,
    ]);
    assert_eq!(code, 0, "{err}");
    let revenue = |extra: &[&str]| -> (f64, Value) {
        let mut args = vec!["analyze", d, "--json", "--metric", "revenue"];
        args.extend(extra);
        let (code, out, err) = vitrine(&args);
        assert_eq!(code, 0, "{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        let holdout = report["experiments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["experiment"] == "hero-holdout")
            .unwrap()
            .clone();
        (holdout["rows"][0]["mean"].as_f64().unwrap(), report)
    };
    let (clean, _) = revenue(&[]);
    let text = std::fs::read_to_string(dir.join("simulate-7.ndjson")).unwrap();
    let poisoner = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|r| r["type"] == "exposure" && r["arm"] == "treatment")
        .unwrap()["visitor"]
        .as_str()
        .unwrap()
        .to_string();
    let mut poison = String::new();
    for i in 0..51 {
        poison.push_str(&format!(
            "{}\n",
            json!({"type": "conversion", "v": 1, "ts": 1_794_000_000_000u64 + i, "site": "trailhead-demo",
                   "visitor": poisoner, "kind": "purchase", "value": 1e12, "currency": "USD",
                   "order": format!("EVIL-{i}"), "source": "browser", "trust": "unsigned"})
        ));
    }
    std::fs::write(dir.join("poison.ndjson"), poison).unwrap();
    let moved = |x: f64| (x - clean).abs() / clean;
    // The defaults: the browser's unsigned purchases do not count, and the report says so.
    let (default, report) = revenue(&[]);
    assert!(moved(default) < 0.01, "{clean} → {default}");
    assert_eq!(report["not_counted"], 51);
    let (_, table, _) = vitrine(&["analyze", d, "--metric", "revenue"]);
    assert!(
        table.contains("conversions counted: purchases from the origin's X-Vitrine-Conversion, others from signed state (--trust origin); 51 left out (--trust all counts them)"),
        "{table}"
    );
    // Counting everything, the poison is what the test guards against…
    let (all, _) = revenue(&["--trust", "all"]);
    assert!(moved(all) > 1000.0, "{clean} → {all}");
    // …and a percentile cap bounds it there too.
    let (capped, report) = revenue(&["--trust", "all", "--cap", "p99"]);
    assert!(moved(capped) < 0.01, "{clean} → {capped}");
    assert_eq!(report["cap"], json!({"percentile": 0.99}));
    let (_, _, err) = vitrine(&["analyze", d, "--cap", "p100"]);
    assert!(
        err.contains("--cap: 'p100' is neither an amount > 0 (500) nor a percentile (p99, p99.9)"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
