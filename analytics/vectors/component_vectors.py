#!/usr/bin/env python3
"""Writes analytics/vectors/components.json: blend components as a micro-randomized trial.

Each case is a fixed log of one blended arm, reply by reply: the user, the conversation, the
component that wrote the reply, the probability it was drawn with, whether the user continued,
the length of that next message, the reply's feedback and whether it was retried. The Rust test
turns the replies into a log (a user message before every reply, one more after a continued
reply), runs the report on it, and compares with what is computed here, independently:

- per component and outcome, the mean of the replies and its 95% CI: statsmodels OLS on a
  constant, `cov_type="cluster"` with groups = user, `use_t=True` (t with G - 1 degrees of
  freedom, the default small-sample correction G/(G-1) (N-1)/(N-K));
- `vs_rest`: OLS of the outcome on a constant and "this component" over the arm's replies, the
  same clustered errors; its p-value Holm-adjusted (statsmodels multipletests) across the arm's
  components and outcomes;
- off-policy values of candidate policies, per turn reward = continuation, computed here in plain
  numpy from the choice probabilities: IPS, SNIPS and doubly robust (outcome model: the mean
  continuation per component and turn-depth bucket, the component's mean where a bucket has
  fewer than 30 replies), with user-clustered CIs from statsmodels (OLS on a constant for IPS and
  DR, WLS with weights w for SNIPS) and the effective sample size (sum w)^2 / sum w^2.

Run in the pinned environment (scripts/vectors-requirements.txt), as `make test` does:
    bash scripts/check-vectors.sh --write
"""
import json
import sys

import numpy as np
import statsmodels
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

MIN_CELL = 30
OUTCOMES = ["continuation", "next_user_message_chars", "retry", "feedback"]


def depth_bucket(depth):
    """0, 1, 2-3, 4-7, 8+ earlier replies in the conversation."""
    if depth == 0:
        return 0
    return min(4, int(np.floor(np.log2(depth))) + 1)


def simulate(rng, models, users, spread, logits, logged, sessions_max, cap):
    """Replies of users whose propensity to continue differs (logit spread), components drawn
    independently per turn from `logged`: fixed probabilities, or a function of the user's place
    in time, as an adaptive arm's snapshots move."""
    replies = []
    conversation = 0
    for user in range(users):
        policy = logged(user / users) if callable(logged) else logged
        z = rng.normal()
        for _ in range(int(rng.integers(1, sessions_max + 1))):
            prev = None
            for depth in range(cap):
                a = int(rng.choice(len(models), p=policy))
                p_continue = 1 / (1 + np.exp(-(logits[a] + spread * z)))
                continued = bool(rng.random() < p_continue)
                feedback = None
                if rng.random() < 0.3:
                    feedback = float(rng.random() < p_continue)
                retried = (not continued) and bool(rng.random() < 0.25)
                replies.append(dict(
                    user=user, conversation=conversation, model=a, prev=prev, depth=depth,
                    choice_prob=float(policy[a]), continued=continued,
                    next_chars=int(rng.integers(5, 400)) if continued else None,
                    feedback=feedback, retried=retried,
                ))
                prev = a
                if not continued:
                    break
            conversation += 1
    return replies


def clustered_fit(y, x, groups, weights=None):
    model = sm.WLS(y, x, weights=weights) if weights is not None else sm.OLS(y, x)
    return model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)


def outcome_values(replies, outcome):
    """(indices of the replies where the outcome exists, values)."""
    rows = []
    for i, r in enumerate(replies):
        if outcome == "continuation":
            rows.append((i, float(r["continued"])))
        elif outcome == "next_user_message_chars" and r["next_chars"] is not None:
            rows.append((i, float(r["next_chars"])))
        elif outcome == "retry":
            rows.append((i, float(r["retried"])))
        elif outcome == "feedback" and r["feedback"] is not None:
            rows.append((i, r["feedback"]))
    return rows


def component_effects(replies, models):
    users = np.array([r["user"] for r in replies])
    comps = np.array([r["model"] for r in replies])
    effects = {m: dict(users=int(len(set(users[comps == a]))), replies=int((comps == a).sum()))
               for a, m in enumerate(models)}
    family = []
    for outcome in OUTCOMES:
        rows = outcome_values(replies, outcome)
        idx = np.array([i for i, _ in rows], dtype=int)
        y = np.array([v for _, v in rows])
        for a, m in enumerate(models):
            mine = comps[idx] == a
            g = users[idx]
            entry = None
            if mine.sum() > 0:
                mean = float(y[mine].mean())
                entry = dict(mean=mean, ci_low=None, ci_high=None, vs_rest=None)
                if len(set(g[mine])) >= 2:
                    fit = clustered_fit(y[mine], np.ones((mine.sum(), 1)), g[mine])
                    low, high = fit.conf_int(0.05)[0]
                    entry.update(ci_low=float(low), ci_high=float(high))
                rest = ~mine
                if rest.sum() > 0 and len(set(g)) >= 2:
                    x = np.column_stack([np.ones(len(y)), mine.astype(float)])
                    fit = clustered_fit(y, x, g)
                    low, high = fit.conf_int(0.05)[1]
                    if np.isfinite(fit.bse[1]) and fit.bse[1] > 0:
                        entry["vs_rest"] = dict(
                            diff=float(fit.params[1]), ci_low=float(low), ci_high=float(high),
                            p_value=float(fit.pvalues[1]),
                        )
                        family.append(entry["vs_rest"])
            effects[m][outcome] = entry
    if family:
        adjusted = multipletests([v["p_value"] for v in family], method="holm")[1]
        for v, p in zip(family, adjusted):
            v["p_value_adjusted"] = float(p)
    return effects


def policy_probabilities(spec, models, prev):
    k = len(models)
    if spec == "uniform":
        return np.full(k, 1 / k)
    if spec.startswith("weighted:"):
        w = np.array([float(x) for x in spec[len("weighted:"):].split(",")])
        return w / w.sum()
    if spec.startswith("only:"):
        return np.array([1.0 if m == spec[len("only:"):] else 0.0 for m in models])
    if spec == "no_repeat":
        if prev is None:
            return np.full(k, 1 / k)
        return np.array([0.0 if a == prev else 1 / (k - 1) for a in range(k)])
    raise ValueError(spec)


def outcome_model(replies, models):
    """Mean continuation per (component, depth bucket); the component's mean in small cells."""
    q = {}
    for a in range(len(models)):
        mine = [r for r in replies if r["model"] == a]
        overall = np.mean([r["continued"] for r in mine]) if mine else 0.0
        for b in range(5):
            cell = [r["continued"] for r in mine if depth_bucket(r["depth"]) == b]
            q[(a, b)] = float(np.mean(cell)) if len(cell) >= MIN_CELL else float(overall)
    return q


def policy_values(replies, models, specs):
    users = np.array([r["user"] for r in replies])
    reward = np.array([float(r["continued"]) for r in replies])
    logged = np.array([r["choice_prob"] for r in replies])
    comps = np.array([r["model"] for r in replies])
    q = outcome_model(replies, models)
    out = []
    for spec in specs:
        pi = np.array([policy_probabilities(spec, models, r["prev"]) for r in replies])
        w = pi[np.arange(len(replies)), comps] / logged
        q_taken = np.array([q[(r["model"], depth_bucket(r["depth"]))] for r in replies])
        q_all = np.array([[q[(a, depth_bucket(r["depth"]))] for a in range(len(models))]
                          for r in replies])
        dr_terms = (pi * q_all).sum(axis=1) + w * (reward - q_taken)
        ess = float(w.sum() ** 2 / (w ** 2).sum()) if (w ** 2).sum() > 0 else 0.0
        ones = np.ones((len(replies), 1))
        fits = {
            "ips": clustered_fit(w * reward, ones, users),
            "dr": clustered_fit(dr_terms, ones, users),
        }
        if w.sum() > 0:
            fits["snips"] = clustered_fit(reward, ones, users, weights=w)
        plain = {
            "ips": float(np.mean(w * reward)),
            "snips": float((w * reward).sum() / w.sum()) if w.sum() > 0 else None,
            "dr": float(np.mean(dr_terms)),
        }
        for estimator in ["ips", "snips", "dr"]:
            if estimator not in fits:
                continue
            low, high = fits[estimator].conf_int(0.05)[0]
            assert abs(fits[estimator].params[0] - plain[estimator]) < 1e-9
            out.append(dict(policy=spec, estimator=estimator, value=plain[estimator],
                            ci_low=float(low), ci_high=float(high), ess=ess))
    return out


CASES = [
    # name, models, users, spread, logits, logged policy, sessions, cap, extra policies
    ("uniform_three", ["small-a", "small-b", "small-c"], 120, 0.9, [0.8, 1.1, 0.5],
     [1 / 3, 1 / 3, 1 / 3], 4, 12, ["weighted:2,1,1"]),
    ("aa_two_chatty", ["m1", "m2"], 80, 1.5, [1.2, 1.2], [0.5, 0.5], 3, 20, []),
    ("weighted_logged", ["x", "y", "z"], 150, 0.6, [0.3, 0.9, 0.6], [0.5, 0.3, 0.2], 3, 10,
     ["weighted:1,1,2", "uniform"]),
    ("four_small", ["a", "b", "c", "d"], 25, 0.9, [0.5, 0.5, 0.7, 0.2],
     [0.25, 0.25, 0.25, 0.25], 2, 8, []),
    # An adaptive arm's own log: its propensities drift from uniform towards the best component,
    # floored at 0.05, as Thompson snapshots do over time; each reply logs the one it was drawn
    # with. Last, so that the cases above keep their random draws.
    ("adaptive_drift", ["small-a", "small-b", "small-c"], 160, 0.8, [1.2, 0.6, 0.4],
     lambda t: np.array([1 / 3 + t * (0.9 - 1 / 3), 1 / 3 - t * (1 / 3 - 0.05),
                         1 / 3 - t * (1 / 3 - 0.05)]),
     4, 12, ["weighted:0.9,0.05,0.05"]),
]


def main():
    rng = np.random.default_rng(20261202)
    cases = []
    for name, models, users, spread, logits, logged, sessions, cap, extra in CASES:
        policy = logged if callable(logged) else np.array(logged)
        replies = simulate(rng, models, users, spread, logits, policy, sessions, cap)
        specs = ["uniform"] + [f"only:{m}" for m in models] + ["no_repeat"]
        specs += [s for s in extra if s not in specs]
        cases.append(dict(
            name=name, models=models, evaluate=extra,
            replies=dict(
                user=[r["user"] for r in replies],
                conversation=[r["conversation"] for r in replies],
                model=[r["model"] for r in replies],
                choice_prob=[r["choice_prob"] for r in replies],
                continued=[r["continued"] for r in replies],
                next_chars=[r["next_chars"] for r in replies],
                feedback=[r["feedback"] for r in replies],
                retried=[r["retried"] for r in replies],
            ),
            components=component_effects(replies, models),
            policy_values=policy_values(replies, models, specs),
        ))
    json.dump(dict(versions=dict(numpy=np.__version__, statsmodels=statsmodels.__version__),
                   min_cell=MIN_CELL, cases=cases), open(sys.argv[1], "w"), indent=1)


if __name__ == "__main__":
    main()
