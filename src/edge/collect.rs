//! `POST /vitrine/collect`: the browser module's beacons, behind the worker.
//!
//! A body is checked whole (size, record count, each line against the event schema) and then
//! forwarded to the sinks, or refused with a 4xx naming what is wrong. The visitor is taken
//! from the verified state cookie, never from the body, so nobody can write into another
//! visitor's record; records are marked `unsigned`, from the `browser`. Without a readable state
//! (no cookie, GPC) nothing is recorded.

use worker::js_sys::{Array, Object, Reflect, JSON};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{Context, Date, Env, Headers, Request, Response};

use crate::decide::Arm;
use crate::events::{
    self, Conversion, Exposure, Record, RecordError, Source, Stamp, BROWSER_COMMON_FIELDS,
    BROWSER_CONVERSION_FIELDS, BROWSER_EXPOSURE_FIELDS,
};
use crate::pipeline::Mode;
use crate::signals;
use crate::state::{self, Protection};

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
    let (Ok(config), Ok(keys)) = (settings::config(env).await, settings::keys(env)) else {
        return answer(204, "");
    };
    let Some(site) = config.site_for_host(&host) else {
        return answer(204, "");
    };
    if gpc && site.privacy.honor_gpc {
        return answer(204, "");
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

/// What a browser may say in a record; who, where and when come from the worker.
enum BrowserRecord {
    Exposure {
        slot: String,
        variant: String,
        experiment: Option<String>,
        arm: Option<Arm>,
        held_back: Option<String>,
        segments: Vec<String>,
        page_type: String,
        device: String,
        request: String,
    },
    Conversion {
        kind: String,
        value: Option<f64>,
        currency: Option<String>,
        order: Option<String>,
        event: Option<String>,
        sku: Option<String>,
        category: Option<String>,
    },
}

impl BrowserRecord {
    /// The record with blank who/where/when: [`events::from_browser`] fills them from the
    /// verified state, in one place.
    fn into_record(self) -> Record {
        match self {
            BrowserRecord::Exposure {
                slot,
                variant,
                experiment,
                arm,
                held_back,
                segments,
                page_type,
                device,
                request,
            } => Record::Exposure(Exposure {
                v: events::SCHEMA_VERSION,
                ts: 0,
                site: String::new(),
                visitor: String::new(),
                session: String::new(),
                request,
                slot,
                variant,
                experiment,
                arm,
                held_back,
                segments,
                page_type,
                device,
                country: None,
                trust: events::EventTrust::Unsigned,
                source: Source::Browser,
            }),
            BrowserRecord::Conversion {
                kind,
                value,
                currency,
                order,
                event,
                sku,
                category,
            } => Record::Conversion(Conversion {
                v: events::SCHEMA_VERSION,
                ts: 0,
                site: String::new(),
                visitor: String::new(),
                kind,
                value,
                currency,
                order,
                event,
                sku,
                category,
                source: Source::Browser,
                trust: events::EventTrust::Unsigned,
                issues: Vec::new(),
            }),
        }
    }
}

/// One line of a beacon, read by the runtime's `JSON.parse` and checked field by field against
/// the event schema's browser part (no JSON deserializer in the bundle: 21 KB gzip).
fn read_browser_record(line: &str, number: usize) -> Result<BrowserRecord, RecordError> {
    let obj = JSON::parse(line)
        .ok()
        .filter(|v| v.is_object() && !Array::is_array(v))
        .ok_or_else(|| fail(number, "not a JSON object".into()))?;
    let f = Fields { obj, number };
    let kind = f.required("type")?;
    let allowed: &[&str] = match kind.as_str() {
        "exposure" => &BROWSER_EXPOSURE_FIELDS,
        "conversion" => &BROWSER_CONVERSION_FIELDS,
        other => {
            return Err(f.err(format!(
                "unknown type `{other}` (a browser sends exposure or conversion)"
            )))
        }
    };
    for key in Object::keys(f.obj.unchecked_ref::<Object>())
        .iter()
        .filter_map(|k| k.as_string())
    {
        if !BROWSER_COMMON_FIELDS.contains(&key.as_str()) && !allowed.contains(&key.as_str()) {
            return Err(f.err(format!("unknown field `{key}`")));
        }
    }
    if f.get("v").and_then(|v| v.as_f64()) != Some(f64::from(events::SCHEMA_VERSION)) {
        return Err(f.err(format!("schema version is not {}", events::SCHEMA_VERSION)));
    }
    match kind.as_str() {
        "conversion" => read_conversion(&f),
        _ => read_exposure(&f),
    }
}

fn fail(line: usize, message: String) -> RecordError {
    RecordError { line, message }
}

/// A parsed line's fields, read one by one.
struct Fields {
    obj: JsValue,
    number: usize,
}

impl Fields {
    fn err(&self, message: String) -> RecordError {
        fail(self.number, message)
    }

    /// A field that is present and not null.
    fn get(&self, name: &str) -> Option<JsValue> {
        Reflect::get(&self.obj, &name.into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    }

    /// A string field, bounded.
    fn text(&self, name: &str) -> Result<Option<String>, RecordError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let s = v
            .as_string()
            .ok_or_else(|| self.err(format!("{name} is not a string")))?;
        if s.len() > 4 * events::MAX_TEXT {
            return Err(self.err(format!(
                "{name} has {} bytes (at most {})",
                s.len(),
                4 * events::MAX_TEXT
            )));
        }
        Ok(Some(s))
    }

    fn required(&self, name: &str) -> Result<String, RecordError> {
        self.text(name)?
            .ok_or_else(|| self.err(format!("missing field `{name}`")))
    }
}

fn read_conversion(f: &Fields) -> Result<BrowserRecord, RecordError> {
    let name = f.required("kind")?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(f.err(format!("conversion kind '{name}' is not a name")));
    }
    let value = match f.get("value") {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| f.err("value is not a non-negative number".into()))?,
        ),
    };
    Ok(BrowserRecord::Conversion {
        kind: name,
        value,
        currency: f.text("currency")?.map(|c| c.to_ascii_uppercase()),
        order: f.text("order")?,
        event: match f.text("event")? {
            Some(id) if !crate::signals::events::is_event_id(&id) => {
                return Err(f.err("event is not an event id (1–32 letters, digits, - or _)".into()))
            }
            id => id,
        },
        sku: f.text("sku")?,
        category: f.text("category")?,
    })
}

fn read_exposure(f: &Fields) -> Result<BrowserRecord, RecordError> {
    let arm = match f.text("arm")?.as_deref() {
        None => None,
        Some("treatment") => Some(Arm::Treatment),
        Some("control") => Some(Arm::Control),
        Some(a) => return Err(f.err(format!("arm '{a}' is not treatment or control"))),
    };
    let segments = match f.get("segments") {
        None => Vec::new(),
        Some(v) if Array::is_array(&v) => Array::from(&v)
            .iter()
            .map(|s| s.as_string().filter(|s| s.len() <= events::MAX_TEXT))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| f.err("segments are not short strings".into()))?,
        Some(_) => return Err(f.err("segments is not an array".into())),
    };
    Ok(BrowserRecord::Exposure {
        slot: f.required("slot")?,
        variant: f.required("variant")?,
        experiment: f.text("experiment")?,
        arm,
        held_back: f.text("held_back")?,
        segments,
        page_type: f.text("page_type")?.unwrap_or_else(|| "other".into()),
        device: f.text("device")?.unwrap_or_else(|| "desktop".into()),
        request: f.text("request")?.unwrap_or_default(),
    })
}
