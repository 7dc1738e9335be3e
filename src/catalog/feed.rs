//! A product feed → catalog items: Google Merchant Center's columns (`id`, `title`, `link`,
//! `price` required; `image_link`, `availability`, `product_type`, `sale_price`, `brand`,
//! `item_group_id` optional; others ignored), as TSV or CSV with a header, or as JSON Lines with
//! the same fields. Every mistake is reported with its line and column, not just the first.

use std::collections::HashSet;

use super::{is_web_link, Availability, Item, Price};

/// A feed's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    JsonLines,
}

impl Format {
    /// By the file's name (`.tsv`, `.csv`, `.jsonl`/`.ndjson`), else by its first line (a `{`,
    /// or a tab in the header).
    pub fn of(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        let first = text.lines().next().unwrap_or("");
        if lower.ends_with(".jsonl")
            || lower.ends_with(".ndjson")
            || first.trim_start().starts_with('{')
        {
            Format::JsonLines
        } else if lower.ends_with(".tsv") || (!lower.ends_with(".csv") && first.contains('\t')) {
            Format::Tsv
        } else {
            Format::Csv
        }
    }
}

/// A mistake in a feed: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedError {
    /// 1-based line of the feed.
    pub line: u64,
    pub column: Option<String>,
    pub message: String,
}

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// Errors reported at most (the rest are counted).
pub const MAX_ERRORS: usize = 50;

const REQUIRED: [&str; 4] = ["id", "title", "link", "price"];
const OPTIONAL: [&str; 6] = [
    "image_link",
    "availability",
    "product_type",
    "sale_price",
    "brand",
    "item_group_id",
];

/// The items of a feed, or every mistake in it (the first [`MAX_ERRORS`]; `total` counts all).
pub fn read(text: &str, format: Format) -> Result<Vec<Item>, (Vec<FeedError>, usize)> {
    let mut rows = Rows::default();
    match format {
        Format::JsonLines => json_lines(text, &mut rows),
        Format::Csv | Format::Tsv => delimited(text, format, &mut rows),
    }
    if rows.total_errors > 0 {
        return Err((rows.errors, rows.total_errors));
    }
    Ok(rows.items)
}

/// The rows read so far, and the mistakes.
#[derive(Default)]
struct Rows {
    items: Vec<Item>,
    ids: HashSet<String>,
    errors: Vec<FeedError>,
    total_errors: usize,
}

impl Rows {
    fn error(&mut self, line: u64, column: Option<&str>, message: String) {
        self.total_errors += 1;
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(FeedError {
                line,
                column: column.map(String::from),
                message,
            });
        }
    }

    /// One row's fields by column name: an item, or its mistakes.
    fn row(&mut self, line: u64, field: &dyn Fn(&str) -> Option<String>) {
        let before = self.total_errors;
        let required = |rows: &mut Rows, name: &str| match field(name) {
            Some(v) if !v.trim().is_empty() => v.trim().to_string(),
            _ => {
                rows.error(line, Some(name), "empty (a required field)".into());
                String::new()
            }
        };
        let id = required(self, "id");
        let title = required(self, "title");
        let link = required(self, "link");
        let price_text = required(self, "price");
        let optional = |name: &str| {
            field(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        if !link.is_empty() && !is_web_link(&link) {
            self.error(
                line,
                Some("link"),
                format!("'{link}' is not an http(s) URL"),
            );
        }
        let price = |rows: &mut Rows, name: &str, text: &str| {
            let p = Price::parse(text);
            if p.is_none() && !text.is_empty() {
                rows.error(
                    line,
                    Some(name),
                    format!("unparsable price '{text}' (e.g. 15.00 USD)"),
                );
            }
            p
        };
        let parsed_price = price(self, "price", &price_text);
        let sale_price = optional("sale_price").and_then(|t| price(self, "sale_price", &t));
        let image = optional("image_link");
        if let Some(i) = image.as_deref().filter(|i| !is_web_link(i)) {
            self.error(
                line,
                Some("image_link"),
                format!("'{i}' is not an http(s) URL"),
            );
        }
        let availability = match optional("availability") {
            None => Availability::InStock,
            Some(a) => Availability::parse(&a).unwrap_or_else(|| {
                self.error(
                    line,
                    Some("availability"),
                    format!("'{a}' is not in stock, out of stock, preorder or backorder"),
                );
                Availability::InStock
            }),
        };
        if !id.is_empty() && !self.ids.insert(id.clone()) {
            self.error(line, Some("id"), format!("duplicate id '{id}'"));
        }
        if self.total_errors > before {
            return;
        }
        let Some(price) = parsed_price else { return };
        self.items.push(Item {
            id,
            title,
            link,
            price,
            image,
            availability,
            product_type: optional("product_type"),
            sale_price,
            brand: optional("brand"),
            item_group_id: optional("item_group_id"),
        });
    }
}

fn delimited(text: &str, format: Format, rows: &mut Rows) {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if format == Format::Tsv { b'\t' } else { b',' })
        .quoting(format == Format::Csv)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
        Err(e) => return rows.error(1, None, format!("unreadable header: {e}")),
    };
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|r| !header.iter().any(|h| h == r))
        .collect();
    if !missing.is_empty() {
        return rows.error(
            1,
            None,
            format!(
                "missing required column{} {} (the header has: {})",
                if missing.len() > 1 { "s" } else { "" },
                missing.join(", "),
                header.join(", ")
            ),
        );
    }
    let at = |name: &str| header.iter().position(|h| h == name);
    let columns: Vec<(&str, Option<usize>)> = REQUIRED
        .iter()
        .chain(&OPTIONAL)
        .map(|n| (*n, at(n)))
        .collect();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                rows.error(line, None, format!("unreadable row: {e}"));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != header.len() {
            rows.error(
                line,
                None,
                format!(
                    "{} fields where the header has {}",
                    record.len(),
                    header.len()
                ),
            );
            continue;
        }
        let field = |name: &str| {
            columns
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, i)| *i)
                .and_then(|i| record.get(i))
                .map(String::from)
        };
        rows.row(line, &field);
    }
}

fn json_lines(text: &str, rows: &mut Rows) {
    for (i, line) in text.lines().enumerate() {
        let number = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(serde_json::Value::Object(o)) => serde_json::Value::Object(o),
            Ok(_) => {
                rows.error(number, None, "not a JSON object".into());
                continue;
            }
            Err(e) => {
                rows.error(number, None, format!("not JSON: {e}"));
                continue;
            }
        };
        let field = |name: &str| match value.get(name) {
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        rows.row(number, &field);
    }
}
