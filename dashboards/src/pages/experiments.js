// Experiments: status, arms and weights, users so far, days running, SRM and the headline
// D1/D7/D30 retention ratio against control. New experiments are created here.

import { get } from "../api.js";
import { clear, el, errorBox, loading, table } from "../dom.js";
import { count, daysSince, percent, ratio, significance } from "../format.js";
import { experimentForm } from "./experiment-form.js";

export function experimentsPage(root) {
  let alive = true;
  const list = el("section", { id: "experiments" }, loading());
  const formSlot = el("div");
  const newButton = el("button", { type: "button", id: "new-experiment" }, "New experiment");
  clear(
    root,
    el("div", { class: "page-head" }, el("h1", {}, "Experiments"), newButton),
    formSlot,
    list,
  );

  newButton.addEventListener("click", async () => {
    const modelIds = await modelIdsOrEmpty();
    clear(
      formSlot,
      experimentForm({
        existing: null,
        modelIds,
        onSaved: (saved) => {
          window.location.hash = `#/experiments/${saved.key}`;
        },
        onCancel: () => clear(formSlot),
      }),
    );
  });

  load().catch((error) => alive && clear(list, errorBox(error)));
  async function load() {
    const [{ experiments }, board] = await Promise.all([get("/api/v1/experiments"), get("/api/v1/leaderboard")]);
    if (!alive) return;
    if (experiments.length === 0) {
      clear(list, el("p", { class: "muted" }, "No experiments yet. Create one, or seed one with `blendlab simulate --db`."));
      return;
    }
    // One request for every experiment's numbers: the leaderboard carries each one's exposed users.
    const rows = experiments.map((experiment) =>
      experimentRow(experiment, board.experiments.find((b) => b.experiment === experiment.key)),
    );
    clear(
      list,
      table(
        ["Experiment", "Status", "Arms", "Users", "Days running", "SRM", "D1 / D7 / D30 vs control"],
        rows,
        { class: "experiments" },
      ),
    );
  }
  return () => {
    alive = false;
  };
}

function experimentRow(experiment, board) {
  const running = experiment.started_at ? daysSince(experiment.started_at, experiment.stopped_at) : null;
  return el(
    "tr",
    { dataset: { experiment: experiment.key } },
    el(
      "td",
      {},
      el("a", { href: `#/experiments/${experiment.key}`, class: "experiment-link" }, experiment.key),
      el("div", { class: "muted small" }, experiment.name),
    ),
    el("td", {}, el("span", { class: `badge status-${experiment.status}` }, experiment.status)),
    el(
      "td",
      {},
      experiment.arms.map((arm) =>
        el(
          "div",
          { class: "small" },
          el("strong", {}, arm.name),
          ` ${percent(arm.weight, 0)} · ${arm.models.join(", ")}`,
          arm.name === experiment.control ? el("span", { class: "badge muted" }, "control") : null,
        ),
      ),
    ),
    el("td", { class: "num" }, board ? count(board.exposed_users) : "–"),
    el("td", { class: "num" }, running ?? "–"),
    el("td", {}, srmCell(board)),
    el("td", {}, headline(board)),
  );
}

function srmCell(board) {
  if (!board?.srm) return el("span", { class: "muted" }, "no report yet");
  const p = board.srm.p_value;
  return board.srm.warning
    ? el("span", { class: "badge bad", title: `p = ${p}` }, "⚠ sample ratio mismatch")
    : el("span", { class: "badge good", title: `p = ${p}` }, "ok");
}

function headline(board) {
  if (!board || board.arms.length === 0) return el("span", { class: "muted" }, "no report yet");
  return el(
    "div",
    {},
    board.arms
      .filter((arm) => !arm.is_control)
      .map((arm) =>
        el(
          "div",
          { class: "headline" },
          el("strong", {}, arm.arm),
          ["d1", "d7", "d30"].map((k) => {
            const vs = arm[k];
            const sig = significance(vs);
            return el(
              "span",
              { class: `chip ${sig.className}`, title: sig.label },
              `${k.toUpperCase()} ${ratio(vs?.ratio)}`,
            );
          }),
          el("span", { class: "muted small" }, ` as of ${board.as_of}`),
        ),
      ),
  );
}

export async function modelIdsOrEmpty() {
  try {
    const models = await get("/v1/models");
    return models.data.map((m) => m.id);
  } catch {
    return [];
  }
}
