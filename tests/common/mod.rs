//! The one harness integration suites share: the demo site, fixed keys, and a request runner.
#![allow(dead_code)]

use serde_json::{json, Value};
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::signals::{seal_traits, Traits};
use vitrine::state::b64;
use vitrine::state::Keyring;
use vitrine::{personalize, Keys, Mode, Outcome, RequestInput, Site};

/// Fixed test keys (never used outside tests).
pub const STATE_KEYS: &str =
    "2:dGVzdC1zdGF0ZS1rZXktdGVzdC1zdGF0ZS1rZXktMDI,1:dGVzdC1zdGF0ZS1rZXktdGVzdC1zdGF0ZS1rZXktMDE";
pub const OLD_STATE_KEYS: &str = "1:dGVzdC1zdGF0ZS1rZXktdGVzdC1zdGF0ZS1rZXktMDE";
pub const TRAITS_KEYS: &str = "7:dGVzdC10cmFpdHMta2V5LXRlc3QtdHJhaXRzLWtleS0wNw";
/// 2025-11-22T10:00:00Z in unix milliseconds.
pub const T0: u64 = 1_763_805_600_000;
pub const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

pub fn demo() -> Site {
    Config::from_json(DEMO_CONFIG)
        .expect("demo config loads")
        .sites
        .remove(0)
}

pub fn keys() -> Keys {
    Keys {
        state: Keyring::parse(STATE_KEYS).unwrap(),
        traits: Some(Keyring::parse(TRAITS_KEYS).unwrap()),
    }
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
        Req {
            url: url.into(),
            cookie: String::new(),
            now_ms: T0,
            id: [7; 16],
            gpc: false,
            country: None,
            ua: CHROME.into(),
            page_traits: None,
        }
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
        let input = RequestInput::new(&self.url, self.now_ms, self.id)
            .cookie(Some(&self.cookie))
            .user_agent(Some(&self.ua))
            .gpc(self.gpc)
            .country(self.country.clone())
            .page_traits(self.page_traits.clone());
        personalize(site, mode, &input)
    }
}

/// Variant shown in a slot (`None`: origin content).
pub fn shown(site: &Site, o: &Outcome, slot: &str) -> Option<String> {
    o.report(site)
        .decisions
        .into_iter()
        .find(|d| d.slot == slot)
        .and_then(|d| d.variant)
}

/// The reason text of a slot's decision.
pub fn reason(site: &Site, o: &Outcome, slot: &str) -> String {
    o.report(site)
        .decisions
        .into_iter()
        .find(|d| d.slot == slot)
        .map(|d| d.reason.text)
        .unwrap_or_else(|| panic!("no decision for slot {slot}"))
}

/// Walks `urls` one minute apart from `T0`, carrying the state cookie; returns every outcome.
pub fn journey<'s>(
    site: &'s Site,
    keys: &Keys,
    urls: &[&str],
    extra_cookie: &str,
) -> Vec<Outcome<'s>> {
    let mut token: Option<String> = None;
    let mut out = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let mut cookie = extra_cookie.to_string();
        if let Some(t) = &token {
            cookie = format!("vt={t}; {cookie}");
        }
        let o = Req::new(url)
            .cookie(&cookie)
            .at(T0 + i as u64 * 60_000)
            .run(site, Mode::Edge(keys));
        token = o.state_token.clone();
        out.push(o);
    }
    out
}

/// Runs one golden decision vector (`tests/data/decisions/*.json`): its requests, in order,
/// carrying the state cookie; returns `[{report, cookie, clear_events}]` per request.
pub fn run_vector(doc: &Value, site: &vitrine::Site, keys: &Keys) -> Vec<Value> {
    vector_outcomes(doc, site, keys)
        .into_iter()
        .map(|o| json!({"report": o.report(site), "cookie": o.state_token, "clear_events": o.had_events}))
        .collect()
}

/// The outcomes of one golden decision vector's requests, in order.
pub fn vector_outcomes<'s>(doc: &Value, site: &'s vitrine::Site, keys: &Keys) -> Vec<Outcome<'s>> {
    let mode = match doc["mode"].as_str() {
        Some("browser") => Mode::Browser,
        _ => Mode::Edge(keys),
    };
    let mut token: Option<String> = None;
    let mut out = Vec::new();
    for r in doc["requests"].as_array().expect("requests") {
        let now_ms = T0 + r["at_min"].as_u64().unwrap_or(0) * 60_000;
        let mut cookie: Vec<String> = Vec::new();
        let mut page_traits = None;
        if r["carry"].as_bool().unwrap_or(true) {
            if let Some(t) = &token {
                let t = if r["tamper"].as_bool().unwrap_or(false) {
                    let mut raw = b64::decode(t).unwrap();
                    let last = raw.len() - 1;
                    raw[last] ^= 1;
                    b64::encode(&raw)
                } else {
                    t.clone()
                };
                cookie.push(format!("vt={t}"));
            }
        }
        if let Some(e) = r["events"].as_str() {
            cookie.push(format!("vt_e={e}"));
        }
        if let Some(t) = r.get("traits").filter(|t| t.is_object()) {
            let traits = Traits {
                purchases_90d: t["purchases_90d"].as_u64().unwrap() as u32,
                aov: t["aov"].as_f64().unwrap(),
                tier: t["tier"].as_str().unwrap_or("").into(),
                issued_at: (now_ms / 1000) as u32,
            };
            match mode {
                Mode::Edge(k) => cookie.push(format!(
                    "vt_t={}",
                    seal_traits(&traits, k.traits.as_ref().unwrap())
                )),
                Mode::Browser => page_traits = Some(traits),
            }
        }
        if let Some(c) = r["cookie"].as_str() {
            cookie.push(c.to_string());
        }
        let mut req = Req::new(r["url"].as_str().unwrap())
            .cookie(&cookie.join("; "))
            .at(now_ms);
        req.id = [r["id"].as_u64().unwrap_or(7) as u8; 16];
        req.gpc = r["gpc"].as_bool().unwrap_or(false);
        req.country = r["country"].as_str().map(String::from);
        req.page_traits = page_traits;
        let o = req.run(site, mode);
        if o.state_token.is_some() {
            token = o.state_token.clone();
        }
        out.push(o);
    }
    out
}

/// The rows a Python program prints as a JSON array, `python3 ARGS…` with `sql` on its stdin:
/// how the suites run DuckDB and ClickHouse's embedded engine, chDB (both from PyPI, installed
/// by .ci/bootstrap).
pub fn python_rows(args: &[&str], sql: &str) -> Vec<Value> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs (make bootstrap installs duckdb and chdb)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{sql}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
