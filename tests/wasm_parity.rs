//! Parity: the golden decision vectors of `tests/data/decisions/`, re-run by the core compiled
//! to wasm in headless Chromium, must give exactly the native results (reports and cookies, bit
//! for bit). `make test-wasm` (wasm-pack test --headless --chrome) runs it twice: the core as the
//! worker builds it, and the browser bundle, which signs nothing and so runs the vectors of
//! browser-only mode (`"mode": "browser"`).
#![cfg(target_arch = "wasm32")]

mod common;

use serde_json::Value;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Every vector file, embedded (the browser has no file system).
const VECTORS: &[(&str, &str)] = &[
    (
        "bargain_allow_policy",
        include_str!("data/decisions/bargain_allow_policy.json"),
    ),
    (
        "campaign_landing",
        include_str!("data/decisions/campaign_landing.json"),
    ),
    (
        "events_cookie",
        include_str!("data/decisions/events_cookie.json"),
    ),
    (
        "events_cookie_browser",
        include_str!("data/decisions/events_cookie_browser.json"),
    ),
    (
        "forged_events",
        include_str!("data/decisions/forged_events.json"),
    ),
    (
        "frequency_cap",
        include_str!("data/decisions/frequency_cap.json"),
    ),
    ("gpc", include_str!("data/decisions/gpc.json")),
    (
        "hiker_journey",
        include_str!("data/decisions/hiker_journey.json"),
    ),
    (
        "hiker_journey_browser",
        include_str!("data/decisions/hiker_journey_browser.json"),
    ),
    (
        "holdout_control",
        include_str!("data/decisions/holdout_control.json"),
    ),
    (
        "loyal_traits",
        include_str!("data/decisions/loyal_traits.json"),
    ),
    (
        "loyal_traits_browser",
        include_str!("data/decisions/loyal_traits_browser.json"),
    ),
    (
        "regulated_market",
        include_str!("data/decisions/regulated_market.json"),
    ),
    (
        "search_terms",
        include_str!("data/decisions/search_terms.json"),
    ),
    (
        "tampered_cookie",
        include_str!("data/decisions/tampered_cookie.json"),
    ),
];

#[wasm_bindgen_test]
fn golden_vectors_match_native_in_the_browser() {
    let site = common::demo();
    let keys = common::keys();
    assert!(VECTORS.len() >= 15);
    // The browser bundle signs nothing: it runs the vectors of browser-only mode, its own path.
    let runs = |doc: &Value| vitrine::pipeline::SIGNS_STATE || doc["mode"] == "browser";
    let mut ran = 0;
    for (name, text) in VECTORS {
        let doc: Value = serde_json::from_str(text).unwrap();
        if !runs(&doc) {
            continue;
        }
        ran += 1;
        let actual = Value::Array(common::run_vector(&doc, &site, &keys));
        assert!(
            doc["expected"] == actual,
            "{name}: wasm result differs from native:\n{}",
            serde_json::to_string_pretty(&actual).unwrap()
        );
    }
    assert!(ran >= 3, "{ran} vectors ran");
}

#[wasm_bindgen_test]
fn decay_and_bucketing_match_native_in_the_browser() {
    // Same golden values as the native suites: libm decay and SHA-256 bucketing.
    assert_eq!(
        vitrine::state::decay(10_000, 36 * 3600, 72.0 * 3600.0),
        7_071
    );
    assert_eq!(vitrine::state::decay(4_200, 3600, 72.0 * 3600.0), 4_160);
    let id: [u8; 16] = core::array::from_fn(|i| i as u8);
    assert_eq!(vitrine::decide::bucket(&id, "hero-holdout"), 4919);
    assert_eq!(vitrine::decide::bucket(&[0xff; 16], "slot:offer"), 8337);
}
