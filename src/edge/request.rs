//! What the shopper's request says, read before it goes to the origin.

use worker::Request;

use crate::signals::{
    classify_device, cookie_values, has_param, split_url, Device, Geo, DEBUG_PARAM,
};

use super::settings::Settings;

/// A request header carrying the debug token turns explain mode on.
const DEBUG_HEADER: &str = "x-vitrine-debug";
/// A cookie carrying the debug token, for the browser's debug overlay on edge pages.
pub const DEBUG_COOKIE: &str = "vt_debug";
/// With a valid debug token: the country to assume (tests; `wrangler dev` has no geo).
const COUNTRY_HEADER: &str = "x-vitrine-country";
/// With a valid debug token and `VITRINE_TEST_PANIC=1`: panic (tests the fail-open wrapper).
const PANIC_HEADER: &str = "x-vitrine-test-panic";

/// What the request says.
pub struct Incoming {
    pub url: String,
    pub host: String,
    pub https: bool,
    pub cookie: Option<String>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub accept: Option<String>,
    pub gpc: bool,
    pub geo: Geo,
    pub debug: bool,
    /// Debug token given and `?vt-debug` asked: the report goes into the page for the overlay.
    pub embed_explain: bool,
    pub panic: bool,
}

impl Incoming {
    pub fn is_bot(&self) -> bool {
        classify_device(self.user_agent.as_deref()) == Device::Bot
    }

    /// A page that may be personalized: asked for by a person, as HTML.
    pub fn may_personalize(&self) -> bool {
        !self.is_bot() && accepts_html(self.accept.as_deref())
    }
}

/// Why a bot's request is not personalized (the explain header says it; docs/edge.md gives
/// the rule).
pub fn bot_rule() -> String {
    format!(
        "bot user agent (empty, or containing one of: {}): nothing personalized or recorded; test with a browser's, e.g. curl -A 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0'",
        crate::signals::BOT_MARKERS.join(", ")
    )
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

pub fn read_incoming(req: &Request, settings: &Settings<'_>) -> Incoming {
    let url = req.inner().url();
    let parts = split_url(&url);
    let cookie = header(req, "cookie");
    // The token comes in a header (tools) or in a `vt_debug` cookie a developer sets once.
    let from_cookie = cookie.as_deref().and_then(|c| {
        cookie_values(c, DEBUG_COOKIE)
            .first()
            .map(|v| v.to_string())
    });
    let debug = match &settings.debug_token() {
        Some(t) => [header(req, DEBUG_HEADER), from_cookie]
            .iter()
            .flatten()
            .any(|given| constant_time_eq(t.as_bytes(), given.as_bytes())),
        None => false,
    };
    let overlay = has_param(parts.query, DEBUG_PARAM);
    let cf = req.cf();
    let mut geo = Geo {
        country: cf.and_then(|c| c.country()),
        region: cf.and_then(|c| c.region()),
        city: cf.and_then(|c| c.city()),
        continent: cf.and_then(|c| c.continent()),
    };
    if debug {
        if let Some(c) = header(req, COUNTRY_HEADER) {
            geo.country = Some(c);
        }
    }
    Incoming {
        host: parts.host.to_ascii_lowercase(),
        https: parts.scheme.eq_ignore_ascii_case("https"),
        url: url.clone(),
        cookie,
        user_agent: header(req, "user-agent"),
        referrer: header(req, "referer"),
        accept: header(req, "accept"),
        gpc: header(req, "sec-gpc").is_some_and(|v| v.trim() == "1"),
        geo,
        debug,
        embed_explain: debug && overlay,
        panic: debug && header(req, PANIC_HEADER).is_some() && settings.test_panic(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a request's `Accept` admits an HTML page (absent, `text/html` or `*/*`).
fn accepts_html(accept: Option<&str>) -> bool {
    accept.is_none_or(|a| {
        let a = a.to_ascii_lowercase();
        a.contains("text/html") || a.contains("*/*")
    })
}
