//! Event records built from real decisions on the demo configuration: one exposure per decided
//! slot (the control arm's included), the schema's field names, and nothing under GPC.
#![cfg(not(target_arch = "wasm32"))] // native suite

mod common;

use serde_json::{json, Value};
use vitrine::events::{self, Record, Source, Stamp};
use vitrine::Mode;

use common::*;

fn exposures_of(req: &Req) -> Vec<Value> {
    let site = demo();
    let o = req.run(&site, Mode::Edge(&keys()));
    let stamp = Stamp::of(&site, &o, T0, [0xab; 8], Source::Edge).expect("a visitor to record");
    let records: Vec<Record> = events::Exposures::of(&site, &o)
        .records(&stamp)
        .into_iter()
        .map(Record::Exposure)
        .collect();
    let text = events::to_ndjson(&records);
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            events::read_record(l, i + 1).expect("what we write, we read");
            serde_json::from_str(l).unwrap()
        })
        .collect()
}

#[test]
fn one_exposure_per_decided_slot_with_the_control_arm_held_back() {
    // Visitor 09…09 is in the hero holdout's control arm; 07…07 in its treatment arm.
    let control = exposures_of(&Req::new("/?utm_campaign=trail-fall").id([9; 16]));
    let site = demo();
    assert_eq!(control.len(), site.slots.len(), "one per slot");
    let hero = control.iter().find(|e| e["slot"] == "hero").unwrap();
    assert_eq!(
        hero,
        &json!({
            "type": "exposure", "v": 1, "ts": T0, "site": "trailhead-demo",
            "visitor": "09".repeat(16), "session": (T0 / 1000).to_string(), "request": "ab".repeat(8),
            "slot": "hero", "variant": "control", "experiment": "hero-holdout", "arm": "control",
            "held_back": "hero-trail", "segments": ["trail_campaign"], "page_type": "home",
            "device": "desktop", "trust": "signed", "source": "edge"
        })
    );
    let treated = exposures_of(&Req::new("/?utm_campaign=trail-fall").id([7; 16]));
    let hero = treated.iter().find(|e| e["slot"] == "hero").unwrap();
    assert_eq!(
        (hero["variant"].as_str(), hero["arm"].as_str()),
        (Some("hero-trail"), Some("treatment"))
    );
    assert!(hero.get("held_back").is_none());
    // Slots where nothing matched say so; every record of a response shares its request id.
    let offer = treated.iter().find(|e| e["slot"] == "offer").unwrap();
    assert_eq!(offer["variant"], "origin");
    assert!(offer.get("experiment").is_none() && offer.get("arm").is_none());
    assert!(treated.iter().all(|e| e["request"] == "ab".repeat(8)));
}

#[test]
fn nothing_is_recorded_under_gpc_or_for_bots() {
    let site = demo();
    let mut req = Req::new("/c/hiking");
    req.gpc = true;
    let o = req.run(&site, Mode::Edge(&keys()));
    assert!(Stamp::of(&site, &o, T0, [1; 8], Source::Edge).is_none());
    let mut bot = Req::new("/c/hiking");
    bot.ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)".into();
    let o = bot.run(&site, Mode::Browser);
    assert!(Stamp::of(&site, &o, T0, [1; 8], Source::Browser).is_none());
}

#[test]
fn conversions_from_the_origin_header_validate_as_records() {
    let site = demo();
    let o = Req::new("/order/thanks").run(&site, Mode::Edge(&keys()));
    let stamp = Stamp::of(&site, &o, T0, [1; 8], Source::Origin).unwrap();
    let c = events::parse_conversion("purchase; value=129.90; currency=EUR; order=A-1042", &stamp)
        .unwrap();
    let line = events::to_ndjson([&Record::Conversion(c)]);
    let v: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(
        v,
        json!({"type": "conversion", "v": 1, "ts": T0, "site": "trailhead-demo", "visitor": "07".repeat(16),
               "kind": "purchase", "value": 129.9, "currency": "EUR", "order": "A-1042",
               "source": "origin", "trust": "signed"})
    );
}

#[test]
fn the_borrowed_records_of_a_request_serialize_as_the_owned_ones() {
    // The edge builds the compact records on the request path and serializes their borrowed
    // views after it (in the runtime); the browser, the collector and analyze use the owned
    // records: both must write the same lines.
    let site = demo_sampling(1.0);
    for req in [
        Req::new("/?utm_campaign=trail-fall").id([9; 16]),
        Req::new("/c/hiking?q=boots").cookie("vt_e=pu:tent-2:camping:310:ev-9|ac:boot-1:hiking:89"),
        Req {
            country: Some("DE".into()),
            ..Req::new("/p/boot-1")
        },
    ] {
        let o = req.run(&site, Mode::Edge(&keys()));
        let stamp = Stamp::of(&site, &o, T0, [5; 8], Source::Edge).unwrap();
        let records = events::RequestEvents::of(&site, &o, stamp);
        let owned = records.records();
        assert_eq!(
            owned.len(),
            site.slots.len() + records.conversions.len() + 1
        );
        let expected = events::to_ndjson(&owned);
        let mut written = String::new();
        records.write_ndjson(&mut written);
        assert_eq!(written, expected);
        let views: String = records
            .views()
            .map(|v| serde_json::to_string(&v).unwrap() + "\n")
            .collect();
        assert_eq!(views, expected);
    }
}

/// The demo configuration with `events.page_sample` set.
fn demo_sampling(rate: f64) -> vitrine::Site {
    let mut doc: Value = serde_json::from_str(vitrine::config::DEMO_CONFIG).unwrap();
    doc["events"] = json!({ "page_sample": rate });
    vitrine::config::Config::from_json(&doc.to_string())
        .expect("the demo config with sampling loads")
        .sites
        .remove(0)
}

#[test]
fn page_records_keep_only_the_query_parameters_the_config_reads() {
    let site = demo_sampling(1.0);
    assert_eq!(site.events.page_query, ["q", "sort", "utm_campaign"]);
    let o = Req::new("/search?q=trail+boots&email=a%40b.example&utm_campaign=trail-fall&sort=new")
        .cookie("vt_e=ac:boot-1:hiking:89:e1|pv:boot-1:hiking:89")
        .run(&site, Mode::Edge(&keys()));
    let stamp = Stamp::of(&site, &o, T0, [1; 8], Source::Edge).unwrap();
    let page = events::page_view(&site, &o, &stamp).expect("everyone is sampled at 1.0");
    let line = events::to_ndjson([&Record::Page(page)]);
    let record: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        record["query"],
        json!([
            ["q", "trail boots"],
            ["utm_campaign", "trail-fall"],
            ["sort", "new"]
        ])
    );
    assert!(
        !line.contains("email") && !line.contains("example"),
        "{line}"
    );
    assert_eq!(record["path"], "/search");
    // The folded click stream, oldest first, with the add-to-cart's event id.
    assert_eq!(
        record["events"],
        json!([
            {"kind": "product_view", "sku": "boot-1", "category": "hiking", "price": 89.0},
            {"kind": "add_to_cart", "sku": "boot-1", "category": "hiking", "price": 89.0, "id": "e1"}
        ])
    );
    events::read_record(line.trim_end(), 1).expect("a page record validates");
    // Off unless configured (the demo turns it on).
    assert!(events::page_view(&demo_sampling(0.0), &o, &stamp).is_none());
}

#[test]
fn page_sampling_takes_whole_visitors_at_the_configured_rate() {
    let site = demo_sampling(0.25);
    let ids: Vec<[u8; 16]> = (0u32..20_000)
        .map(|i| {
            let mut id = [0u8; 16];
            id[12..].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
            id
        })
        .collect();
    let sampled = ids
        .iter()
        .filter(|id| events::page_sampled(&site, id))
        .count();
    // 25% of 20,000 ± 4.5 binomial standard deviations (61).
    assert!((4_725..=5_275).contains(&sampled), "{sampled}");
    // By visitor: the same visitor is sampled on every request.
    let id = ids
        .iter()
        .find(|id| events::page_sampled(&site, id))
        .unwrap();
    for path in ["/", "/c/hiking", "/search?q=tent"] {
        let o = Req::new(path).id(*id).run(&site, Mode::Edge(&keys()));
        let stamp = Stamp::of(&site, &o, T0, [1; 8], Source::Edge).unwrap();
        assert!(events::page_view(&site, &o, &stamp).is_some(), "{path}");
    }
    let mut doc: Value = serde_json::from_str(vitrine::config::DEMO_CONFIG).unwrap();
    doc["events"] = json!({ "page_sample": 1.5 });
    let err = vitrine::config::Config::from_json(&doc.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("events.page_sample: must be within 0–1, got 1.5"),
        "{err}"
    );
}

#[test]
fn purchases_and_add_to_carts_folded_from_the_click_stream_are_conversions() {
    let site = demo();
    let o = Req::new("/")
        .cookie("vt_e=pu:tent-2:camping:310:ev-9|ac:boot-1:hiking:89|pv:boot-1:hiking:89")
        .run(&site, Mode::Edge(&keys()));
    let stamp = Stamp::of(&site, &o, T0, [1; 8], Source::Edge).unwrap();
    let records: Vec<Record> = events::folded_conversions(&o, &stamp)
        .into_iter()
        .map(Record::Conversion)
        .collect();
    let lines: Vec<Value> = events::to_ndjson(&records)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            json!({"type": "conversion", "v": 1, "ts": T0, "site": "trailhead-demo",
                   "visitor": "07".repeat(16), "kind": "add_to_cart", "value": 89.0,
                   "sku": "boot-1", "category": "hiking", "source": "edge", "trust": "signed"}),
            json!({"type": "conversion", "v": 1, "ts": T0, "site": "trailhead-demo",
                   "visitor": "07".repeat(16), "kind": "purchase", "value": 310.0,
                   "event": "ev-9", "sku": "tent-2", "category": "camping", "source": "edge",
                   "trust": "signed"}),
        ]
    );
}

#[test]
fn the_explain_report_and_the_exposure_records_give_one_answer() {
    // Over every golden vector: the report's decisions and exposure rows, and the exposure
    // records of the same requests, all read `Shown`. A record's `variant` is the report's
    // decision variant, `origin` or `control`; the report's exposure rows are the records that
    // are not `origin`, naming what a control arm held back.
    let site = demo();
    let keys = keys();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/decisions");
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for o in vector_outcomes(&doc, &site, &keys) {
            let report = o.report(&site);
            let Some(stamp) = Stamp::of(&site, &o, T0, [1; 8], Source::Edge) else {
                continue; // GPC and bots: no records
            };
            let records = events::Exposures::of(&site, &o).records(&stamp);
            assert_eq!(records.len(), report.decisions.len(), "{}", path.display());
            let mut rows = Vec::new();
            for (r, d) in records.iter().zip(&report.decisions) {
                assert_eq!(r.slot, d.slot);
                assert_eq!(r.arm, d.arm, "{}: {}", path.display(), r.slot);
                match (r.variant.as_str(), &d.variant) {
                    ("origin" | "control", None) => {}
                    (label, Some(v)) => assert_eq!(label, v, "{}", path.display()),
                    (label, None) => panic!("{}: {label} recorded for origin", path.display()),
                }
                assert_eq!(r.held_back.is_some(), r.variant == "control");
                seen.insert(r.variant.clone());
                if r.variant != "origin" {
                    let variant = r.held_back.as_ref().unwrap_or(&r.variant);
                    rows.push((r.slot.clone(), variant.clone(), r.experiment.clone(), r.arm));
                }
            }
            let report_rows: Vec<_> = report
                .exposures
                .iter()
                .map(|e| {
                    (
                        e.slot.clone(),
                        e.variant.clone(),
                        e.experiment.clone(),
                        e.arm,
                    )
                })
                .collect();
            assert_eq!(report_rows, rows, "{}", path.display());
        }
    }
    for label in ["origin", "control", "reorder"] {
        assert!(seen.contains(label), "the vectors cover {label}");
    }
}

#[test]
fn the_workers_browser_record_fields_are_the_schemas() {
    // The worker's field-by-field reader of browser records (src/edge/collect.rs) mirrors the
    // schema; the fields it accepts must be exactly the schema's, record kind by kind.
    let schema = serde_json::to_value(events::json_schema()).unwrap();
    let kinds = schema["oneOf"]
        .as_array()
        .expect("one schema per record kind");
    let fields_of = |kind: &str| -> std::collections::BTreeSet<String> {
        let s = kinds
            .iter()
            .find(|k| k["properties"]["type"]["const"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in the schema"));
        s["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    let accepted = |own: &[&str]| -> std::collections::BTreeSet<String> {
        let common = events::BROWSER_COMMON_FIELDS.iter();
        // `country` and `issues` are common to the reader; each belongs to one record kind.
        common.chain(own).map(|f| f.to_string()).collect()
    };
    let exposure = fields_of("exposure");
    let conversion = fields_of("conversion");
    let all: std::collections::BTreeSet<String> = exposure.union(&conversion).cloned().collect();
    assert!(exposure.is_subset(&accepted(&events::BROWSER_EXPOSURE_FIELDS)));
    assert!(conversion.is_subset(&accepted(&events::BROWSER_CONVERSION_FIELDS)));
    let read: std::collections::BTreeSet<String> = accepted(&events::BROWSER_EXPOSURE_FIELDS)
        .union(&accepted(&events::BROWSER_CONVERSION_FIELDS))
        .cloned()
        .collect();
    assert_eq!(
        read, all,
        "the reader accepts a field no record has, or misses one"
    );
}
