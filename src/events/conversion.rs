//! The origin's `X-Vitrine-Conversion` header: `purchase; value=129.90; currency=EUR; order=…`.

use super::record::{bounded, Conversion, SCHEMA_VERSION};
use super::request::Stamp;

/// Why a conversion header or body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversionError {
    /// No kind before the first `;`.
    NoKind,
    /// A kind that is not a name (letters, digits, `_`, `-`).
    BadKind(String),
    /// `value=` that is not a finite, non-negative number.
    BadValue(String),
    /// A parameter without `=`.
    BadParameter(String),
}

impl std::fmt::Display for ConversionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConversionError::NoKind => write!(f, "no conversion kind before the first ';'"),
            ConversionError::BadKind(k) => {
                write!(
                    f,
                    "conversion kind '{k}' is not a name (letters, digits, '_', '-')"
                )
            }
            ConversionError::BadValue(v) => {
                write!(f, "value '{v}' is not a non-negative number")
            }
            ConversionError::BadParameter(p) => write!(f, "parameter '{p}' has no '='"),
        }
    }
}

impl std::error::Error for ConversionError {}

/// A conversion's fields as the origin states them in its response header:
/// `purchase; value=129.90; currency=EUR; order=A-1042` (also `sku=`, `category=`). Unknown
/// parameters are ignored; over-long values are cut and flagged.
pub fn parse_conversion(header: &str, stamp: &Stamp) -> Result<Conversion, ConversionError> {
    let mut parts = header.split(';').map(str::trim);
    let kind = parts
        .next()
        .filter(|k| !k.is_empty())
        .ok_or(ConversionError::NoKind)?;
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !valid(kind) {
        return Err(ConversionError::BadKind(kind.chars().take(64).collect()));
    }
    let mut c = Conversion {
        v: SCHEMA_VERSION,
        ts: stamp.ts,
        site: stamp.site.clone(),
        visitor: stamp.visitor.clone(),
        kind: kind.to_string(),
        value: None,
        currency: None,
        order: None,
        event: None,
        sku: None,
        category: None,
        source: stamp.source,
        trust: stamp.trust,
        issues: Vec::new(),
    };
    for p in parts.filter(|p| !p.is_empty()) {
        let (name, value) = p
            .split_once('=')
            .ok_or_else(|| ConversionError::BadParameter(p.chars().take(64).collect()))?;
        let value = value.trim().trim_matches('"');
        match name.trim().to_ascii_lowercase().as_str() {
            "value" => {
                let v = crate::signals::events::parse_price(value)
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| ConversionError::BadValue(value.chars().take(64).collect()))?;
                c.value = Some(v);
            }
            "currency" => {
                c.currency = Some(bounded(
                    &value.to_ascii_uppercase(),
                    "currency",
                    &mut c.issues,
                ))
            }
            "order" => c.order = Some(bounded(value, "order", &mut c.issues)),
            "sku" => c.sku = Some(bounded(value, "sku", &mut c.issues)),
            "category" => c.category = Some(bounded(value, "category", &mut c.issues)),
            _ => {}
        }
    }
    Ok(c)
}
