//! Deliberate mirrors, kept for bundle size or for failure paths, pinned to what they mirror:
//! the JS fallback of the worker (www/worker.mjs serves the origin when the wasm fails) against
//! the Rust adapter. (The compiled-form reader is differential-tested against postcard in
//! src/config/wire.rs; the worker's browser-record fields against the schema in tests/events.rs.)
#![cfg(not(target_arch = "wasm32"))]

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_js_fallback_forwards_and_fails_as_the_rust_adapter_does() {
    let js = read("www/worker.mjs");
    let origin = read("src/edge/origin.rs");
    let request = read("src/edge/request.rs");
    // The same page when the origin cannot be reached.
    let page = "The shop did not answer. Please try again in a moment.";
    assert!(
        js.contains(page) && origin.contains(page),
        "the 502 page differs"
    );
    assert!(js.contains("\"cache-control\": \"no-store\"") && origin.contains("\"no-store\""));
    // The same request to the origin: Vitrine's own headers and the debug cookie removed.
    assert!(
        js.contains("k.startsWith(\"x-vitrine-\")")
            && origin.contains("starts_with(\"x-vitrine-\")")
    );
    assert!(
        js.contains("!== \"vt_debug\"") && request.contains("DEBUG_COOKIE: &str = \"vt_debug\"")
    );
    assert!(js.contains("redirect: \"manual\"") && origin.contains("RequestRedirect::Manual"));
    // The same target: ORIGIN_URL without its trailing slash, then the path and query.
    assert!(js.contains("env.ORIGIN_URL.replace(/\\/$/, \"\") + url.pathname + url.search"));
    assert!(origin.contains("base.trim_end_matches('/'), split_url(&url).target"));
}
