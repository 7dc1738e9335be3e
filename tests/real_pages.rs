//! Reorder on real storefront pages, unmodified: each page's product grid ranked by keys read
//! from its own markup (a link's URL, an inner element, an id), the new order checked, every
//! byte outside the grid unchanged; and a grid whose items yield no key, reported and marked
//! as not reordered and recorded as nothing. The configs here are the examples of
//! docs/configuration.md ("Item keys from the page's own markup").
#![cfg(not(target_arch = "wasm32"))]

mod common;

use serde_json::{json, Value};
use vitrine::config::Config;
use vitrine::decide::{OnPage, ReasonCode};
use vitrine::events::Exposures;
use vitrine::rewrite::{rewrite_str, RewritePlan};
use vitrine::{Mode, Site};

use common::*;

const PAGES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora/pages");
const NONCE: u64 = 0x5eed_0000_0000_0002;

fn site(grid: &str, item: &str, rank: Value) -> Site {
    let doc = json!({
        "version": 1, "site": "real",
        "dimensions": {"a": {"half_life_hours": 1}},
        "slots": {"grid": {"selector": grid, "action": "reorder", "items": item,
                           "max_buffer_bytes": 4_000_000, "rank": rank}}
    });
    Config::from_json(&doc.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .sites
        .remove(0)
}

fn page(file: &str) -> String {
    let raw = std::fs::read(format!("{PAGES}/{file}")).unwrap();
    String::from_utf8_lossy(&raw).into_owned()
}

/// The page rewritten for a visitor, what the page got, and the settled decisions' reason.
fn run(site: &Site, html: &str) -> (String, OnPage, ReasonCode, usize) {
    let mut o = Req::new("/").run(site, Mode::Edge(&keys()));
    let plan = RewritePlan::new(site, &o.decisions, NONCE);
    let (out, stats) = rewrite_str(&plan, html);
    assert_eq!(stats.bailed_out, None);
    o.decisions.settle(&stats.slots);
    let exposures = Exposures::of(site, &o).len();
    (
        out,
        stats.slots[0],
        o.decisions.slots[0].reason.code,
        exposures,
    )
}

/// The first and last bytes where `a` and `b` differ (`None`: equal).
fn diff_window(a: &str, b: &str) -> Option<(usize, usize, usize)> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if head == a.len() && head == b.len() {
        return None;
    }
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    Some((head, a.len() - tail, b.len() - tail))
}

struct Case {
    file: &'static str,
    grid: &'static str,
    item: &'static str,
    rank: Value,
    /// The text the ranked grid's first item holds (it was not first before).
    first: &'static str,
    /// Containers the grid selector matches, and their items.
    containers: u32,
    items: u32,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "radioshack-collection.html",
            grid: "div.products.products-grid",
            item: "div.box.product",
            rank: json!({"affinity": "none", "pin": ["2730107"],
                "sku": {"attr": "data-sku"},
                "category": {"selector": "a.product-title", "attr": "href",
                             "pattern": "/collections/{category}/products/{slug}"}}),
            first: r#"data-sku="2730107""#,
            containers: 1,
            items: 12,
        },
        Case {
            file: "stylelocker-home.html",
            grid: "ul#homefeatured",
            item: "li.ajax_block_product",
            rank: json!({"affinity": "none", "boost": {"taylor-gang": 5},
                "category": {"selector": "a.product_img_link", "attr": "href",
                             "pattern": "/{category}/{sku}-{slug}.html"},
                "sku": {"selector": "a.product_img_link", "attr": "href",
                        "pattern": "/{category}/{sku}-{slug}.html"}}),
            first: "taylor-gang/167-tg-wiz-khalifa-ninja-sweatshirt.html",
            containers: 1,
            items: 24,
        },
        Case {
            file: "disfracesjarana-category.html",
            grid: "ul#slider > li",
            item: "div.prod-row",
            rank: json!({"affinity": "none", "pin": ["4063"],
                "sku": {"selector": "input.quick_ids", "attr": "value"},
                "category": {"selector": "a", "attr": "href",
                             "pattern": "/{group}/{category}/{slug}.html"}}),
            first: r#"name="virtuemart_product_id" value="4063""#,
            containers: 1,
            items: 30,
        },
        Case {
            file: "wilsonsleather-category.html",
            grid: "#ml-grid-view-items",
            item: "div.ml-grid-view-item",
            rank: json!({"affinity": "none", "pin": ["112043"],
                "sku": {"selector": "div.ml-product-qve-button", "attr": "id",
                        "prefix": "ml-product-qve-button_PRODUCT_"}}),
            first: "ml-product-qve-button_PRODUCT_112043",
            containers: 1,
            items: 27,
        },
        Case {
            file: "wellca-home.html",
            grid: "div.product-carousel.featured-products-carousel",
            item: "div.product-item",
            rank: json!({"affinity": "none", "pin": ["107765"],
                "sku": {"selector": "a.product_grid_link", "attr": "href",
                        "pattern": "/products/{slug}_{sku}.html"}}),
            first: "now-essential-oils-put-some-pep-in_107765.html",
            containers: 3,
            items: 41,
        },
    ]
}

#[test]
fn real_grids_are_reordered_by_keys_read_from_their_own_markup() {
    for case in cases() {
        let file = case.file;
        let site = site(case.grid, case.item, case.rank);
        let html = page(file);
        let (out, on, reason, exposures) = run(&site, &html);
        assert_eq!(
            on,
            OnPage {
                found: case.containers,
                items: case.items,
                keyed: case.items,
                reordered: case.containers,
                kept: 0
            },
            "{file}"
        );
        assert_eq!(reason, ReasonCode::Reordered, "{file}");
        assert_eq!(exposures, 1, "{file}: the reorder is recorded");
        // The markers are the one change outside the grid's content; inside it, a permutation.
        let marker = r#" data-vt-applied="reorder""#;
        assert_eq!(
            out.matches(marker).count(),
            case.containers as usize,
            "{file}"
        );
        let marked = out.replace(marker, "");
        let (head, end_in, end_out) = diff_window(&html, &marked).expect("order unchanged");
        assert_eq!(end_in, end_out, "{file}: bytes added or lost");
        let grid_at = marked[..head]
            .rfind(&format!("<{}", tag_of(case.grid)))
            .unwrap();
        let mut before: Vec<u8> = html.as_bytes()[head..end_in].to_vec();
        let mut after: Vec<u8> = marked.as_bytes()[head..end_out].to_vec();
        before.sort_unstable();
        after.sort_unstable();
        assert!(before == after, "{file}: the grid is not a permutation");
        assert!(
            grid_at < head,
            "{file}: a change before the grid at byte {head}"
        );
        // The ranked item leads: nothing of another item comes before its text.
        let first_in = html.find(case.first).unwrap();
        let first_out = marked.find(case.first).unwrap();
        assert!(
            first_out < first_in,
            "{file}: {} did not move up",
            case.first
        );
        assert!(
            first_out - head < 4000,
            "{file}: {} is not the first item",
            case.first
        );
    }
}

/// The element name a selector's last compound starts with (`ul#slider > li` → `li`), or any
/// tag (`<`) for one that starts with a class or an id.
fn tag_of(selector: &str) -> &str {
    let last = selector.rsplit([' ', '>']).next().unwrap_or(selector);
    let end = last.find(['.', '#']).unwrap_or(last.len());
    &last[..end]
}

#[test]
fn a_grid_whose_items_yield_no_key_is_reported_marked_and_recorded_as_not_reordered() {
    let html = page("focalprice-home.html");
    for rank in [
        // The default attributes: real tiles carry no data-vt-category or data-vt-sku.
        json!({"affinity": "none", "pin": ["MH1281X"], "boost": {"phones": 5}}),
        // A pattern no link matches.
        json!({"affinity": "none", "pin": ["MH1281X"],
               "sku": {"selector": "a", "attr": "href", "pattern": "/p/{sku}"}}),
    ] {
        let site = site("ul.categoryBox_products", "li.listProduct", rank);
        let (out, on, reason, exposures) = run(&site, &html);
        assert!(on.found >= 1 && on.items >= 174, "{on:?}");
        assert_eq!((on.keyed, on.reordered), (0, 0));
        assert_eq!(reason, ReasonCode::NoRankKey);
        assert_eq!(exposures, 0, "no reorder exposure recorded");
        assert!(!out.contains(r#"data-vt-applied="reorder""#));
        assert!(out.contains(r#"data-vt-applied="origin""#));
        assert_eq!(
            out.replace(r#" data-vt-applied="origin""#, ""),
            html,
            "origin order, byte for byte"
        );
    }
    // The same grid with its keys read from the product links: reordered.
    let site = site(
        "ul.categoryBox_products",
        "li.listProduct",
        json!({"affinity": "none", "pin": ["MH1281X"],
               "sku": {"selector": "p.listProduct_name a", "attr": "href", "pattern": "/{sku}/{slug}.html"}}),
    );
    let (_, on, reason, _) = run(&site, &html);
    assert!(on.keyed >= 170 && on.reordered >= 1, "{on:?}");
    assert_eq!(reason, ReasonCode::Reordered);
}

#[test]
fn a_slot_not_on_the_page_is_no_exposure_whatever_was_decided() {
    // A hiker (hero, grid and theme decided for them) on a page that has only the offer and
    // the theme: the others are reported as not on this page and recorded as nothing.
    let site = demo();
    let mut o = hiker_at_home(&site);
    let decided = |o: &vitrine::Outcome, slot: &str| shown(&site, o, slot);
    assert!(decided(&o, "hero").is_some() && decided(&o, "grid").is_some());
    let page = r#"<html data-vt-slot="theme"><body><div data-vt-slot="offer">Free returns</div></body></html>"#;
    let plan = RewritePlan::new(&site, &o.decisions, NONCE);
    let (_, stats) = rewrite_str(&plan, page);
    o.decisions.settle(&stats.slots);
    let report = o.report(&site);
    for d in &report.decisions {
        let present = d.slot == "offer" || d.slot == "theme";
        assert_eq!(
            d.reason.code == ReasonCode::NotOnPage,
            !present,
            "{}: {:?}",
            d.slot,
            d.reason
        );
    }
    let hero = report.decisions.iter().find(|d| d.slot == "hero").unwrap();
    assert!(
        hero.reason.text.starts_with("not on this page (decided: "),
        "{}",
        hero.reason.text
    );
    assert_eq!(hero.arm, None);
    let recorded = recorded_slots(&site, &o);
    assert_eq!(recorded, ["offer", "theme"]);
}

/// A hiker's home page (three hiking category views before): hero, grid and theme decided.
fn hiker_at_home(site: &Site) -> vitrine::Outcome<'_> {
    let steps = journey(
        site,
        &keys(),
        &["/c/hiking", "/c/hiking", "/c/hiking", "/"],
        "",
    );
    steps.into_iter().last().unwrap()
}

/// The slots whose exposures are recorded for `o`.
fn recorded_slots(site: &Site, o: &vitrine::Outcome) -> Vec<String> {
    Exposures::of(site, o)
        .records(&stamp(site, o))
        .into_iter()
        .map(|e| e.slot)
        .collect()
}

fn stamp(site: &Site, o: &vitrine::Outcome) -> vitrine::events::Stamp {
    vitrine::events::Stamp::of(site, o, T0, [1; 8], vitrine::events::Source::Edge).unwrap()
}

#[test]
fn a_replaced_slot_kept_as_the_origin_sent_it_is_no_exposure() {
    // The hiker's hero variant is decided, but the page's hero outgrows the slot's buffer
    // limit: the origin content stays, the marker says `origin`, the report says why, and
    // nothing is recorded for the hero.
    let site = demo();
    let mut o = hiker_at_home(&site);
    assert!(shown(&site, &o, "hero").is_some());
    let limit = site
        .slots
        .iter()
        .find(|s| s.name == "hero")
        .unwrap()
        .max_buffer_bytes;
    let big = "x".repeat(limit as usize + 1);
    let page = format!(
        r#"<html data-vt-slot="theme"><body><section data-vt-slot="hero"><p>{big}</p></section><div data-vt-slot="offer">Free returns</div></body></html>"#
    );
    let plan = RewritePlan::new(&site, &o.decisions, NONCE);
    let (out, stats) = rewrite_str(&plan, &page);
    assert!(out.contains(&big), "the origin content stays");
    assert!(
        out.contains(r#"data-vt-slot="hero" data-vt-applied="origin""#),
        "{}",
        &out[..200]
    );
    o.decisions.settle(&stats.slots);
    let report = o.report(&site);
    let hero = report.decisions.iter().find(|d| d.slot == "hero").unwrap();
    assert_eq!(
        hero.reason.code,
        ReasonCode::NotApplied,
        "{:?}",
        hero.reason
    );
    assert!(
        hero.reason.text.starts_with("not applied: "),
        "{}",
        hero.reason.text
    );
    assert_eq!(hero.arm, None);
    let recorded = recorded_slots(&site, &o);
    assert!(!recorded.contains(&"hero".to_string()), "{recorded:?}");
    assert!(recorded.contains(&"offer".to_string()), "{recorded:?}");
}
