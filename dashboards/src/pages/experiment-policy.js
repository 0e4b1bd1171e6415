// Each blended arm's per-turn policy: the probability of each component now and, for adaptive
// (thompson) arms, over time from the stored snapshots, with the reward counts behind it. It
// follows the report, whose last card ("Blend components") shows each component's effect.

import { armColor, drawChart, line } from "../charts.js";
import { clear, el, errorBox, loading, table } from "../dom.js";
import { count, percent } from "../format.js";
import { get } from "../api.js";

export function policySection(key) {
  const node = el("section", { class: "card", id: "policy" }, el("h2", {}, "Blend policy"), loading());
  (async () => {
    try {
      const policy = await get(`/api/v1/experiments/${key}/policy?history=true`);
      const arms = policy.arms.map(armPolicy);
      clear(
        node,
        el("h2", {}, "Blend policy"),
        el("p", { class: "muted small" }, "Each turn's component is drawn with these probabilities. An adaptive (thompson) arm recomputes them from its components' rewards every refresh interval, never below its floor; its arm weight does not change."),
        arms.length ? arms : el("p", { class: "muted" }, "No arm blends more than one model."),
      );
    } catch (error) {
      clear(node, el("h2", {}, "Blend policy"), errorBox(error));
    }
  })();
  return node;
}

function armPolicy(arm) {
  const adaptive = arm.policy === "thompson";
  const rows = arm.models.map((m) =>
    el(
      "tr",
      {},
      el("td", {}, m.model),
      el("td", { class: "num" }, percent(m.probability)),
      adaptive ? el("td", { class: "num" }, count(m.successes)) : null,
      adaptive ? el("td", { class: "num" }, count(m.failures)) : null,
      adaptive ? el("td", { class: "num" }, m.successes + m.failures > 0 ? percent(m.successes / (m.successes + m.failures)) : "–") : null,
    ),
  );
  const headers = adaptive ? ["Component", "Probability", "Rewards", "Non-rewards", "Reward rate"] : ["Component", "Probability"];
  const about = adaptive
    ? `thompson on ${arm.reward}, floor ${percent(arm.min_probability)} · snapshot ${arm.version} of ${new Date(arm.computed_at).toLocaleString()}`
    : `${arm.policy}: fixed probabilities`;
  return el(
    "div",
    { class: "policy-arm", dataset: { arm: arm.arm, policy: arm.policy } },
    el("h3", {}, arm.arm, " ", el("span", { class: "muted small" }, about)),
    table(headers, rows, { class: "policy-table" }),
    adaptive ? historyChart(arm) : null,
  );
}

/** The components' probabilities snapshot by snapshot. */
function historyChart(arm) {
  const history = arm.history ?? [];
  const id = `policy-${arm.arm}`;
  const canvas = el("canvas", { id: `chart-${id}`, "aria-label": `Component probabilities of ${arm.arm} over time` });
  const box = el("div", { class: "chart-box short" }, canvas);
  const labels = history.map((s) => new Date(s.computed_at).toLocaleString());
  const datasets = arm.models.map((m, i) =>
    line(m.model, history.map((s) => s.models.find((x) => x.model === m.model)?.probability ?? null), armColor(i)),
  );
  requestAnimationFrame(() => {
    if (canvas.isConnected) {
      drawChart(id, canvas, {
        type: "line",
        data: { labels, datasets },
        options: {
          scales: {
            x: { title: { display: true, text: "snapshot" } },
            y: { min: 0, max: 1, title: { display: true, text: "probability" }, ticks: { callback: (v) => percent(v, 0) } },
          },
        },
      });
    }
  });
  return box;
}
