//! Learning recommendation lists: Dunning's G² against Mahout's published values, `also_viewed`
//! finding a planted sequential structure far above popularity on held-out sessions, and the
//! command end to end.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vitrine::learn::llr;
use vitrine::learn::recs::{self, Tables};

#[test]
fn llr_matches_mahouts_published_values() {
    // Mahout's LogLikelihoodTest, and Dunning's own examples.
    let cases = [
        ((1.0, 0.0, 0.0, 1.0), 2.772589),
        ((10.0, 0.0, 0.0, 10.0), 27.72589),
        ((5.0, 1995.0, 0.0, 100_000.0), 39.33052),
        ((1000.0, 1995.0, 1000.0, 100_000.0), 4730.737),
        ((1000.0, 1000.0, 1000.0, 100_000.0), 5734.343),
        ((1000.0, 1000.0, 1000.0, 99_000.0), 5714.932),
    ];
    for ((a, b, c, d), want) in cases {
        let got = llr(a, b, c, d);
        assert!(
            (got - want).abs() < 1e-3,
            "LLR({a},{b},{c},{d}) = {got}, published {want}"
        );
    }
    // Independence scores 0.
    assert!(llr(10.0, 10.0, 10.0, 10.0).abs() < 1e-9);
}

/// Sessions over 500 items where each item has a successor it is usually followed by (the
/// planted structure), with popular items sprinkled in at random.
fn planted(seed: u64, sessions: usize) -> Vec<Vec<String>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let next = |i: u32| (i * 7 + 3) % 500;
    (0..sessions)
        .map(|_| {
            let mut item = rng.random_range(0..500u32);
            let len = rng.random_range(3..9);
            (0..len)
                .map(|_| {
                    let shown = item;
                    item = if rng.random_bool(0.7) {
                        next(item)
                    } else {
                        rng.random_range(0..100) // a popular head of 100 items
                    };
                    format!("item-{shown:03}")
                })
                .collect()
        })
        .collect()
}

#[test]
fn also_viewed_finds_planted_structure_far_above_popularity() {
    let train = planted(1, 20_000);
    let test = planted(2, 2_000);
    let lists = recs::also_viewed(&train);
    let e = recs::evaluate(&train, &lists, &test);
    assert!(e.predictions > 5_000, "{e:?}");
    assert!(e.hit_rate >= 5.0 * e.popularity.hit_rate, "{e:?}");
    assert!(e.hit_rate > 0.6 && e.mrr > 0.5, "{e:?}");
    assert!(e.coverage > 0.9, "{e:?}");
    // Lists are at most 20 long, strongest first; the planted successor leads.
    let list = &lists["item-010"];
    assert!(list.len() <= 20);
    assert_eq!(list[0].0, "item-073");
    assert!(list.windows(2).all(|w| w[0].1 >= w[1].1));
    // Deterministic: equal input, equal bytes.
    let again = recs::also_viewed(&planted(1, 20_000));
    let bytes = |l| {
        let mut t = Tables::default();
        t.insert("also_viewed", l);
        t.to_compiled()
    };
    assert_eq!(bytes(&lists), bytes(&again));
    let t = Tables::from_compiled(&bytes(&lists)).unwrap();
    assert_eq!(t.lists["also_viewed"].len(), lists.len());
}

#[test]
fn sequential_rules_weigh_by_distance() {
    let sessions = vec![vec!["a".to_string(), "b".into(), "c".into(), "a".into()]];
    let lists = recs::also_viewed(&sessions);
    // a→b 1, a→c 1/2 (and c→a 1, b→a 1/2; a→a is no rule).
    assert_eq!(lists["a"], [("b".to_string(), 1.0), ("c".to_string(), 0.5)]);
    assert_eq!(lists["b"], [("c".to_string(), 1.0), ("a".to_string(), 0.5)]);
    assert_eq!(lists["c"], [("a".to_string(), 1.0)]);
}

#[test]
fn the_command_learns_evaluates_and_dumps() {
    let dir = std::env::temp_dir().join(format!("vitrine-learn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, sessions: &[Vec<String>], header: &str| {
        let mut text = format!("{header}\n");
        for (s, items) in sessions.iter().enumerate() {
            for (t, item) in items.iter().enumerate() {
                text.push_str(&format!("s{s}\t{item}\t{}\n", 1_700_000_000 + t));
            }
        }
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let train = write("train.tsv", &planted(3, 3_000), "session\titem\ttime");
    let test = write(
        "test.tsv",
        &planted(4, 300),
        "session_id\titem_id\ttimestamp",
    );
    let out = dir.join("recs.bin");
    let run = vitrine;
    let (code, stdout, err) = run(&[
        "learn",
        "recs",
        train.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--evaluate",
        test.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in ["k", "predictions", "hit_rate", "mrr", "coverage"] {
        assert!(e.get(key).is_some(), "{key}: {e}");
    }
    assert_eq!(e["k"], 20);
    assert!(
        e["hit_rate"].as_f64().unwrap() > 5.0 * e["popularity"]["hit_rate"].as_f64().unwrap(),
        "{e}"
    );
    assert!(Tables::from_compiled(&std::fs::read(&out).unwrap()).is_some());
    let (code, dump, _) = run(&["learn", "recs", train.to_str().unwrap(), "--dump"]);
    assert_eq!(code, 0);
    assert!(
        dump.starts_with("item,list,rank,neighbour,score\n"),
        "{}",
        &dump[..80]
    );
    assert!(
        dump.lines().nth(1).unwrap().contains(",also_viewed,1,"),
        "{}",
        &dump[..200]
    );
    // A log without the columns says which it needs.
    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "user,product\n1,2\n").unwrap();
    let (code, _, err) = run(&["learn", "recs", bad.to_str().unwrap(), "--dump"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 1: no `session` column (the header has: user, product)"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A catalog item of a product type (the rest plain).
fn typed_item(id: &str, kind: &str) -> vitrine::catalog::Item {
    vitrine::catalog::Item {
        id: id.into(),
        title: id.into(),
        link: format!("https://shop.example/p/{id}"),
        price: vitrine::catalog::Price::parse("10.00 USD").unwrap(),
        image: None,
        availability: vitrine::catalog::Availability::InStock,
        product_type: Some(kind.into()),
        sale_price: None,
        brand: None,
        item_group_id: None,
    }
}

/// Runs the CLI: exit code, stdout, stderr.
fn vitrine(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A `purchase` conversion line (no order: `None`).
fn purchase(visitor: &str, order: Option<&str>, sku: &str, ts_s: u64) -> String {
    let mut r = serde_json::json!({"type": "conversion", "v": 1, "ts": ts_s * 1000, "site": "t", "visitor": visitor,
        "kind": "purchase", "sku": sku, "source": "origin", "trust": "signed"});
    if let Some(o) = order {
        r["order"] = o.into();
    }
    r.to_string()
}

/// A `page` record whose click stream carried one product view (its own path is `/`).
fn viewed(visitor: &str, session: &str, sku: &str, ts_s: u64) -> String {
    serde_json::json!({"type": "page", "v": 1, "ts": ts_s * 1000, "site": "t", "visitor": visitor, "session": session,
        "request": "r", "path": "/", "query": [], "device": "desktop",
        "events": [{"kind": "product_view", "sku": sku}]})
    .to_string()
}

/// A `page` record of the demo site's product page `/p/{sku}` (no click stream).
fn product_page(visitor: &str, session: &str, sku: &str, ts_s: u64) -> String {
    serde_json::json!({"type": "page", "v": 1, "ts": ts_s * 1000, "site": "trailhead-demo", "visitor": visitor, "session": session,
        "request": "r", "path": format!("/p/{sku}"), "query": [], "device": "desktop"})
    .to_string()
}

/// 200 visitors: 12 buy a tent with a stove (one order each), 10 a tent alone, 10 a stove alone,
/// 20 boots with socks, the rest an item nobody else buys; one more visitor buys gloves and a
/// hat together in 50 orders.
fn planted_purchases() -> Vec<String> {
    let mut lines = Vec::new();
    let v = |i: usize| format!("{i:032x}");
    for i in 0..200 {
        let t = 1_700_000_000 + i as u64 * 3600;
        let order = format!("O-{i}");
        let buy = |skus: &[&str]| {
            skus.iter()
                .map(|s| purchase(&v(i), Some(&order), s, t))
                .collect::<Vec<_>>()
        };
        lines.extend(match i {
            0..=11 => buy(&["tent", "stove"]),
            12..=21 => buy(&["tent"]),
            22..=31 => buy(&["stove"]),
            32..=51 => buy(&["boots", "socks"]),
            _ => buy(&[format!("misc-{i}").as_str()]),
        });
    }
    // One visitor, many orders: still one vote.
    for o in 0..50 {
        for sku in ["gloves", "hat"] {
            lines.push(purchase(
                &v(999),
                Some(&format!("X-{o}")),
                sku,
                1_700_000_000 + o,
            ));
        }
    }
    lines
}

fn baskets_of(lines: &[String]) -> vitrine::learn::observe::Observations {
    let mut seen = vitrine::learn::observe::Observations::default();
    for l in lines {
        seen.push(serde_json::from_str(l).unwrap(), None);
    }
    seen
}

#[test]
fn bought_together_finds_planted_pairs_and_one_visitor_is_one_vote() {
    use vitrine::learn::together;
    let seen = baskets_of(&planted_purchases());
    let pairs = together::bought_together(&seen.baskets());
    let with = |a: &str| {
        pairs
            .get(a)
            .map(|l| l.iter().map(|(b, _)| b.as_str()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(with("tent"), ["stove"]);
    assert_eq!(with("stove"), ["tent"]);
    assert_eq!(with("boots"), ["socks"]);
    assert!(
        with("gloves").is_empty(),
        "50 orders of one visitor are one vote: {pairs:?}"
    );
    // The pair's score is G² over visitors: 12 together, tent 22, stove 22, 201 visitors.
    let g2 = pairs["tent"][0].1;
    assert!((g2 - llr(12.0, 10.0, 10.0, 169.0)).abs() < 1e-9, "{g2}");
    // Fewer than three visitors, or no more than chance, is no pair.
    let few = baskets_of(&planted_purchases()[..4]);
    assert!(together::bought_together(&few.baskets()).is_empty());
}

#[test]
fn order_less_purchases_are_one_basket_within_half_an_hour() {
    let v = "a".repeat(32);
    let lines = [
        purchase(&v, None, "tent", 1_700_000_000),
        purchase(&v, None, "stove", 1_700_000_000 + 1_799),
        purchase(&v, None, "map", 1_700_000_000 + 1_799 + 1_801),
    ];
    let baskets = baskets_of(&lines).baskets();
    let items: Vec<Vec<&str>> = baskets
        .iter()
        .map(|(_, b)| b.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(items, [vec!["stove", "tent"], vec!["map"]]);
}

#[test]
fn complements_drop_pairs_of_one_product_type_and_bestsellers_count_visitors() {
    use vitrine::catalog::Catalog;
    use vitrine::learn::together;
    let item = typed_item;
    let catalog = Catalog::new(vec![
        item("tent", "Camping"),
        item("stove", "Cooking"),
        item("boots", "Footwear"),
        item("socks", "Footwear"),
    ]);
    let mut lines = planted_purchases();
    let seen = baskets_of(&lines);
    let c = together::complements(&together::bought_together(&seen.baskets()), &catalog);
    assert_eq!(c["tent"][0].0, "stove");
    assert!(!c.contains_key("boots"), "socks are footwear too: {c:?}");
    // Bestsellers: visitors who bought (stove and tent 22, ties by id; boots and socks 20),
    // then who viewed; the visitor of 50 orders counts once.
    lines.extend((0..30).map(|i| viewed(&format!("{i:032x}"), "1", "socks", 1_700_000_000)));
    let seen = baskets_of(&lines);
    let best = together::bestsellers(&seen.popularity(), Some(&catalog));
    let top: Vec<&str> = best[together::ALL_TYPES]
        .iter()
        .take(3)
        .map(|(i, _)| i.as_str())
        .collect();
    assert_eq!(top, ["stove", "tent", "socks"], "{best:?}");
    let footwear: Vec<&str> = best["Footwear"].iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(
        footwear,
        ["socks", "boots"],
        "equal purchases (20): views decide"
    );
    assert!(best[together::ALL_TYPES]
        .iter()
        .any(|(i, s)| i == "gloves" && *s < 2.0));
}

#[test]
fn the_command_learns_every_list_from_event_files() {
    let dir = std::env::temp_dir().join(format!("vitrine-learn-ev-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("events/dt=2026-12-01")).unwrap();
    let mut lines = planted_purchases();
    for s in 0..300 {
        let visitor = format!("{:032x}", 5000 + s);
        for (t, sku) in ["tent", "stove", "lamp"].iter().enumerate() {
            lines.push(viewed(&visitor, "1", sku, 1_700_000_000 + t as u64));
        }
        // The demo's product pages: views by their paths, with its configuration only.
        for (t, sku) in ["hiking-summit-pack", "hiking-ridgeline-mid"]
            .iter()
            .enumerate()
        {
            lines.push(product_page(&visitor, "2", sku, 1_700_100_000 + t as u64));
        }
    }
    std::fs::write(
        dir.join("events/dt=2026-12-01/a.ndjson"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let feed = dir.join("products.tsv");
    std::fs::write(
        &feed,
        "id\ttitle\tlink\tprice\tproduct_type\n\
         tent\tTent\thttps://s.example/tent\t100.00 USD\tCamping\n\
         stove\tStove\thttps://s.example/stove\t40.00 USD\tCooking\n",
    )
    .unwrap();
    let run = vitrine;
    let catalog = dir.join("catalog.bin");
    let (code, _, err) = run(&[
        "catalog",
        "compile",
        feed.to_str().unwrap(),
        "-o",
        catalog.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let out = dir.join("recs.bin");
    let events = dir.join("events");
    let (code, _, err) = run(&[
        "learn",
        "recs",
        events.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("1500 page records read without their site's configuration"),
        "{err}"
    );
    assert!(err.contains("also_viewed for 2 items, bought_together for 4, complements for 4, bestsellers for 2 product types and overall"), "{err}");
    let (code, _, err) = run(&[
        "learn",
        "recs",
        events.to_str().unwrap(),
        "--config",
        "src/config/demo.json",
        "--catalog",
        catalog.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // The demo's product pages are read by its page types; the other site's are not.
    assert!(
        err.contains("900 page records read without") && err.contains("also_viewed for 3 items"),
        "the product pages' own views count: {err}"
    );
    let tables = Tables::from_compiled(&std::fs::read(&out).unwrap()).unwrap();
    let names: Vec<&str> = tables.lists.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "also_viewed",
            "bestsellers",
            "bought_together",
            "complements"
        ]
    );
    let (code, dump, _) = run(&["learn", "recs", events.to_str().unwrap(), "--dump"]);
    assert_eq!(code, 0);
    assert!(dump.contains("tent,bought_together,1,stove,"), "{dump}");
    assert!(dump.contains("tent,also_viewed,1,stove,"), "{dump}");
    // A line that is not a record is named.
    std::fs::write(
        dir.join("events/dt=2026-12-01/b.ndjson"),
        "{\"type\":\"exposure\"}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["learn", "recs", events.to_str().unwrap(), "--dump"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("b.ndjson: line 1: not an event record"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// 3,000 visitors over 60 anchor items, each with two planted complements (a different product
/// type) that its buyers add with probability 0.5 each, and a random item of 200 with
/// probability 0.7: every anchor's `complements`, at most 4 long, must be its planted pair
/// (precision@4 ≥ 0.9 over the anchors).
#[test]
fn planted_complements_are_found_with_precision_at_4_of_0_9() {
    use vitrine::catalog::{Catalog, Item};
    use vitrine::learn::together;
    let mut rng = ChaCha8Rng::seed_from_u64(25);
    let anchor = |a: usize| format!("anchor-{a}");
    let planted = |a: usize, k: usize| format!("addon-{a}-{k}");
    let mut lines = Vec::new();
    for v in 0..3_000usize {
        let a = rng.random_range(0..60);
        let mut skus = vec![anchor(a)];
        for k in 0..2 {
            if rng.random_bool(0.5) {
                skus.push(planted(a, k));
            }
        }
        if rng.random_bool(0.7) {
            skus.push(format!("noise-{}", rng.random_range(0..200)));
        }
        for sku in skus {
            lines.push(purchase(
                &format!("{v:032x}"),
                Some(&format!("O-{v}")),
                &sku,
                1_700_000_000,
            ));
        }
    }
    let kind = typed_item;
    let mut items: Vec<Item> = (0..60).map(|a| kind(&anchor(a), "Tents")).collect();
    items.extend(
        (0..60)
            .flat_map(|a| (0..2).map(move |k| (a, k)))
            .map(|(a, k)| kind(&planted(a, k), "Accessories")),
    );
    let catalog = Catalog::new(items);
    let seen = baskets_of(&lines);
    let complements = together::complements(&together::bought_together(&seen.baskets()), &catalog);
    let mut precision = 0.0;
    for a in 0..60 {
        let top: Vec<&str> = complements
            .get(&anchor(a))
            .map(|l| l.iter().take(4).map(|(i, _)| i.as_str()).collect())
            .unwrap_or_default();
        let right = top
            .iter()
            .filter(|i| i.starts_with(&format!("addon-{a}-")))
            .count();
        precision += if top.is_empty() {
            0.0
        } else {
            right as f64 / top.len() as f64
        };
    }
    precision /= 60.0;
    assert!(precision >= 0.9, "precision@4 {precision:.3}");
}

/// The rows DuckDB (from PyPI, installed by .ci/bootstrap) gives for `sql`.
fn duckdb(sql: &str) -> Vec<serde_json::Value> {
    python_rows(
        "import duckdb, json, sys\nprint(json.dumps(duckdb.sql(sys.stdin.read()).fetchall()))",
        &[],
        sql,
    )
}

/// The rows ClickHouse's embedded engine (chDB, from PyPI) gives for `sql` over a table `events`
/// holding the purchase fields of the records under `dir`.
fn chdb(dir: &str, sql: &str) -> Vec<serde_json::Value> {
    let script = "import json, sys\nfrom chdb import session\ns = session.Session()\n\
        schema = 'type Nullable(String), ts UInt64, visitor Nullable(String), kind Nullable(String), `order` Nullable(String), sku Nullable(String)'\n\
        s.query(f'CREATE TABLE events ({schema}) ENGINE = Memory')\n\
        s.query(f\"INSERT INTO events SELECT * FROM file('{sys.argv[1]}/*.ndjson', 'JSONEachRow', '{schema}')\")\n\
        print(json.dumps(json.loads(str(s.query(sys.stdin.read(), 'JSONCompact')))['data']))";
    python_rows(script, &[dir], sql)
}

fn python_rows(script: &str, args: &[&str], sql: &str) -> Vec<serde_json::Value> {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    common::python_rows(&all, sql)
}

/// A click log (CSV, its own column names, sessions interleaved, equal times in log order) and
/// event files of purchases (orders, and order-less runs split by the 30-minute gap), in a fresh
/// folder: the folder, the log, the purchase lines.
fn sql_fixture(tag: &str) -> (std::path::PathBuf, std::path::PathBuf, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("vitrine-learn-sql-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("events")).unwrap();
    let mut log = String::from("Session_ID,timestamp,item_id\n");
    let sessions = planted(11, 400);
    for (t, round) in (0..12).enumerate() {
        for (s, items) in sessions.iter().enumerate() {
            if let Some(item) = items.get(round) {
                log.push_str(&format!("s{s},{},{item}\n", 1_700_000_000 + t / 3));
            }
        }
    }
    let clicks = dir.join("clicks.csv");
    std::fs::write(&clicks, &log).unwrap();
    let mut lines = planted_purchases();
    let v = "b".repeat(32);
    for (k, (sku, at)) in [
        ("tent", 0),
        ("stove", 1_800),
        ("map", 3_601),
        ("tent", 3_602),
    ]
    .iter()
    .enumerate()
    {
        lines.push(purchase(&v, None, sku, 1_700_000_000 + at));
        lines.push(purchase(
            &format!("{k:031x}c"),
            None,
            "stove",
            1_700_000_000,
        ));
    }
    std::fs::write(dir.join("events/a.ndjson"), lines.join("\n") + "\n").unwrap();

    (dir, clicks, lines)
}

#[test]
fn the_warehouse_sql_gives_the_built_in_rule_weights() {
    let (dir, clicks, _) = sql_fixture("views");
    let (code, sql, err) = vitrine(&["learn", "recs", clicks.to_str().unwrap(), "--sql", "duckdb"]);
    assert_eq!(code, 0, "{err}");
    let rows = duckdb(sql.trim_end().trim_end_matches(';'));
    let mut built = Vec::new();
    let (code, dump, _) = vitrine(&["learn", "recs", clicks.to_str().unwrap(), "--dump"]);
    assert_eq!(code, 0);
    assert!(dump.lines().count() > 100);
    let text = std::fs::read_to_string(&clicks).unwrap();
    let mut by: Vec<(String, u64, usize, String)> = text
        .lines()
        .skip(1)
        .enumerate()
        .map(|(n, l)| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].parse().unwrap(), n, f[2].to_string())
        })
        .collect();
    by.sort();
    let clicks_in = by
        .into_iter()
        .map(|(session, time, _, item)| recs::Click {
            session,
            item,
            time,
        })
        .collect();
    for ((a, b), w) in recs::rule_weights(&recs::sessions(clicks_in)) {
        built.push((a, b, w));
    }
    assert_eq!(rows.len(), built.len());
    let mut from_sql: Vec<(String, String, f64)> = rows
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().into(),
                r[1].as_str().unwrap().into(),
                r[2].as_f64().unwrap(),
            )
        })
        .collect();
    from_sql.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    for (s, b) in from_sql.iter().zip(&built) {
        assert_eq!((&s.0, &s.1), (&b.0, &b.1));
        assert!((s.2 - b.2).abs() < 1e-9, "{s:?} vs {b:?}");
    }

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_warehouse_sql_gives_the_built_in_basket_counts() {
    use vitrine::learn::together::Counts;
    let (dir, clicks, lines) = sql_fixture("baskets");
    let events = dir.join("events");
    let (code, sql, err) = vitrine(&["learn", "recs", events.to_str().unwrap(), "--sql", "duckdb"]);
    assert_eq!(code, 0, "{err}");
    let mut seen = vitrine::learn::observe::Observations::default();
    for l in &lines {
        seen.push(serde_json::from_str(l).unwrap(), None);
    }
    let counts = Counts::of(&seen.baskets());
    // DuckDB reading the files; ClickHouse (chDB) reading them as a table `events`.
    let (_, ch, _) = vitrine(&[
        "learn",
        "recs",
        events.to_str().unwrap(),
        "--sql",
        "clickhouse",
    ]);
    for rows in [
        duckdb(sql.trim_end().trim_end_matches(';')),
        chdb(
            events.to_str().unwrap(),
            ch.trim_end().trim_end_matches(';'),
        ),
    ] {
        assert_eq!(rows.len(), counts.pairs.len(), "{rows:?}");
        for r in &rows {
            let (a, b) = (r[0].as_str().unwrap(), r[1].as_str().unwrap());
            // ClickHouse writes 64-bit integers as strings.
            let n = |k: usize| {
                r[k].as_u64()
                    .or_else(|| r[k].as_str()?.parse().ok())
                    .unwrap()
            };
            assert_eq!(
                n(2),
                counts.pairs[&(a.to_string(), b.to_string())],
                "{a} {b}"
            );
            assert_eq!((n(3), n(4)), (counts.items[a], counts.items[b]), "{a} {b}");
            assert_eq!(n(5), counts.visitors);
        }
        // The order-less runs: tent+stove one basket, map+tent the next.
        assert!(rows.iter().any(|r| r[0] == "map" && r[1] == "tent"));
    }
    // The other flavours print, each naming its table.
    for d in ["bigquery", "clickhouse"] {
        let (code, sql, _) = vitrine(&[
            "learn",
            "recs",
            events.to_str().unwrap(),
            clicks.to_str().unwrap(),
            "--sql",
            d,
        ]);
        assert_eq!(code, 0);
        assert!(
            sql.contains("FROM `events`") || sql.contains("FROM events"),
            "{sql}"
        );
        assert!(sql.contains("views"), "{sql}");
    }
    let (code, _, err) = vitrine(&["learn", "recs", clicks.to_str().unwrap(), "--sql", "oracle"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown SQL dialect 'oracle'"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
