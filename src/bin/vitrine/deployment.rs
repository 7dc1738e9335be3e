//! What a deployed worker reads from its deployment, read locally by the commands that decide as
//! the edge would: the configuration file, the keys, the clock and the randomness.

use vitrine::config::Config;
use vitrine::{KeySource, Keys};

pub fn read_config(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

/// A configuration file, validated (every mistake listed).
pub fn load_config(path: &str) -> Result<Config, String> {
    Config::from_json(&read_config(path)?).map_err(|e| format!("{path}:\n{e}"))
}

/// The site of `cfg` serving `host`.
pub fn site_for<'c>(cfg: &'c Config, host: &str) -> Result<&'c vitrine::Site, String> {
    cfg.site_for_host(host)
        .ok_or_else(|| format!("no site serves host '{host}'"))
}

/// Keys from VITRINE_STATE_KEYS / VITRINE_TRAITS_KEYS (empty means unset), as the edge reads them.
/// The CLI is a local tool: without them it uses the public development keys, and says so on
/// stderr (when `warn`); a deployed worker trusts those only with VITRINE_ALLOW_DEV_KEYS=1.
pub fn deployment_keys(warn: bool) -> Result<Keys, String> {
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

pub fn random_bytes<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(b)
}

/// A fixed visitor id (`--visitor-id`), or a random one.
pub fn visitor_id(hex: Option<&str>) -> Result<[u8; 16], String> {
    match hex {
        Some(h) => parse_id(h),
        None => random_bytes::<16>(),
    }
}

pub fn parse_id(hex: &str) -> Result<[u8; 16], String> {
    vitrine::state::id_from_hex(hex)
        .ok_or_else(|| format!("--visitor-id needs 32 hex digits, got '{hex}'"))
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
