//! The statistics of an A/B comparison, following GrowthBook's `gbstats` conventions exactly
//! (tests/data/gbstats/README.md writes them out; `tests/gbstats.rs` holds this module to the
//! upstream test vectors at 1e-6).
//!
//! Per arm: sufficient statistics (a mean, a proportion, a ratio by the delta method, or a
//! CUPED-adjusted mean). Between two arms: the effect's moments (absolute, or relative to the
//! baseline's absolute mean), then a frequentist Welch t-test (fixed horizon, one- or
//! two-sided), an asymptotic confidence sequence (sequential), or a Gaussian Bayesian posterior
//! (chance to win, risk). Across arms: the sample-ratio-mismatch χ² test; across a family of
//! comparisons: Holm and Benjamini–Hochberg adjustments. Distributions come from `statrs`.

use serde::Serialize;
use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF, Normal, StudentsT};

/// How a per-unit value is distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Any number (revenue per visitor); variance with the n−1 denominator.
    Mean,
    /// 0 or 1 per unit (converted or not); variance p(1−p).
    Binomial,
}

/// Sums over the units of one arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub kind: Kind,
    pub n: f64,
    pub sum: f64,
    pub sum_squares: f64,
}

impl Moments {
    pub fn mean(&self) -> f64 {
        if self.n == 0.0 {
            0.0
        } else {
            self.sum / self.n
        }
    }

    pub fn variance(&self) -> f64 {
        match self.kind {
            Kind::Binomial => {
                let p = self.mean();
                p * (1.0 - p)
            }
            Kind::Mean if self.n <= 1.0 => 0.0,
            Kind::Mean => (self.sum_squares - self.sum * self.sum / self.n) / (self.n - 1.0),
        }
    }

    fn joined(&self, other: &Moments) -> Moments {
        Moments {
            kind: self.kind,
            n: self.n + other.n,
            sum: self.sum + other.sum,
            sum_squares: self.sum_squares + other.sum_squares,
        }
    }
}

/// The covariance of two per-unit quantities over `n` units, from their sums and the sum of
/// their products.
fn covariance(a: &Moments, b: &Moments, sum_products: f64, n: f64) -> f64 {
    if n <= 1.0 {
        return 0.0;
    }
    if a.kind == Kind::Binomial && b.kind == Kind::Binomial {
        sum_products / n - a.sum * b.sum / (n * n)
    } else {
        (sum_products - a.sum * b.sum / n) / (n - 1.0)
    }
}

/// One arm's sufficient statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    Plain(Moments),
    /// `m / d` per unit (average order value: revenue over orders), by the delta method.
    Ratio {
        n: f64,
        m: Moments,
        d: Moments,
        m_d_sum_of_products: f64,
    },
    /// CUPED: the post-exposure value adjusted by a pre-exposure covariate; `theta: None`
    /// estimates θ pooled over both arms.
    Cuped {
        n: f64,
        post: Moments,
        pre: Moments,
        post_pre_sum_of_products: f64,
        theta: Option<f64>,
    },
}

/// One arm as the tests see it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ArmSummary {
    pub n: f64,
    pub mean: f64,
    pub unadjusted_mean: f64,
    pub variance: f64,
    /// CUPED: θ and the parts the relative variance needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theta: Option<f64>,
    #[serde(skip)]
    cuped: Option<CupedParts>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct CupedParts {
    post_mean: f64,
    post_var: f64,
    pre_var: f64,
    cov: f64,
}

impl ArmSummary {
    /// An arm known only by its moments (not CUPED-adjusted).
    pub fn plain(n: f64, mean: f64, variance: f64) -> ArmSummary {
        ArmSummary {
            n,
            mean,
            unadjusted_mean: mean,
            variance,
            theta: None,
            cuped: None,
        }
    }
}

impl Statistic {
    pub fn n(&self) -> f64 {
        match self {
            Statistic::Plain(m) => m.n,
            Statistic::Ratio { n, .. } | Statistic::Cuped { n, .. } => *n,
        }
    }

    /// The arm's mean and variance per unit; `theta` for a CUPED statistic.
    pub fn summary(&self, theta: f64) -> ArmSummary {
        match *self {
            Statistic::Plain(m) => ArmSummary::plain(m.n, m.mean(), m.variance()),
            Statistic::Ratio {
                n,
                m,
                d,
                m_d_sum_of_products,
            } => {
                let mean = if d.sum == 0.0 { 0.0 } else { m.sum / d.sum };
                let (mm, md) = (m.mean(), d.mean());
                let variance = if md == 0.0 || n <= 1.0 {
                    0.0
                } else {
                    m.variance() / (md * md) + d.variance() * mm * mm / md.powi(4)
                        - 2.0 * covariance(&m, &d, m_d_sum_of_products, n) * mm / md.powi(3)
                };
                ArmSummary::plain(n, mean, variance)
            }
            Statistic::Cuped {
                n,
                post,
                pre,
                post_pre_sum_of_products,
                ..
            } => {
                let cov = covariance(&post, &pre, post_pre_sum_of_products, n);
                let (post_var, pre_var) = (post.variance(), pre.variance());
                let variance = if n <= 1.0 {
                    0.0
                } else {
                    post_var + theta * theta * pre_var - 2.0 * theta * cov
                };
                ArmSummary {
                    n,
                    mean: post.mean() - theta * pre.mean(),
                    unadjusted_mean: post.mean(),
                    variance,
                    theta: Some(theta),
                    cuped: Some(CupedParts {
                        post_mean: post.mean(),
                        post_var,
                        pre_var,
                        cov,
                    }),
                }
            }
        }
    }
}

/// θ of CUPED, pooled over both arms: cov(post, pre) / var(pre) of the joined sums; 0 when
/// either joined variance is 0 (then both arms use their plain post statistics).
pub fn cuped_theta(a: &Statistic, b: &Statistic) -> f64 {
    let (
        Statistic::Cuped {
            n: na,
            post: pa,
            pre: qa,
            post_pre_sum_of_products: sa,
            ..
        },
        Statistic::Cuped {
            n: nb,
            post: pb,
            pre: qb,
            post_pre_sum_of_products: sb,
            ..
        },
    ) = (a, b)
    else {
        return 0.0;
    };
    let (post, pre) = (pa.joined(pb), qa.joined(qb));
    let (post_var, pre_var) = (post.variance(), pre.variance());
    if post_var == 0.0 || pre_var == 0.0 {
        return 0.0;
    }
    covariance(&post, &pre, sa + sb, na + nb) / pre_var
}

/// Both arms summarized, with CUPED's θ estimated (or taken as given) once for the pair.
pub fn summarize(control: &Statistic, treatment: &Statistic) -> (ArmSummary, ArmSummary) {
    let theta = match (control, treatment) {
        (Statistic::Cuped { theta: Some(t), .. }, _) => *t,
        (Statistic::Cuped { .. }, _) => cuped_theta(control, treatment),
        _ => 0.0,
    };
    (control.summary(theta), treatment.summary(theta))
}

/// Why no effect could be estimated (gbstats' error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatsError {
    ZeroNegativeVariance,
    ZeroNegativeBaselineVariation,
    #[serde(rename = "ALPHA_GREATER_THAN_0.5_FOR_SEQUENTIAL_ONE_SIDED_TEST")]
    AlphaGreaterThanHalf,
}

impl std::fmt::Display for StatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StatsError::ZeroNegativeVariance => "zero or negative variance",
            StatsError::ZeroNegativeBaselineVariation => "the baseline's mean is zero",
            StatsError::AlphaGreaterThanHalf => "alpha above 0.5 for a one-sided sequential test",
        })
    }
}

/// Absolute (`treatment − control`) or relative (`(treatment − control) / |control|`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    Absolute,
    Relative,
}

/// The effect's point estimate and variance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    pub estimate: f64,
    pub variance: f64,
}

impl Effect {
    pub fn standard_error(&self) -> f64 {
        self.variance.sqrt()
    }
}

/// The effect of `b` (treatment) against `a` (control).
pub fn effect(
    a: &ArmSummary,
    b: &ArmSummary,
    difference: Difference,
) -> Result<Effect, StatsError> {
    let (ua, ub) = (a.unadjusted_mean, b.unadjusted_mean);
    let (estimate, variance) = match difference {
        Difference::Absolute => (b.mean - a.mean, b.variance / b.n + a.variance / a.n),
        Difference::Relative => {
            let estimate = (b.mean - a.mean) / ua.abs();
            let variance = if ua == 0.0 {
                0.0
            } else if let (Some(ca), Some(cb), Some(theta)) = (a.cuped, b.cuped, a.theta) {
                let r = cb.post_mean / ca.post_mean;
                (cb.post_var + theta * theta * cb.pre_var - 2.0 * theta * cb.cov) / (b.n * ua * ua)
                    + (ca.post_var * r * r - 2.0 * theta * ca.cov * r + theta * theta * ca.pre_var)
                        / (a.n * ua * ua)
            } else {
                b.variance / (b.n * ua * ua) + a.variance * ub * ub / (a.n * ua.powi(4))
            };
            (estimate, variance)
        }
    };
    if a.variance <= 0.0 || b.variance <= 0.0 || variance <= 0.0 || variance.is_nan() {
        return Err(StatsError::ZeroNegativeVariance);
    }
    if a.mean == 0.0 || ua == 0.0 {
        return Err(StatsError::ZeroNegativeBaselineVariation);
    }
    Ok(Effect { estimate, variance })
}

/// Welch–Satterthwaite degrees of freedom, from the per-arm variances.
pub fn welch_dof(a: &ArmSummary, b: &ArmSummary) -> f64 {
    let (va, vb) = (a.variance / a.n, b.variance / b.n);
    (va + vb).powi(2)
        / (b.variance.powi(2) / (b.n * b.n * (b.n - 1.0))
            + a.variance.powi(2) / (a.n * a.n * (a.n - 1.0)))
}

/// Which hypothesis a frequentist test checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sides {
    Two,
    /// The treatment is greater.
    Greater,
    /// The treatment is lesser.
    Lesser,
}

/// A frequentist result: the estimate, its interval and p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Frequentist {
    pub estimate: f64,
    pub ci: [f64; 2],
    pub standard_error: f64,
    /// `None` when the sequential one-sided search did not converge.
    pub p_value: Option<f64>,
}

impl Frequentist {
    /// gbstats' output when no effect can be estimated: 0, (0, 0), p = 1.
    pub fn empty() -> Frequentist {
        Frequentist {
            estimate: 0.0,
            ci: [0.0, 0.0],
            standard_error: 0.0,
            p_value: Some(1.0),
        }
    }
}

fn students_t(dof: f64) -> StudentsT {
    // NOTE: dof > 0 whenever both variances are positive (checked by `effect`); a degenerate
    // one falls back to the normal limit rather than failing.
    StudentsT::new(0.0, 1.0, dof).unwrap_or_else(|_| {
        StudentsT::new(0.0, 1.0, f64::INFINITY).expect("the normal limit is a valid t")
    })
}

/// The `p` quantile of Student's t with `dof` degrees of freedom. statrs' `inverse_cdf` drifts at
/// large `dof` (3.5e-6 relative at 10⁵, 8e-4 at 2·10⁶, against SciPy's `t.ppf`, which gbstats
/// uses); from 1,000 degrees of freedom on, the Cornish–Fisher expansion about the normal
/// quantile (Abramowitz & Stegun 26.7.5, four terms) is exact to double precision there.
pub fn t_quantile(p: f64, dof: f64) -> f64 {
    // (NaN degrees of freedom go to statrs, which falls back to the normal limit.)
    if dof.is_nan() || dof < 1000.0 {
        return students_t(dof).inverse_cdf(p);
    }
    let z = Normal::standard().inverse_cdf(p);
    let (z2, v) = (z * z, dof);
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    z + (g1 + (g2 + (g3 + g4 / v) / v) / v) / v
}

/// The fixed-horizon Welch t-test of `effect` at level `alpha`.
pub fn t_test(effect: Effect, dof: f64, alpha: f64, sides: Sides) -> Frequentist {
    let se = effect.standard_error();
    let t = effect.estimate / se;
    let dist = students_t(dof);
    let (p, ci) = match sides {
        Sides::Two => {
            let w = t_quantile(1.0 - alpha / 2.0, dof) * se;
            (
                2.0 * dist.sf(t.abs()),
                [effect.estimate - w, effect.estimate + w],
            )
        }
        Sides::Greater => (
            dist.sf(t),
            [
                effect.estimate - t_quantile(1.0 - alpha, dof) * se,
                f64::INFINITY,
            ],
        ),
        Sides::Lesser => (
            dist.cdf(t),
            [
                f64::NEG_INFINITY,
                effect.estimate + t_quantile(1.0 - alpha, dof) * se,
            ],
        ),
    };
    Frequentist {
        estimate: effect.estimate,
        ci,
        standard_error: se,
        p_value: Some(p),
    }
}

/// GrowthBook's default tuning parameter of the confidence sequences.
pub const DEFAULT_TUNING: f64 = 5000.0;

fn rho(a: f64, tuning: f64) -> f64 {
    ((-2.0 * a.ln() + (-2.0 * a.ln() + 1.0).ln()) / tuning).sqrt()
}

/// The asymptotic confidence sequence (Waudby-Smith et al.) of `effect` over `total_n` units:
/// valid at any peek.
pub fn sequential(
    effect: Effect,
    total_n: f64,
    alpha: f64,
    tuning: f64,
    sides: Sides,
) -> Frequentist {
    let se = effect.standard_error();
    let n = total_n;
    let s2 = effect.variance * n;
    let est = effect.estimate;
    match sides {
        Sides::Two => {
            let rho = rho(alpha, tuning);
            let nr = n * rho * rho;
            let h = s2.sqrt()
                * (2.0 * (nr + 1.0) / (n * n * rho * rho) * ((nr + 1.0).sqrt() / alpha).ln())
                    .sqrt();
            let st2 = est * est * n / (se * se);
            let k = nr + 1.0;
            let e = (rho * rho * st2 / (2.0 * k)).exp() / k.sqrt();
            Frequentist {
                estimate: est,
                ci: [est - h, est + h],
                standard_error: se,
                p_value: Some((1.0 / e).min(1.0)),
            }
        }
        _ => {
            let rho = rho(2.0 * alpha, tuning);
            let half = |alpha: f64| {
                let nr = n * rho * rho;
                (s2 * 2.0 * (nr + 1.0) / (n * n * rho * rho)
                    * (1.0 + (nr + 1.0).sqrt() / (2.0 * alpha)).ln())
                .sqrt()
            };
            let greater = sides == Sides::Greater;
            let bound = |alpha: f64| {
                if greater {
                    est - half(alpha)
                } else {
                    est + half(alpha)
                }
            };
            let h = half(alpha);
            let ci = if greater {
                [est - h, f64::INFINITY]
            } else {
                [f64::NEG_INFINITY, est + h]
            };
            Frequentist {
                estimate: est,
                ci,
                standard_error: se,
                p_value: one_sided_sequential_p(bound, greater),
            }
        }
    }
}

/// The smallest α at which the one-sided sequence excludes 0, by gbstats' bisection.
fn one_sided_sequential_p(bound: impl Fn(f64) -> f64, greater: bool) -> Option<f64> {
    let (mut lo, mut hi) = (1e-5_f64, 0.4999_f64);
    let (at_lo, at_hi) = (bound(lo), bound(hi));
    if (greater && at_lo > 0.0) || (!greater && at_lo < 0.0) {
        return Some(lo);
    }
    if (greater && at_hi < 0.0) || (!greater && at_hi > 0.0) {
        return Some(hi);
    }
    let mut alpha = (lo + hi) / 2.0;
    for _ in 0..100 {
        let d = bound(alpha);
        let move_lo = if greater { d < 0.0 } else { d > 0.0 };
        if move_lo {
            lo = alpha;
        } else {
            hi = alpha;
        }
        alpha = (lo + hi) / 2.0;
        if d.abs() < 1e-6 {
            return Some(alpha);
        }
    }
    None
}

/// A Gaussian prior on the effect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    pub mean: f64,
    pub variance: f64,
    /// `false`: flat (improper), the default.
    pub proper: bool,
}

impl Prior {
    pub const FLAT: Prior = Prior {
        mean: 0.0,
        variance: 1.0,
        proper: false,
    };
}

/// A Bayesian result: the posterior of the effect.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bayesian {
    pub mean: f64,
    pub stddev: f64,
    pub ci: [f64; 2],
    pub chance_to_win: f64,
    /// Expected loss of choosing the treatment, and of choosing the control.
    pub risk: [f64; 2],
}

impl Bayesian {
    /// gbstats' output when no effect can be estimated.
    pub fn empty() -> Bayesian {
        Bayesian {
            mean: 0.0,
            stddev: 0.0,
            ci: [0.0, 0.0],
            chance_to_win: 0.5,
            risk: [0.0, 0.0],
        }
    }
}

/// The posterior of `effect` under `prior` (already on the effect's scale).
pub fn bayesian(effect: Effect, prior: Prior, alpha: f64, inverse: bool) -> Bayesian {
    let se2 = effect.variance;
    let (mean, stddev) = if prior.proper {
        let precision = 1.0 / se2 + 1.0 / prior.variance;
        (
            (effect.estimate / se2 + prior.mean / prior.variance) / precision,
            (1.0 / precision).sqrt(),
        )
    } else {
        (effect.estimate, se2.sqrt())
    };
    let z = Normal::standard();
    let mut chance_to_win = z.sf(-mean / stddev);
    if inverse {
        chance_to_win = 1.0 - chance_to_win;
    }
    let mut risk = risk(mean, stddev);
    if inverse {
        risk.swap(0, 1);
    }
    Bayesian {
        mean,
        stddev,
        ci: [
            mean + stddev * z.inverse_cdf(alpha / 2.0),
            mean + stddev * z.inverse_cdf(1.0 - alpha / 2.0),
        ],
        chance_to_win,
        risk,
    }
}

/// `[E max(X, 0), E max(−X, 0)]` for X ~ N(mu, sigma²).
pub fn risk(mu: f64, sigma: f64) -> [f64; 2] {
    let z = mu / sigma;
    if z.abs() > 37.0 {
        return [mu.max(0.0), (-mu).max(0.0)];
    }
    let n = Normal::standard();
    let pdf = n.pdf(z);
    [mu * n.cdf(z) + sigma * pdf, -mu * n.cdf(-z) + sigma * pdf]
}

/// The p-value of Pearson's χ² test of `users` against the split `weights` (variations of
/// weight 0, or without users, left out); 1 with fewer than two variations or no users.
pub fn srm(users: &[f64], weights: &[f64]) -> f64 {
    let kept: Vec<(f64, f64)> = users
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(u, w)| (*u, *w))
        .collect();
    let total_users: f64 = kept.iter().map(|(u, _)| u).sum();
    if kept.len() < 2 || total_users == 0.0 {
        return 1.0;
    }
    let total_weight: f64 = kept.iter().map(|(_, w)| w).sum();
    let x: f64 = kept
        .iter()
        .map(|(o, w)| {
            let e = w / total_weight * total_users;
            (o - e).powi(2) / e
        })
        .sum();
    ChiSquared::new((kept.len() - 1) as f64)
        .map(|d| d.sf(x))
        .unwrap_or(1.0)
}

/// The SRM threshold: a split whose p-value is below it is flagged.
pub const SRM_THRESHOLD: f64 = 0.001;

/// Holm–Bonferroni adjusted p-values, in input order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len() as f64;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; p.len()];
    let mut running = 0.0_f64;
    for (i, &k) in order.iter().enumerate() {
        running = running.max((p[k] * (m - i as f64)).min(1.0));
        out[k] = running;
    }
    out
}

/// Benjamini–Hochberg adjusted p-values, in input order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len() as f64;
    let mut order: Vec<usize> = (0..p.len()).collect();
    // Descending, stable.
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut out = vec![0.0; p.len()];
    let mut running = f64::INFINITY;
    for (i, &k) in order.iter().enumerate() {
        running = running.min((p[k] * m / (m - i as f64)).min(1.0));
        out[k] = running;
    }
    out
}

/// The interval that matches an adjusted p-value (a normal back-solve), used only when it is
/// wider on both sides than `ci`.
pub fn adjusted_ci(ci: [f64; 2], estimate: f64, adjusted_p: f64, alpha: f64) -> [f64; 2] {
    let adjusted = if adjusted_p > 0.999_999 {
        [f64::NEG_INFINITY, f64::INFINITY]
    } else {
        let z = Normal::standard();
        let w = z.inverse_cdf(1.0 - alpha / 2.0)
            * (estimate / z.inverse_cdf(1.0 - adjusted_p / 2.0)).abs();
        [estimate - w, estimate + w]
    };
    if adjusted[0] < ci[0] && adjusted[1] > ci[1] {
        adjusted
    } else {
        ci
    }
}
