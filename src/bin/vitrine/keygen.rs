//! `vitrine keygen`: a new random key for the state or traits key lists.

use std::process::ExitCode;

use vitrine::state::keyring::format_key;

use crate::deployment::random_bytes;

#[derive(clap::Args)]
pub struct Args {
    /// The key's id, as the key list names it (`id:secret`).
    #[arg(long, default_value_t = 1)]
    id: u8,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    println!("{}", format_key(args.id, &random_bytes::<32>()?));
    Ok(ExitCode::SUCCESS)
}
