//! The streaming rewriter on any HTML under any chunking: never a panic; the output does not
//! depend on where chunks split; with nothing to change, the output is the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::rewrite::{RewritePlan, Rewriter};
use vitrine::{personalize, Keys, Mode, RequestInput};

fn rewrite(plan: &RewritePlan<'_>, html: &[u8], sizes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut rw = Rewriter::new(plan, |c: &[u8]| out.extend_from_slice(c));
        let (mut rest, mut i) = (html, 0);
        while !rest.is_empty() {
            let n = (usize::from(sizes.get(i % sizes.len().max(1)).copied().unwrap_or(0)) + 1).min(rest.len());
            rw.write(&rest[..n]);
            rest = &rest[n..];
            i += 1;
        }
        rw.end();
    }
    out
}

/// The demo configuration, loaded once.
fn demo() -> &'static Config {
    static DEMO: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| Config::from_json(DEMO_CONFIG).expect("the demo config loads"))
}

fuzz_target!(|data: &[u8]| {
    let (sizes, html) = data.split_at(data.len().min(4));
    let site = &demo().sites[0];
    let keys = Keys::development();
    // A hiker: every slot kind of the demo has something to do.
    let input = RequestInput::new("/?utm_campaign=trail-fall&q=boots", 1_764_000_000_000, [0; 16]);
    let outcome = personalize(site, Mode::Edge(&keys), &input);
    let plan = RewritePlan::new(site, &outcome.decisions, 0x5eed);
    assert_eq!(rewrite(&plan, html, &[255]), rewrite(&plan, html, sizes), "chunking changed the output");
    // The same decisions on a site whose selectors match nothing in these bytes: untouched.
    static NONE: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    let none = &NONE
        .get_or_init(|| {
            let text = DEMO_CONFIG.replace("[data-vt-slot=", "[data-vt-none-").replace("\"body\"", "\"vt-none\"");
            Config::from_json(&text).expect("loads")
        })
        .sites[0];
    let outcome = personalize(none, Mode::Edge(&keys), &input);
    let plan = RewritePlan::new(none, &outcome.decisions, 0x5eed);
    if !html.windows(11).any(|w| w == b"data-vt-non") && !html.windows(7).any(|w| w.eq_ignore_ascii_case(b"vt-none")) {
        assert_eq!(rewrite(&plan, html, sizes), html, "bytes changed with nothing to rewrite");
    }
});
