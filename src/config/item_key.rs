//! Where a grid item's keys — its category and its SKU — are read from the page's own markup,
//! and the one function that reads them ([`ItemKey::read`]): the edge's rewriter and the
//! browser module both call it on the attribute values they find.
//!
//! Real templates rarely put `data-vt-category` on a product tile. They put the category in a
//! link (`/collections/{category}/products/…`), the SKU on an inner element
//! (`<input class="quick_ids" value="2181">`) or in an id or a class (`cat-ps4`). An
//! [`ItemKey`] names the element (the item, or its first descendant matching a selector whose
//! value yields a key), the attribute, and how the key is cut out of the value.

use serde::Serialize;

use super::pattern::PathPattern;
use super::CompiledSelector;
use crate::signals::split_url;

/// Longest key kept, in bytes (longer ones are not keys: no category or SKU is that long).
pub const MAX_KEY_BYTES: usize = 128;

/// How one key of a grid item is read from its markup.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(serde::Deserialize))]
pub struct ItemKey {
    /// A descendant of the item, as written; `None`: the item element itself.
    pub selector: Option<String>,
    /// Compiled from `selector` at load.
    #[serde(skip)]
    pub compiled: Option<CompiledSelector>,
    /// The attribute read.
    pub attr: String,
    /// The key is the token of the value that starts with this text, without it.
    pub prefix: Option<String>,
    /// The value is a URL; the key is the `capture` of the first pattern its path matches.
    pub patterns: Vec<PathPattern>,
    /// The pattern capture holding the key (`category` or `sku`).
    pub capture: String,
}

/// An item key is its source: the compiled selector is not compared.
impl PartialEq for ItemKey {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.selector,
            &self.attr,
            &self.prefix,
            &self.patterns,
            &self.capture,
        ) == (
            &other.selector,
            &other.attr,
            &other.prefix,
            &other.patterns,
            &other.capture,
        )
    }
}

impl ItemKey {
    /// Read from an attribute of the item element itself, whole.
    pub fn attribute(attr: &str, capture: &str) -> ItemKey {
        ItemKey {
            selector: None,
            compiled: None,
            attr: attr.to_string(),
            prefix: None,
            patterns: Vec::new(),
            capture: capture.to_string(),
        }
    }

    /// Where the key is read, for explanations: `data-vt-category`, `href of a.title`.
    pub fn describe(&self) -> String {
        match &self.selector {
            None => self.attr.clone(),
            Some(s) => format!("{} of {s}", self.attr),
        }
    }

    /// The key an attribute value yields, or `None`: the value trimmed (empty is no key), the
    /// text after `prefix` in the first token that starts with it, or the capture of the first
    /// pattern the value's URL path matches (percent-decoded, as request paths are).
    pub fn read(&self, value: &str) -> Option<String> {
        let value = value.trim();
        let key = if let Some(prefix) = &self.prefix {
            value
                .split_ascii_whitespace()
                .find_map(|token| token.strip_prefix(prefix.as_str()))?
                .to_string()
        } else if !self.patterns.is_empty() {
            self.capture_of(value)?
        } else {
            value.to_string()
        };
        (!key.is_empty() && key.len() <= MAX_KEY_BYTES).then_some(key)
    }

    fn capture_of(&self, url: &str) -> Option<String> {
        // A scheme-relative URL (`//cdn.example/x`) is read as https.
        let absolute;
        let url = if url.starts_with("//") {
            absolute = format!("https:{url}");
            &absolute
        } else {
            url
        };
        let path = split_url(url).path;
        let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let mut captures = Vec::new();
        self.patterns.iter().find_map(|p| {
            captures.clear();
            p.matches(&path, &mut captures).then_some(())?;
            captures
                .iter()
                .find(|(name, _)| *name == self.capture)
                .map(|(_, v)| v.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(attr: &str) -> ItemKey {
        ItemKey::attribute(attr, "category")
    }

    #[test]
    fn reads_a_whole_value_trimmed() {
        assert_eq!(key("data-cat").read(" ps4 "), Some("ps4".into()));
        assert_eq!(key("data-cat").read("  "), None);
        assert_eq!(key("data-cat").read(&"x".repeat(MAX_KEY_BYTES + 1)), None);
    }

    #[test]
    fn reads_a_prefixed_token() {
        let k = ItemKey {
            prefix: Some("cat-".into()),
            ..key("class")
        };
        assert_eq!(k.read("tile cat-ps4 big"), Some("ps4".into()));
        assert_eq!(k.read("tile big"), None);
        assert_eq!(k.read("cat-"), None, "an empty key is none");
        let id = ItemKey {
            prefix: Some("ml-product-qve-button_PRODUCT_".into()),
            ..key("id")
        };
        assert_eq!(
            id.read("ml-product-qve-button_PRODUCT_116511"),
            Some("116511".into())
        );
    }

    #[test]
    fn reads_a_capture_of_a_url_path() {
        let k = ItemKey {
            patterns: vec![
                PathPattern::parse("/collections/{category}/products/{slug}").unwrap(),
                PathPattern::parse("/jeux/{category}/{slug}").unwrap(),
            ],
            ..key("href")
        };
        let read = |v: &str| k.read(v);
        assert_eq!(
            read("/collections/connectors-connectivity/products/enclosure"),
            Some("connectors-connectivity".into())
        );
        assert_eq!(
            read("https://shop.example/jeux/ps4/fifa?ref=home#top"),
            Some("ps4".into())
        );
        assert_eq!(read("//shop.example/jeux/ps4/fifa"), Some("ps4".into()));
        assert_eq!(read("/jeux/jeux%20vid%C3%A9o/x"), Some("jeux vidéo".into()));
        assert_eq!(read("/jeux/ps4/"), None, "no slug");
        assert_eq!(read("#"), None);
        assert_eq!(read("/about"), None);
        let sku = ItemKey {
            patterns: vec![PathPattern::parse("/{category}/{sku}-{slug}.html").unwrap()],
            ..ItemKey::attribute("href", "sku")
        };
        assert_eq!(
            sku.read("http://stylelocker.co.uk/sweatshirts/132-beyonce-surfboard-sweatshirt.html"),
            Some("132".into())
        );
    }
}
