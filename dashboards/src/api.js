// The admin API, as the dashboard calls it. Nothing is sent before sign-in: without a token
// `api` refuses locally, so no request can fail with 401 while the user has not signed in.

const TOKEN_KEY = "blendlab.adminToken";

export const session = {
  token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An error answer of the API: its status and the `{error: {code, message, param}}` body. */
export class ApiError extends Error {
  constructor(status, code, message, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param ?? null;
  }
}

let onSignedOut = () => {};

/** Called when the server refuses the stored token (it was rotated, say). */
export function whenSignedOut(callback) {
  onSignedOut = callback;
}

export async function api(method, path, body) {
  const token = session.token();
  if (!token) {
    throw new ApiError(401, "signed_out", "Sign in with the admin token first.");
  }
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, "unreachable", `The server did not answer: ${error.message}`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data?.error ?? {};
    if (response.status === 401) {
      session.signOut();
      onSignedOut();
    }
    throw new ApiError(
      response.status,
      error.code ?? `http_${response.status}`,
      error.message ?? (text || response.statusText),
      error.param,
    );
  }
  return data;
}

/** Whether the server accepts `token` as the admin token; other failures are thrown. */
export async function verifyToken(token) {
  const response = await fetch("/api/v1/experiments", { headers: { Authorization: `Bearer ${token}` } });
  if (response.status === 401 || response.status === 403) return false;
  if (!response.ok) throw new ApiError(response.status, `http_${response.status}`, `The server answered ${response.status}.`);
  return true;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);

/**
 * POSTs with `stream: true` and hands each server-sent event to `onEvent(name, data)`.
 * An error before the stream starts is thrown as an ApiError, like `api`.
 */
export async function streamPost(path, body, onEvent) {
  const token = session.token();
  if (!token) throw new ApiError(401, "signed_out", "Sign in with the admin token first.");
  const response = await fetch(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!response.ok) {
    const text = await response.text();
    let error = {};
    try {
      error = JSON.parse(text).error ?? {};
    } catch {
      error = {};
    }
    throw new ApiError(response.status, error.code ?? `http_${response.status}`, error.message ?? text, error.param);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}
