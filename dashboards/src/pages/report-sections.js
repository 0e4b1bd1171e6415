// A report (DESIGN's JSON) as sections: charts first, then the tables behind them.

import { armColor, band, drawChart, line } from "../charts.js";
import { el, table } from "../dom.js";
import { count, fixed, interval, isNumber, millis, pValue, percent, ratio, seconds, significance } from "../format.js";
import { decisionCard } from "./decision.js";
import { segmentsCard } from "./report-segments.js";

export function reportSections(report) {
  const arms = report.arms;
  const treatments = arms.filter((a) => a.arm !== report.control);
  const days = arms[0]?.retention.map((r) => r.day) ?? [];
  const sections = [
    srmBanner(report),
    decisionCard(treatments),
    chartCard("retention", "Day-k retention", "Share of each arm's eligible users active on day k after exposure.", (canvas) =>
      drawChart("retention", canvas, {
        type: "line",
        data: {
          labels: days,
          datasets: arms.map((arm, i) => line(arm.arm, arm.retention.map((r) => r.rate ?? null), armColor(i))),
        },
        options: axes("day k", "retention", (v) => percent(v, 0)),
      }),
    ),
    chartCard(
      "ratio",
      "Retention relative to control",
      "Ratio with its 95% interval (dark band), the always-valid interval (light band) and the power-law fit c·k^−β (dashed).",
      (canvas) =>
        drawChart("ratio", canvas, {
          type: "line",
          data: { labels: days, datasets: ratioDatasets(arms, treatments, days) },
          options: axes("day k", "ratio to control", (v) => `×${Number(v).toFixed(2)}`),
        }),
    ),
    chartCard("time-spent", "Time spent per active user", "Mean seconds per user active on day k (gaps over 30 minutes do not count).", (canvas) =>
      drawChart("time-spent", canvas, {
        type: "line",
        data: {
          labels: days,
          datasets: arms.map((arm, i) => line(arm.arm, arm.engagement.map((e) => e.mean_time_spent_s ?? null), armColor(i))),
        },
        options: axes("day k", "seconds", (v) => `${Math.round(v)} s`),
      }),
    ),
    chartCard("user-messages", "Messages per active user", "Mean user messages per user active on day k.", (canvas) =>
      drawChart("user-messages", canvas, {
        type: "line",
        data: {
          labels: days,
          datasets: arms.map((arm, i) => line(arm.arm, arm.engagement.map((e) => e.mean_user_messages ?? null), armColor(i))),
        },
        options: axes("day k", "messages", (v) => Number(v).toFixed(1)),
      }),
    ),
    powerLawCard(treatments),
    significanceCard(treatments),
    segmentsCard(report),
    guardrailsCard(arms),
    attributionCard(arms),
  ];
  return el(
    "div",
    { class: "report", dataset: { asOf: report.as_of } },
    el("p", { class: "muted" }, `Report of ${report.experiment} as of ${report.as_of} (UTC days), control: ${report.control}.`),
    sections,
  );
}

function ratioDatasets(arms, treatments, days) {
  const datasets = [];
  for (const arm of treatments) {
    const index = arms.indexOf(arm);
    const vs = arm.retention.map((r) => r.vs_control);
    datasets.push(
      ...band(`${arm.arm} always-valid`, vs.map((v) => v?.seq_ci_low ?? null), vs.map((v) => v?.seq_ci_high ?? null), armColor(index, 0.08)),
      ...band(`${arm.arm} 95% CI`, vs.map((v) => v?.ci_low ?? null), vs.map((v) => v?.ci_high ?? null), armColor(index, 0.22)),
      line(`${arm.arm} / control`, vs.map((v) => v?.ratio ?? null), armColor(index)),
    );
    const fit = arm.power_law?.retention;
    if (fit) {
      datasets.push(
        line(
          `${arm.arm} fit ${fixed(fit.c, 3)}·k^−${fixed(fit.beta, 3)}`,
          days.map((k) => (k >= 1 ? fit.c * k ** -fit.beta : null)),
          armColor(index),
          { borderDash: [6, 4], pointRadius: 0, borderWidth: 1.5 },
        ),
      );
    }
  }
  datasets.push(line("_parity", days.map(() => 1), "#868e96", { borderDash: [2, 3], pointRadius: 0, borderWidth: 1 }));
  return datasets;
}

function axes(xTitle, yTitle, tick) {
  return {
    scales: {
      x: { title: { display: true, text: xTitle }, ticks: { maxTicksLimit: 16 } },
      y: { title: { display: true, text: yTitle }, ticks: { callback: tick } },
    },
  };
}

function chartCard(id, title, caption, draw) {
  const canvas = el("canvas", { id: `chart-${id}`, "aria-label": title });
  const card = el("section", { class: "card" }, el("h2", {}, title), el("p", { class: "muted small" }, caption), el("div", { class: "chart-box" }, canvas));
  // Drawn once the canvas is in the document, so Chart.js can measure its box.
  requestAnimationFrame(() => {
    if (canvas.isConnected) draw(canvas);
  });
  return card;
}

function srmBanner(report) {
  const srm = report.srm;
  const observed = (srm.arms ?? []).map((a) => `${a.arm} ${percent(a.observed_share)} (expected ${percent(a.expected_share)})`).join(" · ");
  return srm.warning
    ? el("div", { class: "banner bad", role: "alert", id: "srm" }, `⚠ Sample ratio mismatch (p = ${pValue(srm.p_value)}): ${observed}. The assignment or the logging is broken; the comparisons below are not trustworthy.`)
    : el("div", { class: "banner good", id: "srm" }, `Sample ratio check passed (p = ${pValue(srm.p_value)}): ${observed}`);
}

function powerLawCard(treatments) {
  const rows = treatments.flatMap((arm) =>
    [
      ["retention", arm.power_law?.retention],
      ["time spent", arm.power_law?.time_spent],
    ].map(([metric, fit]) =>
      el(
        "tr",
        {},
        el("td", {}, arm.arm),
        el("td", {}, metric),
        el("td", { class: "num" }, fit ? fixed(fit.c, 3) : "–"),
        el("td", { class: "num" }, fit ? interval(fit.c_ci_low, fit.c_ci_high, (v) => fixed(v, 3)) : "–"),
        el("td", { class: "num" }, fit ? fixed(fit.beta, 3) : "–"),
        el("td", { class: "num" }, fit ? interval(fit.beta_ci_low, fit.beta_ci_high, (v) => fixed(v, 3)) : "–"),
        el("td", { class: "num" }, fit?.points ?? "–"),
      ),
    ),
  );
  return el(
    "section",
    { class: "card", id: "power-law" },
    el("h2", {}, "Power-law fit of the ratio to control"),
    el("p", { class: "muted small" }, "ratio(k) = c·k^−β over days k ≥ 1: c is the initial advantage, β its decay (0: it persists)."),
    table(["Arm", "Metric", "c", "c 95% CI", "β", "β 95% CI", "days"], rows),
  );
}

const KEY_DAYS = [1, 3, 7, 14, 30];

function significanceCard(treatments) {
  const body = el("tbody");
  const showAll = el("input", { type: "checkbox", id: "all-days" });
  const render = () => {
    body.replaceChildren(
      ...treatments.flatMap((arm) =>
        arm.retention
          .filter((r) => showAll.checked || KEY_DAYS.includes(r.day))
          .map((r) => significanceRow(arm, r, arm.engagement[r.day])),
      ),
    );
  };
  showAll.addEventListener("change", render);
  render();
  const headers = ["Arm", "Day", "Eligible", "Rate", "Diff", "Ratio", "95% CI", "p", "Holm p", "BH q", "Always-valid p", "Always-valid CI", "Chance to win", "Risk", "CUPED diff (95% CI)", "Variance reduction", "Time spent diff", "p (Welch)"];
  return el(
    "section",
    { class: "card", id: "significance" },
    el("h2", {}, "Significance"),
    el(
      "p",
      { class: "muted small" },
      "p: pooled two-proportion z-test, fixed horizon. Holm and Benjamini–Hochberg correct across days and metrics. Always-valid p-values and intervals stay honest although the report is read every day. Ratio colours: green or red when the always-valid p < 0.05, amber when only the Holm-adjusted p is. Chance to win and risk: GrowthBook's Bayesian test on the relative lift (flat prior); risk is the lift expected to be lost by shipping the arm. CUPED: the difference adjusted by regression on each user's active days in the 14 days before exposure and their attributes (OLS, HC1 errors), beside the unadjusted one; variance reduction is how much narrower it makes the test.",
    ),
    el("label", { class: "small" }, showAll, " all days"),
    el("div", { class: "table-wrap" }, el("table", { class: "significance" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), body)),
  );
}

function bayesTitle(bayes) {
  if (!bayes) return "no posterior: a side has no users or no variance";
  return `lift 95% credible interval ${fixed(bayes.ci_low, 4)} to ${fixed(bayes.ci_high, 4)}; risk: lift expected to be lost by shipping (keeping control: ${fixed(bayes.expected_loss_control, 4)})`;
}

/** The CUPED-adjusted retention difference in points with its interval: the same text the e2e test expects. */
function cupedDiff(cuped) {
  if (!isNumber(cuped?.diff)) return "–";
  const pp = (x) => `${x > 0 ? "+" : ""}${(100 * x).toFixed(2)}`;
  return `${pp(cuped.diff)} pp [${pp(cuped.ci_low)}, ${pp(cuped.ci_high)}]`;
}

function cupedTitle(cuped) {
  if (!cuped) return "no adjusted comparison: a side has no users or no variance";
  return `CUPED p = ${pValue(cuped.p_value)}`;
}

function significanceRow(arm, day, engagement) {
  const vs = day.vs_control;
  const sig = significance(vs);
  const time = engagement?.vs_control;
  return el(
    "tr",
    {},
    el("td", {}, arm.arm),
    el("td", { class: "num" }, day.day),
    el("td", { class: "num" }, count(day.eligible)),
    el("td", { class: "num" }, percent(day.rate)),
    el("td", { class: "num" }, isNumber(vs?.diff) ? `${vs.diff > 0 ? "+" : ""}${(100 * vs.diff).toFixed(2)} pp` : "–"),
    el("td", { class: "num" }, vs ? el("span", { class: `chip ${sig.className}`, title: sig.label }, ratio(vs.ratio)) : "–"),
    el("td", { class: "num" }, interval(vs?.ci_low, vs?.ci_high, (v) => fixed(v, 3))),
    el("td", { class: "num" }, pValue(vs?.p_value)),
    el("td", { class: "num" }, pValue(vs?.p_value_adjusted)),
    el("td", { class: "num" }, pValue(vs?.q_value)),
    el("td", { class: "num" }, pValue(vs?.seq_p_value)),
    el("td", { class: "num" }, interval(vs?.seq_ci_low, vs?.seq_ci_high, (v) => fixed(v, 3))),
    el("td", { class: "num chance-to-win", title: bayesTitle(vs?.bayes) }, isNumber(vs?.bayes?.chance_to_win) ? `${(100 * vs.bayes.chance_to_win).toFixed(1)}%` : "–"),
    el("td", { class: "num" }, isNumber(vs?.bayes?.expected_loss) ? fixed(vs.bayes.expected_loss, 4) : "–"),
    el("td", { class: "num cuped-diff", title: cupedTitle(vs?.cuped) }, cupedDiff(vs?.cuped)),
    el("td", { class: "num" }, isNumber(vs?.cuped?.variance_reduction) ? percent(vs.cuped.variance_reduction) : "–"),
    el("td", { class: "num" }, isNumber(time?.diff) ? `${time.diff > 0 ? "+" : ""}${seconds(time.diff)}` : "–"),
    el("td", { class: "num" }, pValue(time?.p_value)),
  );
}

function guardrailsCard(arms) {
  const rows = arms.map((arm) => {
    const g = arm.guardrails ?? {};
    return el(
      "tr",
      {},
      el("td", {}, arm.arm),
      el("td", {}, arm.models.join(", ")),
      el("td", { class: "num" }, count(arm.users)),
      el("td", { class: "num" }, count(g.messages)),
      el("td", { class: "num" }, fixed(g.mean_conversation_length, 1)),
      el("td", { class: "num" }, millis(g.latency_p50_ms)),
      el("td", { class: "num" }, millis(g.latency_p95_ms)),
      el("td", { class: "num" }, percent(g.error_rate, 2)),
      el("td", { class: "num" }, fixed(g.tokens_per_user, 0)),
      el("td", { class: "num" }, seconds(g.compute_s_per_returned_user)),
    );
  });
  return el(
    "section",
    { class: "card", id: "guardrails" },
    el("h2", {}, "Guardrails and cost"),
    table(["Arm", "Models", "Users", "Messages", "Mean conversation", "Latency p50", "Latency p95", "Errors", "Tokens / user", "Compute / returned user"], rows),
  );
}

function vsRest(e) {
  const v = e?.vs_rest;
  if (!v) return "–";
  const pp = (x) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
  return `${pp(v.diff)} pp [${pp(v.ci_low)}, ${pp(v.ci_high)}] p=${pValue(v.p_value_adjusted)}`;
}

function estimate(e, format) {
  return e ? `${format(e.mean)} ${interval(e.ci_low, e.ci_high, format)}` : "–";
}

function attributionCard(arms) {
  const rows = arms.flatMap((arm) =>
    (arm.attribution ?? []).map((c) =>
      el(
        "tr",
        {},
        el("td", {}, arm.arm),
        el("td", {}, c.model),
        el("td", { class: "num" }, count(c.replies)),
        el("td", { class: "num" }, count(c.users)),
        el("td", { class: "num" }, estimate(c.continuation, (v) => percent(v))),
        el("td", { class: "num" }, vsRest(c.continuation)),
        el("td", { class: "num" }, estimate(c.next_user_message_chars, (v) => fixed(v, 1))),
        el("td", { class: "num" }, estimate(c.retry, (v) => percent(v, 2))),
        el("td", { class: "num" }, estimate(c.feedback, (v) => fixed(v, 2))),
      ),
    ),
  );
  return el(
    "section",
    { class: "card", id: "attribution" },
    el("h2", {}, "Blend components"),
    el("p", { class: "muted small" }, "Each reply's component is drawn at random, so these are causal effects on the turn: how often its reply is followed by another user message within 30 minutes, how long that message is, retries and feedback. 95% intervals are user-clustered; \"vs rest\" is the component minus the arm's other replies, with its Holm-adjusted p-value."),
    rows.length ? table(["Arm", "Component", "Replies", "Users", "Continuation", "Vs rest", "Next message chars", "Retry", "Feedback"], rows) : el("p", { class: "muted" }, "No component replies in this report."),
    policyValuesCard(arms),
  );
}

// The "what if" table: candidate blend policies' continuation on the logged turns.
function policyValuesCard(arms) {
  const blended = arms.filter((arm) => (arm.models ?? []).length > 1);
  const sections = blended.map((arm) => {
    if (!arm.policy_values) {
      return el("p", { class: "muted" }, `${arm.arm}: no off-policy values (${arm.policy_values_reason ?? "not available"}).`);
    }
    const replies = (arm.attribution ?? []).reduce((t, c) => t + c.replies, 0);
    const continued = (arm.attribution ?? []).reduce((t, c) => t + c.continuation.mean * c.continuation.n, 0);
    const policies = [...new Set(arm.policy_values.map((v) => v.policy))];
    const cell = (policy, estimator) => {
      const v = arm.policy_values.find((x) => x.policy === policy && x.estimator === estimator);
      return v ? `${percent(v.value)} ${interval(v.ci_low, v.ci_high, (x) => percent(x))}` : "–";
    };
    const rows = policies.map((policy) =>
      el(
        "tr",
        {},
        el("td", {}, policy),
        el("td", { class: "num" }, cell(policy, "ips")),
        el("td", { class: "num" }, cell(policy, "snips")),
        el("td", { class: "num" }, cell(policy, "dr")),
        el("td", { class: "num" }, count(Math.round(arm.policy_values.find((x) => x.policy === policy).ess))),
      ),
    );
    return el(
      "div",
      {},
      el("h3", {}, `What if: other blend policies in ${arm.arm}`),
      el("p", { class: "muted small" }, `Logged policy: continuation ${percent(replies ? continued / replies : null)} over ${count(replies)} replies. Off-policy values of the per-turn continuation on the same turns, from the logged draw probabilities.`),
      table(["Policy", "IPS", "SNIPS", "DR", "Effective sample"], rows),
    );
  });
  return el("div", { id: "policy-values" }, ...sections);
}
