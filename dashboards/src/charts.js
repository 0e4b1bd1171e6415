// Chart.js, with only the parts the pages use. Every chart is registered in
// `window.blendlabCharts` under its id, so the browser tests can read the points it draws.

import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

const palette = ["#1f6feb", "#d9480f", "#2f9e44", "#ae3ec9", "#e8590c", "#0c8599", "#5c7cfa"];

export function armColor(index, alpha = 1) {
  const hex = palette[index % palette.length];
  if (alpha === 1) return hex;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

window.blendlabCharts = window.blendlabCharts ?? {};

/** Creates (or replaces) the chart `id` on `canvas`. */
export function drawChart(id, canvas, config) {
  window.blendlabCharts[id]?.destroy();
  const chart = new Chart(canvas, {
    ...config,
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      ...config.options,
      plugins: {
        legend: { labels: { filter: (item) => !item.text.startsWith("_") } },
        ...config.options?.plugins,
      },
    },
  });
  canvas.dataset.chart = id;
  window.blendlabCharts[id] = chart;
  return chart;
}

export function destroyCharts() {
  for (const [id, chart] of Object.entries(window.blendlabCharts)) {
    chart.destroy();
    delete window.blendlabCharts[id];
  }
}

/**
 * A shaded band between two series, drawn as two datasets: the lower edge (hidden) and the
 * upper edge filled down to it. Labels starting with "_" stay out of the legend.
 */
export function band(label, low, high, color) {
  return [
    { label: `_${label} low`, data: low, borderWidth: 0, pointRadius: 0, fill: false, spanGaps: true },
    {
      label: `_${label} high`,
      data: high,
      borderWidth: 0,
      pointRadius: 0,
      backgroundColor: color,
      fill: "-1",
      spanGaps: true,
    },
  ];
}

export function line(label, data, color, extra = {}) {
  return {
    label,
    data,
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    pointRadius: 2,
    tension: 0.15,
    spanGaps: true,
    fill: false,
    ...extra,
  };
}
