// A tiny element builder. Text always goes in as text nodes, never as HTML, so experiment names,
// model ids and chat replies cannot inject markup.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A box that shows an API error the way the API said it. */
export function errorBox(error) {
  const code = error?.code ? `${error.code}: ` : "";
  return el("div", { class: "error", role: "alert" }, code, error?.message ?? String(error));
}

export function loading(text = "Loading…") {
  return el("p", { class: "muted" }, text);
}

/** A table that scrolls sideways on narrow screens instead of widening the page. */
export function table(headers, rows, attributes = {}) {
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      attributes,
      el("thead", {}, el("tr", {}, headers.map((h) => (h instanceof Node ? h : el("th", {}, h))))),
      el("tbody", {}, rows),
    ),
  );
}
