//! `POST /vitrine/collect`: the browser module's beacons, behind the worker.
//!
//! A body is checked whole (size, record count, each line against the event schema) and then
//! forwarded to the sinks, or refused with a 4xx naming what is wrong. The visitor is taken
//! from the verified state cookie, never from the body, so nobody can write into another
//! visitor's record; records are marked `unsigned`, from the `browser`. Without a readable state
//! (no cookie, GPC, no consent: `privacy.consent`) nothing is recorded.

use worker::{Context, Date, Env, Headers, Request, Response};

use crate::events::{self, Record, Source, Stamp};
use crate::pipeline::Mode;
use crate::signals;
use crate::state::{self, Protection};

use super::beacon::{read_browser_record, BrowserRecord};
use super::json::ndjson;
use super::request::header;
use super::settings::{self, Settings};
use crate::signals::split_url;

/// The path the browser module beacons to.
pub const PATH: &str = "/vitrine/collect";
/// Largest body, in bytes, and most records in one.
const MAX_BODY: usize = 64 * 1024;
const MAX_RECORDS: usize = 100;

fn answer(status: u16, message: &str) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "text/plain; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    let body = if message.is_empty() {
        Vec::new()
    } else {
        format!("{message}\n").into_bytes()
    };
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body)
}

pub async fn handle(
    mut req: Request,
    env: &Env,
    settings: &Settings<'_>,
    ctx: &Context,
) -> Response {
    if req.method() != worker::Method::Post {
        return answer(405, "POST NDJSON event records");
    }
    let declared = header(&req, "content-length").and_then(|l| l.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return answer(413, &format!("body over {MAX_BODY} bytes"));
    }
    let cookie = header(&req, "cookie").unwrap_or_default();
    let gpc = header(&req, "sec-gpc").is_some_and(|v| v.trim() == "1");
    let host = {
        let url = req.inner().url();
        split_url(&url).host.to_ascii_lowercase()
    };
    let Ok(body) = req.text().await else {
        return answer(400, "body is not UTF-8 text");
    };
    if body.len() > MAX_BODY {
        return answer(413, &format!("body over {MAX_BODY} bytes"));
    }
    let lines: Vec<(usize, &str)> = body
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if lines.len() > MAX_RECORDS {
        return answer(413, &format!("more than {MAX_RECORDS} records"));
    }
    let mut records = Vec::new();
    for (i, line) in lines {
        match read_browser_record(line.trim(), i + 1) {
            Ok(r) => records.push(r),
            Err(e) => return answer(400, &format!("{e}; nothing was recorded")),
        }
    }
    let conversions = records
        .iter()
        .filter(|r| matches!(r, BrowserRecord::Conversion { .. }))
        .count();
    if conversions > events::MAX_BROWSER_CONVERSIONS {
        return answer(
            400,
            &format!(
                "{conversions} conversions in one body (at most {}); nothing was recorded",
                events::MAX_BROWSER_CONVERSIONS
            ),
        );
    }
    let (Ok(config), Ok(keys)) = (settings::config(env).await, settings::keys(env)) else {
        return answer(204, "");
    };
    let Some(site) = config.site_for_host(&host) else {
        return answer(204, "");
    };
    let consent = signals::ConsentSignals {
        cookie: &cookie,
        ..Default::default()
    };
    if (gpc && site.privacy.honor_gpc)
        || !signals::consent_granted(site.privacy.consent.as_ref(), &consent)
    {
        return answer(204, "");
    }
    let purchase = |r: &BrowserRecord| matches!(r, BrowserRecord::Conversion { kind, .. } if kind == "purchase");
    if site.events.purchases_from_origin && records.iter().any(purchase) {
        return answer(
            400,
            "this site states its purchases from the origin (events.purchases: origin): the browser's purchase records are not taken; nothing was recorded",
        );
    }
    let mode = keys.map_or(Mode::Browser, Mode::Edge);
    let protection = match mode {
        Mode::Edge(k) => Protection::Signed(&k.state),
        Mode::Browser => Protection::Unsigned,
    };
    let values: Vec<&str> = signals::cookie_values(&cookie, signals::STATE_COOKIE);
    let now_ms = Date::now().as_millis();
    let opened = state::open(&values, protection, site, (now_ms / 1000) as u32, [0; 16]);
    if opened.fresh {
        // No state this worker wrote: no visitor to record for.
        return answer(204, "");
    }
    let stamp = Stamp {
        ts: now_ms,
        site: site.name.clone(),
        visitor: events::hex(&opened.state.id),
        session: opened.state.session_start.to_string(),
        request: String::new(),
        trust: events::EventTrust::Unsigned,
        source: Source::Browser,
    };
    let owned: Vec<Record> = records
        .into_iter()
        .filter_map(|r| events::from_browser(r.into_record(), &stamp))
        .collect();
    if !owned.is_empty() {
        settings.sinks().send(ctx, async move { ndjson(&owned) });
    }
    answer(204, "")
}
