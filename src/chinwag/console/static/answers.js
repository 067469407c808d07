// Curated answers of a bot: list, edit, enable/disable, delete (the /v1/bots/{bot}/answers API).
import { useState } from "/admin/vendor/hooks.mjs";
import { api, BotPicker, html, Link, navigate, Problem, useApi, when } from "./lib.js";

function Row({ bot, item, onChanged }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(item);
  const [error, setError] = useState(null);
  const path = `/v1/bots/${encodeURIComponent(bot)}/answers/${encodeURIComponent(item.id)}`;
  const act = (call) => async () => { try { await call(); setError(null); onChanged(); } catch (err) { setError(err); } };
  const save = act(async () => { await api(path, { method: "PATCH", body: { question: draft.question, answer: draft.answer } }); setEditing(false); });
  const toggle = act(() => api(path, { method: "PATCH", body: { enabled: !item.enabled } }));
  const remove = act(() => confirm("Delete this curated answer?") && api(path, { method: "DELETE" }));
  return html`<tr data-answer=${item.id}>
    <td>${editing ? html`<textarea rows="2" name="question" value=${draft.question} onInput=${(e) => setDraft({ ...draft, question: e.target.value })}></textarea>` : item.question}</td>
    <td>${editing ? html`<textarea rows="4" name="answer" value=${draft.answer} onInput=${(e) => setDraft({ ...draft, answer: e.target.value })}></textarea>` : item.answer}
      ${item.sources.length ? html`<div class="small muted">${item.sources.map((s) => s.url ? html`<a href=${s.url}>${s.title}</a> ` : s.title + " ")}</div>` : null}
      <${Problem} error=${error} /></td>
    <td>${item.enabled ? html`<span class="badge good">enabled</span>` : html`<span class="badge">disabled</span>`}</td>
    <td class="small">${when(item.updated_at)}</td>
    <td><div class="row">${editing ? html`<button class="primary" onClick=${save}>Save</button><button onClick=${() => setEditing(false)}>Cancel</button>`
      : html`<button onClick=${() => setEditing(true)}>Edit</button>`}
      <button onClick=${toggle}>${item.enabled ? "Disable" : "Enable"}</button>
      <button class="danger" onClick=${remove}>Delete</button></div></td></tr>`;
}

export function Answers({ bots, rest }) {
  const bot = rest[0] || bots[0];
  const [data, error, reload] = useApi(bot ? `/v1/bots/${encodeURIComponent(bot)}/answers` : null);
  return html`<h1>Curated answers</h1>
    <div class="filters"><${BotPicker} bots=${bots} value=${bot} onChange=${(b) => navigate(`/admin/answers/${encodeURIComponent(b)}`)} /></div>
    <p class="muted">Approved answers to questions, written here or from a conversation
      (<${Link} href="/admin/conversations?rating=down">answers rated down</${Link}> → Fix this answer).
      Enabled answers are served by the engine once the answer-quality feature is installed; until then they are stored and listed.</p>
    <${Problem} error=${error} />
    ${data && (data.items.length === 0 ? html`<div class="empty">No curated answers yet.</div>`
      : html`<table id="answers"><thead><tr><th>Question</th><th>Answer</th><th>State</th><th>Updated</th><th></th></tr></thead>
        <tbody>${data.items.map((item) => html`<${Row} key=${item.id} bot=${bot} item=${item} onChanged=${reload} />`)}</tbody></table>`)}`;
}
