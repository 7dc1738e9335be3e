//! `vitrine compile`: a configuration's compiled form (what the browser module and the edge
//! load), to a file, or beside the browser module's files (`--browser DIR`, from `make browser`)
//! with a content-hashed name, the loader written for it, and `head.html`: the lines a page's
//! `<head>` takes to start every file with the HTML.

use std::path::Path;
use std::process::ExitCode;

use sha2::{Digest, Sha256};
use vitrine::config::{Action, Config};

use crate::deployment::load_config;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("out").required(true).args(["output", "browser"]))]
pub struct Args {
    /// Configuration file (JSON).
    config: String,
    /// Output file (the demo serves it as /vitrine/config.bin).
    #[arg(short, long)]
    output: Option<String>,
    /// The browser module's folder (`make browser` builds it in target/browser): writes
    /// `config.<hash>.bin` there and the loader `vitrine.js` that names it, the module's files
    /// and the slots to hide until decided.
    #[arg(long, value_name = "DIR")]
    browser: Option<String>,
    /// Where the browser module's folder is served, for `head.html`'s URLs.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/vitrine/",
        requires = "browser"
    )]
    base: String,
}

/// The loader's source; `vitrine compile --browser` fills in its site line.
const LOADER: &str = include_str!("../../../www/vitrine/vitrine.js");
/// What brackets the loader's site line.
const SITE_MARK: &str = "/*vitrine:site*/";

pub fn run(args: Args) -> Result<ExitCode, String> {
    let cfg = load_config(&args.config)?;
    let bytes = cfg.to_compiled();
    let output = match (&args.output, &args.browser) {
        (Some(output), _) => output.clone(),
        (None, Some(dir)) => {
            let name = format!("config.{}.bin", short_hash(&bytes));
            write_loader(Path::new(dir), &cfg, &name, &args.base)?;
            format!("{dir}/{name}")
        }
        (None, None) => return Err("give --output FILE or --browser DIR".into()),
    };
    std::fs::write(&output, &bytes).map_err(|e| format!("cannot write {output}: {e}"))?;
    println!(
        "{output}: {} bytes, {} site(s)",
        bytes.len(),
        cfg.sites.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The first 10 hex digits of the content's SHA-256: the file name changes with the content,
/// so a CDN may cache it for a year.
pub fn short_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..5]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes `dir/vitrine.js`: the loader, naming the folder's module and wasm (content-hashed by
/// `make browser`), the configuration `config`, and the selectors of the slots to hide; and
/// `dir/head.html`, the lines for a page's `<head>` with the folder served at `base`.
fn write_loader(dir: &Path, cfg: &Config, config: &str, base: &str) -> Result<(), String> {
    let module = built_file(dir, "vitrine.", ".mjs")?;
    let wasm = built_file(dir, "vitrine_core.", ".wasm")?;
    let site = serde_json::json!({
        "module": module,
        "wasm": wasm,
        "config": config,
        "hide": hidden_selectors(cfg),
    });
    let (head, rest) = LOADER
        .split_once(SITE_MARK)
        .and_then(|(head, rest)| Some((head, rest.split_once(SITE_MARK)?.1)))
        .ok_or("the loader template has no site line (www/vitrine/vitrine.js)")?;
    // Shipped without its comment lines (the source, www/vitrine/vitrine.js, has them).
    let loader: String = format!("{head}{SITE_MARK}{site}{SITE_MARK}{rest}")
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| format!("{}\n", line.trim_start()))
        .collect();
    let path = dir.join("vitrine.js");
    std::fs::write(&path, loader).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let path = dir.join("head.html");
    let head = head_lines(base, &module, &wasm, config);
    std::fs::write(&path, head).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A page's `<head>` lines: the script tag, and preload hints that start the module, the wasm
/// and the configuration with the HTML rather than after the loader arrives (one round trip
/// fewer). `as="fetch"` with `crossorigin`, as the loader fetches them, or the browser fetches
/// them twice.
fn head_lines(base: &str, module: &str, wasm: &str, config: &str) -> String {
    let base = format!("{}/", base.trim_end_matches('/'));
    format!(
        "<link rel=\"modulepreload\" href=\"{base}{module}\">\n\
         <link rel=\"preload\" href=\"{base}{wasm}\" as=\"fetch\" type=\"application/wasm\" crossorigin>\n\
         <link rel=\"preload\" href=\"{base}{config}\" as=\"fetch\" crossorigin>\n\
         <script src=\"{base}vitrine.js\"></script>\n"
    )
}

/// The selectors the loader hides until the slots are decided: every slot's, once, except
/// `set_attribute` slots' (their element is often `body` or `html`: hiding it would hold the
/// whole page back).
pub fn hidden_selectors(cfg: &Config) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for slot in cfg.sites.iter().flat_map(|s| &s.slots) {
        let sel = slot.selector_source.as_str();
        if slot.action != Action::SetAttribute && !out.contains(&sel) {
            out.push(sel);
        }
    }
    out
}

/// The one file in `dir` named `prefix<hash>suffix`.
fn built_file(dir: &Path, prefix: &str, suffix: &str) -> Result<String, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(suffix))
                .is_some_and(|hash| {
                    !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_alphanumeric())
                })
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!(
            "{} has no {prefix}<hash>{suffix}: build the browser module there first (make browser builds target/browser)",
            dir.display()
        )),
        _ => Err(format!(
            "{} holds {} builds ({}): use the folder of one `make browser` run",
            dir.display(),
            found.len(),
            found.join(", ")
        )),
    }
}
