// The dashboard: a hash router over four pages behind a one-time sign-in.

import "./style.css";
import { session, verifyToken, whenSignedOut } from "./api.js";
import { destroyCharts } from "./charts.js";
import { clear, el } from "./dom.js";
import { experimentPage } from "./pages/experiment.js";
import { experimentsPage } from "./pages/experiments.js";
import { leaderboardPage } from "./pages/leaderboard.js";
import { playgroundPage } from "./pages/playground.js";

const root = document.getElementById("app");
const nav = document.getElementById("nav");

const routes = [
  [/^#\/experiments\/([a-z0-9-]{1,64})$/, (match) => experimentPage(root, match[1])],
  [/^#\/leaderboard$/, () => leaderboardPage(root)],
  [/^#\/playground$/, () => playgroundPage(root)],
  [/^(#\/?|#\/experiments)?$/, () => experimentsPage(root)],
];

let leavePage = () => {};

function route() {
  leavePage();
  leavePage = () => {};
  destroyCharts();
  if (!session.token()) {
    nav.hidden = true;
    signIn();
    return;
  }
  nav.hidden = false;
  const hash = window.location.hash;
  for (const link of nav.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", hash.startsWith(`#/${link.dataset.nav}`) || (!hash && link.dataset.nav === "experiments"));
  }
  for (const [pattern, page] of routes) {
    const match = hash.match(pattern);
    if (match) {
      leavePage = page(match) ?? (() => {});
      return;
    }
  }
  clear(root, el("h1", {}, "Not found"), el("p", {}, el("a", { href: "#/experiments" }, "Back to the experiments")));
}

/** The admin token, asked for once per browser session in a password field (Enter submits). */
function signIn() {
  const input = el("input", {
    type: "password",
    id: "admin-token",
    name: "admin-token",
    autocomplete: "current-password",
    required: true,
    placeholder: "BLENDLAB_ADMIN_TOKEN",
  });
  const message = el("p", { class: "muted" }, "The token is kept for this browser tab's session only.");
  const form = el(
    "form",
    { class: "card sign-in", id: "sign-in" },
    el("h1", {}, "Sign in"),
    el("label", { for: "admin-token" }, "Admin token"),
    input,
    el("button", { type: "submit" }, "Sign in"),
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    let problem;
    try {
      problem = (await verifyToken(token)) ? null : "That token was refused.";
    } catch (error) {
      problem = error.message;
    }
    if (!problem) {
      session.signIn(token);
      route();
      return;
    }
    clear(message, el("span", { class: "error", role: "alert" }, problem));
    input.select();
  });
  clear(root, form);
  input.focus();
}

whenSignedOut(() => route());
document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  route();
});
window.addEventListener("hashchange", route);
route();
