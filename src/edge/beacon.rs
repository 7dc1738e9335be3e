//! A beacon's lines as the browser may write them: each read by the runtime's `JSON.parse` and
//! checked field by field against the event schema's browser part (no JSON deserializer in the
//! bundle: 21 KB gzip); who, where and when are the worker's (`collect.rs`).

use worker::js_sys::{Array, Object, Reflect, JSON};
use worker::wasm_bindgen::{JsCast, JsValue};

use crate::decide::Arm;
use crate::events::{
    self, Conversion, Exposure, Record, RecordError, Source, BROWSER_COMMON_FIELDS,
    BROWSER_CONVERSION_FIELDS, BROWSER_EXPOSURE_FIELDS,
};

/// What a browser may say in a record; who, where and when come from the worker.
pub(super) enum BrowserRecord {
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
    pub(super) fn into_record(self) -> Record {
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
pub(super) fn read_browser_record(line: &str, number: usize) -> Result<BrowserRecord, RecordError> {
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
                .filter(|x| events::browser_value_ok(*x))
                .ok_or_else(|| {
                    f.err(format!(
                        "value is not a number from 0 to {}",
                        events::MAX_BROWSER_VALUE
                    ))
                })?,
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
