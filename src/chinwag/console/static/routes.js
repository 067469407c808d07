// Routes: "Fix route" on an answer (the flows its message should have had become a new bot
// version, shown as a diff), and the review queue of answers whose route was a close call.
import { useState } from "/admin/vendor/hooks.mjs";
import { api, BotPicker, html, Link, navigate, Problem, useApi, when } from "./lib.js";

const botPath = (bot, p = "") => `/v1/bots/${encodeURIComponent(bot)}${p}`;
const optionalFlows = (config) =>
  Object.entries(config.flows).filter(([name, flow]) => name !== "main" && flow.template != null).map(([name]) => name);

// The flows the visitor's message should have had (none ticked: main alone); saving adds the
// message to those flows' examples in a new version and shows its diff.
export function RouteFix({ bot, messageId, question, chosen, onClose }) {
  const [config] = useApi(botPath(bot));
  const [ticked, setTicked] = useState(new Set(chosen || []));
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(null);
  const [error, setError] = useState(null);
  if (!config) return html`<p class="loading">Loading…</p>`;
  const flows = optionalFlows(config.config);
  const strategy = config.config.router.strategy;
  const toggle = (name) => { const next = new Set(ticked); next.has(name) ? next.delete(name) : next.add(name); setTicked(next); };
  const save = async (e) => {
    e.preventDefault();
    setSaving(true);
    try {
      const done = await api(botPath(bot, `/messages/${encodeURIComponent(messageId)}/route`), { method: "POST", body: { flows: [...ticked] } });
      const change = await api(botPath(bot, `/diff?old=${done.previous_version}&new=${done.version}`));
      setSaved({ ...done, diff: change.diff }); setError(null);
    } catch (err) { setError(err); }
    setSaving(false);
  };
  return html`<form class="route-fix" onSubmit=${save} data-message=${messageId}>
    <div><b>Fix route</b> <span class="small muted">“${question}” should have had:</span></div>
    ${strategy !== "semantic" ? html`<div class="small warn">This bot's router is <code>${strategy}</code>: it does not learn from examples${strategy === "keywords" ? " (add keywords to the flow instead)" : ""}.</div>` : null}
    <div class="row">${flows.map((name) => html`<label class="check"><input type="checkbox" name="flow" value=${name}
        checked=${ticked.has(name)} onChange=${() => toggle(name)} disabled=${!!saved} /> ${name}</label>`)}
      <span class="small muted">${ticked.size ? "" : "none ticked: main alone"}</span></div>
    <div class="row">${saved ? null : html`<button class="primary small" type="submit" disabled=${saving}>Save route</button>`}
      ${onClose ? html`<button class="small" type="button" onClick=${onClose}>Close</button>` : null}
      ${saving ? html`<span class="small muted">Saving a new version and learning its routes…</span>` : null}</div>
    ${saved ? html`<div class="ok" role="status">Routed to ${saved.flows.join(", ") || "main alone"} from version ${saved.version} on (it was v${saved.previous_version}): the next message uses it.${" "}
      <${Link} href=${`/admin/bots/${encodeURIComponent(bot)}`}>Versions and rollback</${Link}></div>
      <pre class="diff">${saved.diff.split("\n").map((l) => html`<span class=${l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : ""}>${l || " "}</span>`)}</pre>` : null}
    <${Problem} error=${error} /></form>`;
}

const scoreText = (item) => Object.entries(item.scores).map(([f, s]) =>
  `${f} ${Number(s).toFixed(2)}${item.thresholds[f] != null ? ` / ${Number(item.thresholds[f]).toFixed(2)}` : ""}`).join(" · ");

// Answers whose semantic route had some flow's score within 0.15 of its threshold.
export function UncertainRoutes({ bots, rest, session }) {
  const bot = rest[0] || bots[0];
  const [data, error] = useApi(bot ? botPath(bot, "/routes/uncertain") : null, [bot]);
  const [fixing, setFixing] = useState(null);
  const admin = session.kind === "admin";
  return html`<h1>Uncertain routes</h1>
    <p class="muted">Recent answers whose router hesitated: some flow's score was within 0.15 of its threshold, so the
      flows chosen may be wrong. Check each; <b>Fix route</b> teaches the router the right flows.</p>
    <div class="filters card"><${BotPicker} bots=${bots} value=${bot} onChange=${(v) => navigate(`/admin/routes/${encodeURIComponent(v)}`)} /></div>
    <${Problem} error=${error} />
    ${data && (data.items.length === 0
      ? html`<div class="empty">No uncertain route among ${bot}'s recent answers.</div>`
      : html`<table id="uncertain-routes"><thead><tr><th>When</th><th>Message</th><th>Flows chosen</th><th>Scores / thresholds</th><th></th></tr></thead>
        <tbody>${data.items.map((item) => html`<tr data-message=${item.message_id}>
          <td class="small">${when(item.created_at)}</td>
          <td><${Link} href=${`/admin/conversations/${encodeURIComponent(bot)}/${encodeURIComponent(item.session_id)}`}>${item.question}</${Link}>
            ${item.examples_of.length ? html` <span class="badge good">example of ${item.examples_of.join(", ")}</span>` : null}</td>
          <td><b>${item.flows.join(", ") || "main only"}</b></td>
          <td class="small">${scoreText(item)}</td>
          <td>${admin ? html`<button class="small" onClick=${() => setFixing(item)}>Fix route</button>` : null}</td></tr>
          ${fixing && fixing.message_id === item.message_id ? html`<tr><td colspan="5"><${RouteFix} bot=${bot} messageId=${item.message_id}
            question=${item.question} chosen=${item.flows} onClose=${() => setFixing(null)} /></td></tr>` : null}`)}
        </tbody></table>`)}`;
}
