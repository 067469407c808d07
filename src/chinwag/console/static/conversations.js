// Conversations: the filtered list across bots, export, and one conversation's transcript.
import { useEffect, useState } from "/admin/vendor/hooks.mjs";
import { api, BotPicker, html, Link, ms, navigate, Problem, useApi, when } from "./lib.js";
import { RouteFix } from "./routes.js";

const FILTERS = ["bot_id", "since", "until", "q", "user_id", "rating", "has_comment", "status", "flow", "no_sources", "version", "declined"];
const REASONS = { out_of_scope: "out of scope", unanswerable: "unanswerable" };

function readFilters() {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.filter((f) => params.get(f)).map((f) => [f, params.get(f)]));
}

function query(filters, extra = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filters, ...extra })) if (v) params.set(k, v);
  return params.toString();
}

const PAGE = 50;

// How the console names an end user: the name the site gave, else their email, else the id
// (an anonymous visitor is "Anonymous visitor" with the id beside it).
export function personOf(c) {
  const anonymous = /^anon-/.test(c.user_id) || /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(c.user_id);
  const name = c.user_display_name || c.user_email || (anonymous ? "Anonymous visitor" : c.user_id);
  const detail = [c.user_display_name && c.user_email ? c.user_email : null,
    name !== c.user_id ? c.user_id : null].filter(Boolean).join(" · ");
  return { name, detail, title: `end user ${c.user_id}` };
}

// The list, page after page: each "More" asks for the page after the last one shown (the API's
// cursor), so paging goes on however many conversations there are.
function usePages(qs) {
  const [state, setState] = useState({ qs: null, items: [], next: null, error: null, loading: false });
  const load = (cursor) => {
    setState((s) => ({ ...s, loading: true }));
    const url = `/v1/conversations?${query(Object.fromEntries(new URLSearchParams(qs)), { limit: String(PAGE), cursor })}`;
    api(url).then(
      (page) => setState((s) => ({ qs, items: cursor ? [...s.items, ...page.items] : page.items, next: page.next_cursor, error: null, loading: false })),
      (error) => setState((s) => ({ ...s, error, loading: false })));
  };
  useEffect(() => { load(null); }, [qs]);
  return [state.qs === qs ? state : { ...state, items: null }, () => load(state.next)];
}

export function Conversations({ bots, session }) {
  const filters = readFilters();
  const [draft, setDraft] = useState(filters);
  const [list, more] = usePages(query(filters));
  const data = list.items ? list : null;
  const error = list.error;
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.target.type === "checkbox" ? (e.target.checked ? "true" : "") : e.target.value });
  const apply = (e) => { e.preventDefault(); navigate(`/admin/conversations?${query(draft)}`); };
  const exportLink = (format) => `/v1/conversations/export?${query(filters, { format })}`;
  return html`<h1>Conversations</h1>
    <form class="filters card" onSubmit=${apply}>
      <${BotPicker} bots=${bots} value=${draft.bot_id} allowAll=${session.kind === "admin"}
        onChange=${(v) => setDraft({ ...draft, bot_id: v })} />
      <label>From <input type="date" name="since" value=${draft.since || ""} onInput=${set("since")} /></label>
      <label>To <input type="date" name="until" value=${draft.until || ""} onInput=${set("until")} /></label>
      <label>Text <input name="q" value=${draft.q || ""} onInput=${set("q")} placeholder="in any message" /></label>
      <label>End user <input name="user_id" value=${draft.user_id || ""} onInput=${set("user_id")} /></label>
      <label>Rating <select name="rating" value=${draft.rating || ""} onChange=${set("rating")}>
        <option value="">any</option><option value="down">rated down</option><option value="up">rated up</option></select></label>
      <label>Answer status <select name="status" value=${draft.status || ""} onChange=${set("status")}>
        <option value="">any</option><option value="failed">failed</option><option value="interrupted">interrupted</option></select></label>
      <label>Declined <select name="declined" value=${draft.declined || ""} onChange=${set("declined")}>
        <option value="">–</option><option value="any">any reason</option><option value="out_of_scope">out of scope</option><option value="unanswerable">unanswerable</option></select></label>
      <label>Flow <input name="flow" value=${draft.flow || ""} onInput=${set("flow")} size="10" /></label>
      <label>Version <input name="version" type="number" min="1" value=${draft.version || ""} onInput=${set("version")} class="narrow" /></label>
      <label class="check"><input type="checkbox" name="has_comment" checked=${!!draft.has_comment} onChange=${set("has_comment")} /> has comment</label>
      <label class="check"><input type="checkbox" name="no_sources" checked=${!!draft.no_sources} onChange=${set("no_sources")} /> no sources</label>
      <button class="primary" type="submit">Filter</button>
      <span class="row small">Export: <a href=${exportLink("jsonl")} download>JSONL</a> <a href=${exportLink("csv")} download>CSV</a></span>
    </form>
    <${Problem} error=${error} />
    ${data && (data.items.length === 0
      ? html`<div class="empty">No conversation matches these filters.</div>`
      : html`<table id="conversations"><thead><tr><th>Last message</th><th>Bot</th><th>End user</th><th>First question</th><th>Messages</th><th>Rated down</th><th>Declined</th></tr></thead>
        <tbody>${data.items.map((c) => html`<tr class="link" onClick=${() => navigate(`/admin/conversations/${encodeURIComponent(c.bot_id)}/${encodeURIComponent(c.session_id)}`)}>
          <td class="small">${when(c.last_message_at)}</td><td>${c.bot_id}</td><td class="small" title=${c.user_id}>${personOf(c).name}</td>
          <td><${Link} href=${`/admin/conversations/${encodeURIComponent(c.bot_id)}/${encodeURIComponent(c.session_id)}`}>${c.first_message || "(empty)"}</${Link}></td>
          <td>${c.message_count}</td><td>${c.thumbs_down ? html`<span class="badge bad">▼ ${c.thumbs_down}</span>` : ""}</td>
          <td>${Object.entries(REASONS).filter(([r]) => c.declined[r]).map(([r, label]) => html`<span class="badge warn declined">${label}${c.declined[r] > 1 ? ` ×${c.declined[r]}` : ""}</span>`)}</td></tr>`)}
        </tbody></table>
        <p class="row small muted"><span id="shown">${data.items.length} shown</span>
          ${data.next ? html`<button id="more" onClick=${more} disabled=${list.loading}>More</button>` : null}</p>`)}`;
}

function Route({ route }) {
  if (!route) return null;
  if (!route.strategy) return route.declined ? html`<div class="muted">Not routed: the answer policy declined the message first.</div>` : null;
  const scores = route.scores ? Object.entries(route.scores).map(([f, s]) => `${f} ${Number(s).toFixed(2)}`).join(", ") : "";
  return html`<div>Route (${route.strategy || "?"}, ${ms(route.ms)}): flows${" "}
    <b>${route.asks_person ? "handoff: asks for a person" : (route.flows || []).join(", ") || "main only"}</b>${scores ? html` <span class="muted">scores: ${scores}</span>` : null}
    ${route.error ? html` <span class="bad">router failed: ${route.error.code}: ${route.error.message}</span>` : null}
    ${route.verbatim_from ? html` <span class="badge">answered word for word from ${route.verbatim_from}</span>` : null}</div>`;
}

const SCORE_NAMES = { out_of_scope: "out of scope", unknown: "unknown words" };
const score = ([name, value]) => `${SCORE_NAMES[name] || name} ${Number.isInteger(value) ? value : Number(value).toFixed(2)}`;

// A declined answer: why, with the answer policy's scores; an admin can say it was the bot's
// business (a new bot version with the message in policy.in_scope, shown as a diff).
function Declined({ message, bot, admin }) {
  const scores = Object.entries(((message.route || {}).declined || {}).scores || {}).map(score).join(" · ");
  const [saved, setSaved] = useState(null);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState(null);
  const path = (p) => `/v1/bots/${encodeURIComponent(bot)}${p}`;
  const correct = async () => {
    setSaving(true);
    try {
      const done = await api(path(`/messages/${encodeURIComponent(message.id)}/in-scope`), { method: "POST" });
      const change = await api(path(`/diff?old=${done.previous_version}&new=${done.version}`));
      setSaved({ ...done, diff: change.diff }); setError(null);
    } catch (err) { setError(err); }
    setSaving(false);
  };
  const offTopic = message.declined === "out_of_scope";
  return html`<div class="declined" data-declined=${message.declined}>
    <div class="row"><b>Declined: ${REASONS[message.declined] || message.declined}</b>
      ${scores ? html`<span class="small muted">scores: ${scores}</span>` : null}
      ${offTopic && admin && !saved ? html`<button class="small" onClick=${correct} disabled=${saving}>Not a decline: this is our business</button>` : null}
      ${saving ? html`<span class="small muted">Saving a new version and learning its scope…</span>` : null}</div>
    <div class="small muted">${offTopic
      ? (admin ? "The bot judged the message outside its business and gave its decline text, without asking the LLM."
        : "The bot judged the message outside its business. An admin key can mark it as the bot's business.")
      : "Nothing the bot was given (curated answers, flows, documents) answers the message: fix this answer, or add a document that does."}</div>
    ${saved ? html`<div class="ok" role="status">In scope from version ${saved.version} on (it was v${saved.previous_version}): the next message uses it.${" "}
      <${Link} href=${`/admin/bots/${encodeURIComponent(bot)}`}>Versions and rollback</${Link}></div>
      <pre class="diff">${saved.diff.split("\n").map((l) => html`<span class=${l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : ""}>${l || " "}</span>`)}</pre>` : null}
    <${Problem} error=${error} /></div>`;
}

// The answer's tool calls, in order: tool, status and time; where, HTTP status, size and the
// (redacted) arguments when one is opened.
function ToolCalls({ calls }) {
  if (!calls || !calls.length) return null;
  const where = (c) => (c.step != null ? `${c.flow}, step ${c.step}` : `flow ${c.flow}`);
  return html`<ul class="tool-calls" aria-label="Tool calls">${calls.map((c) => html`<li class="tool-call" data-tool=${c.tool}>
    <details><summary><span class="tool-name">${c.tool}</span>${" "}
      <span class=${"badge " + (c.status === "completed" ? "good" : "bad")}>${c.status}${c.error_code ? `: ${c.error_code}` : ""}</span>${" "}
      <span class="muted">${ms(c.ms)}</span></summary>
      <div class="muted">${[where(c), c.http_status ? `HTTP ${c.http_status}` : "no HTTP answer",
        c.bytes != null ? `${c.bytes} bytes` : null, c.attempts > 1 ? `${c.attempts} attempts` : null].filter(Boolean).join(" · ")}</div>
      <pre class="arguments">${JSON.stringify(c.arguments, null, 2)}</pre></details></li>`)}</ul>`;
}

function Answer({ message, question, bot, admin, onFix }) {
  const usage = message.usage || {};
  const [routing, setRouting] = useState(false);
  const routed = admin && message.route && message.route.strategy && !message.route.error;
  return html`<div class="msg assistant" data-message=${message.id}>
    <div class="text">${message.content || html`<i class="muted">(no text)</i>`}</div>
    ${message.declined ? html`<${Declined} message=${message} bot=${bot} admin=${admin} />` : null}
    <div class="meta">
      <span class=${"badge " + (message.status === "complete" ? "good" : "bad")}>${message.status}</span>
      ${message.error_code ? html`<span class="badge bad">${message.error_code}</span>` : null}
      <span>TTFT ${ms(message.ttft_ms)}</span><span>total ${ms(message.total_ms)}</span>
      <span>tokens ${usage.prompt_tokens ?? "–"} in / ${usage.completion_tokens ?? "–"} out</span>
      <span>version ${message.bot_version ?? "–"}</span>
      ${message.feedback.map((f) => html`<span class=${"badge " + (f.rating < 0 ? "bad" : "good")}>${f.rating < 0 ? "▼ rated down" : "▲ rated up"}${f.comment ? `: ${f.comment}` : ""}</span>`)}
      <button class="small" onClick=${() => onFix(message, question)}>Fix this answer</button>
      ${routed && !routing ? html`<button class="small" onClick=${() => setRouting(true)}>Fix route</button>` : null}
    </div>
    <${ToolCalls} calls=${message.tool_calls} />
    ${routing ? html`<${RouteFix} bot=${bot} messageId=${message.id} question=${question} chosen=${message.route.flows}
      onClose=${() => setRouting(false)} />` : null}
    <details><summary>Route, flows and sources</summary>
      <${Route} route=${message.route} />
      ${message.flow_runs.length ? html`<table class="small"><thead><tr><th>Flow</th><th>Status</th><th>Score</th><th>Time</th><th>Tokens</th></tr></thead><tbody>
        ${message.flow_runs.map((r) => html`<tr><td>${r.flow}</td><td>${r.status}${r.error_code ? ` (${r.error_code})` : ""}</td><td>${r.score == null ? "–" : r.score.toFixed(2)}</td><td>${ms(r.ms)}</td><td>${r.usage ? `${r.usage.prompt_tokens ?? "–"} / ${r.usage.completion_tokens ?? "–"}` : "–"}</td></tr>`)}
      </tbody></table>` : html`<div class="muted">No flow runs recorded.</div>`}
      ${message.sources.length ? html`<ol>${message.sources.map((s) => html`<li><b>${s.title || s.document}</b> <span class="muted">${s.document} · ${Number(s.score).toFixed(3)}</span><div>${s.snippet}</div></li>`)}</ol>`
        : html`<div class="muted">No sources retrieved.</div>`}
    </details></div>`;
}

function FixForm({ bot, message, question, onDone }) {
  const [draft, setDraft] = useState({ question, answer: message.content, title: "", url: "" });
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(null);
  const save = async (e) => {
    e.preventDefault();
    const sources = draft.title ? [{ title: draft.title, url: draft.url || null }] : [];
    try {
      setSaved(await api(`/v1/bots/${encodeURIComponent(bot)}/answers`, { method: "POST",
        body: { question: draft.question, answer: draft.answer, sources, message_id: message.id } }));
      setError(null);
    } catch (err) { setError(err); }
  };
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.target.value });
  return html`<form class="card" id="fix-answer" onSubmit=${save}>
    <h2>Fix this answer: save it as a curated answer of ${bot}</h2>
    <label>Question <input name="question" value=${draft.question} onInput=${set("question")} /></label>
    <label>Correct answer <textarea name="answer" rows="5" value=${draft.answer} onInput=${set("answer")}></textarea></label>
    <div class="row"><label>Source title (optional) <input name="source_title" value=${draft.title} onInput=${set("title")} /></label>
      <label>Source URL <input name="source_url" value=${draft.url} onInput=${set("url")} /></label></div>
    <p class="row"><button class="primary" type="submit">Save curated answer</button><button type="button" onClick=${onDone}>Close</button>
      ${saved ? html`<span class="ok" role="status">Saved. <${Link} href=${`/admin/answers/${encodeURIComponent(bot)}`}>See curated answers</${Link}></span>` : null}</p>
    <${Problem} error=${error} /></form>`;
}

export function Transcript({ rest, session: signedIn }) {
  const [bot, session] = rest;
  const [data, error] = useApi(`/v1/bots/${encodeURIComponent(bot)}/sessions/${encodeURIComponent(session)}/transcript`);
  const [fixing, setFixing] = useState(null);
  if (error) return html`<${Problem} error=${error} />`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  let question = "";
  const person = personOf(data);
  return html`<p><${Link} href="/admin/conversations">← Conversations</${Link}></p>
    <h1 class="conversation-title">${data.title || html`<i class="muted">(no question yet)</i>`}</h1>
    <p class="muted" id="conversation-meta"><b class="person" title=${person.title}>${person.name}</b>${person.detail ? html` <span class="small">${person.detail}</span>` : null}${" · "}bot <b>${bot}</b> · started ${when(data.created_at)}${" · "}<span class="small" title="conversation id">${session}</span>${" · "}<a
      href=${`/v1/bots/${encodeURIComponent(bot)}/sessions/${encodeURIComponent(session)}/transcript`}>JSON</a></p>
    ${fixing ? html`<${FixForm} bot=${bot} message=${fixing.message} question=${fixing.question} onDone=${() => setFixing(null)} />` : null}
    ${data.messages.map((m) => {
      if (m.role === "user") { question = m.content; return html`<div class="msg user"><div class="text">${m.content}</div><div class="meta">${when(m.created_at)}</div></div>`; }
      return html`<${Answer} message=${m} question=${question} bot=${bot} admin=${signedIn.kind === "admin"} onFix=${(message, q) => { setFixing({ message, question: q }); scrollTo(0, 0); }} />`;
    })}`;
}
