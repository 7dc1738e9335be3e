//! `vitrine`: check configurations, explain decisions, manage keys, collect and analyze events.
//! One file per subcommand, in src/bin/vitrine/.

#[path = "vitrine/analyze.rs"]
mod analyze;
#[path = "vitrine/catalog.rs"]
mod catalog;
#[path = "vitrine/check.rs"]
mod check;
#[path = "vitrine/collect.rs"]
mod collect;
#[path = "vitrine/compile.rs"]
mod compile;
#[path = "vitrine/decide.rs"]
mod decide;
#[path = "vitrine/deployment.rs"]
mod deployment;
#[path = "vitrine/input.rs"]
mod input;
#[path = "vitrine/keygen.rs"]
mod keygen;
#[path = "vitrine/learn.rs"]
mod learn;
#[path = "vitrine/rewrite.rs"]
mod rewrite;
#[path = "vitrine/schema.rs"]
mod schema;
#[path = "vitrine/sign_traits.rs"]
mod sign_traits;
#[path = "vitrine/simulate.rs"]
mod simulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vitrine",
    version,
    about = "Vitrine personalization engine: config tools and decision explainer"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate and lint a configuration; exit 1 on errors.
    Check(check::Args),
    /// Validate a configuration and write its compiled form (what the browser module loads).
    Compile(compile::Args),
    /// Print the JSON Schema of the configuration format (or, with --events, of event records).
    Schema(schema::Args),
    /// Collect event records over HTTP into hourly NDJSON files (a local collector).
    Collect(collect::Args),
    /// Uplift against control, with intervals, from event files or pre-aggregated statistics.
    Analyze(analyze::Args),
    /// Replays recorded or synthetic traffic through a configuration (and a changed one).
    Simulate(simulate::Args),
    /// Print a new random key (`id:base64url`) for VITRINE_STATE_KEYS or VITRINE_TRAITS_KEYS.
    Keygen(keygen::Args),
    /// Sign customer traits for the `vt_t` cookie (the origin does this after login).
    SignTraits(sign_traits::Args),
    /// Personalize an HTML page (stdin → stdout, streamed) as the edge would for one request.
    Rewrite(rewrite::Args),
    /// Decide for one request, or a journey of requests carrying the state cookie, and explain.
    Decide(decide::Args),
    /// Compile a product feed into the catalog recommendation slots render from, or show one.
    Catalog(catalog::Args),
    /// Learn recommendation lists from click logs (and evaluate them on held-out sessions).
    Learn(learn::Args),
}

fn main() -> ExitCode {
    let done = |r: Result<(), String>| r.map(|()| ExitCode::SUCCESS);
    let result = match Cli::parse().command {
        Command::Check(args) => check::run(args),
        Command::Compile(args) => compile::run(args),
        Command::Schema(args) => schema::run(args),
        Command::Collect(args) => done(collect::run(args)),
        Command::Analyze(args) => done(analyze::run(args)),
        Command::Simulate(args) => done(simulate::run(args)),
        Command::Keygen(args) => keygen::run(args),
        Command::SignTraits(args) => sign_traits::run(args),
        Command::Rewrite(args) => rewrite::run(args),
        Command::Decide(args) => decide::run(args),
        Command::Catalog(args) => catalog::run(args),
        Command::Learn(args) => learn::run(args),
    };
    result.unwrap_or_else(|msg| {
        eprintln!("vitrine: {msg}");
        ExitCode::from(2)
    })
}
