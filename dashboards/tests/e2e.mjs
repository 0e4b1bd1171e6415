// The dashboard in a real browser (Debian's Chromium through playwright-core) against a running
// server seeded with simulated history. Run by `tests/api/dashboard.rs` in `make test`:
//   BLENDLAB_URL=http://127.0.0.1:PORT BLENDLAB_ADMIN_TOKEN=... SCREENSHOT_DIR=... node tests/e2e.mjs
// Exits non-zero on the first failed check and names it.

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = required("BLENDLAB_URL");
const token = required("BLENDLAB_ADMIN_TOKEN");
const experimentKey = process.env.BLENDLAB_EXPERIMENT ?? "chai-blend";
const shots = process.env.SCREENSHOT_DIR ?? "dashboard-screenshots";
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
rmSync(shots, { recursive: true, force: true });
mkdirSync(shots, { recursive: true });

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition, message, detail) {
  if (!condition) {
    const error = new Error(message + (detail === undefined ? "" : `: ${JSON.stringify(detail).slice(0, 2000)}`));
    error.check = true;
    throw error;
  }
}

async function apiGet(path) {
  const response = await fetch(base + path, { headers: { Authorization: `Bearer ${token}` } });
  check(response.ok, `GET ${path} answered ${response.status}`);
  return response.json();
}

async function apiPost(path, body) {
  const response = await fetch(base + path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  check(response.ok, `POST ${path} answered ${response.status}`, await response.clone().text());
  return response.json();
}

const browser = await chromium.launch({ executablePath, headless: true, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });

// Console errors and page errors fail the run. Chromium logs every 4xx fetch as "Failed to load
// resource"; that is allowed only for a request a step expected to be refused.
let expectRefusals = false;
const expectedRefusals = new Set();
const consoleErrors = [];
const responses = [];
page.on("console", (message) => {
  if (message.type() !== "error") return;
  if (message.text().startsWith("Failed to load resource") && expectedRefusals.has(message.location().url)) return;
  consoleErrors.push(`${message.text()} (${message.location().url || page.url()})`);
});
page.on("pageerror", (error) => consoleErrors.push(`page error: ${error.message}`));
page.on("response", (response) => {
  if (expectRefusals && response.status() >= 400) expectedRefusals.add(response.url());
  responses.push({ url: response.url(), status: response.status(), refusalsExpected: expectRefusals });
});
page.on("dialog", (dialog) => consoleErrors.push(`unexpected ${dialog.type()} dialog: ${dialog.message()}`));

const steps = [];
async function step(name, body) {
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
    console.error(`FAIL ${name}: ${error.check ? error.message : error.stack}`);
    if (consoleErrors.length) console.error(`console errors so far: ${consoleErrors.join("\n")}`);
    await browser.close();
    process.exit(1);
  }
  check(consoleErrors.length === 0, `${name}: console errors`, consoleErrors);
  steps.push(name);
  console.log(`ok   ${name} (${Date.now() - started} ms)`);
}

const apiCalls = () => responses.filter((r) => new URL(r.url).pathname.match(/^\/(api\/v1|v1)\//));

async function shot(name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function charts() {
  return page.evaluate(() =>
    Object.fromEntries(
      Object.entries(window.blendlabCharts).map(([id, chart]) => [
        id,
        { labels: chart.data.labels, datasets: chart.data.datasets.map((d) => ({ label: d.label, data: d.data })) },
      ]),
    ),
  );
}

/** Distinct opaque colours drawn on a canvas: a blank or single-colour canvas has drawn nothing. */
async function paintedColours(selector) {
  return page.$eval(selector, (canvas) => {
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const colours = new Set();
    for (let i = 0; i < data.length; i += 4 * 7) if (data[i + 3] > 0) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
    return colours.size;
  });
}

const same = (a, b) => (a === null || a === undefined ? b === null || b === undefined : Math.abs(a - b) < 1e-12);

await step("the sign-in form comes first and nothing is requested before it", async () => {
  await page.goto(`${base}/`);
  await page.waitForSelector("#admin-token");
  check((await page.getAttribute("#admin-token", "type")) === "password", "the token field is a password field");
  check(apiCalls().length === 0, "API requests before sign-in", apiCalls());
  await shot("01-sign-in");
});

await step("a wrong token is refused with a message", async () => {
  expectRefusals = true;
  await page.fill("#admin-token", "not-the-admin-token-0000");
  await page.press("#admin-token", "Enter");
  await page.waitForSelector("#sign-in .error");
  check((await page.textContent("#sign-in .error")).includes("refused"), "the refusal is explained");
  expectRefusals = false;
});

await step("signing in with Enter lists the experiments as links with their keys", async () => {
  await page.fill("#admin-token", token);
  await page.press("#admin-token", "Enter");
  const link = page.locator("a.experiment-link", { hasText: experimentKey });
  await link.waitFor();
  const row = page.locator(`tr[data-experiment="${experimentKey}"]`);
  await row.locator(".headline").first().waitFor();
  const text = await row.textContent();
  for (const expected of ["running", "control", "blend", "D1 ×", "D7 ×", "D30 ×", "ok"]) {
    check(text.includes(expected), `the experiment row shows ${expected}`, text);
  }
  const exposures = await apiGet(`/api/v1/experiments/${experimentKey}/exposures`);
  check(text.includes(exposures.users.toLocaleString("en-US")), "the row shows the users so far", { text, users: exposures.users });
  const refusedAfterSignIn = responses.filter((r) => r.status === 401 && !r.refusalsExpected);
  check(refusedAfterSignIn.length === 0, "requests failed with 401", refusedAfterSignIn);
  await shot("02-experiments");
});

let shownAsOf;
await step("the experiment page draws the report's retention, ratio and engagement curves", async () => {
  await page.click(`a.experiment-link:has-text("${experimentKey}")`);
  await page.waitForSelector(".report[data-as-of]");
  await page.waitForFunction(() => ["retention", "ratio", "time-spent", "user-messages", "exposures"].every((id) => window.blendlabCharts[id]));
  shownAsOf = await page.getAttribute(".report", "data-as-of");
  const report = await apiGet(`/api/v1/experiments/${experimentKey}/reports/${shownAsOf}`);
  const drawn = await charts();
  for (const arm of report.arms) {
    const retention = drawn.retention.datasets.find((d) => d.label === arm.arm);
    check(retention, `a retention curve for ${arm.arm}`);
    check(retention.data.length === arm.retention.length, "one retention point per day", retention.data.length);
    arm.retention.forEach((day, i) => check(same(retention.data[i], day.rate), `retention of ${arm.arm} on day ${day.day}`, [retention.data[i], day.rate]));
    const time = drawn["time-spent"].datasets.find((d) => d.label === arm.arm);
    arm.engagement.forEach((day, i) => check(same(time.data[i], day.mean_time_spent_s), `time spent of ${arm.arm} on day ${day.day}`));
    if (arm.arm === report.control) continue;
    const ratio = drawn.ratio.datasets.find((d) => d.label === `${arm.arm} / control`);
    arm.retention.forEach((day, i) => check(same(ratio.data[i], day.vs_control?.ratio), `ratio of ${arm.arm} on day ${day.day}`));
    const upper = drawn.ratio.datasets.find((d) => d.label === `_${arm.arm} 95% CI high`);
    arm.retention.forEach((day, i) => check(same(upper.data[i], day.vs_control?.ci_high), `CI band of ${arm.arm} on day ${day.day}`));
    const points = ratio.data.filter((v) => v !== null).length;
    check(points >= 25, "the ratio curve has a point for most days", points);
    check(drawn.ratio.datasets.some((d) => d.label.startsWith(`${arm.arm} fit`)), "the power-law fit is drawn");
  }
  for (const id of ["retention", "ratio", "time-spent", "user-messages", "exposures"]) {
    const colours = await paintedColours(`#chart-${id}`);
    check(colours > 3, `chart ${id} has drawn something`, colours);
  }
  const exposures = await apiGet(`/api/v1/experiments/${experimentKey}/exposures`);
  const bars = drawn.exposures.datasets.flatMap((d) => d.data).reduce((a, b) => a + b, 0);
  check(bars === exposures.users, "the exposure bars add up to the users exposed", [bars, exposures.users]);
  const significanceRows = await page.locator("#significance tbody tr").count();
  check(significanceRows === 5, "the significance table shows the key days", significanceRows);
  await page.check("#all-days");
  check((await page.locator("#significance tbody tr").count()) === 31, "all days on request");
  const chances = await page.locator("#significance tbody td.chance-to-win").allTextContents();
  const treatment = report.arms.find((arm) => arm.arm !== report.control);
  const expected = treatment.retention.map((day) => (typeof day.vs_control?.bayes?.chance_to_win === "number" ? `${(100 * day.vs_control.bayes.chance_to_win).toFixed(1)}%` : "–"));
  check(JSON.stringify(chances) === JSON.stringify(expected), "the chance to win of every day is the report's", [chances, expected]);
  check(expected.some((text) => text !== "–"), "some day has a posterior", expected);
  // CUPED beside the unadjusted difference, every day as the report gives it.
  const pp = (x) => `${x > 0 ? "+" : ""}${(100 * x).toFixed(2)}`;
  const cupedShown = await page.locator("#significance tbody td.cuped-diff").allTextContents();
  const cupedExpected = treatment.retention.map((day) => {
    const c = day.vs_control?.cuped;
    return typeof c?.diff === "number" ? `${pp(c.diff)} pp [${pp(c.ci_low)}, ${pp(c.ci_high)}]` : "–";
  });
  check(JSON.stringify(cupedShown) === JSON.stringify(cupedExpected), "the CUPED difference of every day is the report's", [cupedShown, cupedExpected]);
  check(cupedExpected.some((text) => text !== "–"), "some day has a CUPED difference", cupedExpected);
  // Segments: one row per attribute value and treatment, filtered by attribute and value.
  const segments = report.segments ?? [];
  const treatments = report.arms.filter((arm) => arm.arm !== report.control);
  check(segments.some((s) => s.attribute === "platform" && s.value === "web"), "the report has the platform segments", segments.map((s) => [s.attribute, s.value]));
  const segmentRows = () => page.locator("#segments tbody tr.segment-row");
  check((await segmentRows().count()) === segments.length * treatments.length, "every segment and treatment has a row", await segmentRows().count());
  await page.selectOption("#segment-attribute", "platform");
  await page.fill("#segment-search", "web");
  const web = segments.find((s) => s.attribute === "platform" && s.value === "web");
  check((await segmentRows().count()) === treatments.length, "filtered to web users", await segmentRows().count());
  const primaryDay = Number(/_d(\d+)$/.exec(web.heterogeneity_metric)[1]);
  const webArm = web.arms.find((arm) => arm.arm === treatments[0].arm);
  const holmShown = await page.textContent(`#segments tr.segment-row[data-arm="${treatments[0].arm}"] td.segment-holm`);
  const p = webArm.retention[primaryDay].vs_control?.p_value_adjusted;
  const holmExpected = typeof p !== "number" ? "–" : p < 0.0001 ? "<0.0001" : p.toFixed(4);
  check(holmShown === holmExpected, "the web segment's Holm p is the report's", [holmShown, holmExpected]);
  await page.locator("#segments").screenshot({ path: join(shots, "03c-segments-web.png") });
  await page.fill("#segment-search", "");
  await page.selectOption("#segment-attribute", "");
  const components = await page.locator("#attribution tbody tr").allTextContents();
  for (const model of ["small-a", "small-b", "small-c"]) check(components.some((t) => t.includes(model)), `attribution of ${model}`, components);
  const policies = await page.locator("#policy-values tbody tr").allTextContents();
  for (const policy of ["uniform", "only:small-a", "no_repeat"]) check(policies.some((t) => t.startsWith(policy)), `the what-if table has ${policy}`, policies);
  check((await page.textContent("#power-law")).match(/\d\.\d{3}/), "the power-law table has numbers");
  // The verdict and the definition's three guardrails, as the report gives them.
  const decision = treatment.decision;
  check(decision && ["ship", "no_ship", "keep_running"].includes(decision.verdict), "the report has a verdict", decision);
  const shown = await page.getAttribute(`#decision .decision[data-arm="${treatment.arm}"] .verdict`, "data-verdict");
  check(shown === decision.verdict, "the decision card shows the report's verdict", [shown, decision.verdict]);
  const reasons = await page.locator(`#decision .decision[data-arm="${treatment.arm}"] li`).allTextContents();
  check(JSON.stringify(reasons) === JSON.stringify(decision.reasons), "every reason is listed", [reasons, decision.reasons]);
  check(treatment.guardrail_tests.length === 3, "the definition's three guardrails are tested", treatment.guardrail_tests);
  for (const test of treatment.guardrail_tests) {
    const row = await page.textContent(`#decision tr[data-guardrail="${treatment.arm}/${test.metric}"]`);
    check(row.includes(test.status.replace("_", " ")), `guardrail ${test.metric} shows its status`, [row, test.status]);
  }
  await shot("03-experiment");
  // The README's picture: the top of the page, down to the ratio chart.
  const bottom = await page.$eval("#chart-ratio", (canvas) => canvas.getBoundingClientRect().bottom + window.scrollY + 24);
  await page.screenshot({ path: join(shots, "experiment-top.png"), fullPage: true, clip: { x: 0, y: 0, width: 1366, height: bottom } });
});

await step("the blend policy shows each blended arm's probabilities", async () => {
  await page.waitForSelector("#policy .policy-arm");
  const policy = await apiGet(`/api/v1/experiments/${experimentKey}/policy`);
  const blend = policy.arms.find((a) => a.arm === "blend");
  check(blend && blend.policy === "uniform" && blend.version === null, "the example's blend is uniform", blend);
  const rows = await page.locator('#policy .policy-arm[data-arm="blend"] tbody tr').allTextContents();
  check(rows.length === 3 && rows.every((t) => t.includes("33.3%")), "one row per component at 1/3", rows);
});

await step("an adaptive arm's component probabilities are drawn over time", async () => {
  await page.goto(`${base}/#/experiments/adaptive-blend`);
  await page.waitForFunction(() => window.blendlabCharts["policy-adaptive"]);
  const policy = await apiGet("/api/v1/experiments/adaptive-blend/policy?history=true");
  const adaptive = policy.arms.find((a) => a.arm === "adaptive");
  check(adaptive.policy === "thompson" && adaptive.history.length >= 5, "seeded snapshots and the current one", adaptive.history.length);
  const drawn = (await charts())["policy-adaptive"];
  check(drawn.labels.length === adaptive.history.length, "one point per snapshot", [drawn.labels.length, adaptive.history.length]);
  for (const { model } of adaptive.models) {
    const series = drawn.datasets.find((d) => d.label === model);
    check(series, `a probability line for ${model}`);
    adaptive.history.forEach((snapshot, i) => {
      const expected = snapshot.models.find((m) => m.model === model).probability;
      check(same(series.data[i], expected), `${model}'s probability in snapshot ${snapshot.version}`, [series.data[i], expected]);
    });
  }
  check((await paintedColours("#chart-policy-adaptive")) > 3, "the policy chart has drawn something");
  const rows = await page.locator('#policy .policy-arm[data-arm="adaptive"] tbody tr').count();
  check(rows === 3, "a row per component with its rewards", rows);
  await shot("03b-adaptive-policy");
  await page.goto(`${base}/#/experiments/${experimentKey}`);
  await page.waitForSelector(".report[data-as-of]");
});

await step("an earlier daily report can be picked", async () => {
  const options = await page.$$eval("#as-of option", (list) => list.map((o) => o.value).filter((v) => !v.startsWith("live:")));
  check(options.length >= 2, "several stored reports to pick from", options);
  const earlier = options[options.length - 1];
  await page.selectOption("#as-of", earlier);
  await page.waitForSelector(`.report[data-as-of="${earlier}"]`);
  await page.waitForFunction(() => window.blendlabCharts.ratio);
  const report = await apiGet(`/api/v1/experiments/${experimentKey}/reports/${earlier}`);
  const drawn = await charts();
  const arm = report.arms.find((a) => a.arm !== report.control);
  const ratio = drawn.ratio.datasets.find((d) => d.label === `${arm.arm} / control`);
  arm.retention.forEach((day, i) => check(same(ratio.data[i], day.vs_control?.ratio), `ratio of ${earlier} on day ${day.day}`));
});

await step("exposures per day update live as users arrive", async () => {
  const before = (await apiGet(`/api/v1/experiments/${experimentKey}/exposures`)).users;
  await apiPost("/api/v1/chat", { experiment: experimentKey, user_id: `ui-newcomer-${Date.now()}`, message: "Hi!", max_tokens: 2 });
  await page.waitForFunction(
    (want) => (window.blendlabCharts.exposures?.data.datasets ?? []).flatMap((d) => d.data).reduce((a, b) => a + b, 0) === want,
    before + 1,
    { timeout: 20_000 },
  );
});

await step("the leaderboard lists every arm against control and sorts", async () => {
  await page.goto(`${base}/#/leaderboard`);
  await page.waitForSelector(`tr[data-row="${experimentKey}/blend"]`);
  check((await page.locator(`tr[data-row="${experimentKey}/control"]`).count()) === 0, "controls are hidden by default");
  await page.check("#include-controls");
  await page.waitForSelector(`tr[data-row="${experimentKey}/control"]`);
  const board = await apiGet("/api/v1/leaderboard");
  const blend = board.experiments.find((e) => e.experiment === experimentKey).arms.find((a) => a.arm === "blend");
  const row = await page.textContent(`tr[data-row="${experimentKey}/blend"]`);
  check(row.includes(`×${blend.d7.ratio.toFixed(3)}`), "the D7 ratio from the report", [row, blend.d7.ratio]);
  check(row.includes("blend of 3"), "blends are marked as such", row);
  const verdict = await page.getAttribute(`tr[data-row="${experimentKey}/blend"] .verdict`, "data-verdict");
  check(blend.decision && verdict === blend.decision.verdict, "the leaderboard shows the verdict", [verdict, blend.decision]);
  await page.click('th[data-sort="arm"]');
  check((await page.getAttribute('th[data-sort="arm"]', "aria-sort")) === "ascending", "sorted by arm");
  const arms = await page.$$eval("tr[data-row]", (rows) => rows.map((r) => r.dataset.row.split("/")[1]));
  check(JSON.stringify(arms) === JSON.stringify([...arms].sort((a, b) => a.localeCompare(b))), "rows in arm order", arms);
  await page.click('th[data-sort="arm"]');
  check((await page.getAttribute('th[data-sort="arm"]', "aria-sort")) === "descending", "sorted by arm, descending");
  await shot("04-leaderboard");
});

await step("an experiment created through the form is stored", async () => {
  await page.goto(`${base}/#/experiments`);
  await page.click("#new-experiment");
  await page.waitForSelector("#experiment-form");
  await page.fill('#experiment-form input[name="key"]', "ui-created");
  await page.fill('#experiment-form input[name="name"]', "Made in the browser");
  await page.fill('#experiment-form .arm-row:nth-child(1) input[name="arm-models"]', "large");
  await page.fill('#experiment-form .arm-row:nth-child(2) input[name="arm-models"]', "small-a, small-b");
  await page.fill('#experiment-form input[name="primary_metric"]', "retention_d1");
  await page.click("#add-guardrail");
  await page.fill('#experiment-form .guardrail-row input[name="guardrail-metric"]', "retention_d3");
  await page.selectOption('#experiment-form .guardrail-row select[name="guardrail-direction"]', "max_relative_decrease");
  await page.fill('#experiment-form .guardrail-row input[name="guardrail-margin"]', "0.05");
  await shot("05-new-experiment");
  await page.click('#experiment-form button[type="submit"]');
  await page.waitForFunction(() => window.location.hash === "#/experiments/ui-created");
  await page.waitForSelector(".status-draft");
  await page.waitForSelector("#no-exposures");
  const stored = await apiGet("/api/v1/experiments/ui-created");
  check(stored.name === "Made in the browser" && stored.arms[1].models.join() === "small-a,small-b", "stored as entered", stored);
  check(stored.primary_metric === "retention_d1", "the primary metric is stored", stored);
  check(JSON.stringify(stored.guardrails) === JSON.stringify([{ metric: "retention_d3", max_relative_decrease: 0.05 }]), "the guardrail is stored", stored);
});

await step("a draft is edited through the form and started", async () => {
  await page.click('button:has-text("Edit")');
  await page.waitForSelector("#experiment-form");
  check(await page.isDisabled('#experiment-form input[name="key"]'), "the key of an experiment cannot change");
  await page.fill('#experiment-form input[name="name"]', "Edited in the browser");
  await page.fill('#experiment-form .arm-row:nth-child(1) input[name="arm-weight"]', "0.25");
  await page.fill('#experiment-form .arm-row:nth-child(2) input[name="arm-weight"]', "0.75");
  await page.click('#experiment-form button[type="submit"]');
  await page.waitForSelector('.lede:has-text("Edited in the browser")');
  const edited = await apiGet("/api/v1/experiments/ui-created");
  check(edited.name === "Edited in the browser" && edited.arms[1].weight === 0.75, "the edit is stored", edited);
  check(edited.guardrails?.length === 1 && edited.primary_metric === "retention_d1", "an edit keeps the decision rules", edited);
  await page.click('button:has-text("Start")');
  await page.waitForSelector(".status-running");
  check((await apiGet("/api/v1/experiments/ui-created")).status === "running", "started through the page");
});

await step("a bad experiment shows the API's validation error", async () => {
  await page.goto(`${base}/#/experiments`);
  await page.click("#new-experiment");
  await page.waitForSelector("#experiment-form");
  await page.fill('#experiment-form input[name="key"]', "ui-bad");
  await page.fill('#experiment-form input[name="name"]', "Weights that do not add up");
  await page.fill('#experiment-form .arm-row:nth-child(2) input[name="arm-weight"]', "0.2");
  await page.fill('#experiment-form .arm-row:nth-child(2) input[name="arm-models"]', "no-such-model");
  expectRefusals = true;
  await page.click('#experiment-form button[type="submit"]');
  await page.waitForSelector("#experiment-form .error");
  expectRefusals = false;
  const error = await page.textContent("#experiment-form .error");
  check(error.includes("invalid_experiment"), "the API's error code is shown", error);
  check(error.includes("no-such-model") && error.includes("weight"), "every problem is named", error);
  await shot("06-invalid-experiment");
  const response = await fetch(`${base}/api/v1/experiments/ui-bad`, { headers: { Authorization: `Bearer ${token}` } });
  check(response.status === 404, "the bad experiment was not stored", response.status);
});

await step("a playground message gets a real reply labelled with its arm and component", async () => {
  await page.goto(`${base}/#/playground`);
  await page.waitForSelector(`#playground-experiment option[value="${experimentKey}"]`, { state: "attached" });
  await page.selectOption("#playground-experiment", experimentKey);
  await page.fill("#playground-user", "ui-player-1");
  await page.dispatchEvent("#playground-user", "change");
  await page.fill("#playground-message", "Hello! What is your favourite colour?");
  await page.press("#playground-message", "Enter");
  await page.waitForSelector('.bubble.assistant[data-done="true"]', { timeout: 180_000 });
  const component = await page.getAttribute(".bubble.assistant [data-component]", "data-component");
  const label = await page.textContent(".bubble.assistant .reply-label");
  const reply = await page.textContent(".bubble.assistant .reply-text");
  check(["large", "small-a", "small-b", "small-c"].includes(component), "a component of the experiment", component);
  check(/arm (control|blend)/.test(label) && /\d+ ms/.test(label) && /\d+ tokens/.test(label), "arm, latency and tokens are shown", label);
  const assignment = await apiGet(`/api/v1/experiments/${experimentKey}/assignment/ui-player-1`);
  check(label.includes(`arm ${assignment.arm}`), "the arm is the user's assignment", [label, assignment]);
  const conversationText = await page.textContent("#playground-arm");
  const conversationId = conversationText.match(/conversation (\S+)/)[1];
  const stored = await apiGet(`/api/v1/conversations/${conversationId}`);
  const last = stored.messages[stored.messages.length - 1];
  check(last.role === "assistant" && last.model === component && last.content === reply, "the reply shown is the one logged", [last, component, reply]);
  await shot("07-playground");
});

await step("the pages fit a phone screen", async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const [hash, name, ready] of [
    ["#/experiments", "08-phone-experiments", "a.experiment-link"],
    [`#/experiments/${experimentKey}`, "09-phone-experiment", ".report[data-as-of]"],
    ["#/leaderboard", "10-phone-leaderboard", "tr[data-row]"],
    ["#/playground", "11-phone-playground", "#playground-message"],
  ]) {
    await page.goto(`${base}/${hash}`);
    await page.waitForSelector(ready);
    await page.waitForTimeout(200);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 1, `${hash} does not scroll sideways on a phone`, overflow);
    await shot(name);
  }
});

await browser.close();
console.log(`dashboard: ${steps.length} checks passed; screenshots in ${shots}`);
