// How numbers read on the dashboard.

const missing = "–";

export const isNumber = (v) => typeof v === "number" && Number.isFinite(v);

export function percent(v, digits = 1) {
  return isNumber(v) ? `${(100 * v).toFixed(digits)}%` : missing;
}

export function ratio(v) {
  return isNumber(v) ? `×${v.toFixed(3)}` : missing;
}

export function fixed(v, digits = 2) {
  return isNumber(v) ? v.toFixed(digits) : missing;
}

export function pValue(p) {
  if (!isNumber(p)) return missing;
  if (p < 0.0001) return "<0.0001";
  return p.toFixed(4);
}

export function count(v) {
  return isNumber(v) ? v.toLocaleString("en-US") : missing;
}

export function interval(low, high, format = fixed) {
  return isNumber(low) && isNumber(high) ? `[${format(low)}, ${format(high)}]` : missing;
}

export function seconds(v) {
  if (!isNumber(v)) return missing;
  return v >= 60 ? `${(v / 60).toFixed(1)} min` : `${v.toFixed(1)} s`;
}

export function millis(v) {
  return isNumber(v) ? `${Math.round(v).toLocaleString("en-US")} ms` : missing;
}

/** Whole days from an ISO timestamp to now (or to `until`). */
export function daysSince(iso, until) {
  if (!iso) return null;
  const end = until ? new Date(until) : new Date();
  return Math.max(0, Math.floor((end - new Date(iso)) / 86_400_000));
}

export function today() {
  return new Date().toISOString().slice(0, 10);
}

/**
 * Significance of a comparison: Holm-adjusted (fixed horizon) and the always-valid p-value.
 * Returns a short label and a class for its badge.
 */
export function significance(vs) {
  if (!vs) return { label: "", className: "" };
  const up = vs.diff > 0;
  if (isNumber(vs.seq_p_value) && vs.seq_p_value < 0.05) {
    return { label: up ? "▲ significant" : "▼ significant", className: up ? "good" : "bad" };
  }
  if (isNumber(vs.p_value_adjusted) && vs.p_value_adjusted < 0.05) {
    return { label: up ? "▲ Holm only" : "▼ Holm only", className: "warn" };
  }
  return { label: "not significant", className: "muted" };
}
