//! What the event stream says: uplift against control, with intervals (`vitrine analyze`).
//!
//! - [`stats`]: GrowthBook's `gbstats` conventions (t-tests, confidence sequences, Bayesian
//!   chance to win, SRM, Holm/BH), on `statrs` distributions.
//!
//! Native only (the `analysis` feature): nothing here reaches a wasm bundle.

pub mod stats;
