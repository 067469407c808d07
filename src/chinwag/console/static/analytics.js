// Analytics: one request for every chart over a range of days; time series drawn by uPlot.
import { useEffect, useRef, useState } from "/admin/vendor/hooks.mjs";
import uPlot from "/admin/vendor/uPlot.esm.js";
import { BotPicker, dayLabel, html, ms, Problem, useApi } from "./lib.js";

const COLORS = ["#3a5ccc", "#e67e22", "#1e8449", "#8e44ad", "#c0392b"];
const day = (text) => Date.UTC(+text.slice(0, 4), +text.slice(5, 7) - 1, +text.slice(8, 10)) / 1000;
const isoDay = (date) => date.toISOString().slice(0, 10);

// Every day of the range, so a quiet day shows as 0 (counts) or a gap (times, shares).
function everyDay(rows, since, until, zero) {
  const byDay = Object.fromEntries(rows.map((r) => [r.day, r]));
  const days = [];
  for (let t = day(since); t <= day(until); t += 86400) days.push(t);
  return (key) => [days, days.map((t) => { const r = byDay[isoDay(new Date(t * 1000))]; return r ? r[key] ?? null : zero ? 0 : null; })];
}

function Series({ title, rows, series, id, since, until, zero = false }) {
  const box = useRef(null);
  useEffect(() => {
    if (!rows.length || !box.current) return;
    const column = everyDay(rows, since, until, zero);
    const data = [column(series[0][0])[0], ...series.map(([key]) => column(key)[1])];
    const plot = new uPlot({
      width: Math.max(420, box.current.clientWidth), height: 220,
      series: [{}, ...series.map(([, label], i) => ({ label, stroke: COLORS[i], width: 2, spanGaps: false, points: { show: true, size: 5 } }))],
      // Days on the time axis in the browser's locale, like every date of the console.
      axes: [{ values: (u, ticks) => ticks.map((t) => dayLabel(t * 1000)) }, { size: 60 }],
      scales: { x: { time: true, range: () => [day(since) - 43200, day(until) + 43200] },
                y: { range: (u, min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    }, data, box.current);
    return () => plot.destroy();
  }, [rows, series]);
  return html`<div class="card chart" id=${id}><h3>${title}</h3>
    ${rows.length ? html`<div ref=${box}></div>` : html`<div class="empty">No data in this range.</div>`}</div>`;
}

function Bars({ title, rows, label, value, detail, id }) {
  const top = Math.max(1, ...rows.map((r) => r[value]));
  return html`<div class="card chart" id=${id}><h3>${title}</h3>
    ${rows.length ? html`<table class="small"><tbody>${rows.map((r) => html`<tr><td class="third">${r[label]}</td>
      <td><div class="bar" style=${{ width: `${(100 * r[value]) / top}%` }}></div></td>
      <td class="third">${r[value]}${detail ? html` <span class="muted">${detail(r)}</span>` : null}</td></tr>`)}</tbody></table>`
      : html`<div class="empty">No data in this range.</div>`}</div>`;
}

// Tool calls per tool (flows' calls and main's function calls): calls, errors, p95 time.
function ToolTable({ rows }) {
  return html`<div class="card chart" id="chart-tools"><h3>Tool calls</h3>
    ${rows.length ? html`<table class="small"><thead><tr><th>Tool</th><th>Calls</th><th>Errors</th><th>p50</th><th>p95</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr><td>${r.tool}</td><td>${r.calls}</td>
        <td class=${r.errors ? "bad" : ""}>${r.errors}${r.errors ? ` (${Math.round((100 * r.errors) / r.calls)}%)` : ""}</td>
        <td>${ms(r.p50_ms)}</td><td>${ms(r.p95_ms)}</td></tr>`)}</tbody></table>`
      : html`<div class="empty">No tool calls in this range.</div>`}</div>`;
}

const seconds = (s) => (s == null ? "–" : s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

// Conversations handed to a person (GET /v1/handoffs/stats, same bot and days): how often,
// how fast a person first replied, and how conversations ended.
function Handoffs({ range }) {
  const params = new URLSearchParams(Object.entries(range).filter(([, v]) => v));
  const [stats, error] = useApi(`/v1/handoffs/stats?${params}`);
  if (error) return html`<div class="card chart" id="chart-handoffs"><h3>Handoffs to a person</h3><${Problem} error=${error} /></div>`;
  if (!stats) return null;
  const rate = stats.handoff_rate == null ? "–" : `${Math.round(stats.handoff_rate * 1000) / 10} %`;
  const endings = [
    { how: "by the bot (no person asked)", n: stats.conversations_resolved_by_the_bot },
    { how: "handed back to the bot", n: stats.handed_back },
    { how: "closed by a person", n: stats.closed_by_a_person },
    { how: "left an email (ticket)", n: stats.tickets },
  ];
  const top = Math.max(1, ...endings.map((e) => e.n));
  return html`<div class="card chart" id="chart-handoffs"><h3>Handoffs to a person</h3>
    <div class="handoff-numbers">
      <div><p class="big-number" id="handoff-rate">${rate}</p>
        <p class="muted">${stats.conversations_with_handoff} of ${stats.conversations} conversations asked for a person (${stats.requests} request${stats.requests === 1 ? "" : "s"})</p></div>
      <div><p class="big-number" id="first-reply">${seconds(stats.first_reply_p50_seconds)} <span class="muted small">p50</span> · ${seconds(stats.first_reply_p95_seconds)} <span class="muted small">p95</span></p>
        <p class="muted">time to a person's first reply (${stats.answered_by_a_person} answered)</p></div></div>
    <table class="small" id="handoff-endings"><tbody>${endings.map((e) => html`<tr><td class="third">${e.how}</td>
      <td><div class="bar" style=${{ width: `${(100 * e.n) / top}%` }}></div></td><td class="third">${e.n}</td></tr>`)}</tbody></table></div>`;
}

export function Analytics({ bots, session }) {
  const today = new Date();
  const [range, setRange] = useState({ since: isoDay(new Date(today - 29 * 864e5)), until: isoDay(today), bot_id: session.bot_id || "" });
  const params = new URLSearchParams(Object.entries(range).filter(([, v]) => v));
  const [data, error] = useApi(`/v1/analytics?${params}`);
  const c = data ? data.charts : null;
  const span = data ? { since: data.since, until: data.until } : {};
  const set = (name) => (e) => setRange({ ...range, [name]: e.target.value });
  return html`<h1>Analytics</h1>
    <div class="filters card">
      <${BotPicker} bots=${bots} value=${range.bot_id} allowAll=${session.kind === "admin"} onChange=${(v) => setRange({ ...range, bot_id: v || "" })} />
      <label>From <input type="date" name="since" value=${range.since} onInput=${set("since")} /></label>
      <label>To <input type="date" name="until" value=${range.until} onInput=${set("until")} /></label></div>
    <${Problem} error=${error} />
    ${c && html`<div class="charts">
      <${Series} id="chart-activity" title="Conversations, messages and end users per day" rows=${c.activity} zero=${true} ...${span}
        series=${[["conversations", "conversations"], ["messages", "messages"], ["users", "unique end users"]]} />
      <${Series} id="chart-latency" title="Time to first token and total time (ms, p50/p95)" rows=${c.latency} ...${span}
        series=${[["ttft_p50", "TTFT p50"], ["ttft_p95", "TTFT p95"], ["total_p50", "total p50"], ["total_p95", "total p95"]]} />
      <${Series} id="chart-tokens" title="Tokens per day" rows=${c.tokens} zero=${true} ...${span}
        series=${[["prompt_tokens", "prompt"], ["completion_tokens", "completion"]]} />
      <${Series} id="chart-feedback" title="Ratings per day" rows=${c.feedback} zero=${true} ...${span}
        series=${[["down", "rated down"], ["up", "rated up"]]} />
      <${Series} id="chart-sources" title="Share of answers with no sources" rows=${c.sources} ...${span}
        series=${[["no_sources_share", "no sources (share)"]]} />
      <${Series} id="chart-declines" title="Share of answers declined, by reason" rows=${c.declines} ...${span}
        series=${[["declined_share", "declined (share)"], ["out_of_scope_share", "out of scope"], ["unanswerable_share", "unanswerable"]]} />
      <${Handoffs} range=${range} />
      <${Bars} id="chart-flows" title="Flow usage and latency" rows=${c.flows} label="flow" value="runs"
        detail=${(r) => `runs · mean ${ms(r.mean_ms)} · p95 ${ms(r.p95_ms)} · ${r.failed} failed`} />
      <${ToolTable} rows=${c.tools || []} />
      <${Bars} id="chart-routes" title="Router decisions" rows=${c.routes} label="flows" value="answers" />
      <${Bars} id="chart-errors" title="Errors by code" rows=${c.errors} label="code" value="answers" />
      <div class="card chart" id="chart-rate"><h3>Answers rated up</h3>${c.feedback.length
        ? html`<p class="big-number">${Math.round(100 * c.feedback.reduce((a, r) => a + r.up, 0) / Math.max(1, c.feedback.reduce((a, r) => a + r.up + r.down, 0)))}%</p>
          <p class="muted">${c.feedback.reduce((a, r) => a + r.up, 0)} rated up · ${c.feedback.reduce((a, r) => a + r.down, 0)} rated down in this range</p>`
        : html`<div class="empty">No data in this range.</div>`}</div>
    </div>`}`;
}
