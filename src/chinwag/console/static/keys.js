// Keys (admin): create (the key is shown once), list, revoke; publishable keys show their
// allowed origins and the widget tag a site pastes.
import { useState } from "/admin/vendor/hooks.mjs";
import { api, html, Problem, Select, useApi, when } from "./lib.js";

// The widget's one tag (docs/widget.md); `key` is the key itself or, for a listed key, a placeholder.
export function snippet(bot, key) {
  return `<script src="${location.origin}/widget.js" data-key="${key}" data-bot="${bot}" defer></script>`;
}

function CreateKey({ bots, onCreated }) {
  const [draft, setDraft] = useState({ kind: "secret", name: "", bot_id: "", origins: "" });
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.target.value });
  // The bots arrive after the page renders (a reload, a link): the shown bot is the chosen
  // one, else the first, and the key is made for the bot that is shown.
  const bot = bots.includes(draft.bot_id) ? draft.bot_id : bots[0] || "";
  const submit = async (e) => {
    e.preventDefault();
    const body = { kind: draft.kind, name: draft.name };
    if (draft.kind !== "admin") body.bot_id = bot;
    if (draft.kind === "publishable") body.allowed_origins = draft.origins.split(/[\s,]+/).filter(Boolean);
    try { setCreated(await api("/v1/keys", { method: "POST", body })); setError(null); onCreated(); }
    catch (err) { setError(err); }
  };
  return html`<form class="card" id="create-key" onSubmit=${submit}><h2>Create a key</h2>
    <div class="filters">
      <label>Kind <${Select} name="kind" value=${draft.kind} onChange=${(v) => setDraft({ ...draft, kind: v })}
        options=${[["secret", "bot secret (server side)"], ["publishable", "publishable (widget)"], ["admin", "admin (every bot)"]]} /></label>
      <label>Name <input name="name" value=${draft.name} onInput=${set("name")} required placeholder="what it is for" /></label>
      ${draft.kind !== "admin" ? html`<label>Bot <${Select} name="bot_id" value=${bot} onChange=${(v) => setDraft({ ...draft, bot_id: v })}
        options=${bots.map((b) => [b, b])} /></label>` : null}
      ${draft.kind === "publishable" ? html`<label>Allowed origins <input name="origins" size="34" value=${draft.origins} onInput=${set("origins")} placeholder="https://shop.example" required /></label>` : null}
      <button class="primary" type="submit">Create</button></div>
    <${Problem} error=${error} />
    ${created ? html`<div id="new-key"><p><b>Copy this key now: it is shown only once.</b></p><div class="secret">${created.key}</div>
      ${created.identity_secret ? html`<p class="small">Identity secret (for your server, to sign user ids): <span class="secret">${created.identity_secret}</span></p>` : null}
      ${created.kind === "publishable" ? html`<p class="small">Paste on ${created.allowed_origins.join(", ")}:</p><code class="snippet">${snippet(created.bot_id, created.key)}</code>` : null}
    </div>` : null}</form>`;
}

export function Keys({ bots }) {
  const [keys, error, reload] = useApi("/v1/keys?include_revoked=true");
  const [actionError, setActionError] = useState(null);
  const revoke = async (key) => {
    if (!confirm(`Revoke ${key.name} (${key.prefix}…)? Everything using it stops working.`)) return;
    try { await api(`/v1/keys/${encodeURIComponent(key.id)}`, { method: "DELETE" }); reload(); }
    catch (err) { setActionError(err); }
  };
  return html`<h1>Keys</h1>
    <${CreateKey} bots=${bots} onCreated=${reload} />
    <${Problem} error=${error || actionError} />
    ${keys ? html`<table id="keys"><thead><tr><th>Name</th><th>Kind</th><th>Bot</th><th>Key</th><th>Allowed origins</th><th>Created</th><th></th></tr></thead><tbody>
      ${keys.map((k) => html`<tr data-key=${k.id} class=${k.revoked_at ? "muted" : ""}><td>${k.name}</td><td>${k.kind}</td><td>${k.bot_id || "all"}</td>
        <td><code>${k.prefix}…</code></td><td class="small">${k.allowed_origins.join(", ")}
          ${k.kind === "publishable" && !k.revoked_at ? html`<details><summary>snippet</summary><code class="snippet">${snippet(k.bot_id, "PASTE_THE_KEY")}</code>
            <p class="small muted">Replace PASTE_THE_KEY with the key shown when it was created (it begins <code>${k.prefix}</code>).</p></details>` : null}</td>
        <td class="small">${when(k.created_at)}</td>
        <td>${k.revoked_at ? html`<span class="badge bad">revoked</span>` : html`<button class="danger" onClick=${() => revoke(k)}>Revoke</button>`}</td></tr>`)}
    </tbody></table>` : null}`;
}
