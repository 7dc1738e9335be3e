//! # Vitrine
//!
//! A personalization engine for online stores, compiled to WebAssembly for CDN edge workers and
//! browsers. It scores an anonymous visitor's intent from a signed cookie and the current click
//! stream, decides what each page section shows, and rewrites those sections in-stream.
//!
//! ## Entry points
//! - [`config::Config::from_json`]: load and validate a site configuration (every mistake, with
//!   its JSON path); [`config::lint`] for what a valid config can still get wrong.
//! - [`pipeline::personalize`]: one request in, decisions and the new state out.
//! - [`pipeline::Outcome::report`]: the explanation of every decision.
//!
//! ## Modules, in reading order
//! - [`expr`]: the condition language: syntax, parsing and type checking, evaluation, explanation.
//! - [`config`]: the site configuration, its validation, compiled form and lint.
//! - [`signals`]: untrusted input → typed facts (request context, cookies, events, traits).
//! - [`state`]: the signed visitor state: codec, MAC, key rotation, decay.
//! - [`scoring`]: events → intent scores.
//! - [`facts`]: what condition expressions read at run time.
//! - [`decide`]: scores + segments → a decision per slot, with reasons and exposures.
//! - [`rewrite`]: decisions → streaming HTML edits (lol_html).
//! - [`events`]: decisions and conversions → event records (NDJSON schema v1; pure data).
//! - [`pipeline`]: the stages composed into one request path.
//! - `edge` (feature `edge`): the Cloudflare Worker, the only code that names `worker::*`.
//! - `browser` (feature `browser`): the wasm-bindgen API of the browser module.
//!
//! ## Invariants
//! 1. The core imports no platform crate and does no I/O; time and randomness are arguments.
//! 2. Reading shopper input never fails and never panics: it yields a value and issue codes.
//! 3. Scoring and deciding are total and deterministic, bit for bit on native and wasm.
//! 4. Cookie values and raw events are never logged: issues carry codes only.

#[cfg(feature = "analysis")]
pub mod analyze;
// The catalog and the learners are native (the CLI) until the edge and the browser read their
// compiled tables (issue 25).
#[cfg(feature = "analysis")]
pub mod catalog;
pub mod config;
pub mod decide;
pub mod events;
pub mod expr;
pub mod facts;
#[cfg(feature = "analysis")]
pub mod learn;
mod leb128;
pub mod pipeline;
#[cfg(feature = "rewrite")]
pub mod rewrite;

#[cfg(feature = "edge")]
mod edge;

#[cfg(feature = "browser")]
pub mod browser;
pub mod scoring;
pub mod signals;
#[cfg(feature = "analysis")]
pub mod simulate;
pub mod state;
mod text;

/// The wasm modules (edge worker, browser module) allocate with Talc: 3.5 KB gzip smaller than
/// the default dlmalloc in the browser module and 2.7 KB in the edge bundle, for ~0.5 µs of the
/// decide path and ~3% of rewrite throughput in V8 (README, "Measured here"). A build setting
/// of the platform features; the core does not depend on it.
#[cfg(all(
    any(feature = "browser", feature = "edge"),
    target_arch = "wasm32",
    not(target_feature = "atomics")
))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use config::{Config, ConfigError, ConfigErrors, Site};
pub use pipeline::{personalize, ExplainReport, KeySource, Keys, Mode, Outcome, RequestInput};
