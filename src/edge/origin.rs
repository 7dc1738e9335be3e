//! The origin: the request forwarded (Vitrine's own headers removed), its faults answered with
//! a page of their own, and whether its response is one Vitrine may personalize.

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{
    console_error, web_sys, AbortController, Delay, Fetch, Headers, Method, Request, Response,
};

use crate::rewrite::Charset;

use super::request::DEBUG_COOKIE;
use super::settings::{Origin, Settings};
use crate::signals::split_url;

/// The origin's response header stating a conversion (`purchase; value=…; order=…`).
pub const CONVERSION_HEADER: &str = "x-vitrine-conversion";
/// Request headers that may make the origin answer 304 to a page that is then personalized.
const CONDITIONAL_HEADERS: [&str; 3] = ["if-none-match", "if-modified-since", "if-range"];

/// Why the origin gave no response.
pub enum OriginFault {
    /// No headers within `VITRINE_ORIGIN_TIMEOUT_MS`.
    Timeout(u64),
    /// Unreachable, reset, or not HTTP.
    Failed(String),
}

impl OriginFault {
    /// A short page for the shopper: 504 for a timeout, 502 otherwise (never cached).
    pub fn response(&self) -> Response {
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

/// Forwards the request; the timeout covers the response headers, the body then streams as
/// long as it takes.
pub async fn fetch_origin(
    settings: &Settings<'_>,
    req: Request,
    strip_conditional: bool,
) -> Result<Response, OriginFault> {
    let url = req.inner().url();
    let target = match &settings.origin {
        Origin::Url(base) => {
            format!("{}{}", base.trim_end_matches('/'), split_url(&url).target)
        }
        Origin::Assets(_) => url.clone(),
    };
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
    let sent = async move {
        match &settings.origin {
            Origin::Url(_) => Fetch::Request(forwarded).send().await,
            Origin::Assets(Some(assets)) => assets.fetch_request(forwarded).await,
            Origin::Assets(None) => Err("no ORIGIN_URL and no ASSETS binding".into()),
        }
    };
    let timeout_ms = settings.origin_timeout_ms;
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

/// The charset of an origin response Vitrine may rewrite: a 200 `text/html` page in an
/// encoding the runtime decoded (gzip and br) or none, in a charset the rewriter reads.
pub fn rewritable(origin: &Response) -> Option<Charset> {
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
    (origin.status_code() == 200 && html && decoded && charset != Charset::Unsupported)
        .then_some(charset)
}

/// Why an origin response is not rewritten (the explain header says it).
pub fn not_rewritable(origin: &Response) -> String {
    let header_of = |name: &str| {
        origin
            .headers()
            .get(name)
            .ok()
            .flatten()
            .unwrap_or_default()
    };
    format!(
        "the origin answered {} with content-type '{}' and content-encoding '{}': only a 200 text/html page, not encoded or in gzip or br, in an ASCII-compatible charset is personalized",
        origin.status_code(),
        header_of("content-type"),
        header_of("content-encoding")
    )
}

/// The origin's conversion header is for the worker: it never reaches the shopper, even on a
/// page that is not personalized (then nothing is recorded: no visitor was read).
pub fn without_conversion(origin: Response) -> Response {
    if origin.headers().has(CONVERSION_HEADER).unwrap_or(false) {
        let headers = origin.headers().clone();
        let _ = headers.delete(CONVERSION_HEADER);
        return origin.with_headers(headers);
    }
    origin
}
