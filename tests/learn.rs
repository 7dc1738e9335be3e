//! Learning recommendation lists: Dunning's G² against Mahout's published values, `also_viewed`
//! finding a planted sequential structure far above popularity on held-out sessions, and the
//! command end to end.
#![cfg(not(target_arch = "wasm32"))]

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
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_vitrine"))
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
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
