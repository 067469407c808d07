// Shared pieces of the console: the API client, navigation, small components.
// Libraries are imported by URL (no import map: the console's CSP allows no inline script).
import { h } from "/admin/vendor/preact.mjs";
import { useEffect, useState } from "/admin/vendor/hooks.mjs";
import htm from "/admin/vendor/htm.mjs";

export const html = htm.bind(h);
let csrf = null;
let onSignedOut = () => {};

export function setSession(session, signedOut) {
  csrf = session ? session.csrf_token : null;
  if (signedOut) onSignedOut = signedOut;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// Every call goes to the public API with the session cookie; changes carry the CSRF token.
export async function api(path, { method = "GET", body, form, raw, headers: extra } = {}) {
  const headers = { ...extra };
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  let payload;
  if (form) payload = form;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 401 && !path.startsWith("/admin/session")) onSignedOut();
  if (!response.ok) {
    let problem = { detail: `HTTP ${response.status}` };
    try { problem = await response.json(); } catch (e) { /* not JSON */ }
    throw new ApiError(response.status, problem);
  }
  if (response.status === 204) return null;
  if (raw) return response.text();
  return response.json();
}

export function navigate(path) {
  history.pushState(null, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function Link({ href, children, ...rest }) {
  const click = (e) => {
    if (e.ctrlKey || e.metaKey || e.button !== 0) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${click} ...${rest}>${children}</a>`;
}

// Loads `path` (re-run when `deps` change); returns [data, error, reload].
export function useApi(path, deps = []) {
  const [state, setState] = useState({ data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setState((s) => ({ data: s.data, error: null }));
    api(path).then((data) => live && setState({ data, error: null }),
                   (error) => live && setState({ data: null, error }));
    return () => { live = false; };
  }, [path, tick, ...deps]);
  return [state.data, state.error, () => setTick((t) => t + 1)];
}

// What a problem+json lists as its causes: `errors` (a request's fields) and `problems` (a bot
// configuration's), each with the path it concerns.
export function causes(problem) {
  const listed = [...(problem.errors || []), ...(problem.problems || [])];
  return listed.map((c) => ({ path: c.path || "", message: c.message || c.msg || JSON.stringify(c) }));
}

// The one place the console shows an error: its message, code, hint and every cause.
export function Problem({ error }) {
  if (!error) return null;
  const p = error.problem || { detail: String(error.message || error) };
  const listed = causes(p);
  return html`<div class="error" role="alert"><strong>${p.detail}</strong>
    ${p.code ? html` <span class="badge bad">${p.code}</span>` : null}
    ${listed.length ? html`<ul class="causes">${listed.map((c) => html`<li>${c.path ? html`<code>${c.path}</code>: ` : null}${c.message}</li>`)}</ul>` : null}
    ${p.hint ? html`<div class="hint">${p.hint}</div>` : null}</div>`;
}

// Dates in the browser's locale and time zone, the same on every screen (exports carry ISO).
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
export const when = (value) => (value ? DATE_TIME.format(new Date(value)) : "");
export const whenDay = (value) => (value ? DATE.format(new Date(value)) : "");
// A chart's day (UTC midnight, as the API counts days): its date in the browser's locale.
const DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
export const dayLabel = (value) => DAY.format(new Date(value));
export const ms = (value) => (value == null ? "–" : `${Math.round(value)} ms`);

// A select that shows `value` whenever it is one of `options` ([value, label] pairs): each
// option carries `selected`, so options that arrive after the value (bots load after the page
// renders) still show it, and a value that is not among them falls back to the first option.
export function Select({ name, value, options, onChange, ...rest }) {
  const shown = options.some(([v]) => v === value) ? value : options.length ? options[0][0] : "";
  return html`<select name=${name} value=${shown} onChange=${(e) => onChange(e.target.value)} ...${rest}>
    ${options.map(([v, label]) => html`<option value=${v} selected=${v === shown}>${label}</option>`)}</select>`;
}

// `allowAll`: an "All bots" choice (value null). Otherwise the shown bot is `value` or the first.
export function BotPicker({ bots, value, onChange, allowAll = false }) {
  const options = [...(allowAll ? [["", "All bots"]] : []), ...bots.map((b) => [b, b])];
  return html`<label>Bot <${Select} name="bot" value=${value || ""} options=${options} onChange=${(v) => onChange(v || null)} /></label>`;
}
