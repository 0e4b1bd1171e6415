//! The Beta posterior of a component's reward rate: density and distribution function.
//!
//! The distribution function is the regularized incomplete beta function by its continued
//! fraction (Numerical Recipes, 3rd ed., 6.4, modified Lentz). It is written here rather than
//! taken from statrs because statrs stops after 140 terms: enough for small counts, not for a
//! component with a million logged replies, where the fraction needs about sqrt(a + b) terms.
//! For the same reason ln B(a, b) is not ln Γ(a) + ln Γ(b) - ln Γ(a + b) when a or b is large:
//! those terms reach 10^7 and their difference would keep only nine digits; the Stirling-series
//! form below (R's `lbeta`, after Didonato and Morris) keeps them all.

use statrs::function::gamma::ln_gamma;

/// Beta(1 + successes, 1 + failures): the posterior of a rate under a uniform prior.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaPosterior {
    pub a: f64,
    pub b: f64,
    ln_norm: f64,
}

const MAX_TERMS: u32 = 100_000;
const TINY: f64 = 1e-300;

impl BetaPosterior {
    pub fn from_counts(successes: u64, failures: u64) -> Self {
        let (a, b) = (1.0 + successes as f64, 1.0 + failures as f64);
        Self {
            a,
            b,
            ln_norm: -ln_beta(a, b),
        }
    }

    pub fn mean(&self) -> f64 {
        self.a / (self.a + self.b)
    }

    pub fn sd(&self) -> f64 {
        let n = self.a + self.b;
        (self.a * self.b / (n * n * (n + 1.0))).sqrt()
    }

    /// The density at `x` in (0, 1).
    pub fn pdf(&self, x: f64) -> f64 {
        (self.ln_norm + (self.a - 1.0) * x.ln() + (self.b - 1.0) * (-x).ln_1p()).exp()
    }

    /// P(rate <= x), for `x` in [0, 1].
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        if x >= 1.0 {
            return 1.0;
        }
        // x^a (1 - x)^b / (a B(a, b)), times the continued fraction on the side where it converges.
        let front = (self.ln_norm + self.a * x.ln() + self.b * (-x).ln_1p()).exp();
        if x < (self.a + 1.0) / (self.a + self.b + 2.0) {
            front * continued_fraction(self.a, self.b, x) / self.a
        } else {
            1.0 - front * continued_fraction(self.b, self.a, 1.0 - x) / self.b
        }
    }
}

/// ln B(a, b) for a, b >= 1 without the cancellation of three large log-gammas.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;
    let (p, q) = (a.min(b), a.max(b));
    let share = p / (p + q);
    if p >= 10.0 {
        let correction =
            stirling_correction(p) + stirling_correction(q) - stirling_correction(p + q);
        -0.5 * q.ln() + LN_SQRT_2PI + correction + (p - 0.5) * share.ln() + q * (-share).ln_1p()
    } else if q >= 10.0 {
        let correction = stirling_correction(q) - stirling_correction(p + q);
        ln_gamma(p) + correction + p - p * (p + q).ln() + (q - 0.5) * (-share).ln_1p()
    } else {
        ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
    }
}

/// ln Γ(x) - ((x - 1/2) ln x - x + ln sqrt(2π)), by its asymptotic series; below 1e-17 in
/// error for x >= 10.
fn stirling_correction(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let inverse_square = 1.0 / (x * x);
    let series = COEFFICIENTS
        .iter()
        .rev()
        .fold(0.0, |sum, c| sum * inverse_square + c);
    series / x
}

fn continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    let (sum, up, down) = (a + b, a + 1.0, a - 1.0);
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - sum * x / up);
    let mut h = d;
    for m in 1..=MAX_TERMS {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((down + m2) * (a + m2));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (sum + m) * x / ((a + m2) * (up + m2));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use statrs::distribution::{Beta, Continuous, ContinuousCDF};

    use super::*;

    #[test]
    fn agrees_with_statrs_where_its_fraction_converges() {
        for (successes, failures) in [(0, 0), (3, 7), (40, 10), (200, 800)] {
            let ours = BetaPosterior::from_counts(successes, failures);
            let theirs = Beta::new(ours.a, ours.b).unwrap();
            for x in [0.001, 0.1, 0.25, 0.5, 0.8, 0.999] {
                let (p, q) = (ours.cdf(x), theirs.cdf(x));
                assert!(
                    (p - q).abs() <= 1e-12 * q.max(1e-300) + 1e-300,
                    "{x}: {p} vs {q}"
                );
                let (f, g) = (ours.pdf(x), theirs.pdf(x));
                assert!((f - g).abs() <= 1e-10 * g.max(1e-300), "{x}: {f} vs {g}");
            }
        }
    }

    #[test]
    fn ln_beta_agrees_with_log_gammas_where_they_keep_their_digits() {
        for (a, b) in [
            (1.0, 1.0),
            (2.5, 7.0),
            (10.0, 10.0),
            (12.0, 3.0),
            (40.0, 160.0),
            (1.0, 500.0),
        ] {
            let direct = ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b);
            let ours = ln_beta(a, b);
            assert!(
                (ours - direct).abs() <= 1e-12 * direct.abs().max(1.0),
                "B({a}, {b}): {ours} vs {direct}"
            );
            assert_eq!(ln_beta(b, a), ours, "symmetric");
        }
        // B(1, n) = 1/n exactly.
        assert!((ln_beta(1.0, 1e6) + 1e6f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn a_million_replies_still_give_a_distribution_function() {
        let posterior = BetaPosterior::from_counts(100_000, 900_000);
        let (mean, sd) = (posterior.mean(), posterior.sd());
        assert!((posterior.cdf(mean) - 0.5).abs() < 1e-3);
        // Within a normal's reach at this size: P(rate <= mean + 2 sd) is about 0.977.
        assert!((posterior.cdf(mean + 2.0 * sd) - 0.97725).abs() < 2e-3);
        assert_eq!(posterior.cdf(0.0), 0.0);
        assert_eq!(posterior.cdf(1.0), 1.0);
    }
}
