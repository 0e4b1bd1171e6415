// One experiment: its report as of a chosen day (stored history or computed now), with retention,
// ratio-to-control and engagement curves, the power-law fit, significance, guardrails, blend
// attribution, exposures per day polled live, and each blended arm's policy over time.

import { get, post } from "../api.js";
import { clear, el, errorBox, loading } from "../dom.js";
import { daysSince, percent, today } from "../format.js";
import { exposuresSection, refreshExposures } from "./experiment-exposures.js";
import { experimentForm } from "./experiment-form.js";
import { policySection } from "./experiment-policy.js";
import { modelIdsOrEmpty } from "./experiments.js";
import { reportSections } from "./report-sections.js";

const POLL_MS = 5000;

export function experimentPage(root, key) {
  let alive = true;
  const head = el("div", { class: "page-head" }, el("h1", {}, key));
  const summary = el("section", { id: "summary" }, loading());
  const formSlot = el("div");
  const picker = el("div", { class: "report-picker" });
  const report = el("section", { id: "report" });
  const exposures = exposuresSection();
  clear(root, el("p", {}, el("a", { href: "#/experiments" }, "← Experiments")), head, summary, formSlot, picker, exposures.node, report, policySection(key));

  let experiment = null;
  const showExperiment = (view) => {
    experiment = view;
    clear(head, el("h1", {}, view.key), el("span", { class: `badge status-${view.status}` }, view.status), actions(view));
    const running = view.started_at ? daysSince(view.started_at, view.stopped_at) : null;
    clear(
      summary,
      el("p", { class: "lede" }, view.name),
      el(
        "div",
        { class: "arms" },
        view.arms.map((arm) =>
          el(
            "div",
            { class: "card arm" },
            el("strong", {}, arm.name),
            arm.name === view.control ? el("span", { class: "badge muted" }, "control") : null,
            el("div", { class: "small" }, `${percent(arm.weight, 0)} of users · ${arm.policy ?? "uniform"}`),
            el("div", { class: "small" }, arm.models.join(", ")),
          ),
        ),
      ),
      el(
        "p",
        { class: "muted small" },
        `Coverage ${percent(view.coverage, 0)} · window ${view.window_days} days · audience ${view.audience}`,
        running !== null ? ` · running ${running} days` : "",
      ),
    );
  };

  const actions = (view) => {
    const buttons = el("div", { class: "actions" });
    const act = (label, path) =>
      el(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: async () => {
            try {
              showExperiment(await post(`/api/v1/experiments/${key}/${path}`));
            } catch (error) {
              clear(formSlot, errorBox(error));
            }
          },
        },
        label,
      );
    if (view.status !== "running") buttons.append(act("Start", "start"));
    if (view.status === "running") buttons.append(act("Stop", "stop"));
    buttons.append(
      el(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: async () =>
            clear(
              formSlot,
              experimentForm({
                existing: experiment,
                modelIds: await modelIdsOrEmpty(),
                onSaved: (saved) => {
                  clear(formSlot);
                  showExperiment(saved);
                },
                onCancel: () => clear(formSlot),
              }),
            ),
        },
        "Edit",
      ),
    );
    return buttons;
  };

  const showReport = async (asOf, live) => {
    clear(report, loading(live ? "Computing the report…" : "Loading the report…"));
    try {
      const data = live
        ? await get(`/api/v1/experiments/${key}/report?as_of=${asOf}`)
        : await get(`/api/v1/experiments/${key}/reports/${asOf}`);
      if (alive) clear(report, reportSections(data));
    } catch (error) {
      if (alive) clear(report, errorBox(error));
    }
  };

  const showPicker = (history) => {
    const days = history.reports.map((r) => r.as_of).reverse();
    const liveValue = `live:${today()}`;
    const select = el(
      "select",
      { id: "as-of", "aria-label": "Report as of" },
      el("option", { value: liveValue }, `Today, computed now (${today()})`),
      days.map((d) => el("option", { value: d }, `Daily report as of ${d}`)),
    );
    select.value = days[0] ?? liveValue;
    select.addEventListener("change", async () => {
      const live = select.value.startsWith("live:");
      // A report needs exposed users; before the first one there is nothing to compute.
      if (live && days.length === 0 && (await exposedUsers()) === 0) {
        clear(report, el("p", { class: "muted", id: "no-exposures" }, "No user has been exposed yet: the report starts with the first exposure."));
        return;
      }
      showReport(live ? select.value.slice(5) : select.value, live);
    });
    clear(
      picker,
      el("label", { for: "as-of" }, "Report "),
      select,
      el("span", { class: "muted small" }, ` ${days.length} stored daily reports`),
    );
    select.dispatchEvent(new Event("change"));
  };

  // The exposure poll's last count, once it has one; asked for only before that.
  const exposedUsers = async () => {
    if (exposures.users !== undefined) return exposures.users;
    try {
      return (await get(`/api/v1/experiments/${key}/exposures`)).users;
    } catch {
      return null;
    }
  };

  (async () => {
    try {
      const [view, history] = await Promise.all([
        get(`/api/v1/experiments/${key}`),
        get(`/api/v1/experiments/${key}/reports`),
      ]);
      if (!alive) return;
      showExperiment(view);
      showPicker(history);
    } catch (error) {
      if (alive) clear(summary, errorBox(error));
    }
  })();

  const poll = async () => {
    if (!alive) return;
    await refreshExposures(exposures, key, () => alive);
    if (alive) timer = setTimeout(poll, POLL_MS);
  };
  let timer = setTimeout(poll, 0);

  return () => {
    alive = false;
    clearTimeout(timer);
  };
}

