//! The browser's `vt_e` click-stream cookie (untrusted): decoding never panics, keeps at most
//! `max` events, and what it keeps encodes and decodes to the same events.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vitrine::signals::{decode_events, encode_events};

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    for max in [1, 16, 32] {
        let (events, _issues) = decode_events(&raw, max);
        assert!(events.len() <= max);
        let (again, issues) = decode_events(&encode_events(&events), max);
        assert_eq!(again, events, "round trip; issues {issues:?}");
    }
});
