//! `vitrine check`: validate and lint a configuration.

use std::process::ExitCode;

use vitrine::config::{lint, Config, Severity};

use crate::deployment::read_config;

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (JSON).
    config: String,
    /// Treat warnings as errors.
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let Args {
        config,
        deny_warnings,
    } = args;
    let text = read_config(&config)?;
    let cfg = match Config::from_json(&text) {
        Ok(c) => c,
        Err(errs) => {
            for e in &errs.0 {
                println!("error: {e}");
            }
            println!("{config}: {} error(s)", errs.0.len());
            return Ok(ExitCode::FAILURE);
        }
    };
    let findings = lint(&cfg);
    for f in &findings {
        println!("{f}");
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    println!(
        "{config}: {} site(s), {errors} error(s), {warnings} warning(s)",
        cfg.sites.len()
    );
    Ok(if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
