// Exposures per day and arm, refreshed while the page is open.

import { get } from "../api.js";
import { armColor, drawChart } from "../charts.js";
import { clear, el, errorBox } from "../dom.js";
import { count } from "../format.js";

export function exposuresSection() {
  const canvas = el("canvas", { id: "chart-exposures", "aria-label": "Exposures per day" });
  const status = el("span", { class: "muted small", id: "exposures-status" });
  const totals = el("div", { class: "small", id: "exposure-totals" });
  const errors = el("div");
  const node = el(
    "section",
    { class: "card" },
    el("h2", {}, "Exposures per day ", el("span", { class: "live-dot", title: "refreshed every 5 s" }), status),
    totals,
    errors,
    el("div", { class: "chart-box short" }, canvas),
  );
  return { node, canvas, status, totals, errors, chart: null };
}

export async function refreshExposures(section, key, stillOpen) {
  let data;
  try {
    data = await get(`/api/v1/experiments/${key}/exposures`);
  } catch (error) {
    if (stillOpen()) clear(section.errors, errorBox(error));
    return;
  }
  if (!stillOpen()) return;
  section.users = data.users;
  clear(section.errors);
  const labels = data.days.map((d) => d.date);
  const datasets = data.arms.map((arm, i) => ({
    label: arm,
    data: data.days.map((d) => d.exposures[arm] ?? 0),
    backgroundColor: armColor(i, 0.8),
    stack: "exposures",
  }));
  if (section.chart && window.blendlabCharts.exposures === section.chart) {
    section.chart.data.labels = labels;
    section.chart.data.datasets.forEach((dataset, i) => {
      dataset.data = datasets[i]?.data ?? [];
    });
    section.chart.update("none");
  } else {
    section.chart = drawChart("exposures", section.canvas, {
      type: "bar",
      data: { labels, datasets },
      options: {
        scales: {
          x: { stacked: true, ticks: { maxTicksLimit: 10 } },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: "users first exposed" } },
        },
      },
    });
  }
  clear(
    section.totals,
    `${count(data.users)} users exposed: `,
    data.arms.map((arm, i) => `${i ? " · " : ""}${arm} ${count(data.totals[arm] ?? 0)}`),
  );
  clear(section.status, ` updated ${new Date().toLocaleTimeString()}`);
}
