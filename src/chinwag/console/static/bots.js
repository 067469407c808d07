// Bots: the list, the YAML editor (checked as you type, problems at their lines), versions,
// diff between any two versions, rollback, and the widget preview.
import { useEffect, useRef, useState } from "/admin/vendor/hooks.mjs";
import { api, html, Link, Problem, Select, useApi, when } from "./lib.js";
import { WidgetPreview } from "./widget_preview.js";

export function Bots({ bots }) {
  return html`<h1>Bots</h1>
    ${bots.length === 0 ? html`<div class="empty">No bots yet: create one with <code>chinwag init</code> or PUT /v1/bots/{id}.</div>`
      : html`<table id="bots"><thead><tr><th>Bot</th><th></th></tr></thead><tbody>
      ${bots.map((b) => html`<tr><td><${Link} href=${`/admin/bots/${encodeURIComponent(b)}`}>${b}</${Link}></td>
        <td class="row small"><${Link} href=${`/admin/conversations?bot_id=${encodeURIComponent(b)}`}>conversations</${Link}>
        <${Link} href=${`/admin/knowledge/${encodeURIComponent(b)}`}>knowledge</${Link}>
        <${Link} href=${`/admin/answers/${encodeURIComponent(b)}`}>curated answers</${Link}></td></tr>`)}</tbody></table>`}`;
}

function Editor({ text, onInput, problems, readOnly }) {
  const lines = text.split("\n").length;
  const marks = {};
  for (const p of problems) if (p.line) marks[p.line] = marks[p.line] === "problem" || p.severity === "error" ? "problem" : "warning";
  const area = useRef(null);
  useEffect(() => { if (area.current) area.current.style.height = `${lines * 19 + 14}px`; }, [lines]);
  return html`<div class="editor"><div class="gutter">${Array.from({ length: lines }, (_, i) =>
      html`<div class=${marks[i + 1] || ""} data-line=${i + 1} title=${problems.filter((p) => p.line === i + 1).map((p) => p.message).join("\n")}>${i + 1}</div>`)}</div>
    <textarea ref=${area} spellcheck="false" name="yaml" value=${text} readOnly=${readOnly} onInput=${(e) => onInput(e.target.value)}></textarea></div>`;
}

// The history, a diff between any two versions, rollback. A rollback is a new version: the
// history reloads and the diff shows what the rollback changed (the old active → the new).
function Versions({ bot, versions, admin, onRolledBack }) {
  const [pair, setPair] = useState({ old: "", new: "" });
  const [diff, setDiff] = useState(null);
  const [error, setError] = useState(null);
  const compare = async (old, to) => {
    try { setDiff(await api(`/v1/bots/${encodeURIComponent(bot)}/diff?old=${old}${to ? `&new=${to}` : ""}`)); setError(null); }
    catch (err) { setError(err); }
  };
  const show = () => compare(pair.old, pair.new);
  const rollback = async (version) => {
    const before = versions.find((v) => v.active);
    try {
      const saved = await api(`/v1/bots/${encodeURIComponent(bot)}/rollback`, { method: "POST", body: { version } });
      onRolledBack(saved);
      setPair({ old: String(before.version), new: String(saved.version) });
      await compare(before.version, saved.version);
    } catch (err) { setError(err); }
  };
  const options = versions.map((v) => [String(v.version), `v${v.version}`]);
  return html`<h2>Version history</h2>
    <table id="versions"><thead><tr><th>Version</th><th>Saved</th><th>Note</th><th></th></tr></thead><tbody>
    ${[...versions].reverse().map((v) => html`<tr data-version=${v.version}><td>v${v.version} ${v.active ? html`<span class="badge good">active</span>` : null}</td>
      <td class="small">${when(v.created_at)}</td><td class="small">${v.note || ""}</td>
      <td>${admin && !v.active ? html`<button onClick=${() => rollback(v.version)}>Roll back to v${v.version}</button>` : null}</td></tr>`)}
    </tbody></table>
    <div class="row spaced">Diff
      <${Select} name="old" value=${pair.old} onChange=${(v) => setPair({ ...pair, old: v })} options=${[["", "from…"], ...options]} />
      <${Select} name="new" value=${pair.new} onChange=${(v) => setPair({ ...pair, new: v })} options=${[["", "to (active)"], ...options]} />
      <button onClick=${show} disabled=${!pair.old}>Show diff</button></div>
    <${Problem} error=${error} />
    ${diff ? html`<p class="small muted" id="diff-title">v${diff.old} → v${diff.new}</p><pre class="diff" id="diff">${diff.diff ? diff.diff.split("\n").map((l) => html`<span class=${l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : ""}>${l || " "}</span>`) : "The two versions are the same."}</pre>` : null}`;
}

export function BotEditor({ rest, session }) {
  const bot = rest[0];
  const admin = session.kind === "admin";
  const [text, setText] = useState(null);
  const [note, setNote] = useState("");
  const [checked, setChecked] = useState({ ok: true, problems: [] });
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const [versions, verror, reloadVersions] = useApi(`/v1/bots/${encodeURIComponent(bot)}/versions`);
  const load = () => api(`/v1/bots/${encodeURIComponent(bot)}/yaml`, { raw: true }).then(setText, setError);
  useEffect(() => { load(); }, [bot]);
  useEffect(() => {
    if (text === null || !admin) return;
    const timer = setTimeout(() => api("/v1/bots/validate-yaml", { method: "POST", body: { yaml: text } }).then(setChecked, setError), 350);
    return () => clearTimeout(timer);
  }, [text]);
  // The text itself is saved (PUT …/yaml): comments and layout stay, and the next diff shows
  // only the lines that changed. The server checks it again (a click within the typing
  // debounce would otherwise save unchecked text): its 422 lists every problem.
  const save = async () => {
    try {
      const saved = await api(`/v1/bots/${encodeURIComponent(bot)}/yaml`, { method: "PUT", body: { yaml: text, note: note.trim() || null } });
      setStatus(saved.changed ? `Saved as version ${saved.version}.` : `No change: version ${saved.version} stays active.`);
      setError(null); setNote(""); reloadVersions();
    } catch (err) {
      if (err.problem && err.problem.code === "bot_config_invalid") {
        api("/v1/bots/validate-yaml", { method: "POST", body: { yaml: text } }).then(setChecked, setError);
      }
      setError(err);
    }
  };
  const rolledBack = (saved) => { load(); reloadVersions(); setStatus(`Rolled back: the earlier configuration is active as version ${saved.version}.`); };
  if (text === null) return html`<${Problem} error=${error} /><p class="loading">Loading…</p>`;
  const errors = checked.problems.filter((p) => p.severity === "error");
  const active = versions ? versions.find((v) => v.active) : null;
  return html`<p><${Link} href="/admin/bots">← Bots</${Link}></p><h1>Bot ${bot}</h1>
    <div class="bot-page"><div>
    <${Editor} text=${text} onInput=${setText} problems=${checked.problems} readOnly=${!admin} />
    <div class="row spaced">
      ${admin ? html`<input name="note" class="grow" maxlength="200" placeholder="What changed (optional note, shown in the history)" value=${note} onInput=${(e) => setNote(e.target.value)} />
        <button class="primary" id="save-bot" onClick=${save} disabled=${!checked.ok}>Save as new version</button>` : html`<span class="muted">Only an admin key may change a bot.</span>`}
      <span id="check-status" class=${errors.length ? "bad" : "ok"}>${admin ? (errors.length ? `${errors.length} error(s): not saved until fixed` : "Valid") : ""}</span>
      ${status ? html`<span class="ok" role="status">${status}</span>` : null}</div>
    ${checked.problems.length ? html`<ul class="problems" id="problems">${checked.problems.map((p) => html`<li class=${p.severity}>
      <b>${p.line ? `line ${p.line}` : "document"}</b> · <code>${p.path || "(root)"}</code> · ${p.message}<div class="small muted">${p.hint}</div></li>`)}</ul>` : null}
    </div><${WidgetPreview} bot=${bot} admin=${admin} version=${active ? active.version : null} /></div>
    <${Problem} error=${error || verror} />
    ${versions ? html`<${Versions} bot=${bot} versions=${versions} admin=${admin} onRolledBack=${rolledBack} />` : null}`;
}
