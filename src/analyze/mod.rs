//! What the event stream says: uplift against control, with intervals (`vitrine analyze`).
//!
//! - [`aggregate`]: event records → per-arm sufficient statistics, streamed, memory bounded by
//!   the visitors (first-exposure attribution, de-duplicated conversions, breakdowns);
//! - [`sufficient`]: the same statistics as GrowthBook's query-output CSV, read and written;
//! - [`sql`]: the warehouse SQL that computes that CSV from the event layout;
//! - [`stats`]: GrowthBook's `gbstats` conventions (t-tests, confidence sequences, Bayesian
//!   chance to win, SRM, Holm/BH), on `statrs` distributions;
//! - [`report`]: the report (rows per breakdown and variation, verdicts, the cumulative view)
//!   and its terminal table; [`html`]: the self-contained HTML page.
//!
//! Native only (the `analysis` feature): nothing here reaches a wasm bundle.

pub mod aggregate;
pub mod html;
pub mod report;
pub mod sql;
pub mod stats;
pub mod sufficient;
