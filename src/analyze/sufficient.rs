//! Pre-aggregated sufficient statistics as CSV — GrowthBook's query-output columns, so that a
//! warehouse can do the heavy lifting (`vitrine analyze --stats FILE.csv`), and what the
//! built-in aggregation writes in the same shape (`--emit-stats`):
//!
//! `experiment,variation,dimension,users,main_sum,main_sum_squares[,metric_type][,metric]`
//!
//! `metric_type` is `binomial` or `mean` (the default); `dimension` is `all` for the whole
//! population; the baseline variation is `control` (or `origin` for a slot's variants).

use std::collections::BTreeMap;

use super::aggregate::{Aggregate, KindSums};
use super::report::Table;
use super::stats::{Kind, Moments, Statistic};

/// Why a statistics file was refused: the line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsFileError {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for StatsFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

const REQUIRED: [&str; 6] = [
    "experiment",
    "variation",
    "dimension",
    "users",
    "main_sum",
    "main_sum_squares",
];

/// Reads a statistics CSV into a [`Table`] (metric `main` unless a `metric` column names it).
pub fn read(text: &[u8]) -> Result<Table, StatsFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text);
    let err = |line: u64, message: String| StatsFileError { line, message };
    let headers = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let mut at = [0usize; 6];
    for (i, name) in REQUIRED.iter().enumerate() {
        at[i] = column(name).ok_or_else(|| {
            err(
                1,
                format!(
                    "no `{name}` column (the header must name {})",
                    REQUIRED.join(",")
                ),
            )
        })?;
    }
    let (type_at, metric_at) = (column("metric_type"), column("metric"));
    let mut table = Table::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| err(line, e.to_string()))?;
        let field = |k: usize| record.get(at[k]).unwrap_or("");
        let number = |k: usize| -> Result<f64, StatsFileError> {
            let text = field(k);
            text.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| err(line, format!("{} is not a number: '{text}'", REQUIRED[k])))
        };
        let users = number(3)?;
        if users < 0.0 || users.fract() != 0.0 {
            return Err(err(
                line,
                format!("users must be a whole number ≥ 0, got {users}"),
            ));
        }
        let kind = match type_at.and_then(|t| record.get(t)).unwrap_or("") {
            "" | "mean" => Kind::Mean,
            "binomial" => Kind::Binomial,
            other => {
                return Err(err(
                    line,
                    format!("metric_type must be binomial or mean, got '{other}'"),
                ))
            }
        };
        let (sum, sum_squares) = (number(4)?, number(5)?);
        if kind == Kind::Binomial && !(0.0..=users).contains(&sum) {
            return Err(err(
                line,
                format!("a binomial main_sum is within 0–users ({users}), got {sum}"),
            ));
        }
        let metric = metric_at
            .and_then(|m| record.get(m))
            .filter(|m| !m.is_empty())
            .unwrap_or("main");
        let key = (field(2).to_string(), field(1).to_string());
        let cells = table
            .entry((field(0).to_string(), metric.to_string()))
            .or_default();
        if cells.contains_key(&key) {
            return Err(err(
                line,
                format!(
                    "a second row for variation '{}' in dimension '{}'",
                    key.1, key.0
                ),
            ));
        }
        cells.insert(
            key,
            Statistic::Plain(Moments {
                kind,
                n: users,
                sum,
                sum_squares: if kind == Kind::Binomial {
                    sum
                } else {
                    sum_squares
                },
            }),
        );
    }
    Ok(table)
}

/// The sums of one metric in the CSV shape, from the built-in aggregation: `purchase`, an
/// `add_to_cart` or a goal (binomial: converted or not), or `revenue` (mean).
pub fn write(agg: &Aggregate, metric: &str) -> Result<String, String> {
    let (kind, binomial) = match metric {
        "revenue" => ("purchase", false),
        "aov" => {
            return Err(
                "aov is a ratio metric; the statistics CSV holds binomial and mean metrics".into(),
            )
        }
        k => (k, true),
    };
    let mut out = String::from(
        "experiment,variation,dimension,users,main_sum,main_sum_squares,metric_type\n",
    );
    let empty = KindSums::default();
    let rows: BTreeMap<_, _> = agg.cells.iter().collect();
    for ((unit, variation, dim), cell) in rows {
        let s = cell.kinds.get(kind).unwrap_or(&empty);
        let (sum, squares, t) = if binomial {
            (s.any, s.any, "binomial")
        } else {
            (s.value, s.value_sq, "mean")
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            quote(unit),
            quote(variation),
            quote(&dim.replace('\u{1f}', "+")),
            cell.users,
            sum,
            squares,
            t
        ));
    }
    Ok(out)
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
