//! Rewrite throughput on the real storefront pages of `../shared/corpora/pages`, with a hero
//! replaced, an offer inserted and every grid container reordered (items are tagged with
//! rotating categories beforehand, untimed, so the reorder really permutes them).
//! SPEC §13 bar: ≥ 200 MB/s native. `cargo bench --bench rewrite`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use vitrine::config::Config;
use vitrine::rewrite::{RewritePlan, Rewriter};
use vitrine::{personalize, Keys, Mode, RequestInput};

const PAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora/pages");

fn tag_items(html: &str, grid: &str, item: &str) -> String {
    let n = std::cell::Cell::new(0usize);
    let sel = format!("{grid} {item}");
    lol_html::rewrite_str(
        html,
        lol_html::RewriteStrSettings::new()
            .with_strict(false)
            .append_element_content_handler(lol_html::element!(sel, |el| {
                el.set_attribute(
                    "data-vt-category",
                    ["hiking", "running", "camping", "climbing"][n.get() % 4],
                )?;
                n.set(n.get() + 1);
                Ok(())
            })),
    )
    .unwrap()
}

fn bench(c: &mut Criterion) {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{PAGES}/manifest.json")).unwrap())
            .unwrap();
    let keys = Keys::development();
    let mut group = c.benchmark_group("rewrite");
    for page in manifest["pages"].as_array().unwrap() {
        let file = page["file"].as_str().unwrap();
        let raw = std::fs::read(format!("{PAGES}/{file}")).unwrap();
        let (grid, item) = (
            page["grid"].as_str().unwrap(),
            page["item"].as_str().unwrap(),
        );
        let html = tag_items(&String::from_utf8_lossy(&raw), grid, item);
        let mut slots = json!({"grid": {"selector": grid, "action": "reorder", "items": item, "max_buffer_bytes": 4_000_000}});
        if let Some(h) = page["hero"].as_str() {
            slots["hero"] = json!({"selector": h, "action": "replace_inner", "variants": [{"id": "h", "html": "<h2>Trail-ready boots</h2>"}]});
        }
        if let Some(o) = page["offer"].as_str() {
            slots["offer"] = json!({"selector": o, "action": "prepend", "variants": [{"id": "o", "html": "<p>10% off today</p>"}]});
        }
        let doc = json!({"version": 1, "site": "bench",
            "dimensions": {"hiking": {"half_life_hours": 72}, "camping": {"half_life_hours": 72}},
            "signals": [{"on": "page_view", "add": {"hiking": 40, "camping": 10}}], "slots": slots});
        let site = Config::from_json(&doc.to_string()).unwrap().sites.remove(0);
        let input = RequestInput::new("/", 1_763_805_600_000, [0; 16])
            .user_agent(Some("Mozilla/5.0 Chrome"));
        let outcome = personalize(&site, Mode::Edge(&keys), &input);
        let plan = RewritePlan::new(&site, &outcome.decisions, 7);
        // Check once that the page is really rewritten.
        let mut out = 0usize;
        let stats = {
            let mut rw = Rewriter::new(&plan, |c: &[u8]| out += c.len());
            rw.write(html.as_bytes());
            rw.end()
        };
        assert!(
            stats.reordered >= 1 && stats.fallbacks == 0 && stats.bailed_out.is_none(),
            "{file}: {stats:?}"
        );
        group.throughput(Throughput::Bytes(html.len() as u64));
        group.bench_function(file, |b| {
            b.iter(|| {
                let mut n = 0usize;
                let mut rw = Rewriter::new(&plan, |c: &[u8]| n += c.len());
                for chunk in html.as_bytes().chunks(16 * 1024) {
                    rw.write(black_box(chunk));
                }
                rw.end();
                n
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
