//! The Cloudflare Worker (feature `edge`): the only code that names `worker::*`.
//!
//! Fetch the origin (the static-assets binding, or `ORIGIN_URL`), and when the response is a
//! 200 `text/html` answer to a GET from a person, decide and stream the rewrite; everything else
//! passes through untouched. One file a job: `settings` reads the deployment's environment,
//! `request` the shopper's request, `origin` forwards it and answers its faults, `records`
//! sends the event records (through `sinks`), `headers` and `body` build the personalized
//! response; `collect` takes the browser's records, `module` serves the browser module's files.
//!
//! Architecture Invariant: the shopper always gets a page. Vitrine's own failures (config, keys,
//! headers) return the origin response as it came; the request path has no `unwrap`, no
//! indexing that can fail and no `RefCell::borrow` that can clash, and `www/worker.mjs` serves
//! the origin if the wasm ever throws before answering (worker-build then reinitializes it).

mod beacon;
mod body;
mod collect;
mod headers;
mod json;
mod module;
mod origin;
mod records;
mod request;
mod settings;
mod shown;
mod sinks;

use worker::{
    console_error, event, wasm_bindgen::JsCast, Context, Date, Env, Method, Request, Response,
    Result,
};

use crate::pipeline::{personalize, Mode, RequestInput};
use crate::rewrite::{Charset, RewritePlan};

use headers::Explain;
use origin::OriginFault;
use request::Incoming;
use settings::Settings;

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    // NOTE: `Err` here would become a 500: `handle` answers origin faults itself (502/504).
    Ok(handle(req, env, ctx).await)
}

async fn handle(req: Request, env: Env, ctx: Context) -> Response {
    install_panic_notice();
    let started = Date::now().as_millis();
    let settings = Settings::read(&env);
    if req.path() == collect::PATH {
        return collect::handle(req, &env, &settings, &ctx).await;
    }
    if req.path().starts_with(module::PREFIX) {
        return module::serve(req, &env).await;
    }
    let eligible = req.method() == Method::Get && request::header(&req, "range").is_none();
    let incoming = eligible.then(|| request::read_incoming(&req, &settings));
    // A page that may be personalized is fetched whole: a 304 from the origin would let the
    // browser keep a personalized page that no longer holds.
    let may_personalize = incoming.as_ref().is_some_and(Incoming::may_personalize);
    let origin = match origin::fetch_origin(&settings, req, may_personalize).await {
        Ok(r) => r,
        Err(fault) => return fault.response(),
    };
    let Some(incoming) = incoming else {
        return origin::without_conversion(origin);
    };
    let Some(charset) = origin::rewritable(&origin) else {
        let why = origin::not_rewritable(&origin);
        return skipped(origin::without_conversion(origin), &incoming, &why);
    };
    // Its fail-open paths (bots, no site, config or key errors) return the origin response too.
    let page = personalize_response(origin, incoming, charset, &env, &settings, &ctx, started);
    let page = page.await;
    origin::without_conversion(page)
}

/// The origin's page, unpersonalized; with a valid debug token, `x-vitrine-explain` says why.
fn skipped(origin: Response, inc: &Incoming, why: &str) -> Response {
    if !inc.debug {
        return origin;
    }
    let why = json::ascii_json_string(why);
    headers::with_explain(origin, &format!("{{\"personalized\":false,\"why\":{why}}}"))
}

/// Decide, record, plan, headers, body: the personalized page, or the origin's on any failure.
async fn personalize_response(
    mut origin: Response,
    inc: Incoming,
    charset: Charset,
    env: &Env,
    settings: &Settings<'_>,
    ctx: &Context,
    started: u64,
) -> Response {
    let memory = wasm_memory_bytes();
    let (config, keys) = match (settings::config(env).await, settings::keys(env)) {
        (Ok(config), Ok(keys)) => (config, keys),
        (Err(e), _) | (_, Err(e)) => {
            console_error!("vitrine: {e}; serving the origin page");
            return skipped(origin, &inc, &e.to_string());
        }
    };
    let Some(site) = config.site_for_host(&inc.host) else {
        let why = format!(
            "no site of the configuration serves the host '{}'",
            inc.host
        );
        return skipped(origin, &inc, &why);
    };
    if inc.is_bot() {
        return skipped(origin, &inc, &request::bot_rule());
    }
    // Explain mode reads the page whole first: the report then says what the page got.
    let whole = match inc.debug {
        true => Some(body::read_whole(&mut origin).await),
        false => None,
    };
    let mut fresh_id = [0u8; 16];
    random_bytes(&mut fresh_id);
    let input = RequestInput::new(&inc.url, Date::now().as_millis(), fresh_id)
        .cookie(inc.cookie.as_deref())
        .user_agent(inc.user_agent.as_deref())
        .referrer(inc.referrer.as_deref())
        .gpc(inc.gpc)
        .geo(inc.geo.clone())
        .allow_force(inc.debug);
    // Without trusted keys the state is kept as the browser keeps it: unsigned, no traits.
    let mut outcome = personalize(site, keys.map_or(Mode::Browser, Mode::Edge), &input);
    if inc.panic {
        panic!("vitrine: test panic requested");
    }
    let conversion = origin
        .headers()
        .get(origin::CONVERSION_HEADER)
        .ok()
        .flatten();
    let mut nonce = [0u8; 8];
    random_bytes(&mut nonce);
    let plan = RewritePlan::new(site, &outcome.decisions, u64::from_le_bytes(nonce));
    let (shown, page) = shown::channel();
    // Explain mode: the page read whole is rewritten now, and the report says what it got.
    let mut explained = None;
    if let Some(whole) = whole {
        let rewritten = whole.and_then(|bytes| body::rewritten_whole(&bytes, &plan, charset));
        let (html, on_page) = match rewritten {
            Ok(done) => done,
            Err(e) => {
                console_error!("vitrine: origin body failed ({e}); aborting the response");
                return OriginFault::Failed(e).response();
            }
        };
        outcome.decisions.settle(&on_page);
        explained = Some((html, json::ascii_json(&outcome.report(site)), on_page));
    }
    let took_ms = Date::now().as_millis().saturating_sub(started);
    let explain = explained
        .as_ref()
        .map(|(_, json, _)| Explain { json, memory });
    let headers = headers::personalized_headers(&origin, site, &outcome, &inc, took_ms, explain);
    records::record(&settings.sinks(), ctx, site, outcome, conversion, page);
    let Some((mut html, explain, on_page)) = explained else {
        return body::rewritten(origin, &plan, charset, headers, shown);
    };
    shown.send(on_page);
    if inc.embed_explain {
        // Inert JSON for the overlay (www/vitrine/vitrine.mjs); `<` `>` `&` escaped so that it
        // cannot end the script element.
        let json = explain
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        let script = format!("<script type=\"application/json\" id=\"vt-explain\">{json}</script>");
        body::insert_before_body_end(&mut html, script.as_bytes());
    }
    match Response::from_bytes(html) {
        Ok(r) => r.with_status(200).with_headers(headers),
        Err(_) => origin,
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
