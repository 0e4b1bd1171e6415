// The report per value of each user attribute (DESIGN's `segments[]`): a table to filter by
// attribute, arm and value, on the day chosen (the primary metric's day first).

import { el } from "../dom.js";
import { count, interval, fixed, pValue, percent, ratio, significance } from "../format.js";

const DAYS = [1, 3, 7, 14, 30];

export function segmentsCard(report) {
  const segments = report.segments ?? [];
  if (segments.length === 0) return null;
  const treatments = report.arms.filter((a) => a.arm !== report.control).map((a) => a.arm);
  const metric = segments[0].heterogeneity_metric ?? "";
  const primaryDay = Number(/_d(\d+)$/.exec(metric)?.[1] ?? 7);
  const windowDays = report.arms[0]?.retention.length - 1;
  const days = [...new Set([primaryDay, ...DAYS])].filter((d) => d <= windowDays).sort((a, b) => a - b);
  const attributes = [...new Set(segments.map((s) => s.attribute))];

  const attribute = select("segment-attribute", [["", "all attributes"], ...attributes.map((a) => [a, a])]);
  const arm = select("segment-arm", [["", "all arms"], ...treatments.map((a) => [a, a])]);
  const day = select("segment-day", days.map((d) => [String(d), `day ${d}`]), String(primaryDay));
  const search = el("input", { type: "search", id: "segment-search", placeholder: "value contains…", "aria-label": "filter values" });
  const body = el("tbody");
  const render = () => {
    const k = Number(day.value);
    const needle = search.value.trim().toLowerCase();
    body.replaceChildren(
      ...segments
        .filter((s) => !attribute.value || s.attribute === attribute.value)
        .filter((s) => !needle || shown(s.value).toLowerCase().includes(needle))
        .flatMap((s) =>
          s.arms
            .filter((a) => a.arm !== report.control && (!arm.value || a.arm === arm.value))
            .map((a) => segmentRow(s, a, s.arms.find((c) => c.arm === report.control), k)),
        ),
    );
  };
  for (const control of [attribute, arm, day]) control.addEventListener("change", render);
  search.addEventListener("input", render);
  render();
  const headers = ["Attribute", "Value", "Arm", "Users (arm / control)", "Control rate", "Arm rate", "Ratio", "95% CI", "p", "Holm p (across values)", "Heterogeneity p"];
  return el(
    "section",
    { class: "card", id: "segments" },
    el("h2", {}, "Segments"),
    el(
      "p",
      { class: "muted small" },
      `Day-k retention among the users with each value of an attribute at their first exposure. Holm corrects across the attribute's values (the same arm and day). Heterogeneity: the Wald test that the arms' effect on the primary metric (${metric}) is the same in every value of the attribute (OLS with interactions, HC1 errors).`,
    ),
    el("div", { class: "filters small" }, attribute, arm, day, search),
    el("div", { class: "table-wrap" }, el("table", { class: "segments" }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), body)),
  );
}

function select(id, options, value = "") {
  const node = el("select", { id }, options.map(([v, label]) => el("option", { value: v }, label)));
  node.value = value;
  return node;
}

const shown = (value) => (value === "" ? "(none)" : value);

function segmentRow(segment, arm, control, k) {
  const day = arm.retention[k];
  const vs = day?.vs_control;
  const sig = significance(vs);
  return el(
    "tr",
    { class: "segment-row", dataset: { attribute: segment.attribute, value: segment.value, arm: arm.arm } },
    el("td", {}, segment.attribute),
    el("td", { class: "segment-value" }, shown(segment.value)),
    el("td", {}, arm.arm),
    el("td", { class: "num" }, `${count(arm.users)} / ${count(control?.users)}`),
    el("td", { class: "num" }, percent(control?.retention[k]?.rate)),
    el("td", { class: "num" }, percent(day?.rate)),
    el("td", { class: "num" }, vs ? el("span", { class: `chip ${sig.className}`, title: sig.label }, ratio(vs.ratio)) : "–"),
    el("td", { class: "num" }, interval(vs?.ci_low, vs?.ci_high, (v) => fixed(v, 3))),
    el("td", { class: "num" }, pValue(vs?.p_value)),
    el("td", { class: "num segment-holm" }, pValue(vs?.p_value_adjusted)),
    el("td", { class: "num" }, pValue(segment.heterogeneity_p_value)),
  );
}
