//! Click-stream events and the unsigned `vt_e` cookie the browser writes them to.
//!
//! Wire format: events newest first, separated by `|`; each is a type code and its fields,
//! separated by `:`, every field percent-encoded (`encodeURIComponent`):
//!
//! | code | event | fields |
//! |---|---|---|
//! | `cv` | category_view | category |
//! | `pv` | product_view | sku, category, price |
//! | `pc` | product_click | sku, category, price |
//! | `ac` | add_to_cart | sku, category, price, event id (optional) |
//! | `pu` | purchase | sku, category, price, event id (optional) |
//! | `se` | search | query text |
//! | `fi` | filter | name, value |
//!
//! The event id (1–32 letters, digits, `-`, `_`) is what the browser also puts in the conversion
//! record it sends itself, so that one add-to-cart reported twice is counted once.
//!
//! The cookie is untrusted: unknown types and malformed fields are dropped, the count and sizes
//! are bounded, and the score events can add per request is capped by the scorer.

use std::borrow::Cow;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::config::EventKind;

/// Longest `vt_e` value read, in bytes; longer values are ignored whole.
pub const MAX_EVENTS_COOKIE: usize = 4096;
const MAX_FIELD: usize = 64;
const MAX_TERMS: usize = 8;
const MAX_TERM_LEN: usize = 32;

/// One event with the fields its type carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Event {
    pub kind: Option<EventKind>,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub price: Option<f64>,
    pub terms: Vec<String>,
    pub filter: Option<String>,
    pub value: Option<String>,
    /// Add-to-cart and purchase: the id the browser gave the event (the dedupe key).
    pub id: Option<String>,
}

impl Event {
    pub fn new(kind: EventKind) -> Event {
        Event {
            kind: Some(kind),
            ..Event::default()
        }
    }
    pub fn kind(&self) -> EventKind {
        self.kind.unwrap_or(EventKind::PageView)
    }
}

/// Why (part of) an events cookie was ignored. Never carries the cookie's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIssue {
    Oversized,
    TooMany,
    UnknownType,
    Malformed,
}

impl EventIssue {
    pub fn code(self) -> &'static str {
        match self {
            EventIssue::Oversized => "events_oversized",
            EventIssue::TooMany => "events_too_many",
            EventIssue::UnknownType => "event_unknown_type",
            EventIssue::Malformed => "event_malformed",
        }
    }
}

fn code_of(kind: EventKind) -> &'static str {
    match kind {
        EventKind::PageView => "pg",
        EventKind::CategoryView => "cv",
        EventKind::ProductView => "pv",
        EventKind::ProductClick => "pc",
        EventKind::AddToCart => "ac",
        EventKind::Purchase => "pu",
        EventKind::Search => "se",
        EventKind::Filter => "fi",
    }
}

fn kind_of(code: &str) -> Option<EventKind> {
    // Page views are never taken from the cookie: the request itself is the page view.
    EventKind::ALL
        .into_iter()
        .filter(|k| *k != EventKind::PageView)
        .find(|k| code_of(*k) == code)
}

/// Decodes at most `max` events (newest first) from a `vt_e` value. Never fails.
pub fn decode_events(raw: &str, max: usize) -> (Vec<Event>, Vec<EventIssue>) {
    let mut issues = Vec::new();
    if raw.len() > MAX_EVENTS_COOKIE {
        return (Vec::new(), vec![EventIssue::Oversized]);
    }
    let raw = raw.trim_matches('"');
    let mut events = Vec::new();
    for (i, part) in raw.split('|').filter(|p| !p.is_empty()).enumerate() {
        if i >= max {
            issues.push(EventIssue::TooMany);
            break;
        }
        let mut fields = part.split(':');
        let Some(kind) = fields.next().and_then(kind_of) else {
            issues.push(EventIssue::UnknownType);
            continue;
        };
        let fields: Vec<Cow<'_, str>> = fields
            .map(|f| percent_decode_str(f).decode_utf8_lossy())
            .collect();
        match parse_fields(kind, &fields) {
            Some(e) => events.push(e),
            None => issues.push(EventIssue::Malformed),
        }
    }
    (events, issues)
}

fn field(fields: &[Cow<'_, str>], i: usize) -> Result<Option<String>, ()> {
    match fields.get(i) {
        None => Ok(None),
        Some(f) if f.is_empty() => Ok(None),
        Some(f) if f.len() > MAX_FIELD || f.chars().any(char::is_control) => Err(()),
        Some(f) => Ok(Some(f.to_string())),
    }
}

fn parse_fields(kind: EventKind, f: &[Cow<'_, str>]) -> Option<Event> {
    let mut e = Event::new(kind);
    let max_fields = match kind {
        EventKind::CategoryView | EventKind::Search => 1,
        EventKind::Filter => 2,
        EventKind::AddToCart | EventKind::Purchase => 4,
        _ => 3,
    };
    if f.len() > max_fields {
        return None;
    }
    match kind {
        EventKind::CategoryView => e.category = Some(field(f, 0).ok()??.to_ascii_lowercase()),
        EventKind::Search => {
            let q = f.first()?;
            if q.len() > 256 {
                return None;
            }
            e.terms = split_terms(q);
            if e.terms.is_empty() {
                return None;
            }
        }
        EventKind::Filter => {
            e.filter = Some(field(f, 0).ok()??);
            e.value = field(f, 1).ok()?;
        }
        _ => {
            e.sku = Some(field(f, 0).ok()??);
            e.category = field(f, 1).ok()?.map(|c| c.to_ascii_lowercase());
            e.price = match field(f, 2).ok()? {
                None => None,
                Some(p) => Some(parse_price(&p).filter(|p| *p <= 10_000_000.0)?),
            };
            e.id = match field(f, 3).ok()? {
                Some(id) if !is_event_id(&id) => return None,
                id => id,
            };
        }
    }
    Some(e)
}

/// 1–32 ASCII letters, digits, `-` or `_`.
pub fn is_event_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A price as shoppers' pages write it: digits with at most one `.` and at most 15 digits in
/// all, leading zeros not counted (no sign, exponent, `inf` or `NaN`): so a price written back
/// with `{}` (`0.220200000000007` for `.220200000000007`) reads as the same number. The value is the same `f64` that
/// `str::parse::<f64>` gives, since an integer below 2^53 divided by an exact power of ten is
/// rounded once; the wasm builds are spared core's general float parser and its tables.
pub fn parse_price(text: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty() || int.trim_start_matches('0').len() + frac.len() > 15 {
        return None;
    }
    let mut mantissa = 0u64;
    for b in int.bytes().chain(frac.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        mantissa = mantissa * 10 + u64::from(b - b'0');
    }
    Some(mantissa as f64 / POW10[frac.len()])
}

/// Characters escaped in fields: everything `encodeURIComponent` escapes.
const FIELD: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Encodes events (newest first) in the `vt_e` format.
pub fn encode_events(events: &[Event]) -> String {
    let enc = |s: &str| utf8_percent_encode(s, FIELD).to_string();
    let opt = |s: &Option<String>| s.as_deref().map(enc).unwrap_or_default();
    events
        .iter()
        .filter(|e| e.kind() != EventKind::PageView)
        .map(|e| {
            let kind = e.kind();
            let fields = match kind {
                EventKind::CategoryView => vec![opt(&e.category)],
                EventKind::Search => vec![enc(&e.terms.join(" "))],
                EventKind::Filter => vec![opt(&e.filter), opt(&e.value)],
                _ => {
                    let mut f = vec![
                        opt(&e.sku),
                        opt(&e.category),
                        e.price.map(|p| p.to_string()).unwrap_or_default(),
                    ];
                    if let Some(id) = &e.id {
                        f.push(enc(id));
                    }
                    f
                }
            };
            format!("{}:{}", code_of(kind), fields.join(":"))
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Splits a search query into at most 8 lowercase alphanumeric terms.
pub fn split_terms(q: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for word in q.split(|c: char| !c.is_alphanumeric()) {
        if terms.len() == MAX_TERMS {
            break;
        }
        if !word.is_empty() {
            let end = word
                .char_indices()
                .nth(MAX_TERM_LEN)
                .map_or(word.len(), |(i, _)| i);
            // Char by char: `str::to_lowercase` (final-sigma rule) slices with a panic path
            // that brings Unicode tables into the wasm bundles.
            let word = word.get(..end).unwrap_or(word);
            // Only letters and digits stay: `İ` lowercases to `i` and a combining dot, which a
            // second reading would split off (the terms of an encoded cookie must read back).
            terms.push(
                word.chars()
                    .flat_map(char::to_lowercase)
                    .filter(|c| c.is_alphanumeric())
                    .collect(),
            );
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terms_read_back_as_they_were_written() {
        // Found by the events_cookie fuzz target: `İ` (U+0130) lowercases to two characters.
        let terms = split_terms("UOO İ Straße");
        assert_eq!(terms, ["uoo", "i", "straße"]);
        assert_eq!(split_terms(&terms.join(" ")), terms);
    }

    #[test]
    fn a_price_written_back_reads_as_the_same_number() {
        // Found by the events_cookie fuzz target: 15 fraction digits written back with a
        // leading `0.` were 16 digits, refused, and the price was lost on the way back.
        let raw = "pu:%EF%BF%BD::.220200000000007";
        let (events, _) = decode_events(raw, 16);
        assert_eq!(events[0].price, Some(0.220200000000007));
        assert_eq!(decode_events(&encode_events(&events), 16).0, events);
        assert_eq!(parse_price("0000.5"), Some(0.5));
    }

    proptest! {
        #[test]
        fn a_parsed_price_reads_back_from_its_display(int in 0u64..1_000_000, frac in "[0-9]{0,9}") {
            let text = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            let price = parse_price(&text).unwrap();
            prop_assert_eq!(parse_price(&price.to_string()), Some(price));
        }

        #[test]
        fn price_parses_as_core_does(int in 0u64..100_000_000, frac in "[0-9]{0,7}") {
            let text = if frac.is_empty() { int.to_string() } else { format!("{int}.{frac}") };
            prop_assert_eq!(parse_price(&text), text.parse::<f64>().ok());
        }
    }

    #[test]
    fn prices_outside_the_format_are_refused() {
        for bad in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "inf",
            "NaN",
            "1.2.3",
            " 1",
            "1,5",
            "1234567890123456",
        ] {
            assert_eq!(parse_price(bad), None, "{bad:?}");
        }
        assert_eq!(parse_price("1."), Some(1.0));
        assert_eq!(parse_price(".5"), Some(0.5));
        assert_eq!(parse_price("0.1"), Some(0.1));
    }

    #[test]
    fn decodes_known_events() {
        let (ev, issues) = decode_events(
            "ac:hiking-boot:Hiking:249.5|se:trail%20boots|cv:camping|xx:1|pv:|fi:color:red",
            16,
        );
        assert_eq!(issues, vec![EventIssue::UnknownType, EventIssue::Malformed]);
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0].kind(), EventKind::AddToCart);
        assert_eq!(ev[0].sku.as_deref(), Some("hiking-boot"));
        assert_eq!(ev[0].category.as_deref(), Some("hiking"));
        assert_eq!(ev[0].price, Some(249.5));
        assert_eq!(ev[1].terms, vec!["trail", "boots"]);
        assert_eq!(ev[3].filter.as_deref(), Some("color"));
    }

    #[test]
    fn bounds() {
        let many = vec!["cv:hiking"; 100].join("|");
        let (ev, issues) = decode_events(&many, 16);
        assert_eq!(ev.len(), 16);
        assert_eq!(issues, vec![EventIssue::TooMany]);
        let (ev, issues) = decode_events(&"x".repeat(MAX_EVENTS_COOKIE + 1), 16);
        assert!(ev.is_empty());
        assert_eq!(issues, vec![EventIssue::Oversized]);
        let (_, issues) = decode_events(&format!("pv:{}", "a".repeat(65)), 16);
        assert_eq!(issues, vec![EventIssue::Malformed]);
        let (_, issues) = decode_events("pv:a:b:NaN", 16);
        assert_eq!(issues, vec![EventIssue::Malformed]);
        let (_, issues) = decode_events("pg:", 16);
        assert_eq!(
            issues,
            vec![EventIssue::UnknownType],
            "page views never come from the cookie"
        );
    }

    #[test]
    fn round_trips() {
        let events = vec![
            Event {
                sku: Some("a:b|c".into()),
                category: Some("hiking".into()),
                price: Some(12.5),
                ..Event::new(EventKind::ProductClick)
            },
            Event {
                terms: vec!["trail".into(), "boot".into()],
                ..Event::new(EventKind::Search)
            },
            Event {
                filter: Some("size".into()),
                value: Some("42".into()),
                ..Event::new(EventKind::Filter)
            },
            Event {
                sku: Some("SKU-1".into()),
                price: Some(89.0),
                id: Some("3f9a0c1d2e4b5a6c".into()),
                ..Event::new(EventKind::AddToCart)
            },
        ];
        let (back, issues) = decode_events(&encode_events(&events), 16);
        assert!(issues.is_empty());
        assert_eq!(back, events);
    }

    #[test]
    fn event_ids_are_checked() {
        let (ok, _) = decode_events("pu:S1::10:order-7_b", 16);
        assert_eq!(ok[0].id.as_deref(), Some("order-7_b"));
        // Not an id, too long, or a fourth field where the type has none: the event is dropped.
        for raw in [
            "pu:S1::10:a%20b",
            &format!("ac:S1::10:{}", "a".repeat(33)),
            "pv:S1::10:abc",
        ] {
            let (events, issues) = decode_events(raw, 16);
            assert!(events.is_empty(), "{raw}");
            assert_eq!(issues, vec![EventIssue::Malformed], "{raw}");
        }
    }
}
