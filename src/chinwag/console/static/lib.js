// Shared pieces of the console: the API client, navigation, small components.
import { h } from "preact";
import { useEffect, useState } from "preact/hooks";
import htm from "htm";

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
export async function api(path, { method = "GET", body, form, raw } = {}) {
  const headers = {};
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

export function Problem({ error }) {
  if (!error) return null;
  const p = error.problem || { detail: String(error) };
  return html`<div class="error" role="alert"><strong>${p.detail}</strong>
    ${p.code ? html` <span class="badge bad">${p.code}</span>` : null}
    ${p.hint ? html`<div class="hint">${p.hint}</div>` : null}</div>`;
}

export const when = (value) => (value ? new Date(value).toLocaleString("en-GB", { timeZone: "UTC" }) + " UTC" : "");
export const ms = (value) => (value == null ? "–" : `${Math.round(value)} ms`);

export function BotPicker({ bots, value, onChange, allowAll = false }) {
  return html`<label>Bot
    <select value=${value || ""} onChange=${(e) => onChange(e.target.value || null)} name="bot">
      ${allowAll ? html`<option value="">All bots</option>` : null}
      ${bots.map((b) => html`<option value=${b}>${b}</option>`)}
    </select></label>`;
}
