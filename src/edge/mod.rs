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

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use worker::{
    console_error, console_log, event, wasm_bindgen::JsCast, web_sys, Context, Date, Env, Fetch,
    Headers, Method, Request, Response, Result,
};

use crate::config::Config;
use crate::pipeline::{personalize, Keys, Mode, RequestInput};
use crate::rewrite::{RewritePlan, Rewriter};
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

/// The compiled configuration bundled at build time (`make worker`); empty if none was given.
const BUNDLED_CONFIG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bundled-config.bin"));

thread_local! {
    // One isolate runs one request at a time on one thread; these live as long as the isolate.
    static CONFIG: RefCell<Option<Loaded>> = const { RefCell::new(None) };
    static KEYS: RefCell<Option<&'static Keys>> = const { RefCell::new(None) };
}

struct Loaded {
    config: &'static Config,
    /// The bytes it came from, to notice a change in KV.
    bytes: Vec<u8>,
    checked_at: u64,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    // NOTE: `Err` here would become a 500; `handle` only fails when the origin cannot be reached.
    handle(req, env).await
}

/// What the request says, read before the request goes to the origin.
struct Incoming {
    url: String,
    host: String,
    https: bool,
    cookie: Option<String>,
    user_agent: Option<String>,
    referrer: Option<String>,
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

async fn fetch_origin(env: &Env, req: Request) -> Result<Response> {
    match secret(env, "ORIGIN_URL") {
        Some(base) => {
            let url = req.inner().url();
            let (_, _, path) = split_url(&url);
            let path = path.split('#').next().unwrap_or(path);
            let target = format!("{}{path}", base.trim_end_matches('/'));
            // NOTE: web-sys's RequestInit, not the worker crate's: that one converts its `cf`
            // properties on every request, 13 KB of code Vitrine never uses.
            let init = web_sys::RequestInit::new();
            init.set_method(&req.inner().method());
            init.set_headers(&req.inner().headers());
            init.set_redirect(web_sys::RequestRedirect::Manual);
            if !matches!(req.method(), Method::Get | Method::Head) {
                if let Some(body) = req.inner().body() {
                    init.set_body(&body);
                }
            }
            let forwarded = web_sys::Request::new_with_str_and_init(&target, &init)?;
            Fetch::Request(Request::from(forwarded)).send().await
        }
        None => env.assets("ASSETS")?.fetch_request(req).await,
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

async fn handle(req: Request, env: Env) -> Result<Response> {
    install_panic_notice();
    let started = Date::now().as_millis();
    let eligible = req.method() == Method::Get && header(&req, "range").is_none();
    let incoming = if eligible {
        read_incoming(&req, &env)
    } else {
        None
    };
    let origin = fetch_origin(&env, req).await?;
    let Some(incoming) = incoming else {
        return Ok(origin);
    };
    let html = origin
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    if origin.status_code() != 200 || !html {
        return Ok(origin);
    }
    Ok(personalize_response(origin, incoming, &env, started).await)
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

fn keys(env: &Env) -> std::result::Result<&'static Keys, String> {
    if let Some(k) = KEYS.with(|k| k.try_borrow().ok().and_then(|k| *k)) {
        return Ok(k);
    }
    let state = secret(env, "VITRINE_STATE_KEYS");
    let traits = secret(env, "VITRINE_TRAITS_KEYS");
    let (keys, dev) = Keys::from_specs(state.as_deref(), traits.as_deref())
        .map_err(|e| format!("VITRINE_STATE_KEYS/VITRINE_TRAITS_KEYS: {e}"))?;
    if dev {
        console_log!("vitrine: VITRINE_STATE_KEYS is not set; using the public development key (set it with `wrangler secret put VITRINE_STATE_KEYS`)");
    }
    let keys: &'static Keys = Box::leak(Box::new(keys));
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
    let json = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()
        .and_then(|v| worker::js_sys::JSON::stringify(&v).ok())
        .and_then(|s| s.as_string())
        .unwrap_or_default();
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
    mut origin: Response,
    inc: Incoming,
    env: &Env,
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
    let outcome = personalize(site, Mode::Edge(keys), &input);
    if inc.panic {
        panic!("vitrine: test panic requested");
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
        if matches!(
            lower.as_str(),
            "content-length" | "etag" | "cache-control" | "vary" | "set-cookie"
        ) {
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
    let _ = headers.set("cache-control", "private, no-cache");
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

    let source = match origin.stream() {
        Ok(s) => s,
        Err(e) => {
            console_error!("vitrine: origin body unreadable ({e}); serving the origin page");
            return origin;
        }
    };
    let buffer = Rc::new(RefCell::new(Vec::<u8>::new()));
    let sink = buffer.clone();
    let rewriter = Rewriter::new(&plan, move |c: &[u8]| {
        if let Ok(mut b) = sink.try_borrow_mut() {
            b.extend_from_slice(c);
        }
    });
    let take = move |b: &Rc<RefCell<Vec<u8>>>| {
        b.try_borrow_mut()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    };
    let body = futures_util::stream::unfold(
        (source, Some(rewriter), buffer, false),
        move |(mut src, mut rw, buf, done)| async move {
            if done {
                return None;
            }
            loop {
                match src.next().await {
                    Some(Ok(chunk)) => {
                        if let Some(r) = rw.as_mut() {
                            r.write(&chunk);
                        }
                        let out = take(&buf);
                        if !out.is_empty() {
                            return Some((
                                Ok::<Vec<u8>, worker::Error>(out),
                                (src, rw, buf, false),
                            ));
                        }
                    }
                    end => {
                        if let Some(Err(e)) = end {
                            console_error!("vitrine: origin body failed mid-stream ({e})");
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
                            Some((Ok(out), (src, rw, buf, true)))
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
            Response::empty()
                .map(|r| r.with_status(200))
                .unwrap_or(origin)
        }
    }
}
