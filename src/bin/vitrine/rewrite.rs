//! `vitrine rewrite`: personalize an HTML page (stdin → stdout, streamed) as the edge would.

use std::io::{Read, Write};
use std::process::ExitCode;

use vitrine::rewrite::{RewritePlan, RewriteStats, Rewriter};
use vitrine::{personalize, Mode, RequestInput};

use crate::deployment::{deployment_keys, load_config, now_ms, random_bytes, site_for, visitor_id};

#[derive(clap::Args)]
pub struct Args {
    /// Configuration file (JSON).
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
    /// The request's User-Agent.
    #[arg(
        long,
        default_value = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
    )]
    ua: String,
    /// Geo country code (as Cloudflare would report it).
    #[arg(long)]
    country: Option<String>,
    /// Send Sec-GPC: 1.
    #[arg(long)]
    gpc: bool,
    /// Host used to select the site.
    #[arg(long, default_value = "localhost")]
    host: String,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let cfg = load_config(&args.config)?;
    let site = site_for(&cfg, &args.host)?;
    let keys = deployment_keys(args.explain)?;
    let now = args.now.unwrap_or_else(now_ms);
    let input = RequestInput::new(&args.url, now, visitor_id(args.visitor_id.as_deref())?)
        .cookie(args.cookie.as_deref())
        .user_agent(Some(&args.ua))
        .gpc(args.gpc)
        .country(args.country.clone());
    let mut outcome = personalize(site, Mode::Edge(&keys), &input);
    let plan = RewritePlan::new(
        site,
        &outcome.decisions,
        u64::from_le_bytes(random_bytes::<8>()?),
    );
    let stats = stream(&plan)?;
    // What the page got: a reorder its items could not take is reported as not reordered.
    outcome.decisions.settle(&stats.slots);
    if args.explain {
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

/// Rewrites stdin to stdout as it arrives.
fn stream(plan: &RewritePlan<'_>) -> Result<RewriteStats, String> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed: Option<std::io::Error> = None;
    let stats = {
        let mut rw = Rewriter::new(plan, |c: &[u8]| {
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
    Ok(stats)
}
