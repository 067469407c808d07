// Operators (admin keys, and operators with the admin role): the people who answer handed-over
// conversations. Create (the password is set here and never shown again), list, remove (their
// sessions end at once), and the sign-in lockouts kept in the database.
import { useState } from "/admin/vendor/hooks.mjs";
import { api, html, Problem, Select, useApi, when } from "./lib.js";

function CreateOperator({ bots, onCreated }) {
  const empty = { name: "", email: "", password: "", role: "operator", bots: [], typed: "" };
  const [draft, setDraft] = useState(empty);
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.target.value });
  const tick = (bot) => (e) => setDraft({ ...draft, bots: e.target.checked ? [...draft.bots, bot] : draft.bots.filter((b) => b !== bot) });
  const submit = async (e) => {
    e.preventDefault();
    const chosen = bots.length ? draft.bots : draft.typed.split(/[\s,]+/).filter(Boolean);
    const body = { name: draft.name, email: draft.email, password: draft.password, role: draft.role, bots: draft.role === "admin" ? [] : chosen };
    try { setCreated(await api("/v1/operators", { method: "POST", body })); setDraft(empty); setError(null); onCreated(); }
    catch (err) { setError(err); }
  };
  return html`<form class="card" id="create-operator" onSubmit=${submit}><h2>Add an operator</h2>
    <div class="filters">
      <label>Name (visitors see it) <input name="name" value=${draft.name} onInput=${set("name")} required /></label>
      <label>Email <input name="email" type="email" value=${draft.email} onInput=${set("email")} required /></label>
      <label>Password (10 characters or more) <input name="password" type="password" autocomplete="new-password" value=${draft.password} onInput=${set("password")} required /></label>
      <label>Role <${Select} name="role" value=${draft.role} onChange=${(v) => setDraft({ ...draft, role: v })}
        options=${[["operator", "operator (the bots ticked)"], ["admin", "admin (every bot, and operators)"]]} /></label></div>
    ${draft.role === "operator" ? (bots.length
      ? html`<div class="row spaced">Answers for: ${bots.map((b) => html`<label class="check"><input type="checkbox" name="bots" value=${b}
          checked=${draft.bots.includes(b)} onChange=${tick(b)} />${b}</label>`)}</div>`
      : html`<label class="spaced">Bots (ids, comma-separated) <input name="bots" value=${draft.typed} onInput=${set("typed")} /></label>`) : null}
    <button class="primary" type="submit">Add operator</button>
    <${Problem} error=${error} />
    ${created ? html`<p class="ok" role="status">${created.name} can sign in at ${location.origin}/admin with ${created.email} and the password you chose.</p>` : null}</form>`;
}

export function Operators({ bots }) {
  const [data, error, reload] = useApi("/v1/operators");
  const [lockouts, lockoutsError] = useApi("/v1/operators/lockouts");
  const [actionError, setActionError] = useState(null);
  const remove = async (o) => {
    if (!confirm(`Remove ${o.name} (${o.email})? They are signed out at once; conversations they have go back to waiting.`)) return;
    try { await api(`/v1/operators/${encodeURIComponent(o.id)}`, { method: "DELETE" }); setActionError(null); reload(); }
    catch (err) { setActionError(err); }
  };
  return html`<h1>Operators</h1>
    <${CreateOperator} bots=${bots} onCreated=${reload} />
    <${Problem} error=${error || actionError} />
    ${data ? (data.operators.length ? html`<table id="operators"><thead><tr><th>Name</th><th>Email</th><th>Role</th><th>Bots</th><th>Added</th><th></th></tr></thead><tbody>
      ${data.operators.map((o) => html`<tr data-operator=${o.email}><td>${o.name}</td><td>${o.email}</td><td>${o.role}</td>
        <td>${o.bots === null ? "every bot" : o.bots.join(", ") || html`<span class="muted">none</span>`}</td><td class="small">${when(o.created_at)}</td>
        <td><button class="danger" onClick=${() => remove(o)}>Remove</button></td></tr>`)}</tbody></table>`
      : html`<p class="empty">No operators yet. Add the people who answer visitors above.</p>`) : null}
    <h2>Sign-in lockouts</h2>
    <p class="small muted">A sign-in is locked for a minute after 10 tries for one email (or 30 from one address) in a minute.</p>
    <${Problem} error=${lockoutsError} />
    ${lockouts ? (lockouts.lockouts.length ? html`<table id="lockouts"><thead><tr><th>When</th><th>Email tried</th><th>From</th><th>Limit</th></tr></thead><tbody>
      ${lockouts.lockouts.map((l) => html`<tr><td class="small">${when(l.created_at)}</td><td>${l.email}</td><td><code>${l.client_ip}</code></td><td>${l.scope}</td></tr>`)}</tbody></table>`
      : html`<p class="muted">None.</p>`) : null}`;
}
