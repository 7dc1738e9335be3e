//! Learning from the events (SPEC §11): lists for recommendation slots ([`recs`]: what is
//! viewed next; [`together`]: what is bought together, and the bestsellers), read from the
//! records by [`observe`], computed
//! natively by `vitrine learn` and served as compiled tables. Learners are deterministic (equal
//! input, equal bytes out) and report their held-out quality.

pub mod observe;
pub mod recs;
pub mod sql;
pub mod together;

/// `x · ln x`, 0 at 0.
fn x_log_x(x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else {
        x * x.ln()
    }
}

/// Shannon entropy (unnormalized, natural log) of counts.
fn entropy(counts: &[f64]) -> f64 {
    x_log_x(counts.iter().sum()) - counts.iter().map(|&k| x_log_x(k)).sum::<f64>()
}

/// Dunning's log-likelihood ratio G² of a 2×2 contingency table: `k11` both events, `k12` the
/// first without the second, `k21` the second without the first, `k22` neither (Mahout's
/// `LogLikelihood.logLikelihoodRatio`). 0 when independent; large when they co-occur beyond
/// chance (10.83 is p = 0.001 for one degree of freedom).
pub fn llr(k11: f64, k12: f64, k21: f64, k22: f64) -> f64 {
    let row = entropy(&[k11 + k12, k21 + k22]);
    let column = entropy(&[k11 + k21, k12 + k22]);
    let matrix = entropy(&[k11, k12, k21, k22]);
    // Rounding can leave a tiny negative for an independent table.
    (2.0 * (row + column - matrix)).max(0.0)
}
