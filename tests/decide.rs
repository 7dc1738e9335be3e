//! Decisions on the demo config: golden vectors (`tests/data/decisions/*.json`, journeys of
//! requests → reports and cookies) and behaviour that each can fail on its own.
//!
//! `VITRINE_BLESS=1 cargo test --test decide` rewrites the expected halves of the vectors; the
//! wasm and browser suites re-run the same files and must match them bit for bit.
#![cfg(not(target_arch = "wasm32"))] // native suite: files, processes, proptest

mod common;

use serde_json::Value;
use vitrine::config::EventKind;
use vitrine::signals::{encode_events, seal_traits, Event, Traits};
use vitrine::{personalize, Mode, RequestInput};

use common::*;

// ---------------------------------------------------------------------------------------------
// Golden vectors

#[test]
fn golden_decision_vectors() {
    let site = demo();
    let keys = keys();
    let bless = std::env::var_os("VITRINE_BLESS").is_some();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/decisions");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected the golden vectors in {dir}");
    let mut failures = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        let actual = Value::Array(run_vector(&doc, &site, &keys));
        if bless {
            doc["expected"] = actual;
            std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
        } else if doc["expected"] != actual {
            failures.push(format!(
                "{}:\nexpected {}\nactual   {}",
                path.display(),
                serde_json::to_string_pretty(&doc["expected"]).unwrap(),
                serde_json::to_string_pretty(&actual).unwrap()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} vector(s) differ (VITRINE_BLESS=1 rewrites them):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn golden_vectors_through_a_compiled_config() {
    // What the browser module loads (`vitrine compile`) decides exactly as the JSON it came from.
    let json = vitrine::config::Config::from_json(vitrine::config::DEMO_CONFIG).unwrap();
    let compiled = vitrine::config::Config::from_compiled(&json.to_compiled()).unwrap();
    let site = &compiled.sites[0];
    let keys = keys();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/decisions");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            Value::Array(run_vector(&doc, site, &keys)),
            doc["expected"],
            "{}",
            path.display()
        );
    }
}

#[test]
fn compiled_configs_are_checked() {
    use vitrine::config::Config;
    let bytes = Config::from_json(vitrine::config::DEMO_CONFIG)
        .unwrap()
        .to_compiled();
    let err = |b: &[u8]| Config::from_compiled(b).unwrap_err().to_string();
    assert_eq!(
        err(b"{\"version\": 1}"),
        "not a compiled Vitrine configuration"
    );
    assert_eq!(err(&bytes[..5]), "compiled configuration is truncated");
    let mut other = bytes.clone();
    other[5] = b'9';
    assert!(
        err(&other).starts_with("compiled by vitrine 9"),
        "{}",
        err(&other)
    );
    assert!(err(&bytes[..bytes.len() - 10]).starts_with("compiled configuration is damaged"));
    // Files of an older format (VTC4 had no `privacy.consent`) are refused with a hint.
    for magic in [b"VTC1", b"VTC2", b"VTC3", b"VTC4"] {
        let mut old = bytes.clone();
        old[..4].copy_from_slice(magic);
        assert_eq!(
            err(&old),
            "compiled in an older format: compile it again (vitrine compile)"
        );
    }
    assert!(
        Config::from_compiled(&bytes).unwrap().sites[0]
            .events
            .purchases_from_origin,
        "the demo states purchases from its origin"
    );

    // Indices are checked after decoding: the segment order must be a permutation.
    let order_err = |order: Vec<usize>| {
        let mut cfg = Config::from_json(vitrine::config::DEMO_CONFIG).unwrap();
        cfg.sites[0].segment_order = order;
        Config::from_compiled(&cfg.to_compiled())
            .err()
            .map(|e| e.to_string())
    };
    let n = Config::from_json(vitrine::config::DEMO_CONFIG)
        .unwrap()
        .sites[0]
        .segments
        .len();
    assert_eq!(order_err((0..n).rev().collect()), None);
    for bad in [
        vec![0; n],
        (1..=n).collect(),
        (0..n - 1).collect(),
        (0..=n).collect(),
    ] {
        let e = order_err(bad.clone()).unwrap_or_default();
        assert!(
            e.contains("invalid segment order reference"),
            "{bad:?}: {e}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Behaviour

#[test]
fn the_page_after_a_click_reflects_it() {
    let site = demo();
    let k = keys();
    let steps = journey(
        &site,
        &k,
        &[
            "/",
            "/c/hiking",
            "/p/hiking-ridgeline-mid",
            "/p/hiking-summit-pack",
            "/",
        ],
        "",
    );
    assert_eq!(
        shown(&site, &steps[0], "hero"),
        None,
        "a new visitor sees the generic hero"
    );
    assert_eq!(
        shown(&site, &steps[3], "hero").as_deref(),
        Some("hero-trail"),
        "the product page that made a hiker already shows it"
    );
    assert_eq!(
        shown(&site, &steps[4], "hero").as_deref(),
        Some("hero-trail")
    );
    assert_eq!(shown(&site, &steps[4], "grid").as_deref(), Some("reorder"));
    let report = steps[4].report(&site);
    assert_eq!(
        reason(&site, &steps[4], "hero"),
        "hero-trail: segment hiker (score.hiking=33.99 ≥ 30, top_dimension='hiking')"
    );
    let recent = &report.state.as_ref().unwrap().recent;
    assert_eq!(
        recent,
        &vec![
            "viewed:hiking-summit-pack".to_string(),
            "viewed:hiking-ridgeline-mid".to_string()
        ]
    );
}

#[test]
fn forged_events_buy_no_more_than_clicking() {
    let site = demo();
    let k = keys();
    let hiking = site.dimension_index("hiking").unwrap();
    let one = Event {
        sku: Some("x".into()),
        category: Some("hiking".into()),
        price: Some(10.0),
        ..Event::new(EventKind::AddToCart)
    };
    // 10,000 events: far beyond the cookie bound, ignored whole.
    let many = encode_events(&vec![one.clone(); 10_000]);
    let o = Req::new("/")
        .cookie(&format!("vt_e={many}"))
        .run(&site, Mode::Edge(&k));
    assert_eq!(o.state.as_ref().unwrap().scores[hiking], 0);
    assert!(o.issues.contains(&"events_oversized"));
    assert!(o.had_events, "the events cookie is cleared in the response");
    // Within the bound, the gain per dimension per request is capped at limits.max_event_gain.
    let some = encode_events(&vec![one; 100]);
    assert!(some.len() < 4096);
    let o = Req::new("/")
        .cookie(&format!("vt_e={some}"))
        .run(&site, Mode::Edge(&k));
    assert_eq!(o.state.as_ref().unwrap().points(hiking), 60.0);
}

#[test]
fn gpc_reads_and_writes_no_state() {
    let site = demo();
    let k = keys();
    let steps = journey(
        &site,
        &k,
        &["/c/hiking", "/c/hiking", "/c/hiking", "/p/hiking-a"],
        "",
    );
    let token = steps.last().unwrap().state_token.clone().unwrap();
    assert_eq!(
        shown(&site, steps.last().unwrap(), "hero").as_deref(),
        Some("hero-trail")
    );
    let mut req = Req::new("/").cookie(&format!("vt={token}; vt_e=cv:hiking"));
    req.gpc = true;
    let o = req.run(&site, Mode::Edge(&k));
    assert!(o.state_token.is_none(), "no Set-Cookie under GPC");
    assert!(o.state.is_none());
    assert_eq!(shown(&site, &o, "hero"), None, "no behavioral variant");
    assert_eq!(shown(&site, &o, "grid"), None);
}

#[test]
fn holdout_control_sees_origin_and_is_exposed() {
    let site = demo();
    let k = keys();
    let control = Req::new("/?utm_campaign=trail-x")
        .id([9; 16])
        .run(&site, Mode::Edge(&k));
    assert_eq!(shown(&site, &control, "hero"), None);
    let ex = control.decisions.exposures(&site);
    let hero = ex.iter().find(|e| e.slot == "hero").unwrap();
    assert_eq!(
        (hero.variant.as_str(), hero.arm),
        ("hero-trail", Some(vitrine::decide::Arm::Control))
    );
    assert_eq!(hero.experiment.as_deref(), Some("hero-holdout"));
    let treated = Req::new("/?utm_campaign=trail-x")
        .id([7; 16])
        .run(&site, Mode::Edge(&k));
    assert_eq!(
        shown(&site, &treated, "hero").as_deref(),
        Some("hero-trail")
    );
}

/// A loyal, high-value visitor's traits.
fn gold_traits(issued_at: u32) -> Traits {
    Traits {
        purchases_90d: 5,
        aov: 300.0,
        tier: "gold".into(),
        issued_at,
    }
}

#[test]
fn signed_state_requirement() {
    let site = demo();
    let k = keys();
    let traits = seal_traits(&gold_traits((T0 / 1000) as u32), k.traits.as_ref().unwrap());
    let cookie = format!("vt_t={traits}");
    let edge = Req::new("/").cookie(&cookie).run(&site, Mode::Edge(&k));
    assert_eq!(shown(&site, &edge, "offer").as_deref(), Some("loyal-10"));
    // Browser-only mode: the page's traits make the visitor loyal, but the variant needs signed state.
    let mut req = Req::new("/");
    req.page_traits = Some(gold_traits(0));
    let browser = req.run(&site, Mode::Browser);
    assert!(browser
        .report(&site)
        .segments
        .contains(&"loyal_high_value".to_string()));
    assert_eq!(shown(&site, &browser, "offer"), None);
    assert_eq!(
        reason(&site, &browser, "offer"),
        "no eligible variant (loyal-10 requires signed state)"
    );
    // And a signed-looking traits cookie is not read in browser mode at all.
    let browser = Req::new("/").cookie(&cookie).run(&site, Mode::Browser);
    assert_eq!(shown(&site, &browser, "offer"), None);
    // Forged traits (signed with another key) are ignored.
    let forged = seal_traits(&gold_traits((T0 / 1000) as u32), &k.state);
    let o = Req::new("/")
        .cookie(&format!("vt_t={forged}"))
        .run(&site, Mode::Edge(&k));
    assert_eq!(shown(&site, &o, "offer"), None);
    assert!(o.issues.contains(&"traits_unknown_key"));
}

#[test]
fn frequency_cap_holds_per_session() {
    let site = demo();
    let k = keys();
    // Three premium views (30 points): the score stays over the segment's 20 while it decays.
    let urls = [
        "/?sort=price-desc",
        "/?sort=price-desc",
        "/?sort=price-desc",
        "/",
        "/",
        "/",
    ];
    let steps = journey(&site, &k, &urls, "");
    let offers: Vec<Option<String>> = steps.iter().map(|o| shown(&site, o, "offer")).collect();
    let shown_count = offers.iter().filter(|o| o.is_some()).count();
    assert_eq!(shown_count, 3, "{offers:?}");
    assert_eq!(
        reason(&site, steps.last().unwrap(), "offer"),
        "frequency cap: shown 3 of 3 times this session"
    );
}

#[test]
fn policy_overrides_everything() {
    let site = demo();
    let k = keys();
    let steps = journey(&site, &k, &["/?sort=price-desc", "/?sort=price-desc"], "");
    assert_eq!(
        shown(&site, &steps[1], "offer").as_deref(),
        Some("premium-freeship")
    );
    let token = steps[1].state_token.clone().unwrap();
    let mut req = Req::new("/")
        .cookie(&format!("vt={token}"))
        .at(T0 + 120_000);
    req.country = Some("XX".into());
    let o = req.run(&site, Mode::Edge(&k));
    assert_eq!(shown(&site, &o, "offer"), None);
    assert_eq!(
        reason(&site, &o, "offer"),
        "no eligible variant (premium-freeship blocked by policy: regulated market: no promotions)"
    );
}

#[test]
fn suppressed_items_sink_and_ties_stay_stable() {
    let site = demo();
    let k = keys();
    let events = encode_events(&[Event {
        sku: Some("camping-dome-2p".into()),
        category: Some("camping".into()),
        price: Some(199.0),
        ..Event::new(EventKind::Purchase)
    }]);
    let o = Req::new("/")
        .cookie(&format!("vt_e={events}"))
        .run(&site, Mode::Edge(&k));
    let grid = o
        .decisions
        .slots
        .iter()
        .find(|d| site.slots[d.slot].name == "grid")
        .unwrap();
    let vitrine::decide::Choice::Reorder(plan) = &grid.choice else {
        panic!("grid is not reordered: {:?}", grid.reason)
    };
    assert_eq!(plan.suppressed, vec!["camping-dome-2p".to_string()]);
    use vitrine::decide::ItemKeys;
    let items = [
        ItemKeys {
            sku: Some("camping-dome-2p"),
            category: Some("camping"),
        },
        ItemKeys {
            sku: Some("running-a"),
            category: Some("running"),
        },
        ItemKeys {
            sku: Some("camping-b"),
            category: Some("camping"),
        },
        ItemKeys {
            sku: Some("running-c"),
            category: Some("running"),
        },
    ];
    assert_eq!(plan.order(&items), vec![2, 1, 3, 0]);
}

#[test]
fn bots_are_classified() {
    let site = demo();
    let mut req = Req::new("/");
    req.ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)".into();
    let o = req.run(&site, Mode::Edge(&keys()));
    assert_eq!(o.ctx.device, vitrine::signals::Device::Bot);
}

#[test]
fn decisions_are_deterministic() {
    let site = demo();
    let k = keys();
    let a = journey(
        &site,
        &k,
        &["/c/running", "/p/running-x", "/search?q=marathon"],
        "vt_e=pc:running-y:running:120",
    );
    let b = journey(
        &site,
        &k,
        &["/c/running", "/p/running-x", "/search?q=marathon"],
        "vt_e=pc:running-y:running:120",
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.state_token, y.state_token);
        assert_eq!(x.report(&site), y.report(&site));
    }
}

#[test]
fn vt_force_shows_the_named_variant_only_where_allowed_and_records_nothing_for_it() {
    let site = demo();
    let url = "/c/running?vt-force=hero:hero-trail,grid:origin,cta:nope";
    let run = |allow: bool| {
        let input = RequestInput::new(url, T0, [7; 16])
            .user_agent(Some(CHROME))
            .allow_force(allow);
        personalize(&site, Mode::Edge(&keys()), &input)
    };
    // Not allowed (no debug token): a parameter like any other.
    let plain = run(false);
    assert_eq!(shown(&site, &plain, "hero"), None);
    let forced = run(true);
    assert_eq!(shown(&site, &forced, "hero").as_deref(), Some("hero-trail"));
    assert!(
        reason(&site, &forced, "hero")
            .starts_with("forced by ?vt-force=hero:hero-trail (QA; not recorded); decided: "),
        "{}",
        reason(&site, &forced, "hero")
    );
    assert_eq!(
        shown(&site, &forced, "grid"),
        None,
        "origin forced on the grid"
    );
    assert!(
        reason(&site, &forced, "cta").contains("which this slot does not have (it has: origin"),
        "{}",
        reason(&site, &forced, "cta")
    );
    // The forced variant's content is rendered as the rules would have rendered it.
    let hero = forced
        .decisions
        .slots
        .iter()
        .find(|d| site.slots[d.slot].name == "hero")
        .unwrap();
    assert!(hero
        .content
        .as_deref()
        .unwrap_or("")
        .contains("Trail-ready boots"));
    // Forced slots are no exposure, in the records and in the report alike.
    let stamp =
        vitrine::events::Stamp::of(&site, &forced, T0, [1; 8], vitrine::events::Source::Edge)
            .unwrap();
    let recorded: Vec<String> = vitrine::events::Exposures::of(&site, &forced)
        .records(&stamp)
        .into_iter()
        .map(|e| e.slot)
        .collect();
    for slot in ["hero", "grid", "cta"] {
        assert!(
            !recorded.contains(&slot.to_string()),
            "{slot}: {recorded:?}"
        );
    }
    assert!(forced
        .report(&site)
        .exposures
        .iter()
        .all(|e| !["hero", "grid", "cta"].contains(&e.slot.as_str())));
    // The other slots are decided as without the parameter.
    for slot in ["offer", "newsletter", "theme"] {
        assert_eq!(
            shown(&site, &forced, slot),
            shown(&site, &plain, slot),
            "{slot}"
        );
    }
}
