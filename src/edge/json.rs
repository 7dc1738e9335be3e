//! JSON written by the runtime's `JSON.stringify` (serde-wasm-bindgen builds the value): no JSON
//! serializer in the bundle, and no float formatting of ours.

/// JSON of `value`, as the runtime writes it.
pub fn js_json(value: &impl serde::Serialize) -> Option<String> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()
        .and_then(|v| worker::js_sys::JSON::stringify(&v).ok())
        .and_then(|s| s.as_string())
}

/// JSON with every non-ASCII character escaped, so it fits in a header.
pub fn ascii_json(value: &impl serde::Serialize) -> String {
    ascii(&js_json(value).unwrap_or_default())
}

/// A JSON string of `text`, ASCII only (escaped by the runtime's `JSON.stringify`).
pub fn ascii_json_string(text: &str) -> String {
    let json = worker::js_sys::JSON::stringify(&text.into())
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| "\"\"".into());
    ascii(&json)
}

/// `json` with every non-ASCII and control character escaped.
fn ascii(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(
                        b"0123456789abcdef"[usize::from(*u >> shift & 0xf)],
                    ));
                }
            }
        }
    }
    out
}

/// Event records as NDJSON.
pub fn ndjson(records: impl IntoIterator<Item = impl serde::Serialize>) -> String {
    let mut out = String::new();
    for r in records {
        if let Some(line) = js_json(&r) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
