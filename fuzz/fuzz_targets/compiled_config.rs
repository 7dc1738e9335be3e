//! Compiled configurations (from KV or a file): any bytes load or error, never panic; a config
//! that loads decides a request.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vitrine::{personalize, Config, Keys, Mode, RequestInput};

fuzz_target!(|data: &[u8]| {
    if let Ok(config) = Config::from_compiled(data) {
        let keys = Keys::development();
        for site in &config.sites {
            let input = RequestInput::new("/c/hiking?q=boots", 1_764_000_000_000, [0; 16]);
            let _ = personalize(site, Mode::Edge(&keys), &input);
        }
    }
});
