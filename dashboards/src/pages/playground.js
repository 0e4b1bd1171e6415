// Chat as any user id through the real API. Each reply says which arm and which component wrote
// it, with its latency and tokens, so anyone can feel what a blend is.

import { ApiError, get, streamPost } from "../api.js";
import { clear, el, errorBox, loading } from "../dom.js";
import { millis } from "../format.js";

export function playgroundPage(root) {
  let alive = true;
  let conversationId = null;
  const experiment = el("select", { id: "playground-experiment", "aria-label": "Experiment" });
  const userId = el("input", { id: "playground-user", value: `playground-${randomHex(6)}`, "aria-label": "User id" });
  const maxTokens = el("input", { id: "playground-max-tokens", value: "64", inputmode: "numeric", "aria-label": "Max tokens" });
  const arm = el("span", { id: "playground-arm", class: "muted" });
  const transcript = el("div", { id: "transcript", class: "transcript", "aria-live": "polite" });
  const message = el("textarea", { id: "playground-message", rows: 2, placeholder: "Say something… (Enter sends, Shift+Enter for a new line)", "aria-label": "Message" });
  const send = el("button", { type: "submit", id: "playground-send" }, "Send");
  const form = el("form", { class: "composer", id: "playground-form" }, message, send);
  const reset = () => {
    conversationId = null;
    clear(transcript, el("p", { class: "muted" }, "A new conversation. The user's arm is fixed by the user id; the component is drawn every turn."));
    clear(arm);
  };
  clear(
    root,
    el("div", { class: "page-head" }, el("h1", {}, "Playground")),
    el(
      "div",
      { class: "toolbar" },
      el("label", { class: "field" }, el("span", {}, "Experiment"), experiment),
      el("label", { class: "field" }, el("span", {}, "User id"), userId),
      el("label", { class: "field narrow" }, el("span", {}, "Max tokens"), maxTokens),
      el("button", { type: "button", class: "secondary", id: "playground-new", onclick: reset }, "New conversation"),
    ),
    arm,
    transcript,
    form,
  );
  userId.addEventListener("change", reset);
  experiment.addEventListener("change", reset);
  reset();

  get("/api/v1/experiments")
    .then(({ experiments }) => {
      if (!alive) return;
      const running = experiments.filter((e) => e.status === "running");
      clear(
        experiment,
        running.length ? running.map((e) => el("option", { value: e.key }, `${e.key} (${e.arms.map((a) => a.name).join(" vs ")})`)) : el("option", { value: "" }, "no running experiment"),
      );
    })
    .catch((error) => alive && clear(transcript, errorBox(error)));

  message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = message.value;
    if (!text.trim() || send.disabled) return;
    send.disabled = true;
    if (!conversationId) transcript.replaceChildren();
    transcript.append(el("div", { class: "bubble user" }, el("div", { class: "bubble-label" }, userId.value), el("div", {}, text)));
    const replyText = el("div", { class: "reply-text" }, loading("…"));
    const label = el("div", { class: "bubble-label reply-label" }, "waiting for the model…");
    const bubble = el("div", { class: "bubble assistant" }, label, replyText);
    transcript.append(bubble);
    bubble.scrollIntoView({ block: "end" });
    message.value = "";
    const started = performance.now();
    let streamed = "";
    try {
      await streamPost(
        "/api/v1/chat",
        {
          experiment: experiment.value,
          user_id: userId.value.trim(),
          conversation_id: conversationId,
          message: text,
          max_tokens: Number(maxTokens.value) || undefined,
        },
        (name, data) => {
          if (name === "turn") {
            conversationId = data.conversation_id;
            bubble.dataset.model = data.model;
            bubble.dataset.arm = data.arm ?? "";
            clear(label, `arm ${data.arm ?? "(not enrolled)"} · ${data.model} · writing…`);
            clear(arm, `User ${userId.value} is in arm `, el("strong", {}, data.arm ?? "(not enrolled)"), ` · conversation ${data.conversation_id}`);
          } else if (name === "delta") {
            streamed += data.text;
            clear(replyText, streamed);
          } else if (name === "done") {
            clear(replyText, data.reply);
            const tokens = data.usage?.completion_tokens ?? "?";
            clear(
              label,
              el("span", { class: "badge" }, `arm ${data.arm ?? "(not enrolled)"}`),
              " ",
              el("span", { class: "badge blend", "data-component": data.model }, data.model),
              ` · ${millis(data.latency_ms ?? performance.now() - started)} · ${tokens} tokens`,
            );
            bubble.dataset.done = "true";
          } else if (name === "error") {
            throw new ApiError(0, data.error?.code, data.error?.message);
          }
        },
      );
    } catch (error) {
      clear(label, "error");
      clear(replyText, errorBox(error));
      bubble.dataset.done = "error";
    } finally {
      send.disabled = false;
      message.focus();
    }
  });
  return () => {
    alive = false;
  };
}

function randomHex(length) {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => (b % 16).toString(16)).join("");
}
