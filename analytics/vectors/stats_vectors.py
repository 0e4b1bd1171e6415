#!/usr/bin/env python3
"""Writes analytics/vectors/stats.json: golden values from independent implementations.

Every statistic in analytics/src/stats/ is checked against these to 1e-9:
- statsmodels: pooled two-proportion z-test, log-ratio CI of two proportions, Holm and
  Benjamini-Hochberg, OLS for the power-law fit, NormalIndPower for sample sizes;
- scipy: Welch's t-test and its CI, the SRM chi-square;
- gbstats (GrowthBook): always-valid sequential intervals and p-values on the relative lift.

Run: python3 analytics/vectors/stats_vectors.py > analytics/vectors/stats.json
"""
import json
import math
import random

import numpy as np
import scipy
import statsmodels
import statsmodels.api as sm
from gbstats.frequentist.tests import SequentialConfig, SequentialTwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

rng = random.Random(20261125)
out = {"versions": {"scipy": scipy.__version__, "statsmodels": statsmodels.__version__}}

proportions = []
for _ in range(60):
    n_arm, n_ctl = rng.randint(20, 200_000), rng.randint(20, 200_000)
    p_arm, p_ctl = rng.uniform(0.02, 0.7), rng.uniform(0.02, 0.7)
    x_arm = max(1, min(n_arm - 1, round(n_arm * p_arm)))
    x_ctl = max(1, min(n_ctl - 1, round(n_ctl * p_ctl)))
    z, p = proportions_ztest([x_arm, x_ctl], [n_arm, n_ctl])
    lo, hi = confint_proportions_2indep(
        x_arm, n_arm, x_ctl, n_ctl, method="log", compare="ratio", alpha=0.05
    )
    seq = SequentialTwoSidedTTest(
        ProportionStatistic(sum=x_ctl, n=n_ctl),
        ProportionStatistic(sum=x_arm, n=n_arm),
        SequentialConfig(difference_type="relative"),
    )
    s_lo, s_hi = seq.confidence_interval
    proportions.append(
        dict(
            x_arm=x_arm, n_arm=n_arm, x_ctl=x_ctl, n_ctl=n_ctl,
            z=float(z), p_value=float(p), ratio_ci_low=float(lo), ratio_ci_high=float(hi),
            seq_lift=float(seq.point_estimate), seq_ci_low=float(s_lo), seq_ci_high=float(s_hi),
            seq_p_value=float(seq.p_value),
        )
    )
out["proportions"] = proportions

welch = []
for _ in range(40):
    a = [rng.expovariate(1 / rng.uniform(10, 600)) for _ in range(rng.randint(2, 400))]
    b = [rng.expovariate(1 / rng.uniform(10, 600)) for _ in range(rng.randint(2, 400))]
    res = stats.ttest_ind(a, b, equal_var=False)
    ci = res.confidence_interval(0.95)
    seq = SequentialTwoSidedTTest(
        SampleMeanStatistic(sum=sum(b), sum_squares=sum(x * x for x in b), n=len(b)),
        SampleMeanStatistic(sum=sum(a), sum_squares=sum(x * x for x in a), n=len(a)),
        SequentialConfig(difference_type="absolute"),
    )
    s_lo, s_hi = seq.confidence_interval
    welch.append(
        dict(
            mean_a=float(np.mean(a)), var_a=float(np.var(a, ddof=1)), n_a=len(a),
            mean_b=float(np.mean(b)), var_b=float(np.var(b, ddof=1)), n_b=len(b),
            t=float(res.statistic), df=float(res.df), p_value=float(res.pvalue),
            ci_low=float(ci.low), ci_high=float(ci.high),
            seq_ci_low=float(s_lo), seq_ci_high=float(s_hi), seq_p_value=float(seq.p_value),
        )
    )
out["welch"] = welch

corrections = []
for _ in range(20):
    ps = [rng.random() ** rng.choice([1, 2, 4]) for _ in range(rng.randint(1, 62))]
    corrections.append(
        dict(
            p=ps,
            holm=[float(x) for x in multipletests(ps, method="holm")[1]],
            bh=[float(x) for x in multipletests(ps, method="fdr_bh")[1]],
        )
    )
out["corrections"] = corrections

srm = []
for _ in range(30):
    k = rng.randint(2, 5)
    w = [rng.uniform(0.1, 1) for _ in range(k)]
    w = [x / sum(w) for x in w]
    total = rng.randint(100, 1_000_000)
    observed = [max(0, round(total * x * rng.uniform(0.97, 1.03))) for x in w]
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

print(json.dumps(out, indent=1))
