// Knowledge: a bot's index and documents, upload with the ingestion job's live progress,
// delete, and "test a question" ranked per search mode.
import { useState } from "/admin/vendor/hooks.mjs";
import { api, BotPicker, html, navigate, Problem, useApi, when } from "./lib.js";

const names = (value) => (Array.isArray(value) ? (value.length ? value.join(", ") : "none") : value ?? 0);

function Upload({ bot, onDone }) {
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      const accepted = await api(`/v1/bots/${encodeURIComponent(bot)}/knowledge/documents`, { method: "POST", form });
      setError(null);
      let current = await api(accepted.status_url);
      setJob(current);
      while (current.status === "running") {
        await new Promise((r) => setTimeout(r, 300));
        current = await api(accepted.status_url);
        setJob(current);
      }
      e.target.reset();
      onDone();
    } catch (err) { setError(err); }
  };
  const p = job ? job.progress : null;
  const share = p ? (p.chunks ? p.chunks_embedded / p.chunks : p.files_done / Math.max(1, p.files_total)) : 0;
  return html`<form class="card" id="upload" onSubmit=${submit}>
    <h2>Upload or re-index documents</h2>
    <p class="muted small">Text, Markdown, HTML, PDF or CSV. A file with the name of an indexed document replaces it (re-index).</p>
    <div class="row"><input type="file" name="files" multiple required /><button class="primary" type="submit">Upload</button></div>
    ${job ? html`<div class="row spaced" id="job" data-status=${job.status}>
      <div class="progress"><div style=${{ width: `${Math.round(100 * (job.status === "running" ? share : 1))}%` }}></div></div>
      <span>${job.status}: ${p.files_done}/${p.files_total} files, ${p.chunks_embedded}/${p.chunks} chunks embedded</span>
      ${job.summary ? html`<span class="small muted">added ${names(job.summary.added)} · replaced ${names(job.summary.replaced)} · unchanged ${names(job.summary.unchanged)}${job.summary.failed && job.summary.failed.length ? `, failed: ${job.summary.failed.map((f) => `${f.source} (${f.reason})`).join("; ")}` : ""}</span>` : null}
      ${job.error ? html`<span class="bad">${job.error.message}</span>` : null}</div>` : null}
    <${Problem} error=${error} /></form>`;
}

function TestQuestion({ bot }) {
  const [question, setQuestion] = useState("");
  const [results, setResults] = useState(null);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    try {
      const modes = ["vector", "keyword", "hybrid"];
      const found = await Promise.all(modes.map((mode) => api(`/v1/bots/${encodeURIComponent(bot)}/knowledge/search`,
        { method: "POST", body: { query: question, mode, top_k: 5 } }).catch((err) => ({ error: err }))));
      setResults(modes.map((mode, i) => [mode, found[i]]));
      setError(null);
    } catch (err) { setError(err); }
  };
  return html`<form class="card" id="test-question" onSubmit=${run}><h2>Test a question</h2>
    <div class="row"><input name="question" class="grow" value=${question} onInput=${(e) => setQuestion(e.target.value)} placeholder="What would a customer ask?" required />
      <button class="primary" type="submit">Search</button></div>
    <${Problem} error=${error} />
    ${results ? html`<div class="charts spaced">${results.map(([mode, hits]) => html`<div class="mode" data-mode=${mode}><h3>${mode}</h3>
      ${hits.error ? html`<${Problem} error=${hits.error} />` : hits.length === 0 ? html`<div class="empty">No chunk found.</div>`
        : html`<ol>${hits.map((h) => html`<li><b>${h.title || h.document}</b> <span class="badge">${h.score.toFixed(3)}</span>
            <div class="small muted">${h.document}</div><div class="small">${h.snippet}</div></li>`)}</ol>`}</div>`)}</div>` : null}
  </form>`;
}

export function Knowledge({ bots, rest }) {
  const bot = rest[0] || bots[0];
  const [info, error, reload] = useApi(bot ? `/v1/bots/${encodeURIComponent(bot)}/knowledge` : null);
  const [actionError, setActionError] = useState(null);
  const remove = async (source) => {
    if (!confirm(`Delete ${source} and its chunks?`)) return;
    try { await api(`/v1/bots/${encodeURIComponent(bot)}/knowledge/documents/${encodeURIComponent(source)}`, { method: "DELETE" }); reload(); }
    catch (err) { setActionError(err); }
  };
  const docs = info ? Object.entries(info.documents) : [];
  return html`<h1>Knowledge</h1>
    <div class="filters"><${BotPicker} bots=${bots} value=${bot} onChange=${(b) => navigate(`/admin/knowledge/${encodeURIComponent(b)}`)} /></div>
    <${Problem} error=${error || actionError} />
    ${info ? html`<p class="muted">Index <b>${info.index}</b> in ${info.store} · ${info.chunks} chunks · dimension ${info.dimension ?? "–"}</p>
      ${docs.length === 0 ? html`<div class="empty">No documents yet.</div>` : html`<table id="documents"><thead><tr><th>Source</th><th class="num">Chunks</th><th>Checksum</th><th>Added</th><th></th></tr></thead><tbody>
        ${docs.map(([source, doc]) => html`<tr data-source=${source}><td>${source}</td><td class="num chunks">${doc.chunks}</td>
          <td class="small muted" title=${doc.checksum}>${doc.checksum.slice(0, 16)}</td><td class="small added">${doc.added_at ? when(doc.added_at) : "–"}</td>
          <td><button class="danger" onClick=${() => remove(source)}>Delete</button></td></tr>`)}</tbody></table>`}
      <${Upload} bot=${bot} onDone=${reload} />
      <${TestQuestion} bot=${bot} />` : null}`;
}
