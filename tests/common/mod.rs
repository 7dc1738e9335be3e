//! The one harness integration suites share: the demo site, fixed keys, and a request runner.
#![allow(dead_code)]

use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::signals::{Geo, RequestFacts};
use vitrine::state::Keyring;
use vitrine::{personalize, Keys, Mode, Outcome, RequestInput, Site};

/// Fixed test keys (never used outside tests).
pub const STATE_KEYS: &str = "2:dGVzdC1zdGF0ZS1rZXktdGVzdC1zdGF0ZS1rZXktMDI,1:dGVzdC1zdGF0ZS1rZXktdGVzdC1zdGF0ZS1rZXktMDE";
pub const OLD_STATE_KEYS: &str = "1:dGVzdC1zdGF0ZS1rZXktdGVzdC1zdGF0ZS1rZXktMDE";
pub const TRAITS_KEYS: &str = "7:dGVzdC10cmFpdHMta2V5LXRlc3QtdHJhaXRzLWtleS0wNw";
/// 2025-11-22T10:00:00Z in unix milliseconds.
pub const T0: u64 = 1_763_805_600_000;
pub const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

pub fn demo() -> Site {
    Config::from_json(DEMO_CONFIG).expect("demo config loads").sites.remove(0)
}

pub fn keys() -> Keys {
    Keys { state: Keyring::parse(STATE_KEYS).unwrap(), traits: Some(Keyring::parse(TRAITS_KEYS).unwrap()) }
}

/// A request as the edge would see it.
#[derive(Clone)]
pub struct Req {
    pub url: String,
    pub cookie: String,
    pub now_ms: u64,
    pub id: [u8; 16],
    pub gpc: bool,
    pub country: Option<String>,
    pub ua: String,
    pub page_traits: Option<vitrine::signals::Traits>,
}

impl Req {
    pub fn new(url: &str) -> Req {
        Req { url: url.into(), cookie: String::new(), now_ms: T0, id: [7; 16], gpc: false, country: None, ua: CHROME.into(), page_traits: None }
    }
    pub fn cookie(mut self, c: &str) -> Req {
        self.cookie = c.into();
        self
    }
    pub fn at(mut self, now_ms: u64) -> Req {
        self.now_ms = now_ms;
        self
    }
    pub fn id(mut self, id: [u8; 16]) -> Req {
        self.id = id;
        self
    }
    pub fn run<'s>(&self, site: &'s Site, mode: Mode<'_>) -> Outcome<'s> {
        let input = RequestInput {
            facts: RequestFacts {
                url: &self.url,
                user_agent: Some(&self.ua),
                referrer: None,
                gpc: self.gpc,
                geo: Geo { country: self.country.clone(), ..Geo::default() },
                now_ms: self.now_ms,
            },
            cookie_header: Some(&self.cookie),
            fresh_id: self.id,
            page_traits: self.page_traits.clone(),
        };
        personalize(site, mode, &input)
    }
}

/// Variant shown in a slot (`None`: origin content).
pub fn shown(site: &Site, o: &Outcome, slot: &str) -> Option<String> {
    o.report(site).decisions.into_iter().find(|d| d.slot == slot).and_then(|d| d.variant)
}

/// Walks `urls` one minute apart from `T0`, carrying the state cookie; returns every outcome.
pub fn journey<'s>(site: &'s Site, keys: &Keys, urls: &[&str], extra_cookie: &str) -> Vec<Outcome<'s>> {
    let mut token: Option<String> = None;
    let mut out = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let mut cookie = extra_cookie.to_string();
        if let Some(t) = &token {
            cookie = format!("vt={t}; {cookie}");
        }
        let o = Req::new(url).cookie(&cookie).at(T0 + i as u64 * 60_000).run(site, Mode::Edge(keys));
        token = o.state_token.clone();
        out.push(o);
    }
    out
}
