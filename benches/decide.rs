//! The whole decide path on the demo config: verify the cookie, decay, fold events, evaluate
//! segments, decide every slot, seal the new cookie. SPEC §13 bar: ≤ 5 µs median native.
//!
//! `cargo bench --bench decide` (criterion prints the median as the middle of `time: [..]`).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::events;
use vitrine::state::Keyring;
use vitrine::{personalize, Keys, Mode, RequestInput};

const T0: u64 = 1_763_805_600_000;
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

fn bench(c: &mut Criterion) {
    let site = Config::from_json(DEMO_CONFIG).unwrap().sites.remove(0);
    let keys = Keys {
        state: Keyring::parse("2:YmVuY2gtc3RhdGUta2V5LWJlbmNoLXN0YXRlLWtleQ").unwrap(),
        traits: Some(Keyring::parse("3:YmVuY2gtdHJhaXRzLWtleS1iZW5jaC10cmFpdHM").unwrap()),
    };
    // A returning visitor with a few scores, recent items and counters.
    let mut token = String::new();
    for (i, url) in [
        "/c/hiking",
        "/p/hiking-ridgeline-mid",
        "/?sort=price-desc",
        "/p/camping-dome-2p",
        "/c/hiking",
    ]
    .iter()
    .enumerate()
    {
        let cookie = format!("vt={token}");
        let input = RequestInput::new(url, T0 + i as u64 * 60_000, [7; 16])
            .cookie(Some(&cookie))
            .user_agent(Some(UA));
        token = personalize(&site, Mode::Edge(&keys), &input)
            .state_token
            .unwrap();
    }
    let cookie = format!("_ga=GA1.2.3; vt={token}; vt_e=pc:hiking-summit-pack:hiking:189|ac:hiking-summit-pack:hiking:189|se:trail%20boots");
    let url = "https://shop.example/p/hiking-trail-runner-gtx?utm_source=mail";
    let input = RequestInput::new(url, T0 + 3_600_000, [9; 16])
        .cookie(Some(&cookie))
        .user_agent(Some(UA))
        .referrer(Some("https://www.google.com/"))
        .country(Some("DE".into()));
    let check = personalize(&site, Mode::Edge(&keys), &input);
    assert!(!check.fresh, "the bench cookie must verify");
    assert!(check
        .decisions
        .slots
        .iter()
        .any(|d| !matches!(d.choice, vitrine::decide::Choice::Origin)));

    c.bench_function("decide_path_demo", |b| {
        b.iter(|| personalize(black_box(&site), Mode::Edge(&keys), black_box(&input)))
    });
    let fresh = input.clone().cookie(None);
    c.bench_function("decide_path_new_visitor", |b| {
        b.iter(|| personalize(black_box(&site), Mode::Edge(&keys), black_box(&fresh)))
    });
    // The events of one personalized request, built as the edge builds them on the request
    // path: its exposures (one per decided slot), the add-to-cart folded from `vt_e`, and the
    // page record (the demo samples every visitor). The bar (<= 2 us) is for this.
    let outcome = personalize(&site, Mode::Edge(&keys), &input);
    let build = || {
        let o = black_box(&outcome);
        let stamp = events::Stamp::of(&site, o, T0, [3; 8], events::Source::Edge).unwrap();
        events::RequestEvents::of(&site, o, stamp)
    };
    let built = build();
    assert_eq!(
        built.exposures.len(),
        site.slots.len(),
        "one exposure a slot"
    );
    assert_eq!(built.conversions.len(), 1, "the folded add-to-cart");
    assert!(built.page.is_some(), "a page record");
    c.bench_function("events_of_one_request", |b| b.iter(build));
    // Writing them as NDJSON, which the edge does after the response (`ctx.wait_until`; there
    // the runtime's JSON.stringify writes them, here serde_json).
    c.bench_function("events_ndjson_after_response", |b| {
        b.iter(|| {
            let mut ndjson = String::with_capacity(4096);
            black_box(&built).write_ndjson(&mut ndjson);
            ndjson
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
