//! The browser module's files under `/vitrine/`, served by the worker itself, never proxied to
//! the origin: the script tag works behind the worker with an origin that knows nothing of
//! Vitrine. `/vitrine/config.bin` (and `config.<hash>.bin`) is the compiled configuration this
//! worker runs (from KV or the bundle), so the browser and the edge always read the same one; the loader, the module
//! and the wasm come from the worker's static assets (`ASSETS`, built by `make store`).

use worker::{Env, Headers, Request, Response};

use super::settings;

/// Where the browser module's files are served.
pub const PREFIX: &str = "/vitrine/";

/// Answers a request under [`PREFIX`] (the collector's path excepted).
pub async fn serve(req: Request, env: &Env) -> Response {
    if is_config(&req.path()) {
        return match settings::config_bytes(env).await {
            Ok(bytes) => with_type(Response::from_bytes(bytes), "application/octet-stream"),
            Err(e) => text(500, &format!("vitrine: {e}")),
        };
    }
    let Ok(assets) = env.assets("ASSETS") else {
        return text(
            404,
            "vitrine: the browser module is served from the worker's static assets (binding ASSETS, with the files of `make store` under vitrine/); this worker has none",
        );
    };
    match assets.fetch_request(req).await {
        Ok(r) => r,
        Err(e) => text(502, &format!("vitrine: static assets failed ({e})")),
    }
}

/// `/vitrine/config.bin`, or a content-hashed name for it (`config.3f9a….bin`, as
/// `vitrine compile --browser` names it): the worker answers with the configuration it runs
/// whichever name the loader was built with.
fn is_config(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .and_then(|name| name.strip_prefix("config"))
        .and_then(|rest| rest.strip_suffix(".bin"))
        .is_some_and(|hash| hash.is_empty() || (hash.starts_with('.') && !hash.contains('/')))
}

fn with_type(response: worker::Result<Response>, content_type: &str) -> Response {
    match response {
        Ok(r) => {
            let headers = r.headers().clone();
            let _ = headers.set("content-type", content_type);
            // Revalidated on every load: a configuration pushed to KV reaches browsers at once.
            let _ = headers.set("cache-control", "no-cache");
            r.with_headers(headers)
        }
        Err(e) => text(500, &format!("vitrine: {e}")),
    }
}

fn text(status: u16, body: &str) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "text/plain; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(format!("{body}\n").into_bytes())
}
