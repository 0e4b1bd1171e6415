// Every arm of every experiment against its control, blends and single models side by side,
// sortable by any column.

import { get } from "../api.js";
import { clear, el, errorBox, loading } from "../dom.js";
import { count, fixed, isNumber, millis, ratio, seconds, significance } from "../format.js";
import { verdictChip } from "./decision.js";

const columns = [
  { key: "experiment", label: "Experiment", value: (r) => r.experiment, cell: (r) => el("a", { href: `#/experiments/${r.experiment}` }, r.experiment) },
  { key: "arm", label: "Arm", value: (r) => r.arm },
  { key: "kind", label: "Kind", value: (r) => (r.is_blend ? "blend" : "single"), cell: (r) => el("span", { class: `badge ${r.is_blend ? "blend" : "muted"}` }, r.is_blend ? `blend of ${r.models.length}` : "single") },
  { key: "models", label: "Models", value: (r) => r.models.join(", ") },
  { key: "verdict", label: "Verdict", value: (r) => r.decision?.verdict, cell: (r) => verdictChip(r.decision) },
  { key: "users", label: "Users", value: (r) => r.users, cell: (r) => count(r.users), numeric: true },
  ...["d1", "d7", "d30"].map((day) => ({
    key: day,
    label: `${day.toUpperCase()} ratio`,
    value: (r) => r[day]?.ratio,
    cell: (r) => ratioCell(r[day]),
    numeric: true,
  })),
  { key: "c", label: "Fit c", value: (r) => r.retention_power_law?.c, cell: (r) => fixed(r.retention_power_law?.c, 3), numeric: true },
  { key: "beta", label: "Fit β", value: (r) => r.retention_power_law?.beta, cell: (r) => fixed(r.retention_power_law?.beta, 3), numeric: true },
  { key: "time", label: "D1 time spent", value: (r) => r.d1_time_spent_s, cell: (r) => seconds(r.d1_time_spent_s), numeric: true },
  { key: "latency", label: "Latency p50", value: (r) => r.latency_p50_ms, cell: (r) => millis(r.latency_p50_ms), numeric: true },
  { key: "tokens", label: "Tokens / user", value: (r) => r.tokens_per_user, cell: (r) => fixed(r.tokens_per_user, 0), numeric: true },
  { key: "compute", label: "Compute / returned user", value: (r) => r.compute_s_per_returned_user, cell: (r) => seconds(r.compute_s_per_returned_user), numeric: true },
  { key: "as_of", label: "As of", value: (r) => r.as_of },
];

function ratioCell(day) {
  if (!day || !isNumber(day.ratio)) return "–";
  const sig = significance(day);
  return el("span", { class: `chip ${sig.className}`, title: `${sig.label}; always-valid p = ${fixed(day.seq_p_value, 4)}` }, ratio(day.ratio));
}

export function leaderboardPage(root) {
  let alive = true;
  let rows = [];
  let sort = { key: "d7", descending: true };
  const includeControls = el("input", { type: "checkbox", id: "include-controls" });
  const filter = el("input", { type: "search", id: "leaderboard-filter", placeholder: "filter by experiment, arm or model", "aria-label": "Filter" });
  const body = el("tbody");
  const head = el("tr");
  const holder = el("section", { id: "leaderboard" }, loading());
  clear(
    root,
    el("div", { class: "page-head" }, el("h1", {}, "Leaderboard")),
    el("p", { class: "muted" }, "Each arm against its experiment's control, from the latest daily report (or today's, computed now, before the first one). Click a column to sort."),
    el("div", { class: "toolbar" }, filter, el("label", { class: "small" }, includeControls, " show control arms")),
    holder,
  );

  const render = () => {
    clear(
      head,
      columns.map((c) =>
        el(
          "th",
          {
            class: `sortable ${c.numeric ? "num" : ""}`,
            dataset: { sort: c.key },
            "aria-sort": sort.key === c.key ? (sort.descending ? "descending" : "ascending") : "none",
            onclick: () => {
              sort = { key: c.key, descending: sort.key === c.key ? !sort.descending : Boolean(c.numeric) };
              render();
            },
          },
          c.label,
          sort.key === c.key ? (sort.descending ? " ▼" : " ▲") : "",
        ),
      ),
    );
    const column = columns.find((c) => c.key === sort.key);
    const needle = filter.value.trim().toLowerCase();
    const shown = rows
      .filter((r) => includeControls.checked || !r.is_control)
      .filter((r) => !needle || [r.experiment, r.arm, ...r.models].some((t) => t.toLowerCase().includes(needle)))
      .sort((a, b) => compare(column.value(a), column.value(b), sort.descending));
    body.replaceChildren(
      ...shown.map((r) =>
        el("tr", { dataset: { row: `${r.experiment}/${r.arm}` } }, columns.map((c) => el("td", { class: c.numeric ? "num" : "" }, c.cell ? c.cell(r) : c.value(r)))),
      ),
    );
  };
  filter.addEventListener("input", render);
  includeControls.addEventListener("change", render);

  get("/api/v1/leaderboard")
    .then((board) => {
      if (!alive) return;
      rows = board.experiments.flatMap((e) => e.arms.map((arm) => ({ ...arm, experiment: e.experiment, as_of: e.as_of })));
      if (rows.length === 0) {
        clear(holder, el("p", { class: "muted" }, "No experiment has exposures yet."));
        return;
      }
      clear(holder, el("div", { class: "table-wrap" }, el("table", { class: "leaderboard" }, el("thead", {}, head), body)));
      render();
    })
    .catch((error) => alive && clear(holder, errorBox(error)));
  return () => {
    alive = false;
  };
}

/** Missing values sort last whatever the direction would otherwise put first. */
function compare(a, b, descending) {
  const missingA = a === null || a === undefined || Number.isNaN(a);
  const missingB = b === null || b === undefined || Number.isNaN(b);
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
  const order = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
  return descending ? -order : order;
}
