//! The Cloudflare Worker (feature `edge`): the only code that names `worker::*`.
//!
//! Fetch the origin (the static-assets binding, or `ORIGIN_URL`), and when the response is a
//! 200 `text/html` answer to a GET from a person, decide and stream the rewrite; everything else
//! passes through untouched.
//!
//! Architecture Invariant: the shopper always gets a page. Vitrine's own failures (config, keys,
//! headers) return the origin response as it came; the request path has no `unwrap`, no
//! indexing that can fail and no `RefCell::borrow` that can clash, and `www/worker.mjs` serves
//! the origin if the wasm ever throws before answering (worker-build then reinitializes it).

mod collect;
mod sink;

use std::cell::RefCell;
use std::rc::Rc;

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use futures_util::StreamExt;
use worker::{
    console_error, console_log, event, wasm_bindgen::JsCast, web_sys, AbortController, Context,
    Date, Delay, Env, Fetch, Headers, Method, Request, Response, ResponseBody, Result,
};

use crate::config::Config;
use crate::events::{self, Source as EventSource, Stamp};
use crate::pipeline::{personalize, KeySource, Keys, Mode, RequestInput};
use crate::rewrite::{Charset, RewritePlan, Rewriter};
use crate::signals::{classify_device, Device, Geo, RequestFacts};

/// A request header carrying the debug token turns explain mode on.
const DEBUG_HEADER: &str = "x-vitrine-debug";
/// The explain header: decisions and reasons, as ASCII JSON.
const EXPLAIN_HEADER: &str = "x-vitrine-explain";
/// A cookie carrying the debug token, for the browser's debug overlay on edge pages.
const DEBUG_COOKIE: &str = "vt_debug";
/// With a valid debug token: the country to assume (tests; `wrangler dev` has no geo).
const COUNTRY_HEADER: &str = "x-vitrine-country";
/// With a valid debug token: the wasm memory size at the start of the request, in bytes.
const MEMORY_HEADER: &str = "x-vitrine-memory";
/// With a valid debug token and `VITRINE_TEST_PANIC=1`: panic (tests the fail-open wrapper).
const PANIC_HEADER: &str = "x-vitrine-test-panic";
/// Milliseconds a configuration read from Workers KV is used before it is read again.
const KV_TTL_MS: u64 = 60_000;
/// Default of `VITRINE_ORIGIN_TIMEOUT_MS`: how long the origin may take to send its headers.
const ORIGIN_TIMEOUT_MS: u64 = 15_000;
/// The origin's response header stating a conversion (`purchase; value=…; order=…`).
const CONVERSION_HEADER: &str = "x-vitrine-conversion";
/// Request headers that may make the origin answer 304 to a page that is then personalized.
const CONDITIONAL_HEADERS: [&str; 3] = ["if-none-match", "if-modified-since", "if-range"];
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

/// The compiled configuration bundled at build time (`make worker`); empty if none was given.
const BUNDLED_CONFIG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bundled-config.bin"));

thread_local! {
    // One isolate runs one request at a time on one thread; these live as long as the isolate.
    static CONFIG: RefCell<Option<Loaded>> = const { RefCell::new(None) };
    // `Some(None)`: read, and no keys are trusted.
    static KEYS: RefCell<Option<Option<&'static Keys>>> = const { RefCell::new(None) };
}

struct Loaded {
    config: &'static Config,
    /// The bytes it came from, to notice a change in KV.
    bytes: Vec<u8>,
    checked_at: u64,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    // NOTE: `Err` here would become a 500: `handle` answers origin faults itself (502/504).
    Ok(handle(req, env, ctx).await)
}

/// What the request says, read before the request goes to the origin.
struct Incoming {
    url: String,
    host: String,
    https: bool,
    cookie: Option<String>,
    user_agent: Option<String>,
    referrer: Option<String>,
    accept: Option<String>,
    gpc: bool,
    geo: Geo,
    debug: bool,
    /// Debug token given and `?vt-debug` asked: the report goes into the page for the overlay.
    embed_explain: bool,
    panic: bool,
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

fn secret(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.is_empty())
}

/// Scheme, host and path+query of an absolute URL, without a URL parser (keeps the `url`
/// crate and its Unicode tables out of the bundle; the runtime has already validated it).
fn split_url(url: &str) -> (&str, &str, &str) {
    let (scheme, rest) = crate::text::split_once_sub(url, "://").unwrap_or(("", url));
    let cut = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = if host.starts_with('[') {
        host.split_inclusive(']').next().unwrap_or(host)
    } else {
        host.split(':').next().unwrap_or(host)
    };
    (scheme, host, if path.is_empty() { "/" } else { path })
}

fn read_incoming(req: &Request, env: &Env) -> Option<Incoming> {
    let url = req.inner().url();
    let (scheme, host, _) = split_url(&url);
    let token = secret(env, "VITRINE_DEBUG_TOKEN");
    let cookie = header(req, "cookie");
    // The token comes in a header (tools) or in a `vt_debug` cookie a developer sets once.
    let from_cookie = cookie.as_deref().and_then(|c| {
        crate::signals::cookie_values(c, DEBUG_COOKIE)
            .first()
            .map(|v| v.to_string())
    });
    let debug = match token {
        Some(t) => [header(req, DEBUG_HEADER), from_cookie]
            .iter()
            .flatten()
            .any(|given| constant_time_eq(t.as_bytes(), given.as_bytes())),
        None => false,
    };
    let query = url
        .split('#')
        .next()
        .and_then(|u| u.split_once('?'))
        .map_or("", |(_, q)| q);
    let overlay = query
        .split('&')
        .any(|kv| kv == "vt-debug" || kv.starts_with("vt-debug="));
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
    Some(Incoming {
        host: host.to_ascii_lowercase(),
        https: scheme.eq_ignore_ascii_case("https"),
        url: url.clone(),
        cookie,
        user_agent: header(req, "user-agent"),
        referrer: header(req, "referer"),
        accept: header(req, "accept"),
        gpc: header(req, "sec-gpc").is_some_and(|v| v.trim() == "1"),
        geo,
        debug,
        embed_explain: debug && overlay,
        panic: debug
            && header(req, PANIC_HEADER).is_some()
            && secret(env, "VITRINE_TEST_PANIC").as_deref() == Some("1"),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why the origin gave no response.
enum OriginFault {
    /// No headers within `VITRINE_ORIGIN_TIMEOUT_MS`.
    Timeout(u64),
    /// Unreachable, reset, or not HTTP.
    Failed(String),
}

impl OriginFault {
    /// A short page for the shopper: 504 for a timeout, 502 otherwise (never cached).
    fn response(&self) -> Response {
        let (status, title) = match self {
            OriginFault::Timeout(ms) => {
                console_error!("vitrine: the origin sent no response within {ms} ms");
                (504, "504 Gateway Timeout")
            }
            OriginFault::Failed(e) => {
                console_error!("vitrine: the origin could not be reached ({e})");
                (502, "502 Bad Gateway")
            }
        };
        let page = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{title}</h1><p>The shop did not answer. Please try again in a moment.</p></body></html>\n"
        );
        let headers = Headers::new();
        let _ = headers.set("content-type", "text/html; charset=utf-8");
        let _ = headers.set("cache-control", "no-store");
        Response::builder()
            .with_status(status)
            .with_headers(headers)
            .fixed(page.into_bytes())
    }
}

/// The request as the origin gets it: Vitrine's own headers (`x-vitrine-*`, the debug token)
/// and the `vt_debug` cookie removed, and, for a page that may be personalized, the
/// conditional headers (a 304 would keep a stale personalized page in the browser).
fn origin_headers(req: &Request, strip_conditional: bool) -> web_sys::Headers {
    let out = Headers::new();
    for (k, v) in req.headers().entries() {
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("x-vitrine-")
            || (strip_conditional && CONDITIONAL_HEADERS.contains(&lower.as_str()))
        {
            continue;
        }
        if lower == "cookie" {
            let kept = crate::signals::cookie_header_without(&v, DEBUG_COOKIE);
            if !kept.is_empty() {
                let _ = out.append(&k, &kept);
            }
            continue;
        }
        let _ = out.append(&k, &v);
    }
    out.0
}

async fn fetch_origin(
    env: &Env,
    req: Request,
    strip_conditional: bool,
) -> std::result::Result<Response, OriginFault> {
    let url = req.inner().url();
    let base = secret(env, "ORIGIN_URL");
    let target = match &base {
        Some(base) => {
            let (_, _, path) = split_url(&url);
            let path = path.split('#').next().unwrap_or(path);
            format!("{}{path}", base.trim_end_matches('/'))
        }
        None => url.clone(),
    };
    let timeout_ms = secret(env, "VITRINE_ORIGIN_TIMEOUT_MS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(ORIGIN_TIMEOUT_MS);
    let controller = AbortController::default();
    // NOTE: web-sys's RequestInit, not the worker crate's: that one converts its `cf`
    // properties on every request, 13 KB of code Vitrine never uses.
    let init = web_sys::RequestInit::new();
    init.set_method(&req.inner().method());
    init.set_headers(&origin_headers(&req, strip_conditional));
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_signal(Some(&controller.signal()));
    if !matches!(req.method(), Method::Get | Method::Head) {
        if let Some(body) = req.inner().body() {
            init.set_body(&body);
        }
    }
    let forwarded = web_sys::Request::new_with_str_and_init(&target, &init)
        .map_err(|e| OriginFault::Failed(format!("{e:?}")))?;
    let forwarded = Request::from(forwarded);
    let proxied = base.is_some();
    let sent = async move {
        match proxied {
            true => Fetch::Request(forwarded).send().await,
            false => match env.assets("ASSETS") {
                Ok(assets) => assets.fetch_request(forwarded).await,
                Err(e) => Err(e),
            },
        }
    };
    // The timeout covers the response headers; the body then streams as long as it takes.
    match select(
        pin!(sent),
        pin!(Delay::from(Duration::from_millis(timeout_ms))),
    )
    .await
    {
        Either::Left((Ok(r), _)) => Ok(r),
        Either::Left((Err(e), _)) => Err(OriginFault::Failed(e.to_string())),
        Either::Right(_) => {
            controller.abort();
            Err(OriginFault::Timeout(timeout_ms))
        }
    }
}

/// Chains a panic hook that tells the JS entry (`www/worker.mjs`) to serve the origin for the
/// requests in flight: with `panic = "abort"` their promises would otherwise never settle.
/// Installed once per wasm instance (a reinitialized instance installs it again).
fn install_panic_notice() {
    thread_local! { static INSTALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) }; }
    if INSTALLED.with(|i| i.replace(true)) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous(info);
        use worker::js_sys::{global, Function, Reflect};
        let g = global();
        if let Some(f) = Reflect::get(&g, &"__vitrine_on_panic".into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
        {
            let _ = f.call0(&g);
        }
    }));
}

async fn handle(req: Request, env: Env, ctx: Context) -> Response {
    install_panic_notice();
    let started = Date::now().as_millis();
    if req.path() == collect::PATH {
        return collect::handle(req, &env, &ctx).await;
    }
    let eligible = req.method() == Method::Get && header(&req, "range").is_none();
    let incoming = if eligible {
        read_incoming(&req, &env)
    } else {
        None
    };
    // A page that may be personalized is fetched whole: a 304 from the origin would let the
    // browser keep a personalized page that no longer holds.
    let may_personalize = incoming.as_ref().is_some_and(|i| {
        classify_device(i.user_agent.as_deref()) != Device::Bot && accepts_html(i.accept.as_deref())
    });
    let origin = match fetch_origin(&env, req, may_personalize).await {
        Ok(r) => r,
        Err(fault) => return fault.response(),
    };
    let Some(incoming) = incoming else {
        return without_conversion(origin);
    };
    let header_of = |name: &str| origin.headers().get(name).ok().flatten();
    let content_type = header_of("content-type").unwrap_or_default();
    let html = content_type.to_ascii_lowercase().starts_with("text/html");
    // The runtime decodes gzip and br; anything else reaches the worker still encoded.
    let decoded = header_of("content-encoding").is_none_or(|e| {
        matches!(
            e.trim().to_ascii_lowercase().as_str(),
            "" | "identity" | "gzip" | "br"
        )
    });
    let charset = Charset::of_content_type(&content_type);
    if origin.status_code() != 200 || !html || !decoded || charset == Charset::Unsupported {
        return without_conversion(origin);
    }
    // Its fail-open paths (bots, no site, config or key errors) return the origin response too.
    without_conversion(personalize_response(origin, incoming, charset, &env, &ctx, started).await)
}

/// The origin's conversion header is for the worker: it never reaches the shopper, even on a
/// page that is not personalized (then nothing is recorded: no visitor was read).
fn without_conversion(origin: Response) -> Response {
    if origin.headers().has(CONVERSION_HEADER).unwrap_or(false) {
        let headers = origin.headers().clone();
        let _ = headers.delete(CONVERSION_HEADER);
        return origin.with_headers(headers);
    }
    origin
}

/// Whether a request's `Accept` admits an HTML page (absent, `text/html` or `*/*`).
fn accepts_html(accept: Option<&str>) -> bool {
    accept.is_none_or(|a| {
        let a = a.to_ascii_lowercase();
        a.contains("text/html") || a.contains("*/*")
    })
}

async fn config(env: &Env) -> std::result::Result<&'static Config, String> {
    let now = Date::now().as_millis();
    let cached = CONFIG.with(|c| {
        c.try_borrow()
            .ok()
            .and_then(|c| c.as_ref().map(|l| (l.config, l.checked_at)))
    });
    let kv = env.kv("VITRINE_CONFIG_KV").ok();
    if let Some((config, checked_at)) = cached {
        if kv.is_none() || now.saturating_sub(checked_at) < KV_TTL_MS {
            return Ok(config);
        }
    }
    let bytes = match &kv {
        Some(store) => match store.get("config").bytes().await {
            Ok(Some(b)) => b,
            Ok(None) => BUNDLED_CONFIG.to_vec(),
            Err(e) => {
                console_error!(
                    "vitrine: reading config from KV failed ({e}); using the bundled config"
                );
                BUNDLED_CONFIG.to_vec()
            }
        },
        None => BUNDLED_CONFIG.to_vec(),
    };
    let unchanged = CONFIG.with(|c| {
        c.try_borrow()
            .ok()
            .and_then(|c| c.as_ref().filter(|l| l.bytes == bytes).map(|l| l.config))
    });
    let config = match unchanged {
        Some(c) => c,
        None => {
            // A compiled configuration (`vitrine compile`): no JSON parsing at the edge.
            let parsed = Config::from_compiled(&bytes)
                .map_err(|e| format!("invalid configuration:\n{e}"))?;
            // NOTE: leaked once per isolate, and again only when the KV value changes.
            &*Box::leak(Box::new(parsed))
        }
    };
    CONFIG.with(|c| {
        if let Ok(mut slot) = c.try_borrow_mut() {
            *slot = Some(Loaded {
                config,
                bytes,
                checked_at: now,
            });
        }
    });
    Ok(config)
}

/// The keys this deployment trusts, read once per isolate: its secrets, or the public
/// development keys only with `VITRINE_ALLOW_DEV_KEYS=1` (local demo and tests); `None` when
/// neither: state is kept unsigned and nothing signed is trusted ([`Keys::for_deployment`]).
fn keys(env: &Env) -> std::result::Result<Option<&'static Keys>, String> {
    if let Some(k) = KEYS.with(|k| k.try_borrow().ok().and_then(|k| *k)) {
        return Ok(k);
    }
    let state = secret(env, "VITRINE_STATE_KEYS");
    let traits = secret(env, "VITRINE_TRAITS_KEYS");
    let allow_dev = secret(env, "VITRINE_ALLOW_DEV_KEYS").as_deref() == Some("1");
    let keys = Keys::for_deployment(state.as_deref(), traits.as_deref(), allow_dev)
        .map_err(|e| format!("VITRINE_STATE_KEYS/VITRINE_TRAITS_KEYS: {e}"))?;
    let keys: Option<&'static Keys> = match keys {
        Some((keys, source)) => {
            if source == KeySource::Development {
                console_log!("vitrine: VITRINE_ALLOW_DEV_KEYS=1: signing with the public development keys (never in production)");
            }
            Some(Box::leak(Box::new(keys)))
        }
        None => {
            console_error!("vitrine: VITRINE_STATE_KEYS is not set: state is unsigned and no signed state or traits are trusted (set it with `wrangler secret put VITRINE_STATE_KEYS`)");
            None
        }
    };
    KEYS.with(|k| {
        if let Ok(mut slot) = k.try_borrow_mut() {
            *slot = Some(keys);
        }
    });
    Ok(keys)
}

/// Fills `buf` from `crypto.getRandomValues`; falls back to `Math.random` if that is missing.
fn random_bytes(buf: &mut [u8]) {
    use worker::js_sys::{global, Function, Math, Reflect, Uint8Array};
    let filled = (|| {
        let crypto = Reflect::get(&global(), &"crypto".into()).ok()?;
        let f: Function = Reflect::get(&crypto, &"getRandomValues".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let arr = Uint8Array::new_with_length(buf.len() as u32);
        f.call1(&crypto, &arr).ok()?;
        arr.copy_to(buf);
        Some(())
    })();
    if filled.is_none() {
        for b in buf.iter_mut() {
            *b = (Math::random() * 256.0) as u8;
        }
    }
}

fn wasm_memory_bytes() -> u64 {
    #[cfg(target_arch = "wasm32")]
    {
        core::arch::wasm32::memory_size(0) as u64 * 65_536
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0
    }
}

/// JSON with every non-ASCII character escaped, so it fits in a header. The runtime's
/// `JSON.stringify` writes it (serde-wasm-bindgen builds the value): no JSON serializer and no
/// float formatting code in the bundle.
fn ascii_json(value: &impl serde::Serialize) -> String {
    let json = js_json(value).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(char::from(
                        b"0123456789abcdef"[usize::from(*u >> shift & 0xf)],
                    ));
                }
            }
        }
    }
    out
}

/// JSON written by the runtime's `JSON.stringify` (serde-wasm-bindgen builds the value).
fn js_json(value: &impl serde::Serialize) -> Option<String> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()
        .and_then(|v| worker::js_sys::JSON::stringify(&v).ok())
        .and_then(|s| s.as_string())
}

/// Event records as NDJSON, written by the runtime (no JSON serializer in the bundle).
fn ndjson(records: impl IntoIterator<Item = impl serde::Serialize>) -> String {
    let mut out = String::new();
    for r in records {
        if let Some(line) = js_json(&r) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
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

async fn personalize_response(
    origin: Response,
    inc: Incoming,
    charset: Charset,
    env: &Env,
    ctx: &Context,
    started: u64,
) -> Response {
    let memory = wasm_memory_bytes();
    let config = match config(env).await {
        Ok(c) => c,
        Err(e) => {
            console_error!("vitrine: {e}; serving the origin page");
            return origin;
        }
    };
    let Some(site) = config.site_for_host(&inc.host) else {
        return origin;
    };
    if classify_device(inc.user_agent.as_deref()) == Device::Bot {
        return origin;
    }
    let keys = match keys(env) {
        Ok(k) => k,
        Err(e) => {
            console_error!("vitrine: {e}; serving the origin page");
            return origin;
        }
    };
    let mut fresh_id = [0u8; 16];
    random_bytes(&mut fresh_id);
    let mut nonce = [0u8; 8];
    random_bytes(&mut nonce);
    let input = RequestInput {
        facts: RequestFacts {
            url: &inc.url,
            user_agent: inc.user_agent.as_deref(),
            referrer: inc.referrer.as_deref(),
            gpc: inc.gpc,
            geo: inc.geo.clone(),
            now_ms: Date::now().as_millis(),
        },
        cookie_header: inc.cookie.as_deref(),
        fresh_id,
        page_traits: None,
    };
    // Without trusted keys the state is kept as the browser keeps it: unsigned, no traits.
    let mode = keys.map_or(Mode::Browser, Mode::Edge);
    let outcome = personalize(site, mode, &input);
    if inc.panic {
        panic!("vitrine: test panic requested");
    }
    // What was shown and what the origin says was bought, sent after the response.
    let sinks = sink::Sinks::from_env(env);
    if sinks.any() {
        let mut request_id = [0u8; 8];
        random_bytes(&mut request_id);
        if let Some(stamp) = Stamp::of(
            site,
            &outcome,
            Date::now().as_millis(),
            request_id,
            EventSource::Edge,
        ) {
            // Compact on the request path (names borrowed from the site); written out after it.
            let mut records = events::RequestEvents::of(site, &outcome, stamp);
            if let Some(header) = origin.headers().get(CONVERSION_HEADER).ok().flatten() {
                let stamp = Stamp {
                    source: EventSource::Origin,
                    ..records.stamp.clone()
                };
                match events::parse_conversion(&header, &stamp) {
                    Ok(c) => records.conversions.push(c),
                    Err(e) => {
                        console_error!("vitrine: {CONVERSION_HEADER}: {e}; no conversion recorded")
                    }
                }
            }
            if !records.is_empty() {
                sinks.send(ctx, move || ndjson(records.views()));
            }
        }
    }
    // The explain report, built and written once for the header and the overlay.
    let explain = inc.debug.then(|| ascii_json(&outcome.report(site)));
    let mut plan = RewritePlan::new(site, &outcome.decisions, u64::from_le_bytes(nonce));
    if let (true, Some(json)) = (inc.embed_explain, &explain) {
        // Inert JSON for the overlay (www/vitrine/vitrine.mjs); `<` `>` `&` escaped so that it
        // cannot end the script element.
        let json = json
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        plan = plan.with_body_appendix(format!(
            "<script type=\"application/json\" id=\"vt-explain\">{json}</script>"
        ));
    }

    // Headers first: nothing after the body is taken may fail.
    let headers = Headers::new();
    for (k, v) in origin.headers().entries() {
        let lower = k.to_ascii_lowercase();
        if DROPPED_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let _ = headers.append(&k, &v);
    }
    for c in origin.headers().get_all("set-cookie").unwrap_or_default() {
        let _ = headers.append("set-cookie", &c);
    }
    let secure = if inc.https { "; Secure" } else { "" };
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
    let no_store = origin
        .headers()
        .get("cache-control")
        .ok()
        .flatten()
        .is_some_and(|c| c.to_ascii_lowercase().contains("no-store"));
    let _ = headers.set(
        "cache-control",
        if no_store {
            "private, no-store"
        } else {
            "private, no-cache"
        },
    );
    let _ = headers.set(
        "vary",
        &merge_vary(origin.headers().get("vary").ok().flatten()),
    );
    let dur = Date::now().as_millis().saturating_sub(started);
    let _ = headers.set("server-timing", &format!("vitrine;dur={dur}"));
    if let Some(json) = &explain {
        let _ = headers.set(EXPLAIN_HEADER, json);
        let _ = headers.set(MEMORY_HEADER, &memory.to_string());
    }

    let buffer = Rc::new(RefCell::new(Vec::<u8>::new()));
    let sink = buffer.clone();
    let rewriter = Rewriter::with_charset(&plan, charset, move |c: &[u8]| {
        if let Ok(mut b) = sink.try_borrow_mut() {
            b.extend_from_slice(c);
        }
    });
    // NOTE: `handle` passes unsupported encodings through before this point.
    let Ok(rewriter) = rewriter else {
        return origin;
    };
    // A body the runtime did not decode has a length to hold it to: a shorter one is cut.
    let expected_len = origin
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .filter(|_| {
            origin
                .headers()
                .get("content-encoding")
                .ok()
                .flatten()
                .is_none_or(|e| e.trim().is_empty() || e.trim().eq_ignore_ascii_case("identity"))
        })
        .and_then(|l| l.trim().parse::<u64>().ok());
    // NOTE: the raw body stream, not `Response::stream()`: that one reports a body that failed
    // with "aborted" as a clean end, and a cut page would be delivered as complete.
    let source = match origin.body() {
        ResponseBody::Stream(raw) => wasm_streams::ReadableStream::from_raw(raw.clone())
            .into_stream()
            .map(|chunk| {
                chunk
                    .map(|c| worker::js_sys::Uint8Array::new(&c).to_vec())
                    .map_err(|e| worker::Error::from(e).to_string())
            }),
        _ => {
            console_error!("vitrine: origin body is not a stream; serving the origin page");
            return origin;
        }
    };
    let take = move |b: &Rc<RefCell<Vec<u8>>>| {
        b.try_borrow_mut()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    };
    let body = futures_util::stream::unfold(
        (source, Some(rewriter), buffer, 0u64, false),
        move |(mut src, mut rw, buf, mut read, done)| async move {
            if done {
                return None;
            }
            loop {
                match src.next().await {
                    Some(Ok(chunk)) => {
                        read += chunk.len() as u64;
                        if let Some(r) = rw.as_mut() {
                            r.write(&chunk);
                        }
                        let out = take(&buf);
                        if !out.is_empty() {
                            return Some((Ok(out), (src, rw, buf, read, false)));
                        }
                    }
                    end => {
                        // A broken origin body must not become a complete page: the response
                        // is errored, never ended cleanly.
                        let cut = match end {
                            Some(Err(e)) => Some(e),
                            _ => expected_len
                                .filter(|want| read < *want)
                                .map(|want| format!("{read} of {want} bytes")),
                        };
                        if let Some(why) = cut {
                            console_error!("vitrine: origin body failed mid-stream ({why}); aborting the response");
                            return Some((
                                Err(worker::Error::RustError(format!("origin body cut: {why}"))),
                                (src, None, buf, read, true),
                            ));
                        }
                        if let Some(r) = rw.take() {
                            let stats = r.end();
                            if let Some(b) = stats.bailed_out {
                                console_error!("vitrine: rewrite bailed out ({b}); the rest passed through unchanged");
                            }
                        }
                        let out = take(&buf);
                        return if out.is_empty() {
                            None
                        } else {
                            Some((Ok(out), (src, rw, buf, read, true)))
                        };
                    }
                }
            }
        },
    );
    match Response::from_stream(body) {
        Ok(r) => r.with_status(200).with_headers(headers),
        Err(e) => {
            // NOTE: unreachable in practice (wrapping a Rust stream as a ReadableStream); the
            // origin body is already taken, so the best left is an empty page, not a 5xx.
            console_error!("vitrine: cannot build the response stream ({e})");
            Response::builder().with_status(200).empty()
        }
    }
}
