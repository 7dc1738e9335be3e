//! The request as typed facts: page type and parameters, query, referrer, device, time, geo.

use crate::config::{EventKind, Site, OTHER_PAGE};
use crate::text::cut;

use super::events::{split_terms, Event};
use super::url::{split_url, UrlParts};

/// Longest query value kept, in bytes; longer values are cut at a character boundary.
const MAX_QUERY_VALUE: usize = 256;
/// Most query parameters read.
const MAX_QUERY_PARAMS: usize = 32;

/// Geography, as the platform reports it (Cloudflare's `request.cf`); all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
    pub continent: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Desktop,
    Mobile,
    Tablet,
    Bot,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Desktop => "desktop",
            Device::Mobile => "mobile",
            Device::Tablet => "tablet",
            Device::Bot => "bot",
        }
    }
}

/// Facts about one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestContext {
    /// Percent-decoded path.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub page_type: String,
    pub page_params: Vec<(String, String)>,
    /// Query parameter holding search terms, when the page is a search page.
    pub search_param: Option<String>,
    /// Referrer host, lowercased.
    pub referrer: Option<String>,
    pub device: Device,
    pub gpc: bool,
    pub geo: Geo,
    /// UTC hour 0–23.
    pub hour: u8,
    /// UTC weekday, 0 = Sunday.
    pub weekday: u8,
}

impl RequestContext {
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn page_param(&self, name: &str) -> Option<&str> {
        self.page_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the platform tells about a request, before interpretation.
#[derive(Debug, Clone, Default)]
pub struct RequestFacts<'a> {
    /// Absolute URL or path with query.
    pub url: &'a str,
    pub user_agent: Option<&'a str>,
    pub referrer: Option<&'a str>,
    pub gpc: bool,
    pub geo: Geo,
    /// Unix milliseconds.
    pub now_ms: u64,
}

/// Interprets a request for a site. Never fails: odd URLs give an `other` page.
/// Not inlined: the browser module calls it from two exports.
#[inline(never)]
pub fn read_context(site: &Site, facts: &RequestFacts<'_>) -> RequestContext {
    let UrlParts { path, query, .. } = split_url(facts.url);
    let path = percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned();
    let query: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .take(MAX_QUERY_PARAMS)
        .map(|(k, v)| (k.into_owned(), cut(&v, MAX_QUERY_VALUE).to_string()))
        .collect();
    let mut page_params = Vec::new();
    let (page_type, search_param) = site
        .page_types
        .iter()
        .find(|pt| pt.pattern.matches(&path, &mut page_params))
        .map_or((OTHER_PAGE.to_string(), None), |pt| {
            (pt.kind.clone(), pt.search_param.clone())
        });
    for (_, v) in &mut page_params {
        *v = cut(v, MAX_QUERY_VALUE).to_string();
    }
    let secs = facts.now_ms / 1000;
    RequestContext {
        path,
        query,
        page_type,
        page_params,
        search_param,
        referrer: facts.referrer.and_then(referrer_host),
        device: classify_device(facts.user_agent),
        gpc: facts.gpc,
        geo: facts.geo.clone(),
        hour: ((secs / 3600) % 24) as u8,
        weekday: ((secs / 86_400 + 4) % 7) as u8,
    }
}

/// Events the request itself stands for: a page view, plus a category view, product view or
/// search derived from the page type and its parameters.
pub fn request_events(ctx: &RequestContext) -> Vec<Event> {
    let mut out = vec![Event::new(EventKind::PageView)];
    let param = |n: &str| ctx.page_param(n).map(|v| v.to_ascii_lowercase());
    match ctx.page_type.as_str() {
        "category" => {
            if let Some(category) = param("category") {
                out.push(Event {
                    category: Some(category),
                    ..Event::new(EventKind::CategoryView)
                });
            }
        }
        "product" => {
            // The `{sku}` capture, or else the whole last path segment (`/p/{category}-{slug}`).
            let last = ctx
                .path
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .filter(|s| !s.is_empty());
            let sku = ctx.page_param("sku").or(last).map(str::to_string);
            out.push(Event {
                sku,
                category: param("category"),
                ..Event::new(EventKind::ProductView)
            });
        }
        "search" => {
            let q = ctx
                .search_param
                .as_deref()
                .and_then(|p| ctx.query_value(p))
                .unwrap_or("");
            let terms = split_terms(q);
            if !terms.is_empty() {
                out.push(Event {
                    terms,
                    ..Event::new(EventKind::Search)
                });
            }
        }
        _ => {}
    }
    out
}

fn referrer_host(r: &str) -> Option<String> {
    let host = split_url(r).host;
    (!host.is_empty() && host.len() <= 253).then(|| host.to_ascii_lowercase())
}

/// What makes a user agent a bot's (lowercased, anywhere in it); an empty one is a bot's too.
pub const BOT_MARKERS: [&str; 14] = [
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "mediapartners",
    "preview",
    "lighthouse",
    "headlesschrome",
    "python-requests",
    "curl/",
    "wget/",
    "httpclient",
    "feedfetcher",
];

/// Device class from the user agent. Missing agents count as bots: browsers always send one.
pub fn classify_device(ua: Option<&str>) -> Device {
    let Some(ua) = ua.filter(|u| !u.trim().is_empty()) else {
        return Device::Bot;
    };
    let lower = ua.to_ascii_lowercase();
    let has = |m: &str| crate::text::contains_sub(&lower, m);
    if BOT_MARKERS.iter().any(|m| has(m)) {
        Device::Bot
    } else if has("ipad") || has("tablet") || (has("android") && !has("mobile")) {
        Device::Tablet
    } else if has("mobi") || has("iphone") || has("android") {
        Device::Mobile
    } else {
        Device::Desktop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrers() {
        assert_eq!(
            referrer_host("https://www.Google.com/search?q=x").as_deref(),
            Some("www.google.com")
        );
        assert_eq!(
            referrer_host("https://u:p@host:8080/x").as_deref(),
            Some("host")
        );
        assert_eq!(referrer_host("not a url"), None);
    }

    #[test]
    fn devices() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
        assert_eq!(classify_device(Some(chrome)), Device::Desktop);
        assert_eq!(
            classify_device(Some(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
            )),
            Device::Mobile
        );
        assert_eq!(
            classify_device(Some(
                "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36"
            )),
            Device::Tablet
        );
        assert_eq!(
            classify_device(Some(
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            )),
            Device::Bot
        );
        assert_eq!(classify_device(None), Device::Bot);
    }

    #[test]
    fn cuts_at_char_boundaries() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("abc", 5), "abc");
    }
}
