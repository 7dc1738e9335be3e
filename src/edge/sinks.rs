//! Where the edge's event records go: sent after the response (`ctx.wait_until`), bounded in
//! time, never retried without bound, never able to fail or slow the shopper's page.
//!
//! Sinks, each optional: a Cloudflare Queue (binding `VITRINE_EVENTS`: one text message per
//! request, whose consumer in `www/worker.mjs` writes gzipped NDJSON batches to R2), and an
//! HTTP collector (`VITRINE_COLLECT_URL`: one NDJSON `POST` per request). A failure is logged
//! with its cause (never the records: they name visitors).

use std::future::Future;
use std::pin::{pin, Pin};
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::js_sys::{Function, Object, Promise, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{console_error, web_sys, AbortController, Context, Delay, Fetch, Request};

/// The Queue producer binding's name in `wrangler.toml`.
pub const QUEUE_BINDING: &str = "VITRINE_EVENTS";

/// How long a sink may take, after the response, before the send is abandoned.
const SINK_TIMEOUT_MS: u64 = 5_000;

/// The configured sinks of a deployment ([`super::settings::Settings`] reads them).
pub struct Sinks {
    collect_url: Option<String>,
    /// `VITRINE_COLLECT_TOKEN`: sent as `Authorization: Bearer …`, so that the collector keeps
    /// the trust the records state (docs/events.md).
    collect_token: Option<String>,
    /// The producer binding (called through JS: the worker crate's Queue wrapper needs its
    /// `queue` feature, and only `send` is used).
    queue: Option<JsValue>,
}

impl Sinks {
    pub fn new(
        collect_url: Option<String>,
        collect_token: Option<String>,
        queue: Option<JsValue>,
    ) -> Sinks {
        Sinks {
            collect_url,
            collect_token,
            queue,
        }
    }

    /// Whether any sink would take records (if not, none are built).
    pub fn any(&self) -> bool {
        self.collect_url.is_some() || self.queue.is_some()
    }

    /// Sends records to every sink after the response: `ndjson` writes them there too (and
    /// may wait for the response's end), so the shopper's response waits for neither; empty:
    /// nothing to send.
    pub fn send(&self, ctx: &Context, ndjson: impl Future<Output = String> + 'static) {
        if self.any() {
            self.send_boxed(ctx, Box::pin(ndjson));
        }
    }

    /// The one instantiation of the sending future (the queue, the collector, their
    /// timeouts), whatever future writes the records.
    fn send_boxed(&self, ctx: &Context, ndjson: Pin<Box<dyn Future<Output = String>>>) {
        let (queue, url) = (self.queue.clone(), self.collect_url.clone());
        let token = self.collect_token.clone();
        ctx.wait_until(async move {
            let ndjson = ndjson.await;
            if ndjson.is_empty() {
                return;
            }
            let (queued, posted) = futures_util::future::join(
                async {
                    match &queue {
                        Some(q) => enqueue(q, ndjson.clone())
                            .await
                            .map_err(|e| (QUEUE_BINDING.to_string(), e)),
                        None => Ok(()),
                    }
                },
                async {
                    match &url {
                        Some(u) => post(u, token.as_deref(), ndjson.clone())
                            .await
                            .map_err(|e| (u.clone(), e)),
                        None => Ok(()),
                    }
                },
            )
            .await;
            for (sink, e) in [queued, posted].into_iter().filter_map(Result::err) {
                console_error!("vitrine: event sink {sink} failed ({e}); records dropped");
            }
        });
    }
}

async fn post(url: &str, token: Option<&str>, ndjson: String) -> Result<(), String> {
    let controller = AbortController::default();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&ndjson.into());
    let headers = worker::Headers::new();
    let _ = headers.set("content-type", "application/x-ndjson");
    if let Some(token) = token {
        let _ = headers.set("authorization", &format!("Bearer {token}"));
    }
    init.set_headers(&headers.0);
    init.set_signal(Some(&controller.signal()));
    let req = web_sys::Request::new_with_str_and_init(url, &init).map_err(|e| format!("{e:?}"))?;
    let sent = async move { Fetch::Request(Request::from(req)).send().await };
    match select(
        pin!(sent),
        pin!(Delay::from(Duration::from_millis(SINK_TIMEOUT_MS))),
    )
    .await
    {
        Either::Left((Ok(r), _)) if r.status_code() < 300 => Ok(()),
        Either::Left((Ok(r), _)) => Err(format!("status {}", r.status_code())),
        Either::Left((Err(e), _)) => Err(e.to_string()),
        Either::Right(_) => {
            controller.abort();
            Err(format!("no answer within {SINK_TIMEOUT_MS} ms"))
        }
    }
}

/// `queue.send(ndjson, {contentType: "text"})`, bounded in time.
async fn enqueue(queue: &JsValue, ndjson: String) -> Result<(), String> {
    let send: Function = Reflect::get(queue, &"send".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or("the binding has no send()")?;
    let options = Object::new();
    let _ = Reflect::set(&options, &"contentType".into(), &"text".into());
    let promise: Promise = send
        .call2(queue, &ndjson.into(), &options)
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "send() returned no promise".to_string())?;
    let sent = JsFuture::from(promise);
    match select(
        pin!(sent),
        pin!(Delay::from(Duration::from_millis(SINK_TIMEOUT_MS))),
    )
    .await
    {
        Either::Left((Ok(_), _)) => Ok(()),
        Either::Left((Err(e), _)) => Err(worker::Error::from(e).to_string()),
        Either::Right(_) => Err(format!("no answer within {SINK_TIMEOUT_MS} ms")),
    }
}
