//! `vitrine simulate`: recorded `page` records or seeded synthetic traffic through a
//! configuration — variant shares per slot, segment sizes, experiment balance, requests/s — and
//! with `--against`, what a changed configuration decides differently.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Value};
use vitrine::analyze::stats;
use vitrine::config::{Config, DEMO_CONFIG};
use vitrine::events::{read_record, PageView, Record};
use vitrine::simulate::{self, Outcomes, Plant, Synthetic, Tally, Traffic};
use vitrine::{Keys, Site};

use crate::input::{files, reader};

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories holding `page` records (other records are skipped).
    paths: Vec<PathBuf>,
    /// The configuration to run; default: the embedded demo.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A changed configuration: report what it decides differently for the same traffic.
    #[arg(long)]
    against: Option<PathBuf>,
    /// Seeded synthetic visitors instead of recorded ones.
    #[arg(long, conflicts_with = "paths")]
    synthetic: Option<u64>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Synthetic visits spread over this many days from --start.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// The first synthetic day, `YYYY-MM-DD` (UTC).
    #[arg(long, default_value = "2026-11-01")]
    start: String,
    /// Write the traffic's event records (exposures, and purchases at --purchase-rate) to
    /// DIR/simulate-SEED.ndjson, for `vitrine analyze`.
    #[arg(long)]
    events_out: Option<PathBuf>,
    /// The probability that a synthetic visitor buys.
    #[arg(long, default_value_t = 0.05)]
    purchase_rate: f64,
    /// A planted effect on the purchase rate, e.g. `hero-holdout:treatment=+10%`
    /// (repeatable; `slot:hero:hero-trail=+5%` for a slot's variant).
    #[arg(long)]
    plant: Vec<String>,
    #[arg(long)]
    json: bool,
}

fn load(path: Option<&PathBuf>) -> Result<(Site, String), String> {
    let text = match path {
        None => DEMO_CONFIG.to_string(),
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
    };
    let config = Config::from_json(&text).map_err(|e| match path {
        Some(p) => format!("{}: {e}", p.display()),
        None => e.to_string(),
    })?;
    let site = config
        .sites
        .into_iter()
        .next()
        .ok_or("the configuration has no site")?;
    Ok((site, text))
}

fn start_ms(day: &str) -> Result<u64, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(day, &format).map_err(|e| format!("--start '{day}': {e}"))?;
    Ok((date.midnight().assume_utc().unix_timestamp() * 1000) as u64)
}

fn shares(counts: &BTreeMap<String, u64>, total: u64) -> Value {
    counts
        .iter()
        .map(|(k, v)| (k.clone(), json!(*v as f64 / total.max(1) as f64)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// The configured split's SRM p of each experiment.
fn balance(site: &Site, tally: &Tally) -> Value {
    tally
        .arms
        .iter()
        .map(|(name, arms)| {
            let control = site
                .experiments
                .iter()
                .find(|e| &e.name == name)
                .map_or(0.5, |e| f64::from(e.control_bp) / 10_000.0);
            let users = [*arms.get("control").unwrap_or(&0), *arms.get("treatment").unwrap_or(&0)];
            let p = stats::srm(&users.map(|u| u as f64), &[control, 1.0 - control]);
            (
                name.clone(),
                json!({"control": users[0], "treatment": users[1], "configured_control_share": control,
                       "srm_p": p, "srm": p < stats::SRM_THRESHOLD}),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn summary(site: &Site, tally: &Tally) -> Value {
    json!({
        "visitors": tally.visitors,
        "views": tally.views,
        "slots": tally.slots.iter().map(|(s, m)| (s.clone(), shares(m, tally.views))).collect::<serde_json::Map<_, _>>(),
        "segments": tally.segment_views.keys().map(|s| (s.clone(), json!({
            "share_of_views": tally.segment_views[s] as f64 / tally.views.max(1) as f64,
            "share_of_visitors": *tally.segment_visitors.get(s).unwrap_or(&0) as f64 / tally.visitors.max(1) as f64,
        }))).collect::<serde_json::Map<_, _>>(),
        "experiments": balance(site, tally),
    })
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn text(report: &Value) -> String {
    let mut out = format!(
        "{} visitors, {} page views in {:.2} s: {:.0} requests/s on {} threads\n",
        report["visitors"],
        report["views"],
        report["seconds"].as_f64().unwrap_or(0.0),
        report["requests_per_second"].as_f64().unwrap_or(0.0),
        report["threads"]
    );
    for (slot, shares) in report["slots"].as_object().into_iter().flatten() {
        let mut s: Vec<(&String, f64)> = shares
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k, v.as_f64().unwrap_or(0.0)))
            .collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1));
        let list: Vec<String> = s.iter().map(|(k, v)| format!("{k} {}", pct(*v))).collect();
        out.push_str(&format!("  slot {slot}: {}\n", list.join(", ")));
    }
    for (seg, v) in report["segments"].as_object().into_iter().flatten() {
        out.push_str(&format!(
            "  segment {seg}: {} of page views, {} of visitors\n",
            pct(v["share_of_views"].as_f64().unwrap_or(0.0)),
            pct(v["share_of_visitors"].as_f64().unwrap_or(0.0))
        ));
    }
    for (exp, v) in report["experiments"].as_object().into_iter().flatten() {
        out.push_str(&format!(
            "  experiment {exp}: control {} / treatment {} visitors (configured control {}), SRM p = {:.3}{}\n",
            v["control"], v["treatment"], pct(v["configured_control_share"].as_f64().unwrap_or(0.0)),
            v["srm_p"].as_f64().unwrap_or(1.0), if v["srm"] == true { " — MISMATCH" } else { "" }
        ));
    }
    if let Some(a) = report.get("against") {
        out.push_str(&format!(
            "against {}: {} of page views and {} of visitors get a different decision\n",
            a["config"].as_str().unwrap_or(""),
            pct(a["share_of_views_changed"].as_f64().unwrap_or(0.0)),
            pct(a["share_of_visitors_changed"].as_f64().unwrap_or(0.0))
        ));
        for (slot, v) in a["slots"].as_object().into_iter().flatten() {
            out.push_str(&format!(
                "  slot {slot}: {} of page views change\n",
                pct(v["share_of_views_changed"].as_f64().unwrap_or(0.0))
            ));
            for p in v["changes"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "    {} → {}: {}\n",
                    p["from"].as_str().unwrap_or(""),
                    p["to"].as_str().unwrap_or(""),
                    pct(p["share_of_views"].as_f64().unwrap_or(0.0))
                ));
            }
        }
    }
    out
}

/// The `page` records of event files or directories (other records skipped, bad ones reported).
fn recorded_pages(paths: &[PathBuf]) -> Result<Vec<PageView>, String> {
    if paths.is_empty() {
        return Err("name files or directories with page records (e.g. `vitrine simulate events/`), or --synthetic N".into());
    }
    let mut pages = Vec::new();
    let mut line = String::new();
    for path in files(paths)? {
        let mut r = reader(&path)?;
        let mut number = 0;
        while {
            line.clear();
            r.read_line(&mut line)
                .map_err(|e| format!("{}: {e}", path.display()))?
                > 0
        } {
            number += 1;
            if !line.contains("\"page\"") {
                continue;
            }
            match read_record(line.trim_end(), number) {
                Ok(Record::Page(p)) => pages.push(p),
                Ok(_) => {}
                Err(e) => eprintln!("vitrine simulate: {}: {e}; skipped", path.display()),
            }
        }
    }
    if pages.is_empty() {
        return Err(
            "no page records found (the configuration's events.page_sample records them)".into(),
        );
    }
    Ok(pages)
}

/// What a changed configuration changes: shares of views and visitors, per slot the changes
/// from old to new, and the new configuration's own summary.
fn against_report(
    tally: &Tally,
    diff: &simulate::Diff,
    config: Option<String>,
    new: Value,
) -> Value {
    let views = tally.views.max(1) as f64;
    let mut slots = serde_json::Map::new();
    for (slot, changed) in &diff.slots_changed {
        let mut changes: Vec<Value> = diff
            .pairs
            .iter()
            .filter(|((s, _, _), _)| s == slot)
            .map(|((_, from, to), n)| json!({"from": from, "to": to, "views": n, "share_of_views": *n as f64 / views}))
            .collect();
        changes.sort_by(|a, b| b["views"].as_u64().cmp(&a["views"].as_u64()));
        slots.insert(
            slot.clone(),
            json!({"share_of_views_changed": *changed as f64 / views, "changes": changes}),
        );
    }
    json!({
        "config": config,
        "share_of_views_changed": diff.views_changed as f64 / views,
        "share_of_visitors_changed": diff.visitors_changed as f64 / tally.visitors.max(1) as f64,
        "slots": slots,
        "new": new,
    })
}

pub fn run(args: Args) -> Result<(), String> {
    let (site, config_text) = load(args.config.as_ref())?;
    let against = args.against.as_ref().map(|p| load(Some(p))).transpose()?;
    if !(0.0..=1.0).contains(&args.purchase_rate) {
        return Err(format!(
            "--purchase-rate must be within 0–1, got {}",
            args.purchase_rate
        ));
    }
    let plants = args
        .plant
        .iter()
        .map(|p| Plant::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let recorded;
    let spec;
    let traffic = if let Some(n) = args.synthetic {
        spec = Synthetic {
            visitors: n,
            seed: args.seed,
            start_ms: start_ms(&args.start)?,
            days: args.days,
            words: simulate::words_of(&config_text),
        };
        Traffic::Synthetic(&spec)
    } else {
        recorded = simulate::journeys_from_pages(recorded_pages(&args.paths)?);
        Traffic::Recorded(&recorded)
    };
    let outcomes = args.events_out.as_ref().map(|_| Outcomes {
        purchase_rate: args.purchase_rate,
        plants,
    });
    let bar = indicatif::ProgressBar::new(traffic.len());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} visitors, {per_sec}, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let keys = Keys::development();
    // The events file is written as the run goes (memory holds the visitors in flight).
    let events_path = match &args.events_out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Some(dir.join(format!("simulate-{}.ndjson", args.seed)))
        }
        None => None,
    };
    let mut file = match &events_path {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => None,
    };
    let mut write_error = None;
    let t0 = Instant::now();
    let result = simulate::simulate_into(
        &site,
        against.as_ref().map(|(s, _)| s),
        &keys,
        &traffic,
        outcomes.as_ref(),
        &|n| bar.inc(n),
        &mut |events| {
            if let (Some(f), None) = (file.as_mut(), &write_error) {
                write_error = f.write_all(events.as_bytes()).err();
            }
        },
    );
    let seconds = t0.elapsed().as_secs_f64();
    bar.finish_and_clear();
    if let (Some(path), Some(mut f)) = (&events_path, file) {
        let flushed = f.flush();
        if let Some(e) = write_error.or(flushed.err()) {
            return Err(format!("{}: {e}", path.display()));
        }
    }
    let requests = result.tally.views * if against.is_some() { 2 } else { 1 };
    let mut report = summary(&site, &result.tally);
    report["seconds"] = json!(seconds);
    report["requests_per_second"] = json!(requests as f64 / seconds.max(1e-9));
    report["threads"] = json!(rayon::current_num_threads());
    if let (Some((other, _)), Some((tally, diff))) = (&against, &result.against) {
        let config = args.against.as_ref().map(|p| p.display().to_string());
        report["against"] = against_report(&result.tally, diff, config, summary(other, tally));
    }
    if let Some(path) = &events_path {
        report["events_out"] = json!(path.display().to_string());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", text(&report));
    }
    Ok(())
}
