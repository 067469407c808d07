// The operators' inbox: conversations waiting for a person, mine, and closed, live over SSE
// (GET /v1/handoffs/events), with a count in the navigation and a sound when someone new
// waits (it can be turned off); one conversation's transcript, live, to claim, answer, hand
// back or close.
import { useEffect, useRef, useState } from "/admin/vendor/hooks.mjs";
import { api, html, Link, Problem, useApi, when } from "./lib.js";
import { personOf } from "./conversations.js";

const SOUND = "chinwag.inbox.sound";
const soundOn = () => localStorage.getItem(SOUND) !== "off";
const idOf = (item) => `${item.bot_id}/${item.session_id}`;
const enc = encodeURIComponent;
const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
let audio = null;

// A short two-note chime made with Web Audio: no sound file to serve, nothing for the CSP.
function chime() {
  audio = audio || new AudioContext();
  if (audio.state === "suspended") audio.resume();
  [660, 880].forEach((hz, i) => {
    const at = audio.currentTime + i * 0.15;
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = hz;
    gain.gain.setValueAtTime(0.12, at);
    gain.gain.exponentialRampToValueAtTime(0.001, at + 0.3);
    tone.connect(gain).connect(audio.destination);
    tone.start(at);
    tone.stop(at + 0.3);
  });
}

// The inbox as the server sends it, kept live; chimes when a conversation starts waiting.
export function useInbox() {
  const [inbox, setInbox] = useState({ live: false });
  const waiting = useRef(null);
  useEffect(() => {
    const source = new EventSource("/v1/handoffs/events");
    source.addEventListener("inbox", (e) => {
      const next = JSON.parse(e.data);
      const ids = new Set(next.waiting.map(idOf));
      const fresh = waiting.current && [...ids].some((id) => !waiting.current.has(id));
      if (fresh && soundOn()) chime();
      waiting.current = ids;
      setInbox({ ...next, live: true });
    });
    // A dropped feed reconnects by itself; one refused (the session ended: signed out
    // elsewhere, the operator removed) does not: a plain request finds out, and a 401 signs out.
    source.onerror = () => {
      setInbox((i) => ({ ...i, live: false }));
      if (source.readyState === EventSource.CLOSED) api("/v1/handoffs").catch(() => {});
    };
    return () => source.close();
  }, []);
  return inbox;
}

export function WaitingCount({ inbox }) {
  if (!inbox.waiting_count) return null;
  return html`<span class="count" id="waiting-count" title="waiting for a person">${inbox.waiting_count}</span>`;
}

function SoundToggle() {
  const [on, setOn] = useState(soundOn());
  const flip = () => { localStorage.setItem(SOUND, on ? "off" : "on"); setOn(!on); if (!on) chime(); };
  return html`<button class="small" id="sound" aria-pressed=${on} onClick=${flip}>${on ? "Sound on" : "Sound off"}</button>`;
}

const TABS = [["waiting", "Waiting"], ["mine", "Mine"], ["others", "Others'"], ["closed", "Closed"], ["tickets", "Tickets"]];
const EMPTY = { waiting: "Nobody is waiting for a person.", mine: "You have no conversation.",
  others: "Nobody else has a conversation.", closed: "No closed conversation yet.",
  tickets: "No visitor has left an email yet." };
const REASONS = { after_hours: "after hours", no_one_claimed: "nobody claimed in time" };

function listed(inbox, tab) {
  if (tab === "mine" || tab === "others") return (inbox.claimed || []).filter((i) => i.mine === (tab === "mine"));
  return inbox[tab] || [];
}

const seconds = (s) => (s == null ? "–" : s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`);

// The last 30 days: how often conversations ask for a person, how long a person takes to reply.
function Stats({ inbox }) {
  const [stats] = useApi("/v1/handoffs/stats?days=30", [inbox.waiting_count, inbox.mine_count, (inbox.closed || []).length]);
  if (!stats) return null;
  const rate = stats.handoff_rate == null ? "–" : `${Math.round(stats.handoff_rate * 1000) / 10} %`;
  const text = `30 days: ${stats.conversations_with_handoff} of ${stats.conversations} conversations asked for a person (${rate})`
    + ` · first reply p50 ${seconds(stats.first_reply_p50_seconds)}, p95 ${seconds(stats.first_reply_p95_seconds)}`
    + ` · ${stats.handed_back} handed back, ${stats.closed_by_a_person} closed, ${stats.tickets} tickets`;
  return html`<p class="small muted" id="stats" title="the last 30 days">${text}</p>`;
}

export function Inbox({ rest, inbox, session: signedIn }) {
  const [tab, setTab] = useState("waiting");
  const [bot, session] = rest;
  const claimed = (inbox.claimed || []).length;
  const counts = { waiting: inbox.waiting_count, mine: inbox.mine_count, others: claimed - (inbox.mine_count || 0),
    closed: (inbox.closed || []).length, tickets: (inbox.tickets || []).length };
  const items = listed(inbox, tab);
  const open = bot && session ? `${bot}/${session}` : null;
  return html`<div class="inbox">
    <section class="queue">
      <div class="row"><h1>Inbox</h1><${SoundToggle} />
        <span class=${"small " + (inbox.live ? "ok" : "muted")} id="live">${inbox.live ? "● live" : "connecting…"}</span></div>
      <${Stats} inbox=${inbox} />
      <div class="tabs" role="tablist">${TABS.map(([id, label]) => html`<button role="tab" aria-selected=${tab === id}
        class=${tab === id ? "active" : ""} onClick=${() => setTab(id)}>${label} <span class="n">${counts[id] ?? 0}</span></button>`)}</div>
      ${tab === "tickets" ? html`<${Tickets} tickets=${inbox.tickets || []} />` : items.length ? html`<ul class="queue-list">${items.map((i) => html`<li class=${idOf(i) === open ? "open" : ""}>
        <${Link} href=${`/admin/inbox/${enc(i.bot_id)}/${enc(i.session_id)}`}>
          <div class="row"><b>${i.user_name || "Anonymous visitor"}</b><span class="badge">${i.bot_id}</span>
            ${i.operator ? html`<span class="badge good">${i.operator}</span>` : null}
            ${i.ticket_offered && i.state === "waiting" ? html`<span class="badge warn">email form offered</span>` : null}</div>
          <div class="last">${i.last_message || html`<i class="muted">(no message)</i>`}</div>
          <div class="small muted">${i.state === "closed" ? "closed" : "asked"} ${when(i.state === "closed" ? i.updated_at : i.requested_at)}</div>
        </${Link}></li>`)}</ul>`
        : html`<p class="empty">${EMPTY[tab]}</p>`}
    </section>
    <section class="chat">${open ? html`<${Conversation} key=${open} bot=${bot} session=${session} inbox=${inbox} signedIn=${signedIn} />`
      : html`<p class="empty">Open a conversation to read it, claim it and answer.</p>`}</section></div>`;
}

// Emails visitors left when nobody could answer live: answer them by email.
function Tickets({ tickets }) {
  if (!tickets.length) return html`<p class="empty">${EMPTY.tickets}</p>`;
  return html`<ul class="queue-list" id="tickets">${tickets.map((t) => html`<li>
    <${Link} href=${`/admin/inbox/${enc(t.bot_id)}/${enc(t.session_id)}`}>
      <div class="row"><b>${t.email}</b><span class="badge">${t.bot_id}</span></div>
      <div class="small muted">${REASONS[t.reason]} · ${when(t.created_at)}</div></${Link}>
    <a class="small mail" href=${`mailto:${t.email}`}>Write to ${t.email}</a></li>`)}</ul>`;
}

const EVENTS = ["handoff.waiting", "handoff.claimed", "handoff.released", "handoff.closed", "message.created",
  "handoff.ticket_offered", "ticket.created"];
const STATES = { bot: "the bot answers", waiting: "waiting for a person", claimed: "claimed", closed: "closed" };

function Conversation({ bot, session, inbox, signedIn }) {
  const base = `/v1/bots/${enc(bot)}/sessions/${enc(session)}`;
  const [data, error, reload] = useApi(`${base}/transcript`);
  const [claimedHere, setClaimedHere] = useState(false);
  const [failure, setFailure] = useState(null);
  const [text, setText] = useState("");
  // The text being sent and its Idempotency-Key, the same until it is stored: a request sent
  // again (by the browser, or by pressing Send after an error) stores it once.
  const sending = useRef(null);
  const visitorTyping = useLive(base, reload);
  const signalTyping = useThrottled(() => api(`${base}/handoff/typing`, { method: "POST" }).catch(() => {}));
  const end = useRef(null);
  useEffect(() => { if (end.current) end.current.scrollIntoView({ block: "end" }); }, [data]);
  if (error) return html`<${Problem} error=${error} />`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  const { state, operator } = data.handoff;
  const item = (inbox.claimed || []).find((i) => i.bot_id === bot && i.session_id === session);
  const mine = state === "claimed" && (item ? item.mine : claimedHere);
  // Admins (keys, and operators with the admin role) may hand back or close anyone's.
  const admin = signedIn.kind === "admin" || (signedIn.kind === "operator" && !signedIn.bots);
  const act = (path, body, headers) => async (e) => {
    if (e) e.preventDefault();
    try {
      const done = await api(`${base}${path}`, { method: "POST", body, headers });
      if (path === "/handoff/claim") setClaimedHere(true);
      if (path === "/handoff/messages") { setText(""); sending.current = null; }
      setFailure(null);
      reload();
      return done;
    } catch (err) { setFailure(err); }
  };
  const send = (e) => {
    if (!sending.current || sending.current.text !== text) sending.current = { text, key: newKey() };
    return act("/handoff/messages", { message: text }, { "Idempotency-Key": sending.current.key })(e);
  };
  const person = personOf(data);
  return html`<div class="conversation">
    <div class="head"><div class="who"><h2>${person.name}</h2><span class="badge">${bot}</span>
        <span class=${"badge state " + state} id="state">${STATES[state]}${state === "claimed" && operator ? ` by ${operator}` : ""}</span></div>
      <div class="actions">
        ${state === "waiting" ? html`<button class="primary" id="claim" onClick=${act("/handoff/claim")}>Claim</button>` : null}
        ${state === "claimed" && (mine || admin) ? html`<button id="release" title="The bot answers the visitor again" onClick=${act("/handoff/release")}>Hand back</button>
          <button class="danger" id="close" onClick=${act("/handoff/close")}>Close</button>` : null}
        ${signedIn.kind !== "operator" ? html`<${Link} class="small" href=${`/admin/conversations/${enc(bot)}/${enc(session)}`}>Full transcript</${Link}>` : null}</div></div>
    <${Problem} error=${failure} />
    <div class="lines">${data.messages.map((m) => html`<${Line} m=${m} />`)}<div ref=${end}></div></div>
    ${visitorTyping && state !== "bot" && state !== "closed" ? html`<p class="small muted typing" id="visitor-typing">${person.name} is typing…</p>` : null}
    ${mine ? html`<form class="composer" onSubmit=${send}>
        <textarea name="message" rows="3" placeholder="Write to the visitor…" value=${text} onInput=${(e) => { setText(e.target.value); signalTyping(); }}
          onKeyDown=${(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); e.target.form.requestSubmit(); } }}></textarea>
        <div class="composer-actions"><${AnswerPicker} bot=${bot} onPick=${(answer) => setText((t) => (t.trim() ? `${t.trimEnd()}\n\n${answer}` : answer))} />
        <button class="primary" type="submit" disabled=${!text.trim()}>Send</button></div></form>`
      : html`<p class="small muted hint-line">${state === "waiting" ? "Claim the conversation to answer: the bot stays silent until you hand it back."
        : state === "claimed" ? `${operator || "Another operator"} is answering.` : "The bot answers this conversation."}</p>`}</div>`;
}

// The conversation, live: each event of its log (any worker, any writer) reloads it; a
// `typing` signal (outside the log) from the visitor shows "typing…" until their message
// comes or the signal expires.
function useLive(base, reload) {
  const [typing, setTyping] = useState(false);
  useEffect(() => {
    const source = new EventSource(`${base}/events`);
    let timer = null, expiry = null;
    const changed = () => { clearTimeout(timer); timer = setTimeout(reload, 100); };
    EVENTS.forEach((type) => source.addEventListener(type, changed));
    source.addEventListener("message.created", (e) => {
      if (JSON.parse(e.data).role === "user") { clearTimeout(expiry); setTyping(false); }
    });
    source.addEventListener("typing", (e) => {
      const signal = JSON.parse(e.data);
      if (signal.who !== "visitor") return;
      clearTimeout(expiry);
      setTyping(true);
      expiry = setTimeout(() => setTyping(false), signal.expires_in_ms);
    });
    return () => { clearTimeout(timer); clearTimeout(expiry); source.close(); };
  }, [base]);
  return typing;
}

// The bot's curated answers, searched: the one picked goes into the reply box as a draft,
// for the operator to adapt and send.
function AnswerPicker({ bot, onPick }) {
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState("");
  const query = q.trim() ? `&q=${enc(q.trim())}` : "";
  const [data, error] = useApi(open ? `/v1/bots/${enc(bot)}/answers?enabled=true${query}` : null);
  const pick = (answer) => { onPick(answer); setOpen(false); setQ(""); };
  return html`<div class="answer-picker">
    <button type="button" id="insert-answer" aria-expanded=${open} onClick=${() => setOpen(!open)}>Insert answer</button>
    ${open ? html`<div class="picker" role="dialog" aria-label="Curated answers">
      <input type="search" id="answer-search" placeholder="Search curated answers…" value=${q} autofocus
        onInput=${(e) => setQ(e.target.value)} onKeyDown=${(e) => { if (e.key === "Escape") setOpen(false); }} />
      <${Problem} error=${error} />
      ${data ? data.items.length ? html`<ul class="picks">${data.items.slice(0, 20).map((a) => html`<li>
          <button type="button" class="pick" onClick=${() => pick(a.answer)}><b>${a.question}</b><span class="small muted">${a.answer}</span></button></li>`)}</ul>`
        : html`<p class="small muted">${q.trim() ? "No curated answer matches." : "This bot has no curated answers yet (Curated answers in the menu)."}</p>`
        : html`<p class="small muted">Loading…</p>`}</div>` : null}</div>`;
}

// `send`, at most once every 2 s however often it is called (the server drops more).
function useThrottled(send) {
  const last = useRef(0);
  return () => {
    if (Date.now() - last.current < 2000) return;
    last.current = Date.now();
    send();
  };
}

function Line({ m }) {
  const kind = m.author ? m.author.kind : (m.role === "user" ? "visitor" : "bot");
  const who = kind === "operator" ? m.author.name : kind === "visitor" ? "Visitor" : "Bot";
  return html`<div class=${"msg " + (kind === "visitor" ? "user" : kind === "operator" ? "operator" : "assistant")} data-author=${kind}>
    <div class="meta"><b>${who}</b><span>${when(m.created_at)}</span>
      ${m.status !== "complete" ? html`<span class="badge bad">${m.status}</span>` : null}</div>
    <div class="text">${m.content || html`<i class="muted">(no text)</i>`}</div>
    ${kind === "bot" ? html`<${Recorded} m=${m} />` : null}</div>`;
}

// What an answer was made from: its sources and the tools it called.
function Recorded({ m }) {
  const tools = m.flow_runs.filter((r) => r.tool);
  if (!m.sources.length && !tools.length) return null;
  return html`<details><summary>${m.sources.length} source${m.sources.length === 1 ? "" : "s"}${tools.length ? `, ${tools.length} tool call${tools.length === 1 ? "" : "s"}` : ""}</summary>
    ${m.sources.length ? html`<ol>${m.sources.map((s) => html`<li><b>${s.title || s.document}</b> <span class="muted">${s.document}</span><div>${s.snippet}</div></li>`)}</ol>` : null}
    ${tools.map((r) => html`<div class="tool">tool <b>${r.tool.tool}</b> (${r.flow}): ${r.tool.status}${r.tool.code ? ` ${r.tool.code}` : ""}
      ${r.tool.http_status ? ` · HTTP ${r.tool.http_status}` : ""} · ${Math.round(r.tool.ms || 0)} ms</div>`)}</details>`;
}
