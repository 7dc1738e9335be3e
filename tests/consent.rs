//! Consent before state (`privacy.consent`, docs/privacy.md): until a signal of the shop's
//! consent platform grants it, a request is decided from its context only, no state is read or
//! written and nothing is recorded; a withdrawal deletes the state. The IAB TCF v2 strings are
//! published examples (made with the IAB's encoder at iabtcf.com).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{keys, Req, T0};
use serde_json::{json, Value};
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::events::{Source, Stamp};
use vitrine::pipeline::ContextOnly;
use vitrine::{Mode, Outcome, Site};

/// Purposes 1, 3, 6, 7, 8 and 10 have consent.
const TC_1_3_6_7_8_10: &str = "COvzTO5OvzTO5B7ABCENAPCYAKdAADkAAIqIFhwBAAGAAXAFGAsMAhYAgAMAAegBYAEKAAA.IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw.QE5QAwCvgHyATkA";
/// No purpose has consent.
const TC_NONE: &str = "COvzTO5OvzTO5BZAFMENAPCgAAAAAAAAAAwIFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUwLQIoghAAQhhARggACAIAAAAcQAAEAQAAAAgAQBAIAAEIAAAABAAgCAAAAAAAMCABAAAAAAAAKAAIEAABAAAgAiAIgAAAAASAAQABAAAAwgIAAAhMBACFuyAxmpgAA";

fn demo_with(consent: Value) -> Site {
    let mut doc: Value = serde_json::from_str(DEMO_CONFIG).unwrap();
    doc["privacy"]["consent"] = consent;
    Config::from_json(&doc.to_string()).unwrap().sites.remove(0)
}

fn run<'s>(site: &'s Site, url: &str, cookie: &str, minute: u64) -> Outcome<'s> {
    Req::new(url)
        .cookie(cookie)
        .at(T0 + minute * 60_000)
        .run(site, Mode::Edge(&keys()))
}

fn recorded(site: &Site, o: &Outcome<'_>) -> bool {
    Stamp::of(site, o, T0, [1; 8], Source::Edge).is_some()
}

#[test]
fn a_cmp_cookie_toggled_across_a_journey() {
    let site = demo_with(json!({"cookie": {"name": "cmp", "equals": "yes"}}));
    // Before consent: context only (the campaign still shows its hero), no state, no record.
    let first = run(&site, "/?utm_campaign=trail-spring", "", 0);
    assert_eq!(first.context_only, Some(ContextOnly::NoConsent));
    assert!(first.state_token.is_none() && first.state.is_none() && !first.forget);
    assert!(!recorded(&site, &first));
    let report = first.report(&site);
    assert_eq!(report.context_only, Some("no consent: context only"));
    assert!(report.summary().starts_with("no consent: context only\n"));
    assert_eq!(
        common::shown(&site, &first, "hero").as_deref(),
        Some("hero-trail")
    );
    // Events sent before consent are not folded into anything.
    let clicks = run(
        &site,
        "/c/hiking",
        "vt_e=pc:hiking-summit-pack:hiking:189",
        1,
    );
    assert!(
        clicks.state.is_none() && clicks.forget,
        "the click stream is deleted"
    );

    // Consent: the state starts, and is recorded.
    let granted = run(&site, "/c/hiking", "cmp=yes", 2);
    assert_eq!(granted.context_only, None);
    let token = granted.state_token.clone().expect("a state cookie");
    assert!(recorded(&site, &granted));
    let next = run(&site, "/c/hiking", &format!("cmp=yes; vt={token}"), 3);
    assert!(!next.fresh && next.state.as_ref().unwrap().visits >= 1);

    // Withdrawn: the state is not read, it is deleted, and nothing is recorded.
    let withdrawn = run(&site, "/c/hiking", &format!("cmp=no; vt={token}"), 4);
    assert_eq!(withdrawn.context_only, Some(ContextOnly::NoConsent));
    assert!(withdrawn.forget && withdrawn.state_token.is_none());
    assert!(!recorded(&site, &withdrawn));
}

#[test]
fn a_tc_string_with_and_without_the_needed_purposes() {
    let personalization = demo_with(json!({"tcf": {}})); // purposes 1, 5, 6
    let storage = demo_with(json!({"tcf": {"purposes": [1, 6]}}));
    let cookie = format!("euconsent-v2={TC_1_3_6_7_8_10}");
    assert_eq!(
        run(&personalization, "/", &cookie, 0).context_only,
        Some(ContextOnly::NoConsent),
        "purpose 5 has no consent"
    );
    assert!(run(&storage, "/", &cookie, 0).state_token.is_some());
    let none = format!("euconsent-v2={TC_NONE}");
    assert!(run(&storage, "/", &none, 0).state_token.is_none());
    assert!(run(&storage, "/", "euconsent-v2=not-a-tc-string", 0)
        .state_token
        .is_none());
    // The cookie is named in the setting.
    let named = demo_with(json!({"tcf": {"cookie": "tcf_consent", "purposes": [1]}}));
    assert!(
        run(&named, "/", &format!("tcf_consent={TC_1_3_6_7_8_10}"), 0)
            .state_token
            .is_some()
    );
    assert!(run(&named, "/", &cookie, 0).state_token.is_none());
}

#[test]
fn without_the_setting_nothing_changes() {
    let site = demo_with(json!("none"));
    let o = run(&site, "/c/hiking", "", 0);
    assert!(o.context_only.is_none() && o.state_token.is_some() && recorded(&site, &o));
}

#[test]
fn gpc_is_still_its_own_reason() {
    let site = demo_with(json!({"cookie": {"name": "cmp", "equals": "yes"}}));
    let mut req = Req::new("/c/hiking").cookie("cmp=yes");
    req.gpc = true;
    let o = req.run(&site, Mode::Edge(&keys()));
    assert_eq!(o.context_only, Some(ContextOnly::Gpc));
    assert!(!o.forget, "GPC keeps an existing state cookie as it is");
}
