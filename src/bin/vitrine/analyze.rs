//! `vitrine analyze`: event files (as the sinks write them) or pre-aggregated statistics → uplift
//! against control with intervals; or the SQL that computes those statistics in a warehouse.

use std::io::{BufRead, Read};

/// Bytes of event lines parsed in parallel at a time.
const BLOCK: usize = 8 << 20;
use std::path::PathBuf;

use crate::input::{files, reader};

use vitrine::analyze::aggregate::{Aggregate, Aggregator, By, Cap, Counted, Options};
use vitrine::analyze::report::{self, Correction, Design, Report, Settings};
use vitrine::analyze::{html, sql, sufficient};
use vitrine::config::{Config, Pick, DEMO_CONFIG};

#[derive(clap::Args)]
pub struct Args {
    /// Event files or directories (NDJSON, plain or gzipped; directories are read recursively,
    /// e.g. `events/` as `vitrine collect` or the R2 consumer writes it).
    paths: Vec<PathBuf>,
    /// Pre-aggregated statistics instead of events: a CSV with the header
    /// experiment,variation,dimension,users,main_sum,main_sum_squares[,metric_type].
    #[arg(long, conflicts_with = "paths")]
    stats: Option<PathBuf>,
    /// The site configuration, for the configured splits (SRM); default: the embedded demo.
    #[arg(long)]
    config: Option<PathBuf>,
    /// With --stats: the split to check, e.g. `control=0.1,treatment=0.9` (default: equal).
    #[arg(long)]
    weights: Option<String>,
    /// Breakdown by the value recorded at first exposure.
    #[arg(long, value_parser = ["segment", "device", "country", "page_type"])]
    by: Option<String>,
    /// Count conversions only within this many hours of the first exposure.
    #[arg(long)]
    window_hours: Option<f64>,
    /// Which conversion records count: `signed` (signed state and the origin; the browser's
    /// own unsigned records do not), `origin` (purchases only from the origin's
    /// X-Vitrine-Conversion), `all` (browser-only deployments). Default: `origin` when the
    /// configuration says the site states purchases that way (`events.purchases`), else
    /// `signed`.
    #[arg(long, value_parser = ["signed", "origin", "all"])]
    trust: Option<String>,
    /// Cap each visitor's value per experiment and kind before the statistics: an amount
    /// (`500`) or a percentile of the visitors with a value (`p99`).
    #[arg(long)]
    cap: Option<String>,
    /// Confidence sequences, valid however often the report is looked at.
    #[arg(long)]
    sequential: bool,
    /// The confidence sequences' tuning parameter.
    #[arg(long, default_value_t = vitrine::analyze::stats::DEFAULT_TUNING)]
    tuning: f64,
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Multiple-comparison correction across an experiment's rows.
    #[arg(long, default_value = "holm", value_parser = ["none", "holm", "bh"])]
    correction: String,
    /// Users each arm needs before a row gets a verdict.
    #[arg(long, default_value_t = 100.0)]
    min_users: f64,
    /// Adjust by the same metric before the first exposure (CUPED).
    #[arg(long)]
    cuped: bool,
    /// Only these metrics (purchase, revenue, aov, add_to_cart, a goal); default: all.
    #[arg(long, value_delimiter = ',')]
    metric: Vec<String>,
    /// The report as JSON.
    #[arg(long)]
    json: bool,
    /// Also write the report as a self-contained HTML page.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Print the SQL (duckdb, bigquery, clickhouse) that computes the --stats table of one
    /// metric (--metric, default purchase) from the event layout at PATH (DuckDB: the files;
    /// elsewhere: the table).
    #[arg(long, value_parser = ["duckdb", "bigquery", "clickhouse"])]
    sql: Option<String>,
    /// Print the built-in aggregation of one metric as the --stats CSV.
    #[arg(long)]
    emit_stats: Option<String>,
}

/// Reads about BLOCK bytes of whole lines into `buf`; false at the end of the file.
fn read_block(r: &mut Box<dyn BufRead + Send>, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    buf.clear();
    r.take(BLOCK as u64).read_to_end(buf)?;
    if buf.is_empty() {
        return Ok(false);
    }
    r.read_until(b'\n', buf)?;
    Ok(true)
}

/// A block's text; invalid UTF-8 (a damaged file) makes its lines fail to parse, one by one.
fn text_of(buf: &[u8]) -> &str {
    match std::str::from_utf8(buf) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or(""),
    }
}

fn by(args: &Args) -> Option<By> {
    args.by.as_deref().and_then(By::parse)
}

/// The configured split of an experiment or a weighted slot, from the site configuration.
fn config_weights(config: &vitrine::Site, unit: &str, variations: &[&str]) -> Option<Vec<f64>> {
    if let Some(slot) = unit.strip_prefix("slot:") {
        let slot = config.slots.iter().find(|s| s.name == slot)?;
        if slot.pick != Pick::Weighted {
            return None;
        }
        return Some(
            variations
                .iter()
                .map(|v| {
                    slot.variants
                        .iter()
                        .find(|x| x.id == *v)
                        .map_or(0.0, |x| x.weight)
                })
                .collect(),
        );
    }
    let exp = config.experiments.iter().find(|e| e.name == unit)?;
    let control = f64::from(exp.control_bp) / 10_000.0;
    Some(
        variations
            .iter()
            .map(|v| match *v {
                "control" => control,
                "treatment" => 1.0 - control,
                _ => 0.0,
            })
            .collect(),
    )
}

/// How a unit's arms were assigned: an experiment's, and a weighted slot's variants, by
/// bucketing; a slot's other variants by its rules.
fn design(config: &vitrine::Site, unit: &str) -> Design {
    match unit.strip_prefix("slot:") {
        Some(slot)
            if config
                .slots
                .iter()
                .any(|s| s.name == slot && s.pick == Pick::Weighted) =>
        {
            Design::Randomized
        }
        Some(_) => Design::Observational,
        None => Design::Randomized,
    }
}

fn parse_weights(text: &str) -> Result<Vec<(String, f64)>, String> {
    text.split(',')
        .map(|pair| {
            let (name, w) = pair
                .split_once('=')
                .ok_or_else(|| format!("--weights: '{pair}' is not variation=weight"))?;
            let w: f64 = w
                .trim()
                .parse()
                .ok()
                .filter(|w: &f64| w.is_finite() && *w >= 0.0)
                .ok_or_else(|| format!("--weights: '{w}' is not a weight ≥ 0"))?;
            Ok((name.trim().to_string(), w))
        })
        .collect()
}

/// `--sql`: the query that computes the statistics where the events are.
fn warehouse_sql(
    args: &Args,
    dialect: &str,
    window_ms: Option<u64>,
    counted: Counted,
) -> Result<String, String> {
    let source = match args.paths.first() {
        None => "events/**/*.ndjson*".to_string(),
        Some(p) if p.is_dir() => format!(
            "{}/**/*.ndjson*",
            p.display().to_string().trim_end_matches('/')
        ),
        Some(p) => p.display().to_string(),
    };
    let metric = args.metric.first().map_or("purchase", String::as_str);
    sql::query(&sql::Query {
        dialect: sql::Dialect::parse(dialect).ok_or("unknown SQL dialect")?,
        source: &source,
        metric,
        by: by(args),
        window_ms,
        counted,
        cap: match cap(args)? {
            None => None,
            Some(Cap::Absolute(v)) => Some(v),
            Some(Cap::Percentile(_)) => {
                return Err("--cap: a percentile is computed by `vitrine analyze` itself over the events; the SQL takes an amount (--cap 500)".into())
            }
        },
    })
}

/// The `--trust` asked for, or the site's default.
fn counted(args: &Args, site: &vitrine::Site) -> Counted {
    match args.trust.as_deref().and_then(Counted::parse) {
        Some(c) => c,
        None if site.events.purchases_from_origin => Counted::Origin,
        None => Counted::Signed,
    }
}

fn cap(args: &Args) -> Result<Option<Cap>, String> {
    args.cap.as_deref().map(Cap::parse).transpose()
}

/// The event files' records, aggregated per arm (bad lines skipped, the first three reported).
fn aggregate(args: &Args, window_ms: Option<u64>, counted: Counted) -> Result<Aggregate, String> {
    let mut agg = Aggregator::new(Options {
        by: by(args),
        window_ms,
        counted,
        cap: cap(args)?,
    });
    let mut bad = 0u64;
    for path in files(&args.paths)? {
        let mut r = reader(&path)?;
        let (mut buf, mut first_line) = (Vec::new(), 1usize);
        while read_block(&mut r, &mut buf).map_err(|e| format!("{}: {e}", path.display()))? {
            for (n, e) in agg.push_block(text_of(&buf)) {
                bad += 1;
                if bad <= 3 {
                    eprintln!(
                        "vitrine analyze: {}:{}: {e}; skipped",
                        path.display(),
                        first_line + n - 1
                    );
                }
            }
            first_line += memchr::memchr_iter(b'\n', &buf).count();
        }
    }
    if bad > 3 {
        eprintln!("vitrine analyze: {bad} lines skipped in all");
    }
    Ok(agg.finish())
}

/// The statistics settings the flags ask for.
fn settings(args: &Args) -> Result<Settings, String> {
    if !(args.alpha > 0.0 && args.alpha < 0.5) {
        return Err(format!(
            "--alpha must be within (0, 0.5), got {}",
            args.alpha
        ));
    }
    Ok(Settings {
        alpha: args.alpha,
        sequential: args.sequential,
        tuning: args.tuning,
        correction: match args.correction.as_str() {
            "none" => Correction::None,
            "bh" => Correction::BenjaminiHochberg,
            _ => Correction::Holm,
        },
        min_users: args.min_users,
        cuped: args.cuped,
    })
}

/// The site whose splits and slots the report reads (`--config`, default the demo's).
fn site(args: &Args) -> Result<vitrine::Site, String> {
    let config = match &args.config {
        None => Config::from_json(DEMO_CONFIG),
        Some(p) => Config::from_json(
            &std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        ),
    }
    .map_err(|e| e.to_string())?;
    config
        .sites
        .into_iter()
        .next()
        .ok_or_else(|| "the configuration has no site".to_string())
}

pub fn run(args: Args) -> Result<(), String> {
    let window_ms = match args.window_hours {
        Some(h) if !(h.is_finite() && h > 0.0) => {
            return Err(format!("--window-hours must be a positive number, got {h}"))
        }
        h => h.map(|h| (h * 3_600_000.0) as u64),
    };
    let site = site(&args)?;
    let counted = counted(&args, &site);
    if let Some(dialect) = &args.sql {
        print!("{}", warehouse_sql(&args, dialect, window_ms, counted)?);
        return Ok(());
    }
    let settings = settings(&args)?;
    if args.stats.is_some() && args.cap.is_some() {
        return Err("--cap with --stats: the statistics are sums already, a cap needs each visitor's value; cap where they are computed (--emit-stats or --sql with --cap)".into());
    }
    let (mut tables, stats_weights, counts) = if let Some(path) = &args.stats {
        let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let table = sufficient::read(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let weights = args.weights.as_deref().map(parse_weights).transpose()?;
        ((table, report::Table::new()), Some(weights), (0, 0, 0, 0))
    } else {
        if args.paths.is_empty() {
            return Err("name event files or directories (e.g. `vitrine analyze events/`), or --stats FILE.csv".into());
        }
        let agg = aggregate(&args, window_ms, counted)?;
        if let Some(metric) = &args.emit_stats {
            print!("{}", sufficient::write(&agg, metric)?);
            return Ok(());
        }
        let counts = (agg.records, agg.visitors, agg.duplicates, agg.not_counted);
        (report::tables(&agg, settings.cuped), None, counts)
    };
    if !args.metric.is_empty() {
        for t in [&mut tables.0, &mut tables.1] {
            t.retain(|(_, m), _| args.metric.contains(m));
        }
    }
    let weights = |unit: &str, variations: &[&str]| -> Option<Vec<f64>> {
        match &stats_weights {
            // --stats: the given split, or an equal one.
            Some(Some(given)) => Some(
                variations
                    .iter()
                    .map(|v| given.iter().find(|(n, _)| n == v).map_or(0.0, |(_, w)| *w))
                    .collect(),
            ),
            Some(None) => Some(vec![1.0; variations.len()]),
            None => config_weights(&site, unit, variations),
        }
    };
    let report = Report {
        settings,
        stats_rows: args.stats.as_ref().map(|_| {
            tables
                .0
                .values()
                .map(|cells| cells.len() as u64)
                .sum::<u64>()
        }),
        records: counts.0,
        visitors: counts.1,
        duplicates: counts.2,
        counted,
        not_counted: counts.3,
        cap: cap(&args)?,
        experiments: report::build(&tables.0, &tables.1, &settings, &weights, &|unit| {
            design(&site, unit)
        }),
    };
    if let Some(path) = &args.html {
        std::fs::write(path, html::page(&report))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", report::table_text(&report));
    }
    Ok(())
}
