//! `vitrine decide`: decide for one request, or a journey of requests carrying the state
//! cookie, and explain.

use std::process::ExitCode;

use vitrine::{personalize, Mode, RequestInput};

use crate::deployment::{deployment_keys, load_config, now_ms, parse_id, random_bytes, site_for};

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (JSON).
    #[arg(long)]
    config: String,
    /// URLs requested in order (a path like /c/hiking or a full URL).
    #[arg(required = true)]
    urls: Vec<String>,
    /// Initial Cookie header (e.g. 'vt=…; vt_t=…').
    #[arg(long)]
    cookie: Option<String>,
    /// Click-stream events (vt_e format) sent with the first request.
    #[arg(long)]
    events: Option<String>,
    /// Time of the first request in unix milliseconds (default: now).
    #[arg(long)]
    now: Option<u64>,
    /// Seconds between requests of a journey.
    #[arg(long, default_value_t = 60)]
    step: u64,
    /// The requests' User-Agent.
    #[arg(
        long,
        default_value = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
    )]
    ua: String,
    /// The requests' Referer.
    #[arg(long)]
    referrer: Option<String>,
    /// Send Sec-GPC: 1.
    #[arg(long)]
    gpc: bool,
    /// Geo country code (as Cloudflare would report it).
    #[arg(long)]
    country: Option<String>,
    /// Host used to select the site.
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Visitor id for a new state (32 hex digits; default: random), for reproducible runs.
    #[arg(long)]
    visitor_id: Option<String>,
    /// Print the full JSON report instead of the summary.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let cfg = load_config(&args.config)?;
    let site = site_for(&cfg, &args.host)?;
    let keys = deployment_keys(true)?;
    let mut jar: Vec<(String, String)> = args
        .cookie
        .as_deref()
        .unwrap_or("")
        .split(';')
        .filter_map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    if let Some(ev) = &args.events {
        jar.push(("vt_e".into(), ev.clone()));
    }
    let start = args.now.unwrap_or_else(now_ms);
    let fixed_id = args.visitor_id.as_deref().map(parse_id).transpose()?;
    let mut reports = Vec::new();
    for (i, url) in args.urls.iter().enumerate() {
        let header: String = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let fresh_id = match fixed_id {
            Some(id) => id,
            None => random_bytes::<16>()?,
        };
        let input = RequestInput::new(url, start + i as u64 * args.step * 1000, fresh_id)
            .cookie(Some(&header))
            .user_agent(Some(&args.ua))
            .referrer(args.referrer.as_deref())
            .gpc(args.gpc)
            .country(args.country.clone());
        let outcome = personalize(site, Mode::Edge(&keys), &input);
        jar.retain(|(k, _)| k != "vt_e" && k != "vt");
        if let Some(token) = &outcome.state_token {
            jar.push(("vt".into(), token.clone()));
        }
        let report = outcome.report(site);
        if args.json {
            reports.push(
                serde_json::json!({"url": url, "report": report, "cookie": outcome.state_token}),
            );
        } else {
            println!("GET {url}\n{}", report.summary());
        }
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?
        );
    } else if let Some((_, v)) = jar.iter().find(|(k, _)| k == "vt") {
        println!("Cookie: vt={v}");
    }
    Ok(ExitCode::SUCCESS)
}
