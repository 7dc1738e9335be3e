//! Memory of the streaming rewriter does not grow with page size (outside a buffered `reorder`
//! section). A counting allocator measures the peak heap while pages of 1 MB and 32 MB stream
//! through in 16 KiB chunks. One test per binary: the allocator is process-wide.
#![cfg(not(target_arch = "wasm32"))] // native suite: files, processes, proptest
#![allow(
    unsafe_code,
    reason = "a counting global allocator is how the test measures the heap"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use vitrine::config::Config;
use vitrine::rewrite::{RewritePlan, Rewriter};
use vitrine::{personalize, Keys, Mode, RequestInput};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn page_chunks(filler_bytes: usize) -> impl Iterator<Item = Vec<u8>> {
    let head = String::from("<!doctype html><html><body><section data-vt-slot=\"hero\"><h1>Generic</h1></section><ul data-vt-slot=\"grid\">")
        + &(0..40).map(|i| format!("<li data-vt-item data-vt-sku=\"s{i}\" data-vt-category=\"{}\">item {i}</li>", ["a", "b"][i % 2])).collect::<String>()
        + "</ul>";
    let para = "<p>Lorem ipsum dolor sit amet, <a href=\"/x\">consectetur</a> adipiscing elit &amp; more.</p>\n";
    let block: String = para.repeat(16 * 1024 / para.len());
    let n = filler_bytes / block.len();
    // Lazily: one 16 KiB chunk alive at a time, as from a network stream.
    std::iter::once(head.into_bytes())
        .chain((0..n).map(move |_| block.clone().into_bytes()))
        .chain(std::iter::once(
            b"<footer>end</footer></body></html>".to_vec(),
        ))
}

/// A grid of `items` items (past the 256 KiB reorder buffer), streamed in 16 KiB chunks.
fn grid_chunks(items: usize) -> impl Iterator<Item = Vec<u8>> {
    let item =
        |i: usize| format!("<li data-vt-item data-vt-sku=\"s{i}\" data-vt-category=\"b\">{i}</li>");
    let per_chunk = 16 * 1024 / item(0).len();
    std::iter::once(b"<!doctype html><html><body><ul data-vt-slot=\"grid\">".to_vec())
        .chain((0..items.div_ceil(per_chunk)).map(move |c| {
            (c * per_chunk..((c + 1) * per_chunk).min(items))
                .map(item)
                .collect::<String>()
                .into_bytes()
        }))
        .chain(std::iter::once(b"</ul></body></html>".to_vec()))
}

fn peak_for(filler: usize) -> (usize, usize) {
    peak_of(page_chunks(filler), 1)
}

fn peak_of(chunks: impl Iterator<Item = Vec<u8>>, reordered: u32) -> (usize, usize) {
    let doc = json!({
        "version": 1, "site": "m",
        "dimensions": {"a": {"half_life_hours": 1}, "b": {"half_life_hours": 1}},
        "signals": [{"on": "page_view", "add": {"b": 5}}],
        "slots": {
            "hero": {"selector": "[data-vt-slot=hero]", "action": "replace_inner", "variants": [{"id": "h", "html": "<h1>Personal</h1>"}]},
            "grid": {"selector": "[data-vt-slot=grid]", "action": "reorder", "items": "[data-vt-item]"}
        }
    });
    let site = Config::from_json(&doc.to_string()).unwrap().sites.remove(0);
    let keys = Keys::development();
    let input = RequestInput::new("/", 1_763_805_600_000, [0; 16]).user_agent(Some("Mozilla/5.0"));
    let outcome = personalize(&site, Mode::Edge(&keys), &input);
    let plan = RewritePlan::new(&site, &outcome.decisions, 99);
    let mut written = 0usize;
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let stats = {
        let mut rw = Rewriter::new(&plan, |c: &[u8]| written += c.len());
        for chunk in chunks {
            rw.write(&chunk);
        }
        rw.end()
    };
    assert_eq!(stats.reordered, reordered);
    (PEAK.load(Ordering::Relaxed) - base, written)
}

#[test]
fn peak_memory_is_independent_of_page_size() {
    let (small, small_out) = peak_for(1 << 20);
    let (large, large_out) = peak_for(32 << 20);
    assert!(large_out > 32 << 20 && small_out > 1 << 20);
    // Chunk buffers are allocated by the test itself (16 KiB each, freed as they go).
    assert!(small < 1 << 20, "peak {small} bytes for a 1 MB page");
    assert!(
        large <= small + 64 * 1024,
        "peak grew from {small} to {large} bytes between 1 MB and 32 MB pages"
    );
    eprintln!("peak heap: {small} bytes (1 MB page), {large} bytes (32 MB page)");

    // Past its buffer limit a grid is left in origin order, and the items that follow are not
    // recorded: 400,000 items take no more than 40,000 (about 100 bytes each before).
    let (few, _) = peak_of(grid_chunks(40_000), 0);
    let (many, many_out) = peak_of(grid_chunks(400_000), 0);
    assert!(many_out > 20 << 20);
    assert!(
        many <= few + 64 * 1024,
        "peak grew from {few} to {many} bytes between 40,000 and 400,000 grid items"
    );
    assert!(
        few < 4 << 20,
        "peak {few} bytes for a 256 KiB reorder buffer"
    );
    eprintln!("peak heap: {few} bytes (40k items), {many} bytes (400k items)");
}
