//! Means and differences of per-reply outcomes when replies cluster within users.
//!
//! A chatty user writes many replies' continuations, and their outcomes are correlated, so a
//! per-reply interval is too narrow. These estimators work from per-user sums and give the
//! cluster-robust (sandwich) variance of the least-squares fit, exactly as statsmodels'
//! `OLS(...).fit(cov_type="cluster", cov_kwds={"groups": user}, use_t=True)` does (Liang and
//! Zeger 1986; Cameron and Miller 2015): the default small-sample factor
//! `G / (G - 1) * (N - 1) / (N - K)` and a t distribution with `G - 1` degrees of freedom, where
//! G is the number of users, N of replies and K of coefficients. The same variance is the delta
//! method applied to the ratio of per-user sums.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::means::upper_quantile;

/// One user's replies in a group: how many, and the sum of their outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UserSum {
    pub n: f64,
    pub sum: f64,
}

/// One user's replies in two groups (a component, and the arm's other replies).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UserPair {
    pub mine: UserSum,
    pub rest: UserSum,
}

/// Each user's sums on both sides, from `(user, mine, values)` items in which one user's items are
/// adjacent (the order of the turn cells).
pub fn user_pairs(items: impl IntoIterator<Item = (u32, bool, UserSum)>) -> Vec<UserPair> {
    let mut pairs: Vec<UserPair> = Vec::new();
    let mut last = None;
    for (user, mine, value) in items {
        if last != Some(user) {
            pairs.push(UserPair::default());
            last = Some(user);
        }
        let pair = pairs.last_mut().expect("pushed above");
        let side = if mine { &mut pair.mine } else { &mut pair.rest };
        side.n += value.n;
        side.sum += value.sum;
    }
    pairs
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusteredMean {
    pub mean: f64,
    /// `None` with fewer than two users: no interval exists.
    pub standard_error: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Users (clusters) counted.
    pub users: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusteredDifference {
    pub diff: f64,
    pub standard_error: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
}

/// The mean of the values over all users' values, with its user-clustered interval: `sum S /
/// sum n`, variance `G/(G-1) sum (S_g - mean n_g)^2 / N^2` (a constant-only regression, K = 1).
/// `None` without values; no interval when fewer than two users have values.
pub fn clustered_mean(users: &[UserSum], alpha: f64) -> Option<ClusteredMean> {
    let present: Vec<(f64, f64)> = users
        .iter()
        .filter(|u| u.n > 0.0)
        .map(|u| (u.sum, u.n))
        .collect();
    clustered_ratio(&present, alpha)
}

/// `sum Y_g / sum W_g` with its user-clustered interval: a weighted mean (statsmodels WLS on a
/// constant, clustered) when W are weights, the plain mean when W counts values. Both have the
/// variance `G/(G-1) sum (Y_g - ratio W_g)^2 / (sum W)^2`, G counting every user given (as
/// statsmodels counts every group, a zero weight included).
pub fn clustered_ratio(users: &[(f64, f64)], alpha: f64) -> Option<ClusteredMean> {
    let (numerator, denominator) = users
        .iter()
        .fold((0.0, 0.0), |(y, w), (yg, wg)| (y + yg, w + wg));
    if users.is_empty() || denominator <= 0.0 {
        return None;
    }
    let ratio = numerator / denominator;
    let g = users.len() as f64;
    let mut estimate = ClusteredMean {
        mean: ratio,
        standard_error: None,
        ci_low: None,
        ci_high: None,
        users: users.len() as u64,
    };
    if users.len() < 2 {
        return Some(estimate);
    }
    let squares: f64 = users.iter().map(|(y, w)| (y - ratio * w).powi(2)).sum();
    let standard_error = (g / (g - 1.0) * squares).sqrt() / denominator;
    let half = t_critical(g - 1.0, alpha)? * standard_error;
    estimate.standard_error = Some(standard_error);
    estimate.ci_low = Some(ratio - half);
    estimate.ci_high = Some(ratio + half);
    Some(estimate)
}

/// The mean of one group minus the mean of the other, users' values in both clustered: the
/// coefficient of "in group one" in `y ~ 1 + D` (K = 2). Its influence per user is
/// `(S1_g - m1 n1_g) / N1 - (S2_g - m2 n2_g) / N2`. `None` when a group is empty, fewer than two
/// users have values, or the variance is zero (no test exists).
pub fn clustered_difference(users: &[UserPair], alpha: f64) -> Option<ClusteredDifference> {
    let total = |side: fn(&UserPair) -> UserSum| {
        users
            .iter()
            .map(side)
            .fold(UserSum::default(), |t, u| UserSum {
                n: t.n + u.n,
                sum: t.sum + u.sum,
            })
    };
    let (mine, rest) = (total(|u| u.mine), total(|u| u.rest));
    if mine.n <= 0.0 || rest.n <= 0.0 {
        return None;
    }
    let (mean_mine, mean_rest) = (mine.sum / mine.n, rest.sum / rest.n);
    let present: Vec<&UserPair> = users.iter().filter(|u| u.mine.n + u.rest.n > 0.0).collect();
    let g = present.len() as f64;
    if g < 2.0 {
        return None;
    }
    let squares: f64 = present
        .iter()
        .map(|u| {
            let influence = (u.mine.sum - mean_mine * u.mine.n) / mine.n
                - (u.rest.sum - mean_rest * u.rest.n) / rest.n;
            influence * influence
        })
        .sum();
    let n = mine.n + rest.n;
    let variance = g / (g - 1.0) * (n - 1.0) / (n - 2.0) * squares;
    if variance.is_nan() || variance <= 0.0 {
        return None;
    }
    let standard_error = variance.sqrt();
    let diff = mean_mine - mean_rest;
    let distribution = StudentsT::new(0.0, 1.0, g - 1.0).ok()?;
    let p_value = (2.0 * distribution.sf((diff / standard_error).abs())).min(1.0);
    let half = upper_quantile(&distribution, alpha / 2.0) * standard_error;
    Some(ClusteredDifference {
        diff,
        standard_error,
        ci_low: diff - half,
        ci_high: diff + half,
        p_value,
    })
}

/// `t_{df, 1 - alpha/2}`.
pub(crate) fn t_critical(df: f64, alpha: f64) -> Option<f64> {
    let distribution = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(upper_quantile(&distribution, alpha / 2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_user_has_a_mean_but_no_interval_or_test() {
        let one = [UserSum { n: 3.0, sum: 2.0 }];
        let mean = clustered_mean(&one, 0.05).unwrap();
        assert_eq!((mean.mean, mean.ci_low, mean.users), (2.0 / 3.0, None, 1));
        let pair = [UserPair {
            mine: one[0],
            rest: UserSum { n: 1.0, sum: 0.0 },
        }];
        assert!(clustered_difference(&pair, 0.05).is_none());
        assert!(clustered_mean(&[], 0.05).is_none());
    }

    #[test]
    fn identical_users_make_a_wider_interval_than_independent_replies_would() {
        // Ten users, each with 20 replies of which 10 or 20 continued: the users differ, so the
        // clustered standard error is that of 10 values, not of 200.
        let users: Vec<UserSum> = (0..10)
            .map(|i| UserSum {
                n: 20.0,
                sum: if i % 2 == 0 { 10.0 } else { 20.0 },
            })
            .collect();
        let mean = clustered_mean(&users, 0.05).unwrap();
        let naive = (0.75f64 * 0.25 / 200.0).sqrt();
        assert!(mean.standard_error.unwrap() > 2.0 * naive, "{mean:?}");
    }
}
