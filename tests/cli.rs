//! The `vitrine` command, run as a process.
#![cfg(not(target_arch = "wasm32"))] // native suite: files, processes, proptest

use std::process::Command;

fn vitrine(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("VITRINE_STATE_KEYS")
        .output()
        .expect("vitrine runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn demo_config_passes_check() {
    let (code, out) = vitrine(&["check", "src/config/demo.json", "--deny-warnings"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("src/config/demo.json: 1 site(s), 0 error(s), 0 warning(s)"),
        "{out}"
    );
}

#[test]
fn check_reports_every_lint_finding_with_its_path() {
    let (code, out) = vitrine(&["check", "tests/data/lint/findings.json"]);
    assert_eq!(code, 1, "unbalanced HTML is an error\n{out}");
    let expected = [
        "error: slots.hero.variants[3].html: </div> closes <p>",
        "warning: segments.impossible: segment is always false",
        "warning: segments.contradiction: segment is always false",
        "warning: segments.everyone: segment is always true",
        "warning: segments.unused: segment is never used",
        "warning: slots.hero.variants[1]: shadowed: whenever this matches, variants[0] ('trail') matches first",
        "warning: slots.hero.variants[2].when: condition is never true; variant 'never' is never shown",
        "warning: slots.banner.variants[1]: unreachable: variants[0] ('base') has no condition and always matches first",
        "warning: slots.hero.variants[4]: unreachable: variants[3] ('broken') is always true and matches first",
        "warning: slots.hero.variants[5]: unreachable: variants[3] ('broken') is always true and matches first",
        "warning: policies[1]: conflicts with policies[0]: policies[1] allows hero:never but policies[0] denies it under the same condition; deny wins (never is fine)",
        "warning: slots.grid_again: reorders the same elements as slot 'grid' (`ul.products`): keep one",
        "note: privacy.consent: none: the state cookie is set and behavior recorded from the first page view, without asking the shop's consent platform (docs/privacy.md)",
    ];
    for line in expected {
        assert!(out.lines().any(|l| l == line), "missing `{line}` in\n{out}");
    }
    assert!(out.contains("1 error(s), 11 warning(s)"), "{out}");
}

#[test]
fn check_reports_load_errors_and_fails() {
    let dir = std::env::temp_dir().join(format!("vitrine-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.json");
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/demo.json"))
            .unwrap();
    std::fs::write(
        &path,
        demo.replace(
            "\"when\": \"hiker || trail_campaign\"",
            "\"when\": \"hikr || trail_campaign\"",
        ),
    )
    .unwrap();
    let (code, out) = vitrine(&["check", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error: slots.hero.variants[1].when: unknown segment 'hikr' (did you mean 'hiker'?) (column 1)"), "{out}");
    let (code, out) = vitrine(&["check", "no/such/file.json"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("cannot read no/such/file.json"), "{out}");
}

#[test]
fn schema_describes_the_config() {
    let (code, out) = vitrine(&["schema"]);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&out).expect("schema is JSON");
    let text = schema.to_string();
    for needle in [
        "\"dimensions\"",
        "\"half_life_hours\"",
        "\"replace_inner\"",
        "\"first_match\"",
        "\"control_percent\"",
        "\"honor_gpc\"",
    ] {
        assert!(text.contains(needle), "schema lacks {needle}");
    }
}

#[test]
fn keygen_and_signed_traits_drive_a_decision() {
    let (code, key) = vitrine(&["keygen", "--id", "4"]);
    assert_eq!(code, 0);
    let key = key.trim().to_string();
    assert!(key.starts_with("4:") && key.len() > 40, "{key}");
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args([
            "sign-traits",
            "--keys",
            &key,
            "--purchases",
            "4",
            "--aov",
            "210",
            "--tier",
            "gold",
        ])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args([
            "decide",
            "--config",
            "src/config/demo.json",
            "--cookie",
            &format!("vt_t={token}"),
            "/",
        ])
        .env(
            "VITRINE_STATE_KEYS",
            "1:c3RhdGUta2V5LXN0YXRlLWtleS1zdGF0ZS1rZXk",
        )
        .env("VITRINE_TRAITS_KEYS", &key)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("offer → loyal-10: segment loyal_high_value (traits.purchases_90d=4 ≥ 3, traits.aov=210 ≥ 150)"), "{text}");
}

#[test]
fn decide_walks_a_journey() {
    // Visitor 07…07 is in the treatment arm of hero-holdout (bucket 7674 ≥ 1000).
    let id = "07".repeat(16);
    let (code, out) = vitrine(&[
        "decide",
        "--config",
        "src/config/demo.json",
        "--visitor-id",
        &id,
        "/c/hiking",
        "/p/hiking-a",
        "/p/hiking-b",
        "/",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("using the public development key"), "{out}");
    assert!(
        out.lines()
            .filter(|l| l.starts_with("hero → hero-trail"))
            .count()
            >= 2,
        "{out}"
    );
    assert!(out.contains("Cookie: vt="), "{out}");
    // Visitor 09…09 is in the control arm (bucket 14).
    let (_, out) = vitrine(&[
        "decide",
        "--config",
        "src/config/demo.json",
        "--visitor-id",
        &"09".repeat(16),
        "/?utm_campaign=trail-x",
    ]);
    assert!(out.contains("hero → origin: control arm of hero-holdout (bucket 14 < 1000); origin content instead of hero-trail"), "{out}");
    let (code, out) = vitrine(&[
        "decide",
        "--config",
        "src/config/demo.json",
        "--visitor-id",
        "xyz",
        "/",
    ]);
    assert_eq!(code, 2);
    assert!(
        out.contains("--visitor-id needs 32 hex digits, got 'xyz'"),
        "{out}"
    );
}

#[test]
fn compile_writes_what_the_browser_loads() {
    let out = std::env::temp_dir().join(format!("vitrine-compiled-{}.bin", std::process::id()));
    let (code, text) = vitrine(&[
        "compile",
        "src/config/demo.json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{text}");
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert!(
        text.contains(&format!("{} bytes, 1 site(s)", bytes.len())),
        "{text}"
    );
    let cfg = vitrine::Config::from_compiled(&bytes).unwrap();
    assert_eq!(cfg.sites[0].name, "trailhead-demo");
    let (code, text) = vitrine(&["compile", "tests/data/lint/no-such.json", "-o", "/dev/null"]);
    assert_eq!(code, 2, "{text}");
}

#[test]
fn compile_browser_writes_the_hashed_config_and_the_loader_naming_the_folders_files() {
    let dir = std::env::temp_dir().join(format!("vitrine-ship-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.to_str().unwrap();
    let compile = || {
        vitrine(&[
            "compile",
            "docs/examples/real-markup.json",
            "--browser",
            path,
        ])
    };
    // An empty folder: the module is not built there.
    let (code, text) = compile();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("has no vitrine.<hash>.mjs: build the browser module there first"),
        "{text}"
    );
    std::fs::write(dir.join("vitrine.0123abcd.mjs"), "export {}").unwrap();
    std::fs::write(dir.join("vitrine_core.4567ef.wasm"), [0u8, 97, 115, 109]).unwrap();
    let (code, text) = compile();
    assert_eq!(code, 0, "{text}");
    let loader = std::fs::read_to_string(dir.join("vitrine.js")).unwrap();
    let site: serde_json::Value =
        serde_json::from_str(loader.split("/*vitrine:site*/").nth(1).unwrap()).unwrap();
    assert_eq!(site["module"], "vitrine.0123abcd.mjs");
    assert_eq!(site["wasm"], "vitrine_core.4567ef.wasm");
    // Every slot's selector (the configuration's, on the page's own markup) is hidden until
    // decided; the loader ships without its comment lines.
    assert_eq!(
        site["hide"],
        serde_json::json!([
            "ul.product-grid",
            "section.hero-banner",
            "#newsletter-signup",
            "#promo-strip"
        ])
    );
    assert!(
        !loader.lines().any(|l| l.trim_start().starts_with("//")),
        "{loader}"
    );
    let config = site["config"].as_str().unwrap();
    assert!(
        config.starts_with("config.") && config.ends_with(".bin") && config.len() == 21,
        "{config}"
    );
    let bytes = std::fs::read(dir.join(config)).unwrap();
    assert_eq!(
        vitrine::Config::from_compiled(&bytes).unwrap().sites[0].name,
        "my-shop"
    );
    // head.html: preload hints for the three files (as the loader fetches them), then the tag.
    let head = std::fs::read_to_string(dir.join("head.html")).unwrap();
    assert_eq!(
        head,
        format!(
            "<link rel=\"modulepreload\" href=\"/vitrine/vitrine.0123abcd.mjs\">\n\
             <link rel=\"preload\" href=\"/vitrine/vitrine_core.4567ef.wasm\" as=\"fetch\" type=\"application/wasm\" crossorigin>\n\
             <link rel=\"preload\" href=\"/vitrine/{config}\" as=\"fetch\" crossorigin>\n\
             <script src=\"/vitrine/vitrine.js\"></script>\n"
        )
    );
    let (code, text) = vitrine(&[
        "compile",
        "docs/examples/real-markup.json",
        "--browser",
        path,
        "--base",
        "https://cdn.example/shop/v",
    ]);
    assert_eq!(code, 0, "{text}");
    let head = std::fs::read_to_string(dir.join("head.html")).unwrap();
    assert!(
        head.contains("href=\"https://cdn.example/shop/v/vitrine.0123abcd.mjs\"")
            && head.contains("src=\"https://cdn.example/shop/v/vitrine.js\""),
        "{head}"
    );
    // A second build in the same folder: which one the loader should name is not guessed.
    std::fs::write(dir.join("vitrine.89ab.mjs"), "export {}").unwrap();
    let (code, text) = compile();
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("holds 2 builds (vitrine.0123abcd.mjs, vitrine.89ab.mjs)"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn schema_events_prints_the_record_schema() {
    let (code, out) = vitrine(&["schema", "--events"]);
    assert_eq!(code, 0, "{out}");
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    let text = schema.to_string();
    for field in [
        "\"exposure\"",
        "\"conversion\"",
        "\"page\"",
        "\"visitor\"",
        "\"held_back\"",
        "\"order\"",
    ] {
        assert!(
            text.contains(field),
            "{field} missing from the events schema"
        );
    }
}

#[test]
fn every_command_has_its_own_description() {
    // `vitrine --help` lists each command with a description, and the command's own `--help`
    // opens with that same line (a doc comment attached to the wrong variant shows as a swap).
    let (code, out) = vitrine(&["--help"]);
    assert_eq!(code, 0, "{out}");
    let commands: Vec<(String, String)> = out
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (name, about) = l.trim().split_once(' ')?;
            Some((name.to_string(), about.trim().to_string()))
        })
        .filter(|(name, _)| name != "help")
        .collect();
    assert!(commands.len() >= 10, "{out}");
    let mut abouts = std::collections::HashSet::new();
    for (name, about) in &commands {
        assert!(about.len() > 20, "{name} has no description: {out}");
        assert!(abouts.insert(about.clone()), "{name} repeats a description");
        let (code, help) = vitrine(&[name, "--help"]);
        assert_eq!(code, 0, "{help}");
        let first = help.lines().next().unwrap_or("");
        assert_eq!(first.trim_end_matches('.'), about, "{name} --help");
    }
}

#[test]
fn check_page_counts_what_each_slot_finds_on_a_real_page() {
    let page = "../shared/corpora/pages/focalprice-home.html";
    let grid = |rank: serde_json::Value| {
        serde_json::json!({"selector": "ul.categoryBox_products", "action": "reorder",
                           "items": "li.listProduct", "rank": rank})
    };
    let check = |slots: serde_json::Value| {
        let config = std::env::temp_dir().join(format!(
            "vitrine-check-page-{}-{}.json",
            std::process::id(),
            slots.as_object().unwrap().len()
        ));
        let doc = serde_json::json!({"version": 1, "site": "focal", "hosts": ["*"],
            "dimensions": {"a": {"half_life_hours": 24}}, "slots": slots});
        std::fs::write(&config, doc.to_string()).unwrap();
        let (code, out) = vitrine(&["check", config.to_str().unwrap(), "--page", page]);
        std::fs::remove_file(&config).ok();
        assert_eq!(code, 0, "{out}");
        out
    };
    let out = check(serde_json::json!({
        "hero": {"selector": "div.ad_index", "action": "replace_inner", "variants": [{"id": "h", "html": "<b>h</b>"}]},
        "nowhere": {"selector": "#no-such-thing", "action": "replace_inner", "variants": [{"id": "n", "html": "<b>n</b>"}]},
        "marked": grid(serde_json::json!({}))
    }));
    for line in [
        &format!("page {page} (site focal):"),
        "  hero: 1 element",
        "  nowhere: not on this page (no element matches `#no-such-thing`)",
        "  marked: 18 elements, 174 items, 0 with a key (category: data-vt-category; sku: data-vt-sku): not reordered",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    let out = check(serde_json::json!({"linked": grid(serde_json::json!(
        {"sku": {"selector": "p.listProduct_name a", "attr": "href", "pattern": "/{sku}/{slug}.html"}}))}));
    let line = "  linked: 18 elements, 174 items, 171 with a key (category: data-vt-category; sku: href of p.listProduct_name a)";
    assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
}

#[test]
fn check_warns_when_a_need_dimension_can_be_top_dimension() {
    let config = |premium_top: bool| {
        serde_json::json!({"version": 1, "site": "t",
            "dimensions": {"hiking": {"half_life_hours": 72},
                           "premium": {"half_life_hours": 168, "top": premium_top}},
            "page_types": [{"path": "/c/{category}", "type": "category"}],
            "signals": [{"on": "category_view", "add_attr": "category", "amount": 10},
                        {"on": "page_view", "where": "query.sort == 'price-desc'", "add": {"premium": 10}}],
            "segments": {"hiker": "score.hiking >= 30 && top_dimension == 'hiking'"},
            "slots": {"hero": {"selector": "h1", "action": "replace_inner",
                               "variants": [{"id": "h", "when": "hiker", "html": "x"}]}}})
    };
    let run = |doc: serde_json::Value| {
        let path = std::env::temp_dir().join(format!(
            "vitrine-top-{}-{}.json",
            std::process::id(),
            doc["dimensions"]["premium"]["top"]
        ));
        std::fs::write(&path, doc.to_string()).unwrap();
        let (_, out) = vitrine(&["check", path.to_str().unwrap()]);
        std::fs::remove_file(&path).ok();
        out
    };
    let out = run(config(true));
    assert!(
        out.contains("warning: dimensions.premium: can be top_dimension, which conditions compare with other dimensions only: a visitor with a high premium score has top_dimension 'premium', turning those comparisons false; set \"top\": false if premium is not an interest"),
        "{out}"
    );
    assert!(!out.contains("dimensions.hiking"), "{out}");
    let out = run(config(false));
    assert!(out.contains("0 error(s), 0 warning(s)"), "{out}");
}
