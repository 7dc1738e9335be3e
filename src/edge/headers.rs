//! A personalized page's response headers: the origin's, less what would let a cache keep or
//! mix personalized pages, plus the state cookie (or, without consent, its deletion),
//! `Vary: Cookie`, and in explain mode the report.

use worker::{Headers, Response};

use crate::config::Site;
use crate::pipeline::Outcome;

use super::origin::CONVERSION_HEADER;
use super::request::Incoming;

/// The explain header: decisions and reasons, as ASCII JSON.
const EXPLAIN_HEADER: &str = "x-vitrine-explain";
/// With a valid debug token: the wasm memory size at the start of the request, in bytes.
const MEMORY_HEADER: &str = "x-vitrine-memory";
/// Origin response headers a personalized page drops: CDN cache directives that would override
/// `Cache-Control: private` for the caches they target (RFC 9213), validators and range support
/// that would let a revalidation keep a stale personalized page, and the length and digest of a
/// body that changed.
const DROPPED_HEADERS: [&str; 13] = [
    CONVERSION_HEADER,
    "content-length",
    "content-md5",
    "etag",
    "last-modified",
    "accept-ranges",
    "expires",
    "cache-control",
    "cdn-cache-control",
    "cloudflare-cdn-cache-control",
    "surrogate-control",
    "vary",
    "set-cookie",
];

/// The explain report (ASCII JSON) and the wasm memory at the request's start, in explain mode.
pub struct Explain<'a> {
    pub json: &'a str,
    pub memory: u64,
}

/// The headers of the personalized page built from `origin`.
pub fn personalized_headers(
    origin: &Response,
    site: &Site,
    outcome: &Outcome<'_>,
    inc: &Incoming,
    took_ms: u64,
    explain: Option<Explain<'_>>,
) -> Headers {
    let from_origin = |name: &str| origin.headers().get(name).ok().flatten();
    let headers = Headers::new();
    for (k, v) in origin.headers().entries() {
        if !DROPPED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
            let _ = headers.append(&k, &v);
        }
    }
    for c in origin.headers().get_all("set-cookie").unwrap_or_default() {
        let _ = headers.append("set-cookie", &c);
    }
    let secure = if inc.https { "; Secure" } else { "" };
    if outcome.forget {
        // Consent withdrawn (or never given): the state and the click stream go.
        for name in ["vt", "vt_e"] {
            let _ = headers.append(
                "set-cookie",
                &format!("{name}=; Path=/; Max-Age=0; SameSite=Lax{secure}"),
            );
        }
    }
    if let Some(token) = &outcome.state_token {
        let max_age = u64::from(site.privacy.state_max_age_secs);
        let _ = headers.append(
            "set-cookie",
            &format!("vt={token}; Path=/; Max-Age={max_age}; SameSite=Lax; HttpOnly{secure}"),
        );
        if outcome.had_events {
            let _ = headers.append(
                "set-cookie",
                &format!("vt_e=; Path=/; Max-Age=0; SameSite=Lax{secure}"),
            );
        }
    }
    // Shared caches never store a personalized page; an origin's `no-store` (account and
    // checkout pages) stays.
    let no_store =
        from_origin("cache-control").is_some_and(|c| c.to_ascii_lowercase().contains("no-store"));
    let _ = headers.set(
        "cache-control",
        if no_store {
            "private, no-store"
        } else {
            "private, no-cache"
        },
    );
    let _ = headers.set("vary", &merge_vary(from_origin("vary")));
    // NOTE: the runtime's clock moves only across I/O: this is mostly the origin's wait.
    let _ = headers.set("server-timing", &format!("vitrine;dur={took_ms}"));
    if let Some(explain) = explain {
        let _ = headers.set(EXPLAIN_HEADER, explain.json);
        let _ = headers.set(MEMORY_HEADER, &explain.memory.to_string());
    }
    headers
}

/// A response with the explain header set to `json` (a page left as the origin sent it).
pub fn with_explain(response: Response, json: &str) -> Response {
    let headers = response.headers().clone();
    let _ = headers.set(EXPLAIN_HEADER, json);
    response.with_headers(headers)
}

fn merge_vary(existing: Option<String>) -> String {
    match existing {
        Some(v)
            if v.split(',')
                .any(|p| p.trim() == "*" || p.trim().eq_ignore_ascii_case("cookie")) =>
        {
            v
        }
        Some(v) if !v.trim().is_empty() => format!("{v}, Cookie"),
        _ => "Cookie".to_string(),
    }
}
