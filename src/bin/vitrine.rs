//! `vitrine`: check configurations, explain decisions, manage keys, collect events.

// The commands that are more than a few lines live in files of their own, in src/bin/vitrine/.
#[path = "vitrine/analyze.rs"]
mod analyze;
#[path = "vitrine/collect.rs"]
mod collect;
#[path = "vitrine/input.rs"]
mod input;
#[path = "vitrine/simulate.rs"]
mod simulate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vitrine::config::{lint, Config, Severity};
use vitrine::signals::{seal_traits, Geo, RequestFacts, Traits};
use vitrine::state::seal::{format_key, Keyring};
use vitrine::{personalize, KeySource, Keys, Mode, RequestInput};

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
    Check {
        /// Configuration file (JSON).
        config: String,
        /// Treat warnings as errors.
        #[arg(long)]
        deny_warnings: bool,
    },
    /// Validate a configuration and write its compiled form (what the browser module loads).
    Compile {
        config: String,
        /// Output file (the demo serves it as /vitrine/config.bin).
        #[arg(short, long)]
        output: String,
    },
    /// Print the JSON Schema of the configuration format (or, with --events, of event records).
    Schema {
        /// The schema of one event record (NDJSON line) instead.
        #[arg(long)]
        events: bool,
    },
    /// Collect event records over HTTP into hourly NDJSON files (a local collector).
    Collect {
        /// Address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1:8788")]
        listen: String,
        /// Folder of the `dt=YYYY-MM-DD/hour=HH/` partitions.
        #[arg(long, default_value = "events")]
        out: std::path::PathBuf,
        /// Largest accepted body, in bytes.
        #[arg(long, default_value_t = 1 << 20)]
        max_body: usize,
    },
    /// Print a new random key (`id:base64url`) for VITRINE_STATE_KEYS or VITRINE_TRAITS_KEYS.
    /// Uplift against control, with intervals, from event files or pre-aggregated statistics.
    Analyze(analyze::Args),
    /// Replays recorded or synthetic traffic through a configuration (and a changed one).
    Simulate(simulate::Args),
    Keygen {
        #[arg(long, default_value_t = 1)]
        id: u8,
    },
    /// Sign customer traits for the `vt_t` cookie (the origin does this after login).
    SignTraits {
        /// Traits key list (`id:secret`); default: $VITRINE_TRAITS_KEYS.
        #[arg(long, env = "VITRINE_TRAITS_KEYS")]
        keys: String,
        #[arg(long)]
        purchases: u32,
        #[arg(long)]
        aov: f64,
        #[arg(long, default_value = "")]
        tier: String,
        /// Issue time in unix seconds (default: now).
        #[arg(long)]
        now: Option<u32>,
    },
    /// Personalize an HTML page (stdin → stdout, streamed) as the edge would for one request.
    Rewrite {
        #[arg(long)]
        config: String,
        /// The page's URL (a path like /c/hiking or a full URL).
        #[arg(long)]
        url: String,
        /// The request's Cookie header (e.g. 'vt=…; vt_e=…').
        #[arg(long)]
        cookie: Option<String>,
        /// Print decisions and reasons on stderr.
        #[arg(long)]
        explain: bool,
        /// Request time in unix milliseconds (default: now).
        #[arg(long)]
        now: Option<u64>,
        /// Visitor id for a new state (32 hex digits; default: random).
        #[arg(long)]
        visitor_id: Option<String>,
        #[arg(
            long,
            default_value = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
        )]
        ua: String,
        #[arg(long)]
        country: Option<String>,
        #[arg(long)]
        gpc: bool,
        #[arg(long, default_value = "localhost")]
        host: String,
    },
    /// Decide for one request, or a journey of requests carrying the state cookie, and explain.
    Decide {
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
        #[arg(
            long,
            default_value = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
        )]
        ua: String,
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
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("vitrine: {msg}");
            ExitCode::from(2)
        }
    }
}

fn read_config(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(b)
}

/// Keys from VITRINE_STATE_KEYS / VITRINE_TRAITS_KEYS (empty means unset), as the edge reads them.
/// The CLI is a local tool: without them it uses the public development keys, and says so on
/// stderr (when `warn`); a deployed worker trusts those only with VITRINE_ALLOW_DEV_KEYS=1.
fn deployment_keys(warn: bool) -> Result<Keys, String> {
    let spec = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let state = spec("VITRINE_STATE_KEYS");
    let traits = spec("VITRINE_TRAITS_KEYS");
    let (keys, source) = Keys::for_deployment(state.as_deref(), traits.as_deref(), true)
        .map_err(|e| e.to_string())?
        .unwrap_or((Keys::development(), KeySource::Development));
    if source == KeySource::Development && warn {
        eprintln!("vitrine: VITRINE_STATE_KEYS not set; using the public development keys");
    }
    Ok(keys)
}

/// A configuration file, validated (every mistake listed).
fn load_config(path: &str) -> Result<Config, String> {
    Config::from_json(&read_config(path)?).map_err(|e| format!("{path}:\n{e}"))
}

/// The site of `cfg` serving `host`.
fn site_for<'c>(cfg: &'c Config, host: &str) -> Result<&'c vitrine::Site, String> {
    cfg.site_for_host(host)
        .ok_or_else(|| format!("no site serves host '{host}'"))
}

/// A fixed visitor id (`--visitor-id`), or a random one.
fn visitor_id(hex: Option<&str>) -> Result<[u8; 16], String> {
    match hex {
        Some(h) => parse_id(h),
        None => random_bytes::<16>(),
    }
}

fn parse_id(hex: &str) -> Result<[u8; 16], String> {
    let bad = || format!("--visitor-id needs 32 hex digits, got '{hex}'");
    if hex.len() != 32 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(id)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.command {
        Command::Check {
            config,
            deny_warnings,
        } => {
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
        Command::Compile { config, output } => {
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
        Command::Schema { events } => {
            let schema = if events {
                serde_json::to_string_pretty(&vitrine::events::json_schema())
            } else {
                serde_json::to_string_pretty(&vitrine::config::json_schema())
            };
            println!("{}", schema.map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Collect {
            listen,
            out,
            max_body,
        } => {
            collect::run(collect::Options {
                listen,
                out,
                max_body,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Analyze(args) => {
            analyze::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate(args) => {
            simulate::run(args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { id } => {
            println!("{}", format_key(id, &random_bytes::<32>()?));
            Ok(ExitCode::SUCCESS)
        }
        Command::SignTraits {
            keys,
            purchases,
            aov,
            tier,
            now,
        } => {
            let ring = Keyring::parse(&keys).map_err(|e| e.to_string())?;
            let issued_at = now.unwrap_or((now_ms() / 1000) as u32);
            println!(
                "{}",
                seal_traits(
                    &Traits {
                        purchases_90d: purchases,
                        aov,
                        tier,
                        issued_at
                    },
                    &ring
                )
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rewrite {
            config,
            url,
            cookie,
            explain,
            now,
            visitor_id: visitor_id_hex,
            ua,
            country,
            gpc,
            host,
        } => {
            use std::io::{Read, Write};
            let cfg = load_config(&config)?;
            let site = site_for(&cfg, &host)?;
            let keys = deployment_keys(explain)?;
            let fresh_id = visitor_id(visitor_id_hex.as_deref())?;
            let input = RequestInput {
                facts: RequestFacts {
                    url: &url,
                    user_agent: Some(&ua),
                    referrer: None,
                    gpc,
                    geo: Geo {
                        country,
                        ..Geo::default()
                    },
                    now_ms: now.unwrap_or_else(now_ms),
                },
                cookie_header: cookie.as_deref(),
                fresh_id,
                page_traits: None,
            };
            let outcome = personalize(site, Mode::Edge(&keys), &input);
            let plan = vitrine::rewrite::RewritePlan::new(
                site,
                &outcome.decisions,
                u64::from_le_bytes(random_bytes::<8>()?),
            );
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut failed: Option<std::io::Error> = None;
            let stats = {
                let mut rw = vitrine::rewrite::Rewriter::new(&plan, |c: &[u8]| {
                    if failed.is_none() {
                        if let Err(e) = out.write_all(c) {
                            failed = Some(e);
                        }
                    }
                });
                let mut buf = vec![0u8; 64 * 1024];
                let mut stdin = std::io::stdin().lock();
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => rw.write(&buf[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(format!("cannot read stdin: {e}")),
                    }
                }
                rw.end()
            };
            if let Some(e) = failed {
                return Err(format!("cannot write stdout: {e}"));
            }
            out.flush()
                .map_err(|e| format!("cannot write stdout: {e}"))?;
            if explain {
                eprint!("{}", outcome.report(site).summary());
                if let Some(t) = &outcome.state_token {
                    eprintln!("Set-Cookie: vt={t}");
                }
                if let Some(b) = &stats.bailed_out {
                    eprintln!("rewrite bailed out ({b}); the rest passed through unchanged");
                }
                if stats.fallbacks > 0 {
                    eprintln!(
                        "{} reorder container(s) left in origin order",
                        stats.fallbacks
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Decide {
            config,
            urls,
            cookie,
            events,
            now,
            step,
            ua,
            referrer,
            gpc,
            country,
            host,
            visitor_id: visitor_id_hex,
            json,
        } => {
            let cfg = load_config(&config)?;
            let site = site_for(&cfg, &host)?;
            let keys = deployment_keys(true)?;
            let mut jar: Vec<(String, String)> = cookie
                .as_deref()
                .unwrap_or("")
                .split(';')
                .filter_map(|p| {
                    p.split_once('=')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                })
                .collect();
            if let Some(ev) = events {
                jar.push(("vt_e".into(), ev));
            }
            let start = now.unwrap_or_else(now_ms);
            let fixed_id = visitor_id_hex.as_deref().map(parse_id).transpose()?;
            let mut reports = Vec::new();
            for (i, url) in urls.iter().enumerate() {
                let header: String = jar
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let input = RequestInput {
                    facts: RequestFacts {
                        url,
                        user_agent: Some(&ua),
                        referrer: referrer.as_deref(),
                        gpc,
                        geo: Geo {
                            country: country.clone(),
                            ..Geo::default()
                        },
                        now_ms: start + i as u64 * step * 1000,
                    },
                    cookie_header: Some(&header),
                    fresh_id: match fixed_id {
                        Some(id) => id,
                        None => random_bytes::<16>()?,
                    },
                    page_traits: None,
                };
                let outcome = personalize(site, Mode::Edge(&keys), &input);
                jar.retain(|(k, _)| k != "vt_e" && k != "vt");
                if let Some(token) = &outcome.state_token {
                    jar.push(("vt".into(), token.clone()));
                }
                let report = outcome.report(site);
                if json {
                    reports.push(serde_json::json!({"url": url, "report": report, "cookie": outcome.state_token}));
                } else {
                    println!("GET {url}\n{}", report.summary());
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?
                );
            } else if let Some((_, v)) = jar.iter().find(|(k, _)| k == "vt") {
                println!("Cookie: vt={v}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
