#!/usr/bin/env python3
"""Writes analytics/vectors/stats.json: golden values from independent implementations.

Every statistic in analytics/src/stats/ is checked against these to a relative 1e-9 (p-values on
the log scale below 1e-300), with no absolute floor:
- statsmodels: pooled two-proportion z-test, log-ratio CI of two proportions, Holm and
  Benjamini-Hochberg, OLS for the power-law fit, NormalIndPower for sample sizes, OLS with HC1
  errors for CUPED and the Wald test of arm x value interactions (segments' heterogeneity);
- scipy: Welch's t-test and its CI, the SRM chi-square;
- gbstats (GrowthBook): always-valid sequential intervals and p-values on the relative lift, the
  effect Bayesian test (chance to win, risk, credible interval) on the same lift, and the one-sided
  non-inferiority tests of guardrails (proportions, ratios of per-user sums, and a latency quantile
  clustered by user: `QuantileClusteredStatistic`) at a margin; numpy's linear quantiles for the
  quantile's order-statistic interval.

The cases sit where decisions are made: most comparisons are A/A-like or have effects near zero,
so their p-values spread over 1e-4..1; a few are tiny, huge, hugely significant, or have a side
with no successes or no trials (where the statistic does not exist, the field is null and the
Rust code must return None).

Run in the pinned environment (scripts/vectors-requirements.txt), as `make test` does:
    bash scripts/check-vectors.sh --write
"""
import json
import math
import random

import gbstats
import numpy as np
import scipy
import scipy.special
import statsmodels
import statsmodels.api as sm
from gbstats.bayesian.tests import EffectBayesianABTest
from gbstats.frequentist.tests import (
    FrequentistConfig,
    TwoSidedTTest,
    OneSidedTreatmentGreaterTTest,
    OneSidedTreatmentLesserTTest,
    SequentialConfig,
    SequentialTwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    QuantileClusteredStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

rng = random.Random(20261201)
draws = np.random.default_rng(20261201)
out = {
    "versions": {
        "gbstats": gbstats.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "statsmodels": statsmodels.__version__,
    }
}


def log_uniform_int(low, high):
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def proportion_case(kind):
    """Counts (x_arm, n_arm, x_ctl, n_ctl) of one kind of comparison."""
    if kind == "empty_side":
        n = log_uniform_int(20, 50_000)
        x = int(draws.binomial(n, rng.uniform(0.05, 0.6)))
        return (0, 0, x, n) if rng.random() < 0.5 else (x, n, 0, 0)
    if kind == "no_successes":
        n_arm, n_ctl = log_uniform_int(5, 5_000), log_uniform_int(5, 5_000)
        x_ctl = int(draws.binomial(n_ctl, rng.uniform(0.05, 0.4)))
        return (0, n_arm, max(1, x_ctl), n_ctl)
    if kind == "borderline":
        # An effect of z in 1.5..7 standard errors: fixed-horizon p from 0.13 down to 1e-12,
        # the always-valid p-value from 1 to about 1e-4.
        n_arm, n_ctl = log_uniform_int(500, 200_000), log_uniform_int(500, 200_000)
        base = rng.uniform(0.05, 0.6)
        se = math.sqrt(base * (1 - base) * (1 / n_arm + 1 / n_ctl))
        p_arm = min(0.95, max(0.01, base + rng.choice([-1, 1]) * rng.uniform(1.5, 7.0) * se))
        x_arm = max(1, min(n_arm - 1, int(draws.binomial(n_arm, p_arm))))
        x_ctl = max(1, min(n_ctl - 1, int(draws.binomial(n_ctl, base))))
        return (x_arm, n_arm, x_ctl, n_ctl)
    sizes = {
        "tiny": (3, 40),
        "aa": (50, 300_000),
        "near_zero": (500, 500_000),
        "huge": (1_000_000, 50_000_000),
        "significant": (2_000, 200_000),
    }[kind]
    n_arm, n_ctl = log_uniform_int(*sizes), log_uniform_int(*sizes)
    base = rng.uniform(0.03, 0.7)
    lift = {
        "tiny": 0.0,
        "aa": 0.0,
        "near_zero": rng.uniform(-0.03, 0.03),
        "huge": rng.uniform(-0.002, 0.002),
        "significant": rng.choice([-1, 1]) * rng.uniform(0.1, 0.6),
    }[kind]
    p_arm = min(0.95, base * (1 + lift))
    x_arm = int(draws.binomial(n_arm, p_arm))
    x_ctl = int(draws.binomial(n_ctl, base))
    # Keep both rates strictly inside (0, 1) where the statistics exist; the empty and
    # no-success kinds cover the edges.
    x_arm = max(1, min(n_arm - 1, x_arm))
    x_ctl = max(1, min(n_ctl - 1, x_ctl))
    return (x_arm, n_arm, x_ctl, n_ctl)


def sequential_relative(x_arm, n_arm, x_ctl, n_ctl):
    seq = SequentialTwoSidedTTest(
        ProportionStatistic(sum=x_ctl, n=n_ctl),
        ProportionStatistic(sum=x_arm, n=n_arm),
        SequentialConfig(difference_type="relative"),
    )
    low, high = seq.confidence_interval
    return dict(
        seq_lift=float(seq.point_estimate), seq_ci_low=float(low), seq_ci_high=float(high),
        seq_p_value=float(seq.p_value),
    )


NO_PROPORTION_TEST = dict(z=None, p_value=None, ratio_ci_low=None, ratio_ci_high=None)
NO_SEQUENTIAL = dict(seq_lift=None, seq_ci_low=None, seq_ci_high=None, seq_p_value=None)

proportions = []
kinds = ["aa"] * 20 + ["near_zero"] * 10 + ["borderline"] * 40 + ["tiny"] * 8 + ["huge"] * 8 + ["significant"] * 6
kinds += ["no_successes"] * 3 + ["empty_side"] * 3
for kind in kinds:
    x_arm, n_arm, x_ctl, n_ctl = proportion_case(kind)
    case = dict(kind=kind, x_arm=x_arm, n_arm=n_arm, x_ctl=x_ctl, n_ctl=n_ctl)
    if kind == "empty_side":
        case.update(NO_PROPORTION_TEST, **NO_SEQUENTIAL)
    else:
        z, p = proportions_ztest([x_arm, x_ctl], [n_arm, n_ctl])
        case.update(z=float(z), p_value=float(p))
        if x_arm == 0:
            case.update(ratio_ci_low=None, ratio_ci_high=None, **NO_SEQUENTIAL)
        else:
            lo, hi = confint_proportions_2indep(
                x_arm, n_arm, x_ctl, n_ctl, method="log", compare="ratio", alpha=0.05
            )
            case.update(ratio_ci_low=float(lo), ratio_ci_high=float(hi))
            case.update(sequential_relative(x_arm, n_arm, x_ctl, n_ctl))
    proportions.append(case)
out["proportions"] = proportions


def welch_sample(n, mean):
    return draws.exponential(mean, size=n)


welch = []
welch_kinds = ["aa"] * 10 + ["near_zero"] * 6 + ["borderline"] * 26 + ["tiny"] * 5 + ["large"] * 5
welch_kinds += ["significant"] * 4
for kind in welch_kinds:
    sizes = {"aa": (10, 2_000), "near_zero": (50, 5_000), "borderline": (50, 5_000), "tiny": (2, 6),
             "large": (20_000, 100_000), "significant": (30, 400)}[kind]
    n_a, n_b = log_uniform_int(*sizes), log_uniform_int(*sizes)
    mean_b = rng.uniform(10, 600)
    # Exponential samples: the standard error of a mean is about mean / sqrt(n).
    borderline = rng.choice([-1, 1]) * rng.uniform(1.5, 7.0) * math.sqrt(1 / n_a + 1 / n_b)
    shift = {"aa": 0.0, "near_zero": rng.uniform(-0.05, 0.05), "borderline": borderline, "tiny": 0.0,
             "large": rng.uniform(-0.01, 0.01), "significant": rng.uniform(0.5, 2.0)}[kind]
    a, b = welch_sample(n_a, mean_b * (1 + shift)), welch_sample(n_b, mean_b)
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    sum_a, sum_b = float(np.sum(a)), float(np.sum(b))
    seq = SequentialTwoSidedTTest(
        SampleMeanStatistic(sum=sum_b, sum_squares=float(np.sum(b * b)), n=n_b),
        SampleMeanStatistic(sum=sum_a, sum_squares=float(np.sum(a * a)), n=n_a),
        SequentialConfig(difference_type="absolute"),
    )
    s_lo, s_hi = seq.confidence_interval
    welch.append(
        dict(
            kind=kind,
            mean_a=float(np.mean(a)), var_a=float(np.var(a, ddof=1)), n_a=n_a,
            mean_b=float(np.mean(b)), var_b=float(np.var(b, ddof=1)), n_b=n_b,
            t=float(res.statistic), df=float(res.df), p_value=float(res.pvalue),
            ci_low=float(ci.low), ci_high=float(ci.high),
            seq_ci_low=float(s_lo), seq_ci_high=float(s_hi), seq_p_value=float(seq.p_value),
        )
    )
out["welch"] = welch

corrections = []
for i in range(24):
    m = rng.randint(1, 62)
    ps = [rng.random() ** rng.choice([1, 2, 4]) for _ in range(m)]
    if i % 4 == 1:
        ps = [rng.choice([0.01, 0.03, 0.2, 1.0]) for _ in range(m)]  # ties and ones
    if i % 4 == 2:
        ps = [10 ** -rng.uniform(0, 12) for _ in range(m)]  # down to 1e-12
    corrections.append(
        dict(
            p=ps,
            holm=[float(x) for x in multipletests(ps, method="holm")[1]],
            bh=[float(x) for x in multipletests(ps, method="fdr_bh")[1]],
        )
    )
out["corrections"] = corrections

srm = []
for i in range(40):
    k = rng.randint(2, 5)
    w = [rng.uniform(0.1, 1) for _ in range(k)]
    w = [x / sum(w) for x in w]
    total = log_uniform_int(30, 2_000_000)
    # Most splits are honest draws from the weights (p spread over 0..1); a few are skewed.
    skew = 0.0 if i % 8 else rng.uniform(0.01, 0.05)
    drawn = [x * (1 + (skew if j == 0 else 0.0)) for j, x in enumerate(w)]
    drawn = [x / sum(drawn) for x in drawn]
    observed = [int(c) for c in draws.multinomial(total, drawn)]
    n = sum(observed)
    res = stats.chisquare(observed, [n * x for x in w])
    srm.append(dict(observed=observed, weights=w, chi2=float(res.statistic), p_value=float(res.pvalue)))
out["srm"] = srm

power_law = []
for _ in range(15):
    c, beta = rng.uniform(0.8, 1.3), rng.uniform(-0.2, 0.3)
    days = list(range(1, rng.randint(5, 31)))
    ratios = [c * k ** (-beta) * math.exp(rng.gauss(0, 0.03)) for k in days]
    x = sm.add_constant(np.log(days))
    fit = sm.OLS(np.log(ratios), x).fit()
    (ci_a, ci_b) = fit.conf_int(0.05)
    power_law.append(
        dict(
            days=days, ratios=ratios, c=float(math.exp(fit.params[0])), beta=float(-fit.params[1]),
            c_ci_low=float(math.exp(ci_a[0])), c_ci_high=float(math.exp(ci_a[1])),
            beta_ci_low=float(-ci_b[1]), beta_ci_high=float(-ci_b[0]),
        )
    )
out["power_law"] = power_law

plans = []
for _ in range(20):
    base, lift = rng.uniform(0.03, 0.6), rng.uniform(0.02, 0.3)
    alpha, power = rng.choice([0.05, 0.01, 0.1]), rng.choice([0.8, 0.9])
    h = proportion_effectsize(base * (1 + lift), base)
    n = NormalIndPower().solve_power(effect_size=h, alpha=alpha, power=power, ratio=1.0)
    plans.append(dict(baseline=base, relative_lift=lift, alpha=alpha, power=power, n_per_arm=float(n)))
out["plans"] = plans


def bayes_relative(x_arm, n_arm, x_ctl, n_ctl):
    """gbstats' EffectBayesianABTest, default configuration (relative lift, flat prior)."""
    test = EffectBayesianABTest(
        ProportionStatistic(sum=x_ctl, n=n_ctl), ProportionStatistic(sum=x_arm, n=n_arm)
    )
    result = test.compute_result()
    if result.error_message:
        return dict(chance_to_win=None, risk_control=None, risk_treatment=None, ci_low=None,
                    ci_high=None, error=result.error_message)
    # gbstats takes the risks from scipy's truncnorm moments, which lose digits far in the tails
    # (at a chance to win of 5e-9, a relative 1e-8). The closed form E[max(0, X)] =
    # sd (phi(z) + z Phi(z)) over scipy's ndtr keeps them (checked against mpmath at 40 digits).
    mean, sd = float(result.uplift.mean), float(result.uplift.stddev)

    def positive_part(z):
        return sd * (float(stats.norm.pdf(z)) + z * float(scipy.special.ndtr(z)))

    return dict(
        chance_to_win=float(result.chance_to_win), risk_control=float(result.risk[0]),
        risk_treatment=float(result.risk[1]), ci_low=float(result.ci[0]),
        ci_high=float(result.ci[1]), risk_control_exact=positive_part(mean / sd),
        risk_treatment_exact=positive_part(-mean / sd),
    )


# Mostly where a ship decision is argued (chance to win between 5% and 95%), a few clear
# winners and losers, and the edges where gbstats returns its uninformative default.
bayes = []
bayes_kinds = ["aa"] * 12 + ["near_zero"] * 8 + ["borderline"] * 24 + ["significant"] * 4
bayes_kinds += ["no_successes"] * 2 + ["empty_side"] * 2
for kind in bayes_kinds:
    x_arm, n_arm, x_ctl, n_ctl = proportion_case(kind)
    case = dict(kind=kind, x_arm=x_arm, n_arm=n_arm, x_ctl=x_ctl, n_ctl=n_ctl)
    case.update(bayes_relative(x_arm, n_arm, x_ctl, n_ctl))
    bayes.append(case)
out["bayes"] = bayes


def ratio_moments(m, d):
    return dict(n=len(m), m_sum=float(m.sum()), m_sum_squares=float((m * m).sum()),
                d_sum=float(d.sum()), d_sum_squares=float((d * d).sum()), m_d_sum=float((m * d).sum()))


def ratio_statistic(moments):
    return RatioStatistic(
        n=moments["n"],
        m_statistic=SampleMeanStatistic(n=moments["n"], sum=moments["m_sum"], sum_squares=moments["m_sum_squares"]),
        d_statistic=SampleMeanStatistic(n=moments["n"], sum=moments["d_sum"], sum_squares=moments["d_sum_squares"]),
        m_d_sum_of_products=moments["m_d_sum"],
    )


def ratio_side(kind, n, scale, activity):
    """Per-user numerator and denominator of a guardrail ratio for `n` users; `activity` is the
    case's replies per user or share of users who return, the same on both sides."""
    if kind == "error_rate":
        replies = draws.poisson(activity, size=n).astype(float)
        errors = draws.binomial(replies.astype(int), min(0.5, 0.03 * scale)).astype(float)
        return errors, replies
    returned = draws.binomial(1, activity, size=n).astype(float)
    seconds = draws.gamma(2.0, 3.0 * scale, size=n) * (1 + returned)
    return seconds, returned


def non_inferiority_case(kind, harm):
    """A comparison whose true relative change sits within -3..2 standard errors of the margin,
    so that p-values spread over the range where guardrails pass or stay inconclusive."""
    margin = rng.choice([0.02, 0.05, 0.1, 0.2]) if kind == "proportion" else rng.choice([0.05, 0.1, 0.25])
    n_ctl, n_arm = log_uniform_int(300, 60_000), log_uniform_int(300, 60_000)
    case = dict(kind=kind, harm=harm, margin=margin)
    sign = 1 if harm == "increase" else -1
    z = rng.uniform(-3.0, 2.0)
    if kind == "proportion":
        base = rng.uniform(0.05, 0.6)
        relative_se = math.sqrt((1 - base) / base * (1 / n_ctl + 1 / n_arm))
        true_lift = sign * margin + z * relative_se
        x_ctl = int(draws.binomial(n_ctl, base))
        x_arm = int(draws.binomial(n_arm, min(0.95, max(0.001, base * (1 + true_lift)))))
        case.update(x_ctl=x_ctl, n_ctl=n_ctl, x_arm=x_arm, n_arm=n_arm)
        return case, (ProportionStatistic(sum=x_ctl, n=n_ctl), ProportionStatistic(sum=x_arm, n=n_arm))
    activity = rng.uniform(3, 30) if kind == "error_rate" else rng.uniform(0.2, 0.6)
    sides = {"ctl": ratio_moments(*ratio_side(kind, n_ctl, 1.0, activity))}
    control = ratio_statistic(sides["ctl"])
    relative_se = math.sqrt(control.variance / control.mean**2 * (1 / n_ctl + 1 / n_arm))
    true_lift = max(-0.9, sign * margin + z * relative_se)
    sides["arm"] = ratio_moments(*ratio_side(kind, n_arm, 1 + true_lift, activity))
    for side, moments in sides.items():
        case.update({f"{k}_{side}": v for k, v in moments.items()})
    return case, (control, ratio_statistic(sides["arm"]))


def one_sided(case, control, arm):
    """gbstats' one-sided test at the margin, with the bound and p-value read so they keep their
    digits: gbstats 0.8.0 returns `1 - cdf` (which rounds tiny p-values to 0) and, for the lesser
    test, the interval `[-inf, estimate - width]` (its upper end should be `estimate + width`)."""
    increase = case["harm"] == "increase"
    config = FrequentistConfig(difference_type="relative", alpha=0.05,
                               test_value=case["margin"] if increase else -case["margin"])
    test = (OneSidedTreatmentLesserTTest if increase else OneSidedTreatmentGreaterTTest)(control, arm, config)
    result = test.compute_result()
    if result.error_message:
        return dict(lift=None, df=None, bound=None, p_value=None, error=result.error_message)
    lift, se, dof = float(test.point_estimate), math.sqrt(float(test.variance)), float(test.dof)
    crit = (lift - float(test.test_value)) / se
    p_value = float(stats.t.sf(-crit if increase else crit, dof))
    assert abs(p_value - float(result.p_value)) < 1e-12, (p_value, result.p_value)
    width = float(stats.t.ppf(0.95, dof)) * se
    bound = lift + width if increase else lift - width
    if not increase:
        assert abs(bound - float(result.ci[0])) < 1e-12
    return dict(lift=lift, df=dof, bound=bound, p_value=p_value)


non_inferiority = []
for kind, harm, count in (("proportion", "decrease", 24), ("error_rate", "increase", 20),
                          ("compute", "increase", 20)):
    for _ in range(count):
        case, (control, arm) = non_inferiority_case(kind, harm)
        case.update(one_sided(case, control, arm))
        non_inferiority.append(case)
# Where no test exists: a control that never errs, and an arm of one user.
zero = dict(kind="proportion", harm="decrease", margin=0.05, x_ctl=0, n_ctl=500, x_arm=40, n_arm=500)
zero.update(one_sided(zero, ProportionStatistic(sum=0, n=500), ProportionStatistic(sum=40, n=500)))
single = dict(kind="error_rate", harm="increase", margin=0.1)
sides = {"ctl": ratio_moments(*ratio_side("error_rate", 400, 1.0, 10.0)),
         "arm": ratio_moments(np.array([1.0]), np.array([9.0]))}
for side, moments in sides.items():
    single.update({f"{k}_{side}": v for k, v in moments.items()})
single.update(one_sided(single, ratio_statistic(sides["ctl"]), ratio_statistic(sides["arm"])))
non_inferiority += [zero, single]


Z = float(stats.norm.ppf(0.975))


def latency_side(users, scale, nu=0.95):
    """Per-user reply latencies (a user effect and a per-reply one, so replies cluster within
    users) and the inputs of gbstats' QuantileClusteredStatistic they give."""
    per_user = draws.poisson(rng.uniform(1, 8), size=users) + 1
    effect = draws.normal(0.0, 0.4, size=users)
    samples = [scale * np.exp(6.5 + e + draws.normal(0.0, 0.5, size=k)) for e, k in zip(effect, per_user)]
    return quantile_inputs(samples, nu)


def quantile_inputs(samples, nu):
    values = np.concatenate(samples)
    n = len(values)
    half = Z * math.sqrt(nu * (1 - nu) / n)
    low, high = max(0.0, nu - half), min(1.0, nu + half)
    q_hat = float(np.quantile(values, nu))
    main = np.array([float((s <= q_hat).sum()) for s in samples])
    den = np.array([float(len(s)) for s in samples])
    return dict(
        n=n, n_clusters=len(samples), nu=nu, quantile_hat=q_hat,
        quantile_lower=float(np.quantile(values, low)), quantile_upper=float(np.quantile(values, high)),
        main_sum=float(main.sum()), main_sum_squares=float((main * main).sum()),
        denominator_sum=float(den.sum()), denominator_sum_squares=float((den * den).sum()),
        main_denominator_sum_product=float((main * den).sum()),
    )


def quantile_statistic(inputs):
    return QuantileClusteredStatistic(
        n=inputs["n"], n_star=inputs["n"], nu=inputs["nu"], quantile_hat=inputs["quantile_hat"],
        quantile_lower=inputs["quantile_lower"], quantile_upper=inputs["quantile_upper"],
        main_sum=inputs["main_sum"], main_sum_squares=inputs["main_sum_squares"],
        denominator_sum=inputs["denominator_sum"], denominator_sum_squares=inputs["denominator_sum_squares"],
        main_denominator_sum_product=inputs["main_denominator_sum_product"], n_clusters=inputs["n_clusters"],
    )


# The summary of one side: its variance, or null where gbstats finds none (too few events).
quantiles = []
for users in [3, 5, 8, 12, 20] + [log_uniform_int(30, 5_000) for _ in range(20)]:
    inputs = latency_side(users, 1.0)
    statistic = quantile_statistic(inputs)
    inputs["variance"] = None if statistic._has_zero_variance else float(statistic.variance)
    quantiles.append(inputs)
out["quantiles"] = quantiles

# Raw latencies of a few small logs: the interval's levels and numpy's linear quantiles at them.
quantile_raw = []
for users in (15, 40, 120):
    samples = [np.round(s, 1) for s in (np.exp(6.5 + draws.normal(0, 0.5, size=int(draws.poisson(3)) + 1)) for _ in range(users))]
    inputs = quantile_inputs(samples, 0.95)
    n = inputs["n"]
    half = Z * math.sqrt(0.95 * 0.05 / n)
    quantile_raw.append(dict(
        nu=0.95, values=[float(v) for v in np.concatenate(samples)],
        level_lower=max(0.0, 0.95 - half), level_upper=min(1.0, 0.95 + half),
        quantile_hat=inputs["quantile_hat"], quantile_lower=inputs["quantile_lower"],
        quantile_upper=inputs["quantile_upper"],
    ))
out["quantile_raw"] = quantile_raw

# One-sided tests of latency p95 at a margin: the arm's latencies scaled to sit within -3..2
# standard errors of it.
for _ in range(16):
    margin = rng.choice([0.05, 0.1, 0.2])
    users_ctl, users_arm = log_uniform_int(300, 6_000), log_uniform_int(300, 6_000)
    control_inputs = latency_side(users_ctl, 1.0)
    control = quantile_statistic(control_inputs)
    relative_se = math.sqrt(control.variance / control.n) / control.mean * math.sqrt(1 + users_ctl / users_arm)
    arm_inputs = latency_side(users_arm, 1 + margin + rng.uniform(-3.0, 2.0) * relative_se)
    case = dict(kind="latency_p95", harm="increase", margin=margin)
    for side, inputs in (("ctl", control_inputs), ("arm", arm_inputs)):
        case.update({f"{k}_{side}": v for k, v in inputs.items()})
    case.update(one_sided(case, control, quantile_statistic(arm_inputs)))
    non_inferiority.append(case)
out["non_inferiority"] = non_inferiority

# CUPED: OLS of the outcome on 1, the arm indicator, pre-exposure active days (0..14) and, in
# some cases, platform indicators, with HC1 errors (statsmodels, normal inference). Users are
# given to the Rust side as cells of equal covariates: count, sum and sum of squares. The effect
# sits within -3..3 unadjusted standard errors, so p-values span the decision range.
PLATFORMS = ["ios", "android", "web"]


def cuped_users(n, kind, effect, with_platform, constant_pre):
    activity = draws.beta(1.2, 2.5, size=n)
    pre = np.full(n, 3) if constant_pre else draws.binomial(14, activity)
    platform = draws.choice(3, size=n, p=[0.5, 0.3, 0.2]) if with_platform else np.zeros(n, int)
    if kind == "retention":
        rate = np.clip(0.08 + 0.6 * activity + 0.05 * (platform == 1) + effect, 0.0, 1.0)
        y = (draws.random(n) < rate).astype(float)
    else:
        y = np.round(draws.gamma(2.0, 60.0 * (0.3 + activity + 0.2 * (platform == 2))) + effect, 3)
    return pre, platform, y


def cuped_cells(pre, platform, y, with_platform):
    cells = {}
    for p, g, v in zip(pre, platform, y):
        key = (int(p), int(g))
        n, s, ss = cells.get(key, (0, 0.0, 0.0))
        cells[key] = (n + 1, s + float(v), ss + float(v) * float(v))
    rows = []
    for (p, g), (n, s, ss) in sorted(cells.items()):
        covariates = [float(p)] + ([float(g == 1), float(g == 2)] if with_platform else [])
        rows.append(dict(covariates=covariates, n=n, sum=s, sum_sq=ss))
    return rows


def cuped_design(pre, platform, arm, with_platform):
    columns = [np.ones(len(arm)), arm, pre.astype(float)]
    if with_platform:
        columns += [(platform == 1).astype(float), (platform == 2).astype(float)]
    return np.column_stack(columns)


def gbstats_cuped(pre, y, arm):
    def side(mask):
        post = SampleMeanStatistic(n=int(mask.sum()), sum=float(y[mask].sum()), sum_squares=float((y[mask] ** 2).sum()))
        before = SampleMeanStatistic(n=int(mask.sum()), sum=float(pre[mask].sum()), sum_squares=float((pre[mask] ** 2).sum()))
        return RegressionAdjustedStatistic(n=int(mask.sum()), post_statistic=post, pre_statistic=before,
                                           post_pre_sum_of_products=float((y[mask] * pre[mask]).sum()), theta=0.0)
    result = TwoSidedTTest(side(arm == 0), side(arm == 1), FrequentistConfig(difference_type="absolute")).compute_result()
    return dict(gbstats_diff=float(result.expected), gbstats_ci_low=float(result.ci[0]), gbstats_ci_high=float(result.ci[1]))


cuped = []
for index in range(36):
    kind = "retention" if index % 2 == 0 else "engagement"
    with_platform = index % 3 == 1
    constant_pre = index == 35
    n_ctl, n_arm = log_uniform_int(1_000, 20_000), log_uniform_int(1_000, 20_000)
    base_se = (0.45 if kind == "retention" else 110.0) * math.sqrt(1 / n_ctl + 1 / n_arm)
    effect = rng.uniform(-3.0, 3.0) * base_se
    pre_c, plat_c, y_c = cuped_users(n_ctl, kind, 0.0, with_platform, constant_pre)
    pre_a, plat_a, y_a = cuped_users(n_arm, kind, effect, with_platform, constant_pre)
    pre, platform, y = np.concatenate([pre_c, pre_a]), np.concatenate([plat_c, plat_a]), np.concatenate([y_c, y_a])
    arm = np.concatenate([np.zeros(n_ctl), np.ones(n_arm)])
    adjusted = sm.OLS(y, cuped_design(pre, platform, arm, with_platform)).fit(cov_type="HC1")
    plain = sm.OLS(y, np.column_stack([np.ones(len(arm)), arm])).fit(cov_type="HC1")
    ci = adjusted.conf_int(alpha=0.05)[1]
    case = dict(
        kind=kind, with_platform=with_platform,
        arm=cuped_cells(pre_a, plat_a, y_a, with_platform), control=cuped_cells(pre_c, plat_c, y_c, with_platform),
        diff=float(adjusted.params[1]), ci_low=float(ci[0]), ci_high=float(ci[1]), p_value=float(adjusted.pvalues[1]),
        variance_reduction=float(1 - adjusted.cov_params()[1, 1] / plain.cov_params()[1, 1]),
    )
    if not with_platform and not constant_pre:
        case.update(gbstats_cuped(pre.astype(float), y, arm))
    cuped.append(case)
out["cuped"] = cuped


# Segments: the heterogeneity test of an attribute is the Wald test that every arm's difference
# from control is the same in each of the attribute's values, i.e. that the arm x value
# interactions of the saturated OLS `y ~ C(arm) * C(value)` are all zero, with HC1 errors and a
# chi-square reference (statsmodels `wald_test(use_f=False)`). Inputs are each cell's count, mean
# and sample variance (ddof 1), the moments the report keeps.
def heterogeneity_design(arm, value, arms, values):
    columns = [np.ones(len(arm))]
    columns += [(arm == a).astype(float) for a in range(1, arms)]
    columns += [(value == g).astype(float) for g in range(1, values)]
    columns += [((arm == a) & (value == g)).astype(float) for a in range(1, arms) for g in range(1, values)]
    return np.column_stack(columns)


heterogeneity = []
for index in range(30):
    kind = "retention" if index % 2 == 0 else "engagement"
    arms, values = (2 if index % 3 else 3), 2 + index % 4
    heterogeneous = index % 3 == 2
    cells, ys, arm_of, value_of = [], [], [], []
    for g in range(values):
        row = []
        for a in range(arms):
            n = log_uniform_int(40, 4_000)
            effect = (0.1 * g if heterogeneous else 0.0) * (a > 0)
            if kind == "retention":
                y = (draws.random(n) < 0.2 + 0.1 * g + effect).astype(float)
            else:
                y = draws.gamma(1.5, 80.0 + 10 * g, n) * (1 + effect)
            row.append(dict(n=n, mean=float(y.mean()), variance=float(y.var(ddof=1))))
            ys.append(y)
            arm_of.append(np.full(n, a))
            value_of.append(np.full(n, g))
        cells.append(row)
    y, arm, value = np.concatenate(ys), np.concatenate(arm_of), np.concatenate(value_of)
    fit = sm.OLS(y, heterogeneity_design(arm, value, arms, values)).fit(cov_type="HC1")
    interactions = (arms - 1) * (values - 1)
    restriction = np.zeros((interactions, fit.params.shape[0]))
    restriction[:, -interactions:] = np.eye(interactions)
    wald = fit.wald_test(restriction, use_f=False, scalar=True)
    heterogeneity.append(dict(
        kind=kind, cells=cells, chi2=float(wald.statistic), df=interactions,
        p_value=float(wald.pvalue),
    ))
out["heterogeneity"] = heterogeneity

print(json.dumps(out, indent=1))
