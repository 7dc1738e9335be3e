//! The `Cookie` header (and the URL, before a first newline) through the whole decide path,
//! signed and unsigned: never a panic, and the state it writes is read back as it was written.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::rewrite::{rewrite_str, RewritePlan};
use vitrine::{personalize, Keys, Mode, RequestInput};

/// The demo configuration, loaded once.
fn demo() -> &'static Config {
    static DEMO: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| Config::from_json(DEMO_CONFIG).expect("the demo config loads"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (url, cookie) = text.split_once('\n').unwrap_or(("/", &text));
    let site = &demo().sites[0];
    let keys = Keys::development();
    for mode in [Mode::Edge(&keys), Mode::Browser] {
        let input = RequestInput::new(url, 1_764_000_000_000, [7; 16]).cookie(Some(cookie)).user_agent(Some("Mozilla/5.0"));
        let outcome = personalize(site, mode, &input);
        let plan = RewritePlan::new(site, &outcome.decisions, 1);
        let _ = rewrite_str(&plan, "<section data-vt-slot=\"hero\"><h1>x</h1></section><ul data-vt-slot=\"grid\"><li data-vt-item data-vt-sku=\"a\" data-vt-category=\"hiking\">a</li></ul>");
        let token = outcome.state_token.expect("no GPC here: a state is written");
        assert!(token.len() <= 1024, "state cookie of {} bytes", token.len());
        let cookie = format!("vt={token}");
        let again = input.clone().cookie(Some(&cookie));
        let next = personalize(site, mode, &again);
        assert!(!next.fresh, "the state just written is not read back: {:?}", next.issues);
    }
});
