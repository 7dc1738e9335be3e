//! `vitrine catalog`: a product feed compiled into the catalog the recommendation slots render
//! from (`compile`), and a compiled catalog's items as they will be rendered (`show`).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use vitrine::catalog::feed::{self, Format};
use vitrine::catalog::{Availability, Catalog};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Compile a product feed (Google Merchant Center columns; TSV or CSV with a header, or JSON
    /// Lines) into a catalog file.
    Compile {
        /// The feed: `.tsv`, `.csv` or `.jsonl` (else told by its first line).
        feed: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// A summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print items of a compiled catalog as they will be rendered (the first 3, or those named).
    Show {
        catalog: PathBuf,
        /// Item ids.
        ids: Vec<String>,
    },
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    match args.command {
        Command::Compile { feed, output, json } => compile(&feed, &output, json),
        Command::Show { catalog, ids } => show(&catalog, &ids),
    }
}

fn compile(path: &PathBuf, output: &PathBuf, as_json: bool) -> Result<ExitCode, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "{}: not UTF-8 (byte {} is not)",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let format = Format::of(&path.to_string_lossy(), &text);
    let items = match feed::read(&text, format) {
        Ok(items) => items,
        Err((errors, total)) => {
            for e in &errors {
                eprintln!("{}: {e}", path.display());
            }
            if total > errors.len() {
                eprintln!("{}: … {} more", path.display(), total - errors.len());
            }
            eprintln!("{}: {total} error(s); nothing written", path.display());
            return Ok(ExitCode::from(1));
        }
    };
    let catalog = Catalog::new(items);
    let compiled = catalog.to_compiled();
    std::fs::write(output, &compiled).map_err(|e| format!("{}: {e}", output.display()))?;
    let items = catalog.items();
    let mut types: Vec<&str> = items
        .iter()
        .filter_map(|i| i.product_type.as_deref())
        .collect();
    types.sort_unstable();
    types.dedup();
    let mut currencies: Vec<&str> = items.iter().map(|i| i.price.currency.as_str()).collect();
    currencies.sort_unstable();
    currencies.dedup();
    let out_of_stock = items
        .iter()
        .filter(|i| i.availability == Availability::OutOfStock)
        .count();
    if as_json {
        println!(
            "{}",
            json!({
                "output": output.display().to_string(),
                "items": items.len(),
                "bytes": compiled.len(),
                "product_types": types.len(),
                "out_of_stock": out_of_stock,
                "currencies": currencies,
            })
        );
    } else {
        println!(
            "{}: {} items, {} bytes; {} product types, {} out of stock",
            output.display(),
            items.len(),
            compiled.len(),
            types.len(),
            out_of_stock
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(path: &PathBuf, ids: &[String]) -> Result<ExitCode, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let catalog = Catalog::from_compiled(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let items: Vec<_> = if ids.is_empty() {
        catalog.items().iter().take(3).collect()
    } else {
        ids.iter()
            .map(|id| {
                catalog
                    .get(id)
                    .ok_or_else(|| format!("{}: no item '{id}'", path.display()))
            })
            .collect::<Result<_, _>>()?
    };
    for item in items {
        let mut v = serde_json::to_value(item).map_err(|e| e.to_string())?;
        // Prices as the rendered tile shows them.
        v["price"] = json!(item.price.display());
        if let Some(s) = &item.sale_price {
            v["sale_price"] = json!(s.display());
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    }
    Ok(ExitCode::SUCCESS)
}
