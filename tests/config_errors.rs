//! Broken configurations: each must be rejected with its precise message and JSON path.
#![cfg(not(target_arch = "wasm32"))] // native suite: files, processes, proptest

use serde_json::{json, Value};
use vitrine::config::Config;

fn base() -> Value {
    json!({
        "version": 1,
        "site": "t",
        "dimensions": {"hiking": {"half_life_hours": 72}, "running": {"half_life_hours": 72}},
        "page_types": [{"path": "/c/{category}", "type": "category"}],
        "signals": [{"on": "category_view", "add_attr": "category", "amount": 10}],
        "segments": {"hiker": "score.hiking >= 30"},
        "slots": {
            "hero": {"selector": "[data-vt-slot=hero]", "action": "replace_inner",
                     "variants": [{"id": "a", "when": "hiker", "html": "<b>a</b>"}]},
            "grid": {"selector": "[data-vt-slot=grid]", "action": "reorder", "items": "[data-vt-item]"}
        }
    })
}

/// Sets the value at a JSON pointer (creating object keys as needed) and returns the document.
fn with(mut doc: Value, pointer: &str, v: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = doc
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no parent at {parent}"));
    match target {
        Value::Object(m) => {
            m.insert(key.to_string(), v);
        }
        Value::Array(a) => {
            let i: usize = key.parse().unwrap();
            if i < a.len() {
                a[i] = v;
            } else {
                a.push(v);
            }
        }
        _ => panic!("parent of {pointer} is not a container"),
    }
    doc
}

fn errors(doc: &Value) -> Vec<String> {
    match Config::from_json(&doc.to_string()) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(|e| e.to_string()).collect(),
    }
}

/// The one check of this suite: the document fails with exactly this error among its errors.
fn check(doc: Value, expected: &str) {
    let errs = errors(&doc);
    assert!(
        errs.iter().any(|e| e == expected),
        "expected error\n  {expected}\ngot\n  {}",
        errs.join("\n  ")
    );
}

#[test]
fn base_is_valid() {
    assert_eq!(errors(&base()), Vec::<String>::new());
}

#[test]
fn unknown_segment_in_variant() {
    let doc = with(base(), "/slots/hero/variants/0/when", json!("hikr"));
    check(
        doc,
        "slots.hero.variants[0].when: unknown segment 'hikr' (did you mean 'hiker'?) (column 1)",
    );
}

#[test]
fn unknown_segment_later_in_expression() {
    let doc = with(
        base(),
        "/slots/hero/variants/0/when",
        json!("hiker && !returnin"),
    );
    check(
        doc,
        "slots.hero.variants[0].when: unknown segment 'returnin' (column 11)",
    );
}

#[test]
fn type_error_in_segment() {
    check(
        with(base(), "/segments/hiker", json!("score.hiking >= 'high'")),
        "segments.hiker: cannot compare number with string (column 14)",
    );
}

#[test]
fn unknown_dimension_in_score() {
    check(
        with(base(), "/segments/hiker", json!("score.hikng >= 30")),
        "segments.hiker: unknown dimension 'hikng' (did you mean 'hiking'?) (column 1)",
    );
}

#[test]
fn unknown_dimension_literal() {
    check(
        with(base(), "/segments/hiker", json!("top_dimension == 'hikng'")),
        "segments.hiker: unknown dimension 'hikng' (did you mean 'hiking'?) (column 18)",
    );
}

#[test]
fn syntax_error_column() {
    check(
        with(base(), "/segments/hiker", json!("score.hiking >= 30 &&")),
        "segments.hiker: expected a name or a value, found the end (column 22)",
    );
}

#[test]
fn bad_selector() {
    check(
        with(base(), "/slots/hero/selector", json!("[data-vt-slot=")),
        "slots.hero.selector: invalid selector '[data-vt-slot=': unexpected end of selector",
    );
}

#[test]
fn unsupported_version() {
    check(
        with(base(), "/version", json!(2)),
        "version: unsupported version 2 (this build reads version 1)",
    );
}

#[test]
fn negative_half_life() {
    check(
        with(base(), "/dimensions/hiking/half_life_hours", json!(-1)),
        "dimensions.hiking.half_life_hours: must be a positive number of hours, got -1",
    );
}

#[test]
fn wrong_json_type() {
    let errs = errors(&with(base(), "/dimensions/hiking/cap", json!("high")));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("dimensions.hiking.cap: invalid type: string \"high\", expected f64"),
        "{errs:?}"
    );
}

#[test]
fn unknown_field() {
    let errs = errors(&with(base(), "/slots/hero/variants/0/whn", json!("hiker")));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(
            "slots.hero.variants[0].whn: unknown field `whn`, expected one of `id`, `when`"
        ),
        "{errs:?}"
    );
}

#[test]
fn signal_unknown_dimension() {
    let doc = with(
        base(),
        "/signals/0",
        json!({"on": "category_view", "add": {"hikking": 5}}),
    );
    check(
        doc,
        "signals[0].add.hikking: unknown dimension 'hikking' (did you mean 'hiking'?)",
    );
}

#[test]
fn signal_field_not_on_event() {
    let doc = with(
        base(),
        "/signals/0",
        json!({"on": "category_view", "where": "price > 100", "add": {"hiking": 5}}),
    );
    check(
        doc,
        "signals[0].where: 'price' is not a field of category_view events (column 1)",
    );
}

#[test]
fn signal_reads_segment() {
    let doc = with(
        base(),
        "/signals/0",
        json!({"on": "page_view", "where": "hiker", "add": {"hiking": 5}}),
    );
    check(doc, "signals[0].where: unknown name 'hiker' (page_view signals read event fields, page, query and scores; segments are evaluated after scoring) (column 1)");
}

#[test]
fn reorder_without_items() {
    let mut doc = base();
    doc["slots"]["grid"]
        .as_object_mut()
        .unwrap()
        .remove("items");
    check(doc, "slots.grid.items: reorder needs an item selector");
}

#[test]
fn duplicate_variant_id() {
    let doc = with(
        base(),
        "/slots/hero/variants/1",
        json!({"id": "a", "html": "<i>b</i>"}),
    );
    check(doc, "slots.hero.variants[1].id: duplicate variant id 'a'");
}

#[test]
fn replace_without_html() {
    let doc = with(
        base(),
        "/slots/hero/variants/0",
        json!({"id": "a", "when": "hiker"}),
    );
    check(doc, "slots.hero.variants[0].html: replace_inner needs html");
}

#[test]
fn experiment_unknown_slot() {
    let doc = with(
        base(),
        "/experiments",
        json!({"x": {"slots": ["heroo"], "control_percent": 10}}),
    );
    check(doc, "experiments.x.slots[0]: unknown slot 'heroo'");
}

#[test]
fn experiment_percent_out_of_range() {
    let doc = with(
        base(),
        "/experiments",
        json!({"x": {"slots": ["hero"], "control_percent": 150}}),
    );
    check(
        doc,
        "experiments.x.control_percent: must be within 0–100, got 150",
    );
}

#[test]
fn slot_in_two_experiments() {
    let doc = with(
        base(),
        "/experiments",
        json!({"x": {"slots": ["hero"], "control_percent": 10}, "y": {"slots": ["hero"], "control_percent": 10}}),
    );
    check(
        doc,
        "experiments.y.slots[0]: slot 'hero' is already in experiment 'x'",
    );
}

#[test]
fn policy_bad_target() {
    let doc = with(
        base(),
        "/policies",
        json!([{"deny": "hero", "reason": "r"}]),
    );
    check(
        doc,
        "policies[0].deny: target 'hero' must be 'slot:variant' (globs allowed)",
    );
}

#[test]
fn policy_matches_no_slot() {
    let doc = with(
        base(),
        "/policies",
        json!([{"deny": "offer:*", "reason": "r"}]),
    );
    check(doc, "policies[0].deny: 'offer:*' matches no slot");
}

#[test]
fn segment_cycle() {
    let doc = with(
        with(base(), "/segments/a", json!("b || hiker")),
        "/segments/b",
        json!("a"),
    );
    check(doc, "segments.a: segments form a cycle: a -> b -> a");
}

#[test]
fn weighted_without_weight() {
    let doc = with(base(), "/slots/hero/pick", json!("weighted"));
    check(
        doc,
        "slots.hero.variants[0].weight: weighted pick needs a weight on every variant",
    );
}

#[test]
fn best_score_without_dimension() {
    let doc = with(base(), "/slots/hero/pick", json!("best_score"));
    check(
        doc,
        "slots.hero.variants[0].dimension: best_score pick needs a dimension on every variant",
    );
}

#[test]
fn bad_path_pattern() {
    let doc = with(base(), "/page_types/0/path", json!("/c/{category"));
    check(
        doc,
        "page_types[0].path: unclosed '{' in path pattern '/c/{category'",
    );
}

#[test]
fn unknown_page_parameter() {
    check(
        with(base(), "/segments/hiker", json!("page.categry == 'x'")),
        "segments.hiker: unknown page parameter 'categry' (page_types capture: category) (column 1)",
    );
}

#[test]
fn set_attribute_without_attribute() {
    let doc = with(base(), "/slots/hero/action", json!("set_attribute"));
    check(
        doc,
        "slots.hero.attribute: set_attribute needs an attribute name",
    );
}

#[test]
fn duplicate_hosts_across_sites() {
    let mut a = base();
    a["hosts"] = json!(["shop.example"]);
    let mut b = base();
    b["site"] = json!("b");
    b["hosts"] = json!(["shop.example"]);
    check(
        json!({"sites": [a, b]}),
        "sites[1].hosts: host 'shop.example' is already served by site 't'",
    );
}

#[test]
fn multi_site_paths_are_prefixed() {
    let b = with(base(), "/segments/hiker", json!("score.hikng > 1"));
    check(
        json!({"sites": [base(), b]}),
        "sites[1].segments.hiker: unknown dimension 'hikng' (did you mean 'hiking'?) (column 1)",
    );
}

#[test]
fn invalid_json() {
    let errs = match Config::from_json("{\"version\": 1,") {
        Err(e) => e.0.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        Ok(_) => vec![],
    };
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("invalid JSON: EOF while parsing a value at line 1 column 14"),
        "{errs:?}"
    );
}

#[test]
fn every_mistake_is_reported_at_once() {
    let doc = with(
        with(
            with(base(), "/version", json!(3)),
            "/segments/hiker",
            json!("scor.hiking > 1"),
        ),
        "/slots/hero/selector",
        json!("##"),
    );
    let errs = errors(&doc);
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn host_selection() {
    let mut a = base();
    a["hosts"] = json!(["shop.example", "*.shop.example"]);
    let mut b = base();
    b["site"] = json!("fallback");
    b["hosts"] = json!(["*"]);
    let cfg = Config::from_json(&json!({"sites": [a, b]}).to_string()).unwrap();
    assert_eq!(cfg.site_for_host("shop.example:8787").unwrap().name, "t");
    assert_eq!(cfg.site_for_host("eu.shop.example").unwrap().name, "t");
    assert_eq!(cfg.site_for_host("SHOP.EXAMPLE.").unwrap().name, "t");
    assert_eq!(
        cfg.site_for_host("evilshop.example").unwrap().name,
        "fallback"
    );
    let only =
        Config::from_json(&with(base(), "/hosts", json!(["shop.example"])).to_string()).unwrap();
    assert!(only.site_for_host("other.example").is_none());
}

#[test]
fn limits_and_privacy_out_of_range() {
    for (pointer, value, expected) in [
        (
            "/limits",
            json!({"max_events": 0}),
            "limits.max_events: must be within 1–32, got 0",
        ),
        (
            "/limits",
            json!({"max_event_gain": 1000.5}),
            "limits.max_event_gain: must be within 0–1000, got 1000.5",
        ),
        (
            "/limits",
            json!({"recent_items": 17}),
            "limits.recent_items: must be within 0–16, got 17",
        ),
        (
            "/limits",
            json!({"session_idle_minutes": 1441}),
            "limits.session_idle_minutes: must be within 1–1440, got 1441",
        ),
        (
            "/limits",
            json!({"max_buffer_bytes": 100}),
            "limits.max_buffer_bytes: must be at least 1024, got 100",
        ),
        (
            "/privacy",
            json!({"state_max_age_days": 0}),
            "privacy.state_max_age_days: must be within 1–400, got 0",
        ),
        (
            "/events",
            json!({"page_sample": -0.5}),
            "events.page_sample: must be within 0–1, got -0.5",
        ),
    ] {
        check(with(base(), pointer, value), expected);
    }
}

#[test]
fn item_keys_are_checked_where_they_are_written() {
    let rank = |r: Value| with(base(), "/slots/grid/rank", r);
    check(
        rank(json!({"by_attr": "data-cat", "category": {"attr": "href"}})),
        "slots.grid.rank.by_attr: give by_attr or category, not both (by_attr is category's attr on the item itself)",
    );
    check(
        rank(json!({"category": {"attr": "href", "pattern": "/p/{slug}"}})),
        "slots.grid.rank.category.pattern: '/p/{slug}' has no {category} capture: the key is that capture",
    );
    check(
        rank(json!({"sku": {"attr": "href", "page_type": "product"}})),
        "slots.grid.rank.sku.page_type: no page type 'product' (page_types: category)",
    );
    check(
        rank(json!({"sku": {"attr": "href", "page_type": "category"}})),
        "slots.grid.rank.sku.page_type: no path pattern of page type 'category' has a {sku} capture",
    );
    check(
        rank(json!({"category": {"attr": "class", "prefix": "cat-", "pattern": "/c/{category}"}})),
        "slots.grid.rank.category: give one of prefix, pattern and page_type: they are three ways to cut the key out of the value",
    );
    check(
        rank(json!({"category": {"attr": "data x"}})),
        "slots.grid.rank.category.attr: 'data x' is not a valid attribute name",
    );
    check(
        rank(json!({"category": {"attr": "href", "selector": "a[", "page_type": "category"}})),
        "slots.grid.rank.category.selector: invalid selector 'a[': unexpected end of selector",
    );
    // A page type's own patterns read a key: valid.
    let ok = rank(json!({"category": {"selector": "a", "attr": "href", "page_type": "category"}}));
    assert_eq!(errors(&ok), Vec::<String>::new());
}

#[test]
fn consent_signals_are_checked() {
    let consent = |v: Value| with(base(), "/privacy", json!({ "consent": v }));
    for (doc, expected) in [
        (json!("maybe"), "invalid value: string \"maybe\", expected \"none\" or an object with cookie, tcf or consent_mode"),
        (json!({}), "privacy.consent: names no signal: give cookie, tcf or consent_mode (or \"none\")"),
        (json!({"cookie": {"name": "cmp"}}), "privacy.consent.cookie: give exactly one of equals or contains"),
        (json!({"cookie": {"name": "cmp", "equals": "1", "contains": "1"}}), "privacy.consent.cookie: give exactly one of equals or contains"),
        (json!({"cookie": {"name": "cmp", "contains": ""}}), "privacy.consent.cookie: the value to look for is empty"),
        (json!({"cookie": {"name": "my cookie", "equals": "1"}}), "privacy.consent.cookie.name: 'my cookie' is not a cookie name"),
        (json!({"tcf": {"purposes": []}}), "privacy.consent.tcf.purposes: names no purpose"),
        (json!({"tcf": {"purposes": [1, 25]}}), "privacy.consent.tcf.purposes[1]: TCF purposes are 1–24, got 25"),
        (json!({"consent_mode": ["ad_personalisation"]}), "privacy.consent.consent_mode[0]: unknown Consent Mode type 'ad_personalisation' (did you mean 'ad_personalization'?)"),
    ] {
        let errs = errors(&consent(doc.clone()));
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "{doc}: expected\n  {expected}\ngot\n  {}",
            errs.join("\n  ")
        );
    }
    // An unknown field keeps its precise message.
    let errs = errors(&consent(json!({"cookies": {}})));
    assert!(
        errs.iter().any(|e| e.contains("unknown field `cookies`")),
        "{errs:?}"
    );
    for ok in [
        json!("none"),
        json!({"cookie": {"name": "OptanonConsent", "contains": "C0004:1"}}),
        json!({"tcf": {}}),
        json!({"consent_mode": ["analytics_storage", "ad_personalization"], "cookie": {"name": "cmp", "equals": "yes"}}),
    ] {
        assert_eq!(errors(&consent(ok.clone())), Vec::<String>::new(), "{ok}");
    }
}
