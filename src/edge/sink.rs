//! Where the edge's event records go: sent after the response (`ctx.wait_until`), bounded in
//! time, never retried without bound, never able to fail or slow the shopper's page.
//!
//! Sinks, each optional: an HTTP collector (`VITRINE_COLLECT_URL`: one NDJSON `POST` per
//! request). A failure is logged with its cause (never the records: they name visitors).

use std::pin::pin;
use std::time::Duration;

use futures_util::future::{select, Either};
use worker::{console_error, web_sys, AbortController, Context, Delay, Env, Fetch, Request};

/// How long a sink may take, after the response, before the send is abandoned.
const SINK_TIMEOUT_MS: u64 = 5_000;

/// The configured sinks of a deployment.
pub struct Sinks {
    collect_url: Option<String>,
}

impl Sinks {
    pub fn from_env(env: &Env) -> Sinks {
        Sinks {
            collect_url: env
                .var("VITRINE_COLLECT_URL")
                .map(|v| v.to_string())
                .ok()
                .filter(|u| !u.is_empty()),
        }
    }

    /// Whether any sink would take records (if not, none are built).
    pub fn any(&self) -> bool {
        self.collect_url.is_some()
    }

    /// Sends NDJSON records to every sink after the response.
    pub fn send(&self, ctx: &Context, ndjson: String) {
        if ndjson.is_empty() {
            return;
        }
        if let Some(url) = self.collect_url.clone() {
            ctx.wait_until(async move {
                if let Err(e) = post(&url, ndjson).await {
                    console_error!("vitrine: event sink {url} failed ({e}); records dropped");
                }
            });
        }
    }
}

async fn post(url: &str, ndjson: String) -> Result<(), String> {
    let controller = AbortController::default();
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&ndjson.into());
    let headers = worker::Headers::new();
    let _ = headers.set("content-type", "application/x-ndjson");
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
