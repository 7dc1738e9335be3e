//! The SQL that turns the event layout into the statistics CSV (`sufficient.rs`), for a
//! warehouse: the same units, first-exposure attribution, de-duplication and breakdowns as the
//! built-in aggregation (`aggregate.rs`). The DuckDB flavour reads the files the sinks write;
//! the ClickHouse flavour reads a table of the records. Both are executed in the tests (DuckDB,
//! and ClickHouse's embedded engine chDB) and must give the built-in numbers.

use super::aggregate::{By, Counted};

/// A warehouse's SQL flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    DuckDb,
    BigQuery,
    ClickHouse,
}

impl Dialect {
    pub fn parse(name: &str) -> Option<Dialect> {
        Some(match name {
            "duckdb" => Dialect::DuckDb,
            "bigquery" => Dialect::BigQuery,
            "clickhouse" => Dialect::ClickHouse,
            _ => return None,
        })
    }
}

/// What the query computes.
#[derive(Debug, Clone, PartialEq)]
pub struct Query<'a> {
    pub dialect: Dialect,
    /// DuckDB: the files (a glob such as `events/**/*.ndjson*`); elsewhere: the table that holds
    /// the records, one column per field.
    pub source: &'a str,
    /// `purchase`, `revenue`, `add_to_cart`, or a goal name.
    pub metric: &'a str,
    pub by: Option<By>,
    pub window_ms: Option<u64>,
    /// Which conversion records count, as in the built-in aggregation.
    pub counted: Counted,
    /// An absolute cap on each visitor's value (percentile caps are computed by `analyze`
    /// itself).
    pub cap: Option<f64>,
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The whole population (`all`) and the breakdown's values at the first exposure, as a list.
fn breakdown(by: Option<By>, d: Dialect) -> String {
    let scalar = |col: &str| format!("['all', coalesce({col}, 'unknown')]");
    match by {
        None => "['all']".to_string(),
        Some(By::Device) => scalar("device"),
        Some(By::Country) => scalar("country"),
        Some(By::PageType) => scalar("page_type"),
        Some(By::Segment) => match d {
            Dialect::DuckDb => {
                "list_prepend('all', CASE WHEN len(segments) = 0 THEN ['(none)'] ELSE segments END)"
                    .into()
            }
            Dialect::BigQuery => {
                "ARRAY_CONCAT(['all'], IF(ARRAY_LENGTH(segments) = 0, ['(none)'], segments))".into()
            }
            Dialect::ClickHouse => {
                "arrayPushFront(if(length(segments) = 0, ['(none)'], segments), 'all')".into()
            }
        },
    }
}

/// Where the records are read from, in the dialect's terms.
fn source_table(d: Dialect, source: &str) -> String {
    match d {
        Dialect::DuckDb => format!(
            "read_json({}, format = 'newline_delimited', ignore_errors = true, columns = {{\
             type: 'VARCHAR', v: 'INTEGER', ts: 'UBIGINT', site: 'VARCHAR', visitor: 'VARCHAR', \
             slot: 'VARCHAR', variant: 'VARCHAR', experiment: 'VARCHAR', arm: 'VARCHAR', \
             segments: 'VARCHAR[]', page_type: 'VARCHAR', device: 'VARCHAR', country: 'VARCHAR', \
             kind: 'VARCHAR', value: 'DOUBLE', \"order\": 'VARCHAR', event: 'VARCHAR', \
             source: 'VARCHAR', trust: 'VARCHAR'}})",
            literal(source)
        ),
        Dialect::BigQuery => format!("`{}`", source.replace('`', "")),
        Dialect::ClickHouse => source.replace([';', ' '], ""),
    }
}

/// The query's text.
pub fn query(q: &Query<'_>) -> Result<String, String> {
    let (kind, binomial) = match q.metric {
        "revenue" => ("purchase", false),
        "aov" => {
            return Err(
                "aov is a ratio metric; the statistics CSV holds binomial and mean metrics".into(),
            )
        }
        k if !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            (k, true)
        }
        other => return Err(format!("'{other}' is not a metric name")),
    };
    let d = q.dialect;
    let dims = breakdown(q.by, d);
    let source = source_table(d, q.source);
    let order = match d {
        Dialect::BigQuery => "`order`",
        Dialect::ClickHouse => "`order`",
        Dialect::DuckDb => "\"order\"",
    };
    let window = q
        .window_ms
        .map(|w| format!(" AND c.ts - f.ts <= {w}"))
        .unwrap_or_default();
    let main = if binomial {
        "CASE WHEN conversions > 0 THEN 1 ELSE 0 END".to_string()
    } else {
        // Winsorized: no visitor's value counts beyond the cap.
        q.cap
            .map_or("value".into(), |c| format!("LEAST(value, {c:?})"))
    };
    // The records that count (`Counted`).
    let counted = match q.counted {
        Counted::All => String::new(),
        Counted::Signed => " AND trust = 'signed'".into(),
        Counted::Origin => " AND ((kind = 'purchase' AND source = 'origin') OR (kind <> 'purchase' AND trust = 'signed'))".into(),
    };
    let metric_type = if binomial { "binomial" } else { "mean" };
    let kind = literal(kind);
    // First exposure per (visitor, unit): the earliest, at equal times the variation whose name
    // sorts first. Duplicate conversions: the earliest, at equal times the larger value.
    let (first, conversions) = match d {
        Dialect::ClickHouse => (
            "SELECT * FROM exposures ORDER BY visitor, unit, ts, variation LIMIT 1 BY visitor, unit".to_string(),
            format!(
                "SELECT visitor, ts, value FROM (\n\
                 \x20   SELECT visitor, ts, coalesce(value, 0) AS value, {order} AS o, event AS e,\n\
                 \x20     row_number() OVER (PARTITION BY site, kind, if(o IS NOT NULL, concat('o:', o), concat('e:', e)) ORDER BY ts, value DESC) AS rank\n\
                 \x20   FROM records WHERE type = 'conversion' AND v = 1 AND kind = {kind}{counted}\n\
                 \x20 ) WHERE (o IS NULL AND e IS NULL) OR rank = 1"
            ),
        ),
        _ => (
            "SELECT * FROM exposures\n  QUALIFY row_number() OVER (PARTITION BY visitor, unit ORDER BY ts, variation) = 1".to_string(),
            format!(
                "SELECT visitor, ts, coalesce(value, 0) AS value FROM records\n\
                 \x20 WHERE type = 'conversion' AND v = 1 AND kind = {kind}{counted}\n\
                 \x20 QUALIFY ({order} IS NULL AND event IS NULL) OR row_number() OVER (\n\
                 \x20   PARTITION BY site, kind, CASE WHEN {order} IS NOT NULL THEN CONCAT('o:', {order}) ELSE CONCAT('e:', event) END\n\
                 \x20   ORDER BY ts, value DESC NULLS LAST) = 1"
            ),
        ),
    };
    let unnest = match d {
        Dialect::DuckDb => "SELECT unit, variation, unnest(dims) AS dimension, visitor, ts FROM first".to_string(),
        Dialect::BigQuery => "SELECT unit, variation, dimension, visitor, ts FROM first CROSS JOIN UNNEST(dims) AS dimension".to_string(),
        Dialect::ClickHouse => "SELECT unit, variation, arrayJoin(dims) AS dimension, visitor, ts FROM first".to_string(),
    };
    let concat_slot = "CONCAT('slot:', slot)";
    // Conversions after the first exposure (within the window). ClickHouse takes no inequality
    // in a LEFT JOIN's ON with `join_use_nulls`: it joins on the visitor and counts the
    // conversions that qualify.
    let per_visitor = match d {
        Dialect::ClickHouse => format!(
            "SELECT f.unit, f.variation, f.dimension, f.visitor, countIf(c.ts >= f.ts{window}) AS conversions, coalesce(sumIf(c.value, c.ts >= f.ts{window}), 0) AS value\n\
             \x20 FROM units f LEFT JOIN conversions c ON c.visitor = f.visitor\n\
             \x20 GROUP BY f.unit, f.variation, f.dimension, f.visitor"
        ),
        _ => format!(
            "SELECT f.unit, f.variation, f.dimension, f.visitor, count(c.visitor) AS conversions, coalesce(sum(c.value), 0) AS value\n\
             \x20 FROM units f LEFT JOIN conversions c ON c.visitor = f.visitor AND c.ts >= f.ts{window}\n\
             \x20 GROUP BY f.unit, f.variation, f.dimension, f.visitor"
        ),
    };
    Ok(format!(
        "-- Vitrine: event records → sufficient statistics of '{metric}' per experiment, variation and dimension\n\
         -- (the columns `vitrine analyze --stats FILE.csv` reads). Generated by `vitrine analyze --sql`.\n\
         WITH records AS (\n  SELECT * FROM {source}\n),\n\
         exposures AS (\n\
         \x20 SELECT visitor, ts, experiment AS unit, arm AS variation, {dims} AS dims FROM records\n\
         \x20 WHERE type = 'exposure' AND v = 1 AND experiment IS NOT NULL AND arm IS NOT NULL\n\
         \x20 UNION ALL\n\
         \x20 SELECT visitor, ts, {concat_slot} AS unit, variant AS variation, {dims} AS dims FROM records\n\
         \x20 WHERE type = 'exposure' AND v = 1 AND variant <> 'control'\n),\n\
         first AS (\n  {first}\n),\n\
         units AS (\n  {unnest}\n),\n\
         conversions AS (\n  {conversions}\n),\n\
         per_visitor AS (\n  {per_visitor}\n)\n\
         SELECT unit AS experiment, variation, dimension, count(*) AS users,\n\
         \x20 sum({main}) AS main_sum, sum(({main}) * ({main})) AS main_sum_squares, '{metric_type}' AS metric_type\n\
         FROM per_visitor\nGROUP BY unit, variation, dimension\nORDER BY experiment, variation, dimension{settings};\n",
        metric = q.metric,
        // ClickHouse fills a LEFT JOIN's misses with defaults unless told to use NULLs.
        settings = if d == Dialect::ClickHouse { "\nSETTINGS join_use_nulls = 1" } else { "" },
    ))
}
