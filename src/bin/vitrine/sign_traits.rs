//! `vitrine sign-traits`: a `vt_t` cookie value, as the origin signs it after login.

use std::process::ExitCode;

use vitrine::signals::{seal_traits, Traits};
use vitrine::state::keyring::Keyring;

use crate::deployment::now_ms;

#[derive(clap::Args)]
pub struct Args {
    /// Traits key list (`id:secret`); default: $VITRINE_TRAITS_KEYS.
    #[arg(long, env = "VITRINE_TRAITS_KEYS")]
    keys: String,
    /// Purchases in the last 90 days.
    #[arg(long)]
    purchases: u32,
    /// Average order value.
    #[arg(long)]
    aov: f64,
    /// Loyalty tier.
    #[arg(long, default_value = "")]
    tier: String,
    /// Issue time in unix seconds (default: now).
    #[arg(long)]
    now: Option<u32>,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let ring = Keyring::parse(&args.keys).map_err(|e| e.to_string())?;
    let traits = Traits {
        purchases_90d: args.purchases,
        aov: args.aov,
        tier: args.tier,
        issued_at: args.now.unwrap_or((now_ms() / 1000) as u32),
    };
    println!("{}", seal_traits(&traits, &ring));
    Ok(ExitCode::SUCCESS)
}
