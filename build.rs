//! Bundles the compiled site configuration the edge worker serves: `$VITRINE_COMPILED_CONFIG`
//! (written by `vitrine compile`; `make worker` does this for `$VITRINE_CONFIG`, default the
//! demo's). Builds without it (native tests, the browser) embed nothing.
//!
//! Also sets `cfg(browser_bundle)` for the browser module's build (feature `browser` without
//! `rewrite`), where the smaller (and slower) `base64ct` codec is used.
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(browser_bundle)");
    let feature = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    if feature("BROWSER") && !feature("REWRITE") {
        println!("cargo::rustc-cfg=browser_bundle");
    }
    println!("cargo:rerun-if-env-changed=VITRINE_COMPILED_CONFIG");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("bundled-config.bin");
    let bytes = match std::env::var("VITRINE_COMPILED_CONFIG") {
        Ok(path) if !path.is_empty() => {
            println!("cargo:rerun-if-changed={path}");
            std::fs::read(&path).unwrap_or_else(|e| panic!("VITRINE_COMPILED_CONFIG {path}: {e}"))
        }
        _ => Vec::new(),
    };
    std::fs::write(out, bytes).unwrap_or_else(|e| panic!("cannot write the bundled config: {e}"));
}
