//! The streaming rewriter: golden triplets under random chunking, the html5lib tokenizer corpus,
//! and real storefront pages.
//!
//! `VITRINE_BLESS=1 cargo test --test rewrite golden` rewrites `expected.html` files — then read
//! the diff: each case's `info.json` says what it must show.
#![cfg(not(target_arch = "wasm32"))] // native suite: files, processes, proptest

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::rewrite::{rewrite_str, RewritePlan, RewriteStats, Rewriter, APPLIED_ATTR};
use vitrine::{Mode, Site};

use common::*;

const NONCE: u64 = 0x5eed_0000_0000_0001;
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora");

/// A small deterministic generator (SplitMix64) for chunk sizes; seeds are printed on failure.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Rewrites `input` fed in random chunks (1–`max` bytes) chosen by `seed`.
fn rewrite_chunked(
    plan: &RewritePlan<'_>,
    input: &[u8],
    seed: u64,
    max: u64,
) -> (Vec<u8>, RewriteStats) {
    let mut out = Vec::new();
    let stats = {
        let mut rw = Rewriter::new(plan, |c: &[u8]| out.extend_from_slice(c));
        let mut rng = Rng(seed);
        let mut rest = input;
        while !rest.is_empty() {
            let n = (1 + rng.next() % max).min(rest.len() as u64) as usize;
            rw.write(&rest[..n]);
            rest = &rest[n..];
        }
        rw.end()
    };
    (out, stats)
}

fn rewrite_all(plan: &RewritePlan<'_>, input: &[u8]) -> (Vec<u8>, RewriteStats) {
    let mut out = Vec::new();
    let stats = {
        let mut rw = Rewriter::new(plan, |c: &[u8]| out.extend_from_slice(c));
        rw.write(input);
        rw.end()
    };
    (out, stats)
}

fn load_site(dir: &Path, info: &Value) -> Site {
    let text = match info["config"].as_str() {
        Some(file) => std::fs::read_to_string(dir.join("..").join(file)).unwrap(),
        None => DEMO_CONFIG.to_string(),
    };
    Config::from_json(&text).unwrap().sites.remove(0)
}

// ---------------------------------------------------------------------------------------------
// Golden triplets

#[test]
fn golden_triplets_under_random_chunking() {
    let bless = std::env::var_os("VITRINE_BLESS").is_some();
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rewrite"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6);
    let keys = keys();
    for dir in cases {
        let info: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("info.json")).unwrap()).unwrap();
        let src = std::fs::read(dir.join("src.html")).unwrap();
        let site = load_site(&dir, &info);
        let mut urls: Vec<&str> = info["journey"]
            .as_array()
            .map(|a| a.iter().map(|u| u.as_str().unwrap()).collect())
            .unwrap_or_default();
        urls.push(info["url"].as_str().unwrap());
        let steps = journey(&site, &keys, &urls, "");
        let outcome = steps.last().unwrap();
        let plan = RewritePlan::new(&site, &outcome.decisions, NONCE);
        let (whole, stats) = rewrite_all(&plan, &src);
        assert_eq!(stats.bailed_out, None, "{}", dir.display());
        let expected_path = dir.join("expected.html");
        if bless {
            std::fs::write(&expected_path, &whole).unwrap();
            let mut info = info.clone();
            info["decisions"] = json!(outcome.report(&site).summary().lines().collect::<Vec<_>>());
            info["stats"] = json!({"reordered": stats.reordered, "fallbacks": stats.fallbacks});
            std::fs::write(
                dir.join("info.json"),
                serde_json::to_string_pretty(&info).unwrap() + "\n",
            )
            .unwrap();
            continue;
        }
        let expected = std::fs::read(&expected_path).unwrap_or_else(|_| {
            panic!("no {} (VITRINE_BLESS=1 writes it)", expected_path.display())
        });
        assert!(
            whole == expected,
            "{}: whole-document rewrite differs from expected.html:\n{}",
            dir.display(),
            String::from_utf8_lossy(&whole)
        );
        assert_eq!(
            json!({"reordered": stats.reordered, "fallbacks": stats.fallbacks}),
            info["stats"],
            "{}: reorder statistics",
            dir.display()
        );
        for i in 0..40u64 {
            let seed = 0xc0ffee ^ (i * 7919) ^ (dir.to_string_lossy().len() as u64);
            let max = if i % 4 == 0 { 3 } else { 97 };
            let (chunked, _) = rewrite_chunked(&plan, &src, seed, max);
            assert!(
                chunked == expected,
                "{}: differs under random chunking (seed {seed:#x}, chunks of 1–{max} bytes):\n{}",
                dir.display(),
                String::from_utf8_lossy(&chunked)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// html5lib tokenizer inputs

fn html5lib_inputs() -> Vec<(String, String)> {
    let dir = PathBuf::from(SHARED).join("html5lib-tests/tokenizer");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the shared corpora must sit beside the repo)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let Some(tests) = doc["tests"].as_array() else {
            continue;
        };
        for (i, t) in tests.iter().enumerate() {
            let mut input = t["input"].as_str().unwrap_or("").to_string();
            if t["doubleEscaped"].as_bool().unwrap_or(false) {
                input = unescape(&input);
            }
            out.push((
                format!("{}#{i}", f.file_name().unwrap().to_string_lossy()),
                input,
            ));
        }
    }
    out
}

/// Decodes the `\uXXXX` escapes of `doubleEscaped` tests (lone surrogates become U+FFFD).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'u') {
            chars.next();
            let hex: String = chars.by_ref().take(4).collect();
            out.push(
                u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}'),
            );
        } else {
            out.push(c);
        }
    }
    out
}

fn site_with_slots(slots: Value) -> Site {
    let doc = json!({
        "version": 1, "site": "corpus",
        "dimensions": {"a": {"half_life_hours": 1}},
        "signals": [{"on": "page_view", "add": {"a": 5}}],
        "slots": slots
    });
    Config::from_json(&doc.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .sites
        .remove(0)
}

#[test]
fn html5lib_inputs_pass_through_byte_identical_when_nothing_matches() {
    let site = site_with_slots(json!({
        "hero": {"selector": "[data-vt-slot=hero]", "action": "replace_inner", "variants": [{"id": "h", "html": "<b>x</b>"}]},
        "grid": {"selector": "#vt-no-such-grid", "action": "reorder", "items": ".item"}
    }));
    let o = Req::new("/").run(&site, Mode::Edge(&keys()));
    let plan = RewritePlan::new(&site, &o.decisions, NONCE);
    let inputs = html5lib_inputs();
    assert!(inputs.len() > 1000, "only {} inputs", inputs.len());
    for (i, (name, input)) in inputs.iter().enumerate() {
        let (out, stats) = rewrite_all(&plan, input.as_bytes());
        assert!(
            out == input.as_bytes(),
            "{name}: output differs from input\ninput:  {input:?}\noutput: {:?}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(stats.bailed_out, None, "{name}");
        let (out, _) = rewrite_chunked(&plan, input.as_bytes(), i as u64, 5);
        assert!(
            out == input.as_bytes(),
            "{name}: differs under chunking (seed {i})"
        );
    }
}

#[test]
fn html5lib_inputs_never_crash_with_matching_selectors() {
    let site = site_with_slots(json!({
        "all": {"selector": "*", "action": "set_attribute", "attribute": "data-t", "variants": [{"id": "t", "value": "1"}]},
        "divs": {"selector": "div", "action": "replace_inner", "variants": [{"id": "d", "html": "<i>d</i>"}]},
        "ps": {"selector": "p", "action": "insert_after", "variants": [{"id": "p", "html": "<hr>"}]},
        "spans": {"selector": "span", "action": "remove", "variants": [{"id": "s"}]},
        "grid": {"selector": "body", "action": "reorder", "items": "*"}
    }));
    let o = Req::new("/").run(&site, Mode::Edge(&keys()));
    let plan = RewritePlan::new(&site, &o.decisions, NONCE);
    let mut bailed = 0;
    for (i, (_name, input)) in html5lib_inputs().iter().enumerate() {
        let (out, stats) = rewrite_chunked(&plan, input.as_bytes(), i as u64, 7);
        bailed += usize::from(stats.bailed_out.is_some());
        // Valid UTF-8 in, valid UTF-8 out: no chunk boundary ever splits a character.
        assert!(
            std::str::from_utf8(&out).is_ok(),
            "input {i}: output is not UTF-8"
        );
    }
    assert_eq!(bailed, 0, "lol_html bailed out on some inputs");
}

// ---------------------------------------------------------------------------------------------
// Real storefront pages

fn manifest() -> Vec<Value> {
    let path = PathBuf::from(SHARED).join("pages/manifest.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["pages"].as_array().unwrap().clone()
}

/// Annotates every grid item with `data-test-key="<n>"` (document order), using lol_html as an
/// independent reader; returns the annotated page and the number of items.
fn str_settings<'h, 's>(
    handlers: Vec<(
        std::borrow::Cow<'s, lol_html::Selector>,
        lol_html::ElementContentHandlers<'h>,
    )>,
) -> lol_html::RewriteStrSettings<'h, 's> {
    handlers.into_iter().fold(
        lol_html::RewriteStrSettings::new().with_strict(false),
        |s, h| s.append_element_content_handler(h),
    )
}

fn annotate(html: &str, grid: &str, item: &str) -> (String, usize) {
    let count = RefCell::new(0usize);
    let sel = format!("{grid} {item}");
    let out = lol_html::rewrite_str(
        html,
        str_settings(vec![lol_html::element!(sel, |el| {
            let mut n = count.borrow_mut();
            el.set_attribute("data-test-key", &n.to_string())?;
            *n += 1;
            Ok(())
        })]),
    )
    .unwrap();
    let n = *count.borrow();
    (out, n)
}

/// Replaces the content of the touched sections with `§` and drops markers, so that two
/// documents can be compared outside them; also returns the grid items' keys in order and each
/// item's text (read after hero and offer are blanked: on some pages the offer sits in items).
fn normalize(html: &str, page: &Value) -> (String, Vec<String>, BTreeMap<String, String>) {
    let blank = |sel: &str| {
        lol_html::element!(sel.to_string(), |el| {
            el.set_inner_content("§", lol_html::html_content::ContentType::Text);
            Ok(())
        })
    };
    // Pass 1: blank hero and offer, drop markers.
    let mut first = vec![lol_html::element!("*", |el| {
        el.remove_attribute(APPLIED_ATTR);
        Ok(())
    })];
    for key in ["hero", "offer"] {
        if let Some(sel) = page[key].as_str() {
            first.push(blank(sel));
        }
    }
    let out1 = lol_html::rewrite_str(html, str_settings(first)).unwrap();

    // Pass 2: read the items, their order and text.
    let keys = RefCell::new(Vec::new());
    let texts: RefCell<BTreeMap<String, String>> = RefCell::new(BTreeMap::new());
    let current: std::rc::Rc<RefCell<Vec<String>>> = std::rc::Rc::default();
    let grid = page["grid"].as_str().unwrap();
    let item_sel = format!("{grid} {}", page["item"].as_str().unwrap());
    let read = vec![
        lol_html::element!(item_sel, |el| {
            let k = el.get_attribute("data-test-key").unwrap_or_default();
            keys.borrow_mut().push(k.clone());
            current.borrow_mut().push(k);
            if let Some(h) = el.end_tag_handlers() {
                let stack = current.clone();
                let pop: lol_html::EndTagHandler<'static> = Box::new(move |_end| {
                    stack.borrow_mut().pop();
                    Ok(())
                });
                h.push(pop);
            }
            Ok(())
        }),
        lol_html::text!(item_sel.clone(), |t| {
            if let Some(k) = current.borrow().last() {
                texts
                    .borrow_mut()
                    .entry(k.clone())
                    .or_default()
                    .push_str(t.as_str());
            }
            Ok(())
        }),
    ];
    lol_html::rewrite_str(&out1, str_settings(read)).unwrap();

    // Pass 3: blank the grids.
    let out3 = lol_html::rewrite_str(&out1, str_settings(vec![blank(grid)])).unwrap();
    (out3, keys.into_inner(), texts.into_inner())
}

#[test]
fn real_pages_keep_every_item_and_every_byte_outside_the_slots() {
    let pages = manifest();
    assert_eq!(pages.len(), 7);
    for page in pages {
        let file = page["file"].as_str().unwrap();
        let raw = std::fs::read(PathBuf::from(SHARED).join("pages").join(file)).unwrap();
        let html = String::from_utf8_lossy(&raw).into_owned();
        let grid = page["grid"].as_str().unwrap();
        let item = page["item"].as_str().unwrap();
        let (annotated, n) = annotate(&html, grid, item);
        assert!(
            n >= page["items_expected"].as_u64().unwrap() as usize,
            "{file}: {n} items found"
        );
        // Rank by the annotation, reversed: every container's items must come out in reverse.
        let boost: serde_json::Map<String, Value> = (0..n)
            .map(|i| (i.to_string(), json!(i as f64 / 10.0)))
            .collect();
        let mut slots = json!({
            "grid": {"selector": grid, "action": "reorder", "items": item, "max_buffer_bytes": 4_000_000,
                     "rank": {"by_attr": "data-test-key", "affinity": "none", "boost": boost}}
        });
        if let Some(hero) = page["hero"].as_str() {
            slots["hero"] = json!({"selector": hero, "action": "replace_inner", "variants": [{"id": "h", "html": "<h2>Personal hero</h2>"}]});
        }
        if let Some(offer) = page["offer"].as_str() {
            slots["offer"] = json!({"selector": offer, "action": "prepend", "variants": [{"id": "o", "html": "<p>10% off</p>"}]});
        }
        let site = site_with_slots(slots);
        let o = Req::new("/").run(&site, Mode::Edge(&keys()));
        let plan = RewritePlan::new(&site, &o.decisions, NONCE);
        let (out, stats) = rewrite_chunked(&plan, annotated.as_bytes(), n as u64, 4096);
        assert_eq!(stats.bailed_out, None, "{file}");
        assert_eq!(
            stats.fallbacks, 0,
            "{file}: a container fell back to origin order"
        );
        assert!(stats.reordered >= 1, "{file}: nothing reordered");
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains("<h2>Personal hero</h2>") || page["hero"].is_null(),
            "{file}: hero not replaced"
        );
        assert!(out.contains("<p>10% off</p>"), "{file}: offer not inserted");

        let (norm_in, keys_in, texts_in) = normalize(&annotated, &page);
        let (norm_out, keys_out, texts_out) = normalize(&out, &page);
        assert!(
            norm_in == norm_out,
            "{file}: bytes outside the touched sections differ"
        );
        let mut sorted = keys_out.clone();
        sorted.sort_by_key(|k| k.parse::<usize>().unwrap());
        assert_eq!(sorted, keys_in, "{file}: items lost or duplicated");
        assert_eq!(texts_in, texts_out, "{file}: an item's content changed");
        assert_ne!(keys_in, keys_out, "{file}: order unchanged");
    }
}

#[test]
fn rewrite_str_matches_streaming() {
    let site = Config::from_json(DEMO_CONFIG).unwrap().sites.remove(0);
    let k = keys();
    let steps = journey(
        &site,
        &k,
        &["/c/camping", "/c/camping", "/c/camping", "/"],
        "",
    );
    let plan = RewritePlan::new(&site, &steps[3].decisions, NONCE);
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rewrite/demo_hiker/src.html"
    ))
    .unwrap();
    let (a, _) = rewrite_str(&plan, &src);
    let (b, _) = rewrite_chunked(&plan, src.as_bytes(), 42, 13);
    assert_eq!(a.as_bytes(), &b[..]);
    assert!(a.contains("data-vt-applied=\"hero-camp\""));
    let grid = a.find("data-vt-slot=\"grid\"").unwrap();
    let first_item = grid + a[grid..].find("data-vt-item").unwrap();
    assert!(
        a[first_item..].starts_with("data-vt-item data-vt-sku=\"camping-dome-2p\""),
        "camping leads the grid"
    );
}

// ---------------------------------------------------------------------------------------------
// Replaced slots: whole or not at all

fn replace_site(action: &str) -> Site {
    let variant = match action {
        "remove" => json!({"id": "h"}),
        _ => json!({"id": "h", "html": "<h2>Personal hero</h2>"}),
    };
    site_with_slots(json!({
        "hero": {"selector": "[data-vt-slot=hero]", "action": action, "variants": [variant]}
    }))
}

fn plan_for(site: &Site) -> RewritePlan<'_> {
    let o = Req::new("/").run(site, Mode::Edge(&keys()));
    RewritePlan::new(site, &o.decisions, NONCE)
}

#[test]
fn a_replaced_slot_is_replaced_whole_or_left_as_the_origin_sent_it() {
    let huge = "x".repeat(5 * 1024 * 1024);
    // A tag over lol_html's 4 MiB memory limit inside the slot: lol_html bails out there.
    let over_limit = format!(
        "<html><body><section data-vt-slot=\"hero\"><h1>Origin</h1><img alt=\"{huge}\"><p>rest</p></section><footer>f</footer></body></html>"
    );
    // A slot that never ends, and one larger than the buffer limit (256 KiB by default).
    let unended = "<html><body><section data-vt-slot=\"hero\"><h1>Origin</h1><p>no end".to_string();
    let large = format!(
        "<html><body><section data-vt-slot=\"hero\"><h1>Origin</h1>{}</section><footer>f</footer></body></html>",
        "<p>filler</p>".repeat(30_000)
    );
    for action in ["replace_inner", "replace", "remove"] {
        let site = replace_site(action);
        let plan = plan_for(&site);
        for (name, src) in [
            ("over_limit", &over_limit),
            ("unended", &unended),
            ("large", &large),
        ] {
            for seed in 0..4u64 {
                let (out, stats) = if seed == 0 {
                    rewrite_all(&plan, src.as_bytes())
                } else {
                    rewrite_chunked(&plan, src.as_bytes(), seed, 65_536)
                };
                let out = String::from_utf8(out).unwrap();
                assert!(
                    !out.contains("Personal hero"),
                    "{action} {name} (seed {seed}): variant shown in a slot left as origin"
                );
                // replace_inner keeps the element and marks it; replace and remove leave it as
                // it came, unmarked.
                let expected = match action {
                    "replace_inner" => src.replacen(
                        "data-vt-slot=\"hero\"",
                        "data-vt-slot=\"hero\" data-vt-applied=\"origin\"",
                        1,
                    ),
                    _ => src.clone(),
                };
                if out != expected {
                    let at = out
                        .bytes()
                        .zip(expected.bytes())
                        .take_while(|(a, b)| a == b)
                        .count();
                    panic!(
                        "{action} {name} (seed {seed}): not the origin's bytes from {at}: {:?} vs {:?}",
                        &out[at.saturating_sub(40)..(at + 80).min(out.len())],
                        &expected[at.saturating_sub(40)..(at + 80).min(expected.len())]
                    );
                }
                assert_eq!(stats.slot_fallbacks, 1, "{action} {name}");
            }
        }
        // And a slot that ends is replaced, whatever the chunking.
        let whole = "<html><body><section data-vt-slot=\"hero\"><h1>Origin</h1></section><i>after</i></body></html>";
        let expected = match action {
            "replace_inner" => "<html><body><section data-vt-slot=\"hero\" data-vt-applied=\"h\"><h2>Personal hero</h2></section><i>after</i></body></html>",
            "replace" => "<html><body><h2>Personal hero</h2><i>after</i></body></html>",
            _ => "<html><body><i>after</i></body></html>",
        };
        for seed in 0..50u64 {
            let (out, stats) = rewrite_chunked(&plan, whole.as_bytes(), seed, 7);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                expected,
                "{action} (seed {seed})"
            );
            assert_eq!(stats.slot_fallbacks, 0);
        }
    }
}

#[test]
fn replaced_slots_nest_and_hold_a_reordered_grid() {
    let site = site_with_slots(json!({
        "outer": {"selector": "#outer", "action": "replace_inner", "variants": [{"id": "o", "html": "<b>outer</b>"}]},
        "inner": {"selector": "#inner", "action": "replace_inner", "variants": [{"id": "i", "html": "<b>inner</b>"}]},
        "grid": {"selector": "#grid", "action": "reorder", "items": "li", "rank": {"by_attr": "data-k", "affinity": "none", "boost": {"z": 5}}}
    }));
    let plan = plan_for(&site);
    // Inner slot inside the grid's second item; the outer slot elsewhere holds the inner one.
    let src = "<ul id=\"grid\"><li data-k=\"a\">A</li><li data-k=\"z\">Z<div id=\"inner\">x</div></li></ul><div id=\"outer\"><div id=\"inner\">y</div></div>";
    let expected = "<ul id=\"grid\" data-vt-applied=\"reorder\"><li data-k=\"z\">Z<div id=\"inner\" data-vt-applied=\"i\"><b>inner</b></div></li><li data-k=\"a\">A</li></ul><div id=\"outer\" data-vt-applied=\"o\"><b>outer</b></div>";
    for seed in 0..50u64 {
        let (out, stats) = rewrite_chunked(&plan, src.as_bytes(), seed, 11);
        assert_eq!(String::from_utf8(out).unwrap(), expected, "seed {seed}");
        assert_eq!(
            (stats.reordered, stats.fallbacks, stats.slot_fallbacks),
            (1, 0, 0)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Document encodings

#[test]
fn variants_are_written_in_the_documents_encoding() {
    use vitrine::rewrite::Charset;
    let site = site_with_slots(json!({
        "hero": {"selector": "#hero", "action": "replace_inner", "variants": [{"id": "h", "html": "<h2>Café – 20 € 日本</h2>"}]}
    }));
    let plan = plan_for(&site);
    let rewrite = |charset: Charset, src: &[u8]| {
        let mut out = Vec::new();
        {
            let mut rw =
                Rewriter::with_charset(&plan, charset, |c: &[u8]| out.extend_from_slice(c))
                    .unwrap_or_else(|_| panic!("refused"));
            for b in src.chunks(5) {
                rw.write(b);
            }
            rw.end();
        }
        out
    };
    // windows-1252 by header: é is 0xE9, – 0x96, € 0x80; Japanese has no windows-1252 bytes.
    let origin = b"<p>D\xe9j\xe0 vu</p><div id=\"hero\">x</div>";
    let out = rewrite(
        Charset::of_content_type("text/html; charset=windows-1252"),
        origin,
    );
    let expected = b"<p>D\xe9j\xe0 vu</p><div id=\"hero\" data-vt-applied=\"h\"><h2>Caf\xe9 \x96 20 \x80 &#26085;&#26412;</h2></div>";
    assert_eq!(out, expected.to_vec(), "{}", String::from_utf8_lossy(&out));
    // Shift_JIS only in <meta>: the document's own bytes stay, the variant is Shift_JIS.
    let origin = b"<meta charset=\"shift_jis\"><p>\x93\xfa\x96\x7b</p><div id=\"hero\">x</div>";
    let out = rewrite(Charset::of_content_type("text/html"), origin);
    let (text, _, bad) = encoding_rs::SHIFT_JIS.decode(&out);
    assert!(!bad, "{}", String::from_utf8_lossy(&out));
    assert!(out.starts_with(b"<meta charset=\"shift_jis\"><p>\x93\xfa\x96\x7b</p>"));
    assert!(
        text.contains("<h2>Caf&#233; &#8211; 20 &#8364; 日本</h2>"),
        "{text}"
    );
    // Quoted labels and other parameters are read; unknown labels are undeclared; UTF-16 refused.
    assert_eq!(
        Charset::of_content_type("text/html; q=1; CHARSET=\"Shift_JIS\""),
        Charset::of_content_type("text/html;charset=sjis")
    );
    assert_eq!(
        Charset::of_content_type("text/html; charset=klingon"),
        Charset::Undeclared
    );
    assert_eq!(
        Charset::of_content_type("text/html; charset=utf-16le"),
        Charset::Unsupported
    );
    assert!(Rewriter::with_charset(&plan, Charset::Unsupported, |_: &[u8]| {}).is_err());
}
