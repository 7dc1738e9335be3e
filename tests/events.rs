//! Event records built from real decisions on the demo configuration: one exposure per decided
//! slot (the control arm's included), the schema's field names, and nothing under GPC.
#![cfg(not(target_arch = "wasm32"))] // native suite

mod common;

use serde_json::{json, Value};
use vitrine::events::{self, Event, Source, Stamp};
use vitrine::Mode;

use common::*;

fn exposures_of(req: &Req) -> Vec<Value> {
    let site = demo();
    let o = req.run(&site, Mode::Edge(&keys()));
    let stamp = Stamp::of(&site, &o, T0, [0xab; 8], Source::Edge).expect("a visitor to record");
    let records: Vec<Event> = events::exposures(&site, &o, &stamp)
        .into_iter()
        .map(Event::Exposure)
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
    let line = events::to_ndjson([&Event::Conversion(c)]);
    let v: Value = serde_json::from_str(line.trim_end()).unwrap();
    assert_eq!(
        v,
        json!({"type": "conversion", "v": 1, "ts": T0, "site": "trailhead-demo", "visitor": "07".repeat(16),
               "kind": "purchase", "value": 129.9, "currency": "EUR", "order": "A-1042",
               "source": "origin", "trust": "signed"})
    );
}

#[test]
fn exposures_written_from_borrowed_data_are_the_records() {
    let site = demo();
    for req in [
        Req::new("/?utm_campaign=trail-fall").id([9; 16]),
        Req::new("/c/hiking?q=boots"),
    ] {
        let o = req.run(&site, Mode::Edge(&keys()));
        let stamp = Stamp::of(&site, &o, T0, [5; 8], Source::Edge).unwrap();
        let owned: Vec<Event> = events::exposures(&site, &o, &stamp)
            .into_iter()
            .map(Event::Exposure)
            .collect();
        let mut written = String::new();
        events::write_exposures(&site, &o, &stamp, &mut written);
        assert_eq!(written, events::to_ndjson(&owned));
    }
}
