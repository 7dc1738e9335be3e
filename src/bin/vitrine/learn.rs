//! `vitrine learn recs`: recommendation lists learned from a click log, evaluated on held-out
//! sessions, written as the table the slots read.

use std::path::PathBuf;
use std::process::ExitCode;

use vitrine::catalog::feed::Format;
use vitrine::learn::recs::{self, Click, Tables};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Learn `also_viewed` lists from click logs (`.tsv`/`.csv` with a header: session, item,
    /// time in unix seconds; session_id, item_id, timestamp accepted).
    Recs {
        /// Click logs.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
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
    },
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let Command::Recs {
        inputs,
        output,
        evaluate,
        json,
        dump,
    } = args.command;
    let mut clicks = Vec::new();
    for path in &inputs {
        clicks.extend(read_clicks(path)?);
    }
    let train = recs::sessions(clicks);
    let lists = recs::also_viewed(&train);
    let mut tables = Tables::default();
    tables.insert("also_viewed", &lists);
    if let Some(out) = &output {
        std::fs::write(out, tables.to_compiled()).map_err(|e| format!("{}: {e}", out.display()))?;
        eprintln!(
            "{}: also_viewed for {} items, from {} sessions",
            out.display(),
            lists.len(),
            train.len()
        );
    }
    if dump {
        print!("{}", tables.dump());
    }
    if let Some(path) = &evaluate {
        let test = recs::sessions(read_clicks(path)?);
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

/// A click log's views: `session`, `item`, `time` columns (or `session_id`, `item_id`,
/// `timestamp`), by name, in any order; TSV or CSV by the extension (else a tab in the header).
fn read_clicks(path: &PathBuf) -> Result<Vec<Click>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Told apart as a product feed is (the extension, else a tab in the header).
    let tsv = Format::of(&path.to_string_lossy(), &text) == Format::Tsv;
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
    let (s, i, t) = (
        column(["session", "session_id"])?,
        column(["item", "item_id"])?,
        column(["time", "timestamp"])?,
    );
    let mut clicks = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
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
