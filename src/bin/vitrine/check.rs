//! `vitrine check`: validate and lint a configuration, and with `--page`, show what each slot
//! finds on a saved page.

use std::process::ExitCode;

use vitrine::config::{lint, Config, Severity};
use vitrine::decide::{Decisions, OnPage};
use vitrine::rewrite::{rewrite_bytes, RewritePlan};
use vitrine::Site;

use crate::deployment::{read_config, site_for};

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (JSON).
    config: String,
    /// Treat warnings as errors.
    #[arg(long)]
    deny_warnings: bool,
    /// A saved HTML page: for each slot, how many elements its selector finds there and, for
    /// a reorder, how many items and how many with a key (repeatable).
    #[arg(long, value_name = "FILE")]
    page: Vec<String>,
    /// Host selecting the site the pages belong to.
    #[arg(long, default_value = "localhost")]
    host: String,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let Args {
        config,
        deny_warnings,
        page,
        host,
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
    if !page.is_empty() {
        let site = site_for(&cfg, &host)?;
        for file in &page {
            let html = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
            print!("{}", page_report(site, file, &html));
        }
    }
    let findings = lint(&cfg);
    for f in &findings {
        println!("{f}");
    }
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
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

/// What each slot of `site` finds on a page: its elements and, for a reorder, the items and
/// those with a key (the page is rewritten as if every slot applied, ranked by nothing).
fn page_report(site: &Site, file: &str, html: &[u8]) -> String {
    let probe = Decisions::probe(site);
    let plan = RewritePlan::new(site, &probe, 0x5eed);
    let (_, stats) = rewrite_bytes(&plan, html);
    let mut out = format!("page {file} (site {}):\n", site.name);
    for (slot, on) in site.slots.iter().zip(&stats.slots) {
        out += &format!("  {}: {}\n", slot.name, describe(slot, on));
    }
    out
}

fn describe(slot: &vitrine::config::Slot, on: &OnPage) -> String {
    let found = match on.found {
        0 => {
            return format!(
                "not on this page (no element matches `{}`)",
                slot.selector_source
            )
        }
        1 => "1 element".to_string(),
        n => format!("{n} elements"),
    };
    let Some(rank) = &slot.rank else {
        return found;
    };
    let keys = format!(
        "category: {}; sku: {}",
        rank.category.describe(),
        rank.sku.describe()
    );
    match (on.items, on.keyed) {
        (0, _) => format!(
            "{found}, 0 items (`{}`): not reordered",
            slot.items.as_deref().unwrap_or_default()
        ),
        (n, 0) => format!("{found}, {n} items, 0 with a key ({keys}): not reordered"),
        (n, k) => format!("{found}, {n} items, {k} with a key ({keys})"),
    }
}
