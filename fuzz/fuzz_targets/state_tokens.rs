//! `vt` and `vt_t` tokens from the wire: signed and unsigned, never a panic; a state that opens
//! seals again to a token that opens to the same state.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::signals::open_traits;
use vitrine::state::{open, seal, Protection};
use vitrine::Keys;

/// The demo configuration, loaded once.
fn demo() -> &'static Config {
    static DEMO: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    DEMO.get_or_init(|| Config::from_json(DEMO_CONFIG).expect("the demo config loads"))
}

fuzz_target!(|data: &[u8]| {
    let token = String::from_utf8_lossy(data);
    let site = &demo().sites[0];
    let keys = Keys::development();
    let now = 1_764_000_000;
    for protection in [Protection::Signed(&keys.state), Protection::Unsigned] {
        let loaded = open(&[&token], protection, site, now, [1; 16]);
        if !loaded.fresh {
            let resealed = seal(&loaded.state, protection, site);
            let again = open(&[&resealed], protection, site, now, [2; 16]);
            assert!(!again.fresh, "a resealed state does not open: {:?}", again.issue);
            assert_eq!(again.state, loaded.state);
        }
    }
    let _ = open_traits(&token, keys.traits.as_ref(), now);
    let _ = open_traits(&token, None, now);
});
