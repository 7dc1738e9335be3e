//! `vitrine schema`: the JSON Schema of the configuration format or of event records.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The schema of one event record (NDJSON line) instead.
    #[arg(long)]
    events: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let schema = if args.events {
        serde_json::to_string_pretty(&vitrine::events::json_schema())
    } else {
        serde_json::to_string_pretty(&vitrine::config::json_schema())
    };
    println!("{}", schema.map_err(|e| e.to_string())?);
    Ok(ExitCode::SUCCESS)
}
