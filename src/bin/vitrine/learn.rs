//! `vitrine learn recs`: recommendation lists learned from event files (or a click log),
//! evaluated on held-out sessions, written as the table the slots read.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vitrine::catalog::feed::Format;
use vitrine::catalog::Catalog;
use vitrine::events::Record;
use vitrine::learn::observe::Observations;
use vitrine::learn::recs::{self, Click, Tables};
use vitrine::learn::sql::{self, Dialect, ViewColumns};
use vitrine::learn::together;
use vitrine::Config;

use crate::deployment::load_config;
use crate::input;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Learn recommendation lists from event files (`page` records' product views, `purchase`
    /// conversions with a sku: also_viewed, bought_together, complements with --catalog,
    /// bestsellers) or click logs (`.tsv`/`.csv` with a header: session, item, time in unix
    /// seconds; session_id, item_id, timestamp accepted: also_viewed).
    Recs {
        /// Event files or directories (NDJSON, plain or gzipped), or click logs.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The compiled catalog (`vitrine catalog compile`): complements, and bestsellers per
        /// product type.
        #[arg(long)]
        catalog: Option<PathBuf>,
        /// The site configuration: its page types read a `page` record's path as the product
        /// view it is (without it, only the views its click stream carried count).
        #[arg(long)]
        config: Option<String>,
        /// The compiled lists.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Held-out sessions: next-item hit rate and MRR at 20 against popularity, coverage.
        #[arg(long)]
        evaluate: Option<PathBuf>,
        /// The evaluation as JSON.
        #[arg(long)]
        json: bool,
        /// The lists as CSV (item,list,rank,neighbour,score) on stdout, for review.
        #[arg(long)]
        dump: bool,
        /// Print the SQL (duckdb, bigquery, clickhouse) that computes, where the events live,
        /// the rule weights of a click log's views and the visitor counts of the records'
        /// baskets (DuckDB reads the inputs; elsewhere the tables `views` and `events`).
        #[arg(long, value_name = "DIALECT")]
        sql: Option<String>,
    },
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let Command::Recs {
        inputs,
        catalog,
        config,
        output,
        evaluate,
        json,
        dump,
        sql,
    } = args.command;
    if let Some(dialect) = sql {
        print!("{}", warehouse_sql(&dialect, &inputs)?);
        return Ok(ExitCode::SUCCESS);
    }
    let catalog = catalog
        .map(|path| {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Catalog::from_compiled(&bytes).map_err(|e| format!("{}: {}", path.display(), e.0))
        })
        .transpose()?;
    let config = config.map(|c| load_config(&c)).transpose()?;
    let seen = observe(&inputs, config.as_ref())?;
    let baskets = seen.baskets();
    let popularity = seen.popularity();
    let train = recs::sessions(seen.views);
    let lists = recs::also_viewed(&train);
    let mut tables = Tables::default();
    tables.insert("also_viewed", &lists);
    let mut made = vec![format!("also_viewed for {} items", lists.len())];
    if !baskets.is_empty() {
        let pairs = together::bought_together(&baskets);
        if let Some(c) = &catalog {
            let complements = together::complements(&pairs, c);
            made.push(format!("complements for {}", complements.len()));
            tables.insert("complements", &complements);
        }
        made.insert(1, format!("bought_together for {}", pairs.len()));
        tables.insert("bought_together", &pairs);
    }
    if !popularity.is_empty() {
        let best = together::bestsellers(&popularity, catalog.as_ref());
        made.push(match catalog {
            Some(_) => format!(
                "bestsellers for {} product types and overall",
                best.len() - 1
            ),
            None => "bestsellers overall".into(),
        });
        tables.insert("bestsellers", &best);
    }
    if let Some(out) = &output {
        std::fs::write(out, tables.to_compiled()).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!(
            "{}: {}; from {} sessions and {} baskets",
            out.display(),
            made.join(", "),
            train.len(),
            baskets.len()
        );
    }
    if dump {
        print!("{}", tables.dump());
    }
    if let Some(path) = &evaluate {
        let test = recs::sessions(observe(std::slice::from_ref(path), config.as_ref())?.views);
        let e = recs::evaluate(&train, &lists, &test);
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&e).map_err(|e| e.to_string())?
            );
        } else {
            println!(
                "next item at {}: {} predictions; also_viewed hit rate {:.3}, MRR {:.3}; popularity hit rate {:.3}, MRR {:.3}; coverage {:.1}%",
                e.k,
                e.predictions,
                e.hit_rate,
                e.mrr,
                e.popularity.hit_rate,
                e.popularity.mrr,
                e.coverage * 100.0
            );
        }
    }
    if output.is_none() && evaluate.is_none() && !dump {
        return Err("nothing to do: give -o FILE, --evaluate TEST or --dump".into());
    }
    Ok(ExitCode::SUCCESS)
}

/// `--sql`: per input, the query that computes what the learners count from it.
fn warehouse_sql(dialect: &str, inputs: &[PathBuf]) -> Result<String, String> {
    let d = Dialect::parse(dialect)
        .ok_or_else(|| format!("unknown SQL dialect '{dialect}' (duckdb, bigquery, clickhouse)"))?;
    let mut out = String::new();
    for path in inputs {
        let name = path.to_string_lossy();
        out += &if name.ends_with(".tsv") || name.ends_with(".csv") {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
            let (tsv, header, [s, i, t]) = click_columns(path, &text)?;
            let cols = ViewColumns {
                session: &header[s],
                item: &header[i],
                time: &header[t],
            };
            let source = if d == Dialect::DuckDb {
                &*name
            } else {
                "views"
            };
            format!(
                "-- also_viewed rule weights of {name}\n{};\n",
                sql::rule_weights(d, source, tsv, cols)
            )
        } else {
            let source = match d {
                Dialect::DuckDb if path.is_dir() => {
                    format!("{}/**/*.ndjson*", name.trim_end_matches('/'))
                }
                Dialect::DuckDb => name.to_string(),
                _ => "events".into(),
            };
            format!(
                "-- bought_together visitor counts of {name}\n{};\n",
                sql::basket_counts(d, &source)
            )
        };
    }
    Ok(out)
}

/// What `inputs` say: click logs (`.tsv`, `.csv`) as product views; anything else as event
/// files or directories of them.
fn observe(inputs: &[PathBuf], config: Option<&Config>) -> Result<Observations, String> {
    let mut seen = Observations::default();
    let mut unread = 0u64;
    for path in inputs {
        let name = path.to_string_lossy();
        if name.ends_with(".tsv") || name.ends_with(".csv") {
            seen.views.extend(read_clicks(path)?);
            continue;
        }
        for file in input::files(std::slice::from_ref(path))? {
            unread += read_records(&file, config, &mut seen)?;
        }
    }
    if unread > 0 {
        eprintln!(
            "vitrine: {unread} page records read without their site's configuration: only the views their click streams carried count (give --config)"
        );
    }
    Ok(seen)
}

/// One event file's records into `seen`, each `page` record read with the configuration's site
/// of its name; a line that is not a record is an error naming it. Returns the page records
/// with no such site.
fn read_records(
    path: &Path,
    config: Option<&Config>,
    seen: &mut Observations,
) -> Result<u64, String> {
    let mut unread = 0;
    for (i, line) in input::reader(path)?.lines().enumerate() {
        let line = line.map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(&line).map_err(|e| {
            format!(
                "{}: line {}: not an event record: {e}",
                path.display(),
                i + 1
            )
        })?;
        let site = match &record {
            Record::Page(p) => {
                let site = config.and_then(|c| c.sites.iter().find(|s| s.name == p.site));
                unread += u64::from(site.is_none());
                site
            }
            _ => None,
        };
        seen.push(record, site);
    }
    Ok(unread)
}

/// A click log's views: `session`, `item`, `time` columns (or `session_id`, `item_id`,
/// `timestamp`), by name, in any order; TSV or CSV by the extension (else a tab in the header).
fn read_clicks(path: &PathBuf) -> Result<Vec<Click>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (tsv, header, [s, i, t]) = click_columns(path, &text)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .from_reader(text.as_bytes());
    let mut clicks = Vec::new();
    // One record reused for every row: no allocation a row but the click's own strings.
    let mut record = csv::StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| format!("{}: {e}", path.display()))?
    {
        let line = record.position().map_or(0, |p| p.line());
        let field = |k: usize| record.get(k).unwrap_or("").trim();
        let time = field(t).parse::<u64>().map_err(|_| {
            format!(
                "{}: line {line}, column {}: '{}' is not unix seconds",
                path.display(),
                header[t],
                field(t)
            )
        })?;
        if field(s).is_empty() || field(i).is_empty() {
            return Err(format!(
                "{}: line {line}: an empty session or item",
                path.display()
            ));
        }
        clicks.push(Click {
            session: field(s).to_string(),
            item: field(i).to_string(),
            time,
        });
    }
    Ok(clicks)
}

/// A click log's format (TSV: told apart as a product feed is, by the extension, else a tab in
/// the header), its header (trimmed, lowercase) and the positions of its `session`, `item` and
/// `time` columns (or `session_id`, `item_id`, `timestamp`), by name, in any order.
fn click_columns(path: &Path, text: &str) -> Result<(bool, Vec<String>, [usize; 3]), String> {
    let tsv = Format::of(&path.to_string_lossy(), text) == Format::Tsv;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: line 1: {e}", path.display()))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let column = |names: [&str; 2]| {
        header
            .iter()
            .position(|h| names.contains(&h.as_str()))
            .ok_or_else(|| {
                format!(
                    "{}: line 1: no `{}` column (the header has: {})",
                    path.display(),
                    names[0],
                    header.join(", ")
                )
            })
    };
    let columns = [
        column(["session", "session_id"])?,
        column(["item", "item_id"])?,
        column(["time", "timestamp"])?,
    ];
    Ok((tsv, header, columns))
}
