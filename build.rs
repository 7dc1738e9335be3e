//! Bundles the site configuration the edge worker serves: `$VITRINE_CONFIG` (a path), or the
//! demo store's config. It is validated when the worker loads it; `vitrine check` validates it
//! before a deploy.
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let path = std::env::var("VITRINE_CONFIG").map(PathBuf::from).unwrap_or_else(|_| manifest.join("src/config/demo.json"));
    println!("cargo:rerun-if-env-changed=VITRINE_CONFIG");
    println!("cargo:rerun-if-changed={}", path.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("bundled-config.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("VITRINE_CONFIG {}: {e}", path.display()));
    std::fs::write(out, text).unwrap_or_else(|e| panic!("cannot write the bundled config: {e}"));
}
