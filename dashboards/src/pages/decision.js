// The verdict per arm (ship, no ship, keep running) with its reasons, and the guardrails tested
// against their non-inferiority margins (DESIGN: arms[].decision, arms[].guardrail_tests).

import { el, table } from "../dom.js";
import { fixed, isNumber, pValue } from "../format.js";

const VERDICTS = {
  ship: { label: "Ship", className: "good" },
  no_ship: { label: "No ship", className: "bad" },
  keep_running: { label: "Keep running", className: "warn" },
};

const STATUSES = {
  pass: "good",
  fail: "bad",
  inconclusive: "warn",
  not_measured: "muted",
};

/** A verdict as a coloured chip; "–" where the arm has none (control, older reports). */
export function verdictChip(decision) {
  if (!decision) return "–";
  const verdict = VERDICTS[decision.verdict] ?? { label: decision.verdict, className: "muted" };
  return el("span", { class: `chip ${verdict.className} verdict`, dataset: { verdict: decision.verdict }, title: decision.reasons.join("\n") }, verdict.label);
}

function signedPercent(x) {
  return isNumber(x) ? `${x > 0 ? "+" : ""}${(100 * x).toFixed(1)}%` : "–";
}

function guardrailRow(arm, test) {
  const allowed = (test.harm === "increase" ? 1 : -1) * test.margin;
  return el(
    "tr",
    { dataset: { guardrail: `${arm.arm}/${test.metric}` } },
    el("td", {}, arm.arm),
    el("td", {}, test.metric),
    el("td", { class: "num" }, signedPercent(allowed)),
    el("td", { class: "num" }, fixed(test.arm_value, 4)),
    el("td", { class: "num" }, fixed(test.control_value, 4)),
    el("td", { class: "num" }, signedPercent(test.lift)),
    el("td", { class: "num" }, signedPercent(test.bound)),
    el("td", { class: "num" }, pValue(test.p_value)),
    el("td", {}, el("span", { class: `chip ${STATUSES[test.status] ?? "muted"}`, title: test.note ?? "" }, test.status.replace("_", " "))),
  );
}

export function decisionCard(treatments) {
  const verdicts = treatments
    .filter((arm) => arm.decision)
    .map((arm) =>
      el(
        "div",
        { class: "decision", dataset: { arm: arm.arm } },
        el("h3", {}, arm.arm, " ", verdictChip(arm.decision), el("span", { class: "muted small" }, ` on ${arm.decision.primary_metric}`)),
        el("ul", { class: "reasons" }, arm.decision.reasons.map((reason) => el("li", {}, reason))),
      ),
    );
  const rows = treatments.flatMap((arm) => (arm.guardrail_tests ?? []).map((test) => guardrailRow(arm, test)));
  return el(
    "section",
    { class: "card", id: "decision" },
    el("h2", {}, "Decision"),
    el("p", { class: "muted small" }, "Ship when the primary metric is better by its always-valid interval and every guardrail is shown, one-sided at 5%, to stay within its margin."),
    verdicts.length ? verdicts : el("p", { class: "muted" }, "No arm to decide on yet."),
    rows.length
      ? table(["Arm", "Guardrail", "Allowed", "Arm value", "Control value", "Change", "One-sided bound", "p", "Status"], rows, { class: "guardrail-tests" })
      : el("p", { class: "muted small" }, "No guardrails are defined."),
  );
}
