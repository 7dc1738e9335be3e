//! The product catalog the recommendation slots render from (SPEC §12): items by id, compiled
//! from a shop's product feed (`vitrine catalog compile`, [`feed`]) into one binary file the edge
//! and the browser module load.
//!
//! Compiled form: `VTK1`, a length-prefixed crate version, then the items sorted by id in
//! postcard encoding. An item keeps what a rendered tile and the strategies need: the title, the
//! link (http or https only), the image, the price (and a sale price) in minor units with its
//! currency, availability, product type, brand and item group.

pub mod feed;

use serde::{Deserialize, Serialize};

/// Whether an item can be bought now (Google Merchant Center's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    #[default]
    InStock,
    OutOfStock,
    Preorder,
    Backorder,
}

impl Availability {
    /// A feed's value (`in stock`, `in_stock`, `out of stock`, …), case ignored.
    pub fn parse(text: &str) -> Option<Availability> {
        let t = text.trim().to_ascii_lowercase().replace('_', " ");
        Some(match t.as_str() {
            "in stock" => Availability::InStock,
            "out of stock" => Availability::OutOfStock,
            "preorder" => Availability::Preorder,
            "backorder" => Availability::Backorder,
            _ => return None,
        })
    }
}

/// An amount in minor units (cents) and its currency (ISO 4217, upper case; empty when the feed
/// gave none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub minor: u64,
    pub currency: String,
}

impl Price {
    /// A feed's price: `15.00 USD`, `USD 15.00` or `15.00` (at most two decimals; a `,` is no
    /// decimal separator here, feeds use `.`).
    pub fn parse(text: &str) -> Option<Price> {
        let mut number = None;
        let mut currency = String::new();
        for part in text.split_whitespace() {
            if part.len() == 3
                && part.bytes().all(|b| b.is_ascii_alphabetic())
                && currency.is_empty()
            {
                currency = part.to_ascii_uppercase();
            } else if number.is_none() {
                number = Some(minor_units(part)?);
            } else {
                return None;
            }
        }
        Some(Price {
            minor: number?,
            currency,
        })
    }

    /// `15.00` (with the currency after it, when there is one).
    pub fn display(&self) -> String {
        let amount = format!("{}.{:02}", self.minor / 100, self.minor % 100);
        match self.currency.as_str() {
            "" => amount,
            c => format!("{amount} {c}"),
        }
    }
}

/// `15`, `15.5`, `15.00` → 1500, 1550, 1500; anything else (signs, exponents, three decimals)
/// is no price.
fn minor_units(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!frac.is_empty() && !digits(frac)) || frac.len() > 2 {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().ok()? * 10,
        _ => frac.parse::<u64>().ok()?,
    };
    whole
        .parse::<u64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// One product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub title: String,
    /// An absolute http or https URL.
    pub link: String,
    pub price: Price,
    pub image: Option<String>,
    pub availability: Availability,
    pub product_type: Option<String>,
    pub sale_price: Option<Price>,
    pub brand: Option<String>,
    pub item_group_id: Option<String>,
}

/// Whether `text` is an absolute http(s) URL with a host: the only links a tile renders.
pub fn is_web_link(text: &str) -> bool {
    let lower = text
        .get(..8)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let rest = if lower.starts_with("https://") {
        &text[8..]
    } else if lower.starts_with("http://") {
        &text[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The compiled form's magic.
const MAGIC: &[u8; 4] = b"VTK1";

/// Why bytes are not a compiled catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError(pub String);

impl std::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Items by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Catalog {
    /// Sorted by id, ids unique.
    items: Vec<Item>,
}

impl Catalog {
    /// A catalog of `items` (sorted here; the feed reader has refused duplicate ids).
    pub fn new(mut items: Vec<Item>) -> Catalog {
        items.sort_by(|a, b| a.id.cmp(&b.id));
        items.dedup_by(|a, b| a.id == b.id);
        Catalog { items }
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    pub fn get(&self, id: &str) -> Option<&Item> {
        self.items
            .binary_search_by(|i| i.id.as_str().cmp(id))
            .ok()
            .map(|at| &self.items[at])
    }

    /// The compiled form (see the module's documentation).
    pub fn to_compiled(&self) -> Vec<u8> {
        let version = env!("CARGO_PKG_VERSION").as_bytes();
        let mut out = MAGIC.to_vec();
        out.push(version.len() as u8);
        out.extend_from_slice(version);
        // NOTE: serializing owned, finite data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(&self.items).unwrap_or_default());
        out
    }

    /// Reads a compiled catalog; never panics: other versions, truncated or altered bytes are
    /// an error.
    pub fn from_compiled(bytes: &[u8]) -> Result<Catalog, CatalogError> {
        let fail = |m: &str| Err(CatalogError(m.to_string()));
        let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
            return fail("not a compiled Vitrine catalog (vitrine catalog compile)");
        };
        let Some((&len, rest)) = rest.split_first() else {
            return fail("compiled catalog is truncated");
        };
        let Some((version, items)) = rest.split_at_checked(usize::from(len)) else {
            return fail("compiled catalog is truncated");
        };
        if version != env!("CARGO_PKG_VERSION").as_bytes() {
            return Err(CatalogError(format!(
                "compiled by vitrine {}; this is {}: compile it again",
                String::from_utf8_lossy(version),
                env!("CARGO_PKG_VERSION")
            )));
        }
        let items: Vec<Item> = postcard::from_bytes(items)
            .map_err(|_| CatalogError("compiled catalog is damaged".into()))?;
        if items.windows(2).any(|w| w[0].id >= w[1].id) {
            return fail("compiled catalog is damaged (ids out of order)");
        }
        Ok(Catalog { items })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_read_as_feeds_write_them() {
        let p = |t: &str| Price::parse(t).map(|p| (p.minor, p.currency));
        assert_eq!(p("15.00 USD"), Some((1500, "USD".into())));
        assert_eq!(p("usd 15.5"), Some((1550, "USD".into())));
        assert_eq!(p("219"), Some((21_900, String::new())));
        for bad in [
            "",
            "USD",
            "-3.00 USD",
            "1e3",
            "15.001",
            "15,00 EUR",
            "15.00 USD EUR",
            "1.2.3",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        assert_eq!(Price::parse("9.5 EUR").unwrap().display(), "9.50 EUR");
    }

    #[test]
    fn only_web_links() {
        assert!(is_web_link("https://shop.example/p/1"));
        assert!(is_web_link("HTTP://shop.example"));
        for bad in [
            "javascript:alert(1)",
            "/p/1",
            "https://",
            "ftp://x",
            "https://a b",
            "data:text/html,x",
        ] {
            assert!(!is_web_link(bad), "{bad}");
        }
    }
}
