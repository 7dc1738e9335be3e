//! The SQL that computes what the learners count, where the events live: `also_viewed`'s rule
//! weights from a table of views, and the visitor counts `bought_together`'s G² is computed
//! from, from the records. The DuckDB flavour reads the files (a click log; the event files the
//! sinks write); BigQuery and ClickHouse read tables (`views`: session, item, time; the records,
//! one column per field). The DuckDB flavour is executed in the tests and gives the built-in
//! numbers ([`super::recs::rule_weights`], [`super::together::Counts`]).

use super::observe::BASKET_GAP_SECS;
use super::recs::WINDOW;
pub use crate::analyze::sql::Dialect;

/// A click log's columns, as its header names them.
#[derive(Debug, Clone, Copy)]
pub struct ViewColumns<'a> {
    pub session: &'a str,
    pub item: &'a str,
    pub time: &'a str,
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn ident(d: Dialect, name: &str) -> String {
    match d {
        Dialect::DuckDb => format!("\"{}\"", name.replace('"', "")),
        Dialect::BigQuery | Dialect::ClickHouse => format!("`{}`", name.replace('`', "")),
    }
}

fn table(d: Dialect, name: &str) -> String {
    match d {
        Dialect::DuckDb => name.to_string(),
        Dialect::BigQuery => format!("`{}`", name.replace('`', "")),
        Dialect::ClickHouse => name.replace([';', ' ', '`'], ""),
    }
}

/// `also_viewed`'s rule weights, `item, neighbour, weight`, ordered by item and weight: each
/// view votes 1/d for the views up to [`WINDOW`] before it in its session (time order, then the
/// log's order), a view of the same item again being no rule. `source`: DuckDB, the click log's
/// path (`tsv`: tab-separated); elsewhere the table.
pub fn rule_weights(d: Dialect, source: &str, tsv: bool, cols: ViewColumns<'_>) -> String {
    let from = match d {
        Dialect::DuckDb => format!(
            "read_csv({}, header = true, delim = {}, all_varchar = true)",
            literal(source),
            literal(if tsv { "\t" } else { "," })
        ),
        _ => table(d, source),
    };
    let (s, i, t) = (
        ident(d, cols.session),
        ident(d, cols.item),
        ident(d, cols.time),
    );
    let time = match d {
        Dialect::DuckDb => format!("CAST({t} AS UBIGINT)"),
        Dialect::BigQuery => format!("CAST({t} AS INT64)"),
        Dialect::ClickHouse => format!("toUInt64({t})"),
    };
    format!(
        "WITH logged AS (\n\
         \x20 SELECT {s} AS session, {i} AS item, {time} AS time, row_number() OVER () AS line FROM {from}\n\
         ),\n\
         views AS (\n\
         \x20 SELECT session, item, row_number() OVER (PARTITION BY session ORDER BY time, line) AS pos FROM logged\n\
         )\n\
         SELECT a.item AS item, b.item AS neighbour, sum(1.0 / (b.pos - a.pos)) AS weight\n\
         FROM views a JOIN views b ON a.session = b.session\n\
         WHERE b.pos > a.pos AND b.pos - a.pos <= {WINDOW} AND a.item <> b.item\n\
         GROUP BY a.item, b.item\n\
         ORDER BY item, weight DESC, neighbour\n"
    )
}

/// The visitor counts of baskets, `item, other, together, item_visitors, other_visitors,
/// visitors`: a basket is an order's purchases, or a visitor's order-less purchases no more than
/// [`BASKET_GAP_SECS`] apart (in seconds, in time then sku order); `together` counts the visitors
/// who bought both in one basket (the first the smaller id), the others the visitors who bought
/// each, and every visitor with a basket. `source`: DuckDB, the event files' glob; elsewhere the
/// records' table.
pub fn basket_counts(d: Dialect, source: &str) -> String {
    let from = match d {
        Dialect::DuckDb => format!(
            "read_json({}, format = 'newline_delimited', ignore_errors = true, columns = {{\
             type: 'VARCHAR', ts: 'UBIGINT', visitor: 'VARCHAR', kind: 'VARCHAR', \"order\": 'VARCHAR', sku: 'VARCHAR'}})",
            literal(source)
        ),
        _ => table(d, source),
    };
    let order = ident(d, "order");
    // ClickHouse's lag is lagInFrame, 0 (not NULL) before the first row: a gap of the whole
    // epoch, which starts a basket as NULL does.
    let lag = match d {
        Dialect::ClickHouse => "lagInFrame(secs)",
        _ => "lag(secs)",
    };
    let (secs, concat) = match d {
        Dialect::DuckDb => ("ts // 1000", "'l:' || CAST(run AS VARCHAR)"),
        Dialect::BigQuery => ("DIV(ts, 1000)", "CONCAT('l:', CAST(run AS STRING))"),
        Dialect::ClickHouse => ("intDiv(ts, 1000)", "concat('l:', toString(run))"),
    };
    let keyed = match d {
        Dialect::DuckDb => "'o:' || ord",
        Dialect::BigQuery => "CONCAT('o:', ord)",
        Dialect::ClickHouse => "concat('o:', ord)",
    };
    format!(
        "WITH bought AS (\n\
         \x20 SELECT visitor, {order} AS ord, {secs} AS secs, sku FROM {from}\n\
         \x20 WHERE type = 'conversion' AND kind = 'purchase' AND sku IS NOT NULL AND sku <> ''\n\
         ),\n\
         loose AS (\n\
         \x20 SELECT visitor, sku, secs, secs - {lag} OVER (PARTITION BY visitor ORDER BY secs, sku ROWS UNBOUNDED PRECEDING) AS gap\n\
         \x20 FROM bought WHERE ord IS NULL\n\
         ),\n\
         runs AS (\n\
         \x20 SELECT visitor, sku, sum(CASE WHEN gap IS NULL OR gap > {BASKET_GAP_SECS} THEN 1 ELSE 0 END)\n\
         \x20   OVER (PARTITION BY visitor ORDER BY secs, sku ROWS UNBOUNDED PRECEDING) AS run\n\
         \x20 FROM loose\n\
         ),\n\
         baskets AS (\n\
         \x20 SELECT DISTINCT visitor, {keyed} AS basket, sku FROM bought WHERE ord IS NOT NULL\n\
         \x20 UNION ALL\n\
         \x20 SELECT DISTINCT visitor, {concat} AS basket, sku FROM runs\n\
         ),\n\
         items AS (SELECT sku, count(DISTINCT visitor) AS n FROM baskets GROUP BY sku),\n\
         pairs AS (\n\
         \x20 SELECT a.sku AS item, b.sku AS other, count(DISTINCT a.visitor) AS together\n\
         \x20 FROM baskets a JOIN baskets b ON a.visitor = b.visitor AND a.basket = b.basket\n\
         \x20 WHERE a.sku < b.sku\n\
         \x20 GROUP BY a.sku, b.sku\n\
         )\n\
         SELECT p.item, p.other, p.together, i.n AS item_visitors, o.n AS other_visitors,\n\
         \x20 (SELECT count(DISTINCT visitor) FROM baskets) AS visitors\n\
         FROM pairs p JOIN items i ON i.sku = p.item JOIN items o ON o.sku = p.other\n\
         ORDER BY p.item, p.other\n"
    )
}
