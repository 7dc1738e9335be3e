//! `vitrine compile`: a configuration's compiled form (what the browser module and the edge load).

use std::process::ExitCode;

use crate::deployment::load_config;

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (JSON).
    config: String,
    /// Output file (the demo serves it as /vitrine/config.bin).
    #[arg(short, long)]
    output: String,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let Args { config, output } = args;
    let cfg = load_config(&config)?;
    let bytes = cfg.to_compiled();
    std::fs::write(&output, &bytes).map_err(|e| format!("cannot write {output}: {e}"))?;
    println!(
        "{output}: {} bytes, {} site(s)",
        bytes.len(),
        cfg.sites.len()
    );
    Ok(ExitCode::SUCCESS)
}
