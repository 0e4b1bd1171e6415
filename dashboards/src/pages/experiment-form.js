// Create or edit an experiment. The form checks nothing itself: the API validates the definition
// and its error (which names every problem) is shown as it came.

import { ApiError, post, put } from "../api.js";
import { clear, el, errorBox } from "../dom.js";

const blankArm = () => ({ name: "", weight: "", models: [], policy: "uniform" });

/**
 * `existing`: an experiment as the API shows it (edit), or null (create).
 * `modelIds`: the server's model ids, offered as suggestions.
 * `onSaved(view)`: called with the API's answer.
 */
export function experimentForm({ existing, modelIds, onSaved, onCancel }) {
  const editing = Boolean(existing);
  const start = existing ?? {
    key: "",
    name: "",
    control: "control",
    coverage: 1,
    window_days: 30,
    audience: "all",
    arms: [
      { name: "control", weight: 0.5, models: modelIds.slice(0, 1), policy: "uniform" },
      { name: "blend", weight: 0.5, models: modelIds.slice(1, 4), policy: "uniform" },
    ],
  };

  const field = (label, input, hint) =>
    el("label", { class: "field" }, el("span", {}, label), input, hint ? el("small", { class: "muted" }, hint) : null);
  const key = el("input", { name: "key", value: start.key, disabled: editing, placeholder: "my-experiment" });
  const name = el("input", { name: "name", value: start.name, placeholder: "What is compared" });
  const control = el("input", { name: "control", value: start.control });
  const coverage = el("input", { name: "coverage", value: start.coverage, inputmode: "decimal" });
  const windowDays = el("input", { name: "window_days", value: start.window_days, inputmode: "numeric" });
  const audience = el(
    "select",
    { name: "audience" },
    ["all", "new_users"].map((a) => el("option", { value: a, selected: a === start.audience }, a)),
  );
  const salt = el("input", { name: "salt", value: start.salt ?? "", placeholder: "default: the key" });
  const primary = el("input", { name: "primary_metric", value: start.primary_metric ?? "", placeholder: "default: retention_d7" });
  const guardrailRows = el("div", { class: "guardrail-rows" });
  (start.guardrails ?? []).forEach((g) => guardrailRows.append(guardrailRow(g)));
  const models = el("datalist", { id: "model-ids" }, modelIds.map((m) => el("option", { value: m })));

  const armRows = el("div", { class: "arm-rows" });
  const addArm = (arm) => armRows.append(armRow(arm));
  start.arms.forEach(addArm);

  const status = el("div", { class: "form-status", "aria-live": "polite" });
  const form = el(
    "form",
    { class: "card experiment-form", id: "experiment-form", novalidate: true },
    el("h2", {}, editing ? `Edit ${existing.key}` : "New experiment"),
    el(
      "div",
      { class: "grid-fields" },
      field("Key", key, "a-z, 0-9 and -, up to 64"),
      field("Name", name),
      field("Control arm", control),
      field("Coverage", coverage, "share of users enrolled, 0..1"),
      field("Window (days)", windowDays),
      field("Audience", audience),
      field("Salt", salt),
      field("Primary metric", primary, "retention_dK, time_spent_dK or user_messages_dK"),
    ),
    el("h3", {}, "Guardrails"),
    el("p", { class: "muted" }, "Each must be shown, one-sided at 5%, to stay within its margin for the verdict to ship: error_rate, compute_s_per_returned_user, latency_p95_ms (increase) or retention_dK (decrease)."),
    guardrailRows,
    el("button", { type: "button", class: "secondary", id: "add-guardrail", onclick: () => guardrailRows.append(guardrailRow({ metric: "", max_relative_increase: "" })) }, "Add guardrail"),
    el("h3", {}, "Arms"),
    el("p", { class: "muted" }, "Weights sum to 1. Models: comma-separated ids; more than one makes a blend."),
    models,
    armRows,
    el("button", { type: "button", class: "secondary", onclick: () => addArm(blankArm()) }, "Add arm"),
    status,
    el(
      "div",
      { class: "actions" },
      el("button", { type: "submit" }, editing ? "Save" : "Create"),
      onCancel ? el("button", { type: "button", class: "secondary", onclick: onCancel }, "Cancel") : null,
    ),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const definition = {
      key: editing ? existing.key : key.value.trim(),
      name: name.value.trim(),
      control: control.value.trim(),
      coverage: number(coverage.value),
      window_days: number(windowDays.value),
      audience: audience.value,
      arms: [...armRows.children].map((row) => row.readArm()),
    };
    if (salt.value.trim()) definition.salt = salt.value.trim();
    if (primary.value.trim()) definition.primary_metric = primary.value.trim();
    const guardrails = [...guardrailRows.children].map((row) => row.readGuardrail());
    if (guardrails.length) definition.guardrails = guardrails;
    clear(status, el("p", { class: "muted" }, "Saving…"));
    try {
      const saved = editing
        ? await put(`/api/v1/experiments/${encodeURIComponent(existing.key)}`, definition)
        : await post("/api/v1/experiments", definition);
      clear(status);
      onSaved(saved);
    } catch (error) {
      clear(status, errorBox(error instanceof ApiError ? error : { message: String(error) }));
    }
  });
  return form;
}

/** One guardrail: its metric, which way it may not move, and the relative margin. */
function guardrailRow(guardrail) {
  const decrease = guardrail.max_relative_decrease !== undefined && guardrail.max_relative_decrease !== null;
  const metric = el("input", { name: "guardrail-metric", value: guardrail.metric, placeholder: "metric", "aria-label": "Guardrail metric" });
  const direction = el(
    "select",
    { name: "guardrail-direction", "aria-label": "Direction" },
    [
      ["max_relative_increase", "may rise by at most"],
      ["max_relative_decrease", "may fall by at most"],
    ].map(([value, label]) => el("option", { value, selected: (value === "max_relative_decrease") === decrease }, label)),
  );
  const margin = el("input", {
    name: "guardrail-margin",
    value: decrease ? guardrail.max_relative_decrease : guardrail.max_relative_increase,
    inputmode: "decimal",
    placeholder: "0.10",
    "aria-label": "Margin",
  });
  const row = el(
    "div",
    { class: "guardrail-row" },
    metric,
    direction,
    margin,
    el("button", { type: "button", class: "secondary", "aria-label": "Remove guardrail", onclick: () => row.remove() }, "×"),
  );
  row.readGuardrail = () => ({ metric: metric.value.trim(), [direction.value]: number(margin.value) });
  return row;
}

function armRow(arm) {
  const name = el("input", { name: "arm-name", value: arm.name, placeholder: "arm name", "aria-label": "Arm name" });
  const weight = el("input", { name: "arm-weight", value: arm.weight, inputmode: "decimal", "aria-label": "Weight" });
  const models = el("input", {
    name: "arm-models",
    value: arm.models.join(", "),
    list: "model-ids",
    placeholder: "model ids",
    "aria-label": "Models",
  });
  const policy = el(
    "select",
    { name: "arm-policy", "aria-label": "Policy" },
    ["uniform", "weighted"].map((p) => el("option", { value: p, selected: p === arm.policy }, p)),
  );
  const modelWeights = el("input", {
    name: "arm-model-weights",
    value: (arm.model_weights ?? []).join(", "),
    placeholder: "model weights (weighted)",
    "aria-label": "Model weights",
  });
  const row = el(
    "div",
    { class: "arm-row" },
    name,
    weight,
    models,
    policy,
    modelWeights,
    el(
      "button",
      {
        type: "button",
        class: "secondary",
        "aria-label": "Remove arm",
        onclick: () => row.remove(),
      },
      "×",
    ),
  );
  row.readArm = () => {
    const read = {
      name: name.value.trim(),
      weight: number(weight.value),
      models: list(models.value),
      policy: policy.value,
    };
    if (modelWeights.value.trim()) read.model_weights = list(modelWeights.value).map(number);
    return read;
  };
  return row;
}

const list = (text) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** A number when the text is one; otherwise the text itself, so the API names the mistake. */
function number(text) {
  const trimmed = String(text).trim();
  if (trimmed === "") return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : trimmed;
}
