//! Segment and condition expressions: any text compiles or errors with a message, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let doc = serde_json::json!({
        "version": 1, "site": "t",
        "dimensions": {"hiking": {"half_life_hours": 1}},
        "signals": [{"on": "page_view", "add": {"hiking": 1}}],
        "segments": {"s": src},
        "slots": {"hero": {"selector": "#h", "action": "replace_inner",
                  "variants": [{"id": "v", "when": src, "html": "<b>x</b>"}]}}
    });
    if let Err(errors) = vitrine::Config::from_json(&doc.to_string()) {
        assert!(!errors.to_string().is_empty());
    }
});
