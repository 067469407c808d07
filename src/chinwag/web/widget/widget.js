/*! chinwag chat widget: one script tag, no dependencies, no build step.
 *
 *   <script src="https://HOST/widget.js" data-key="cw_pk_..." defer></script>
 *
 * Optional attributes: data-bot (bot id; default: the key's bot), data-user-token (an end-user
 * token your server got for a signed-in visitor), data-lang (en | nb), data-position
 * (right | left), data-open (open at start).
 * API: Chinwag.open(), Chinwag.close(), Chinwag.reset() (a new chat), Chinwag.identify(token or
 * {user_id, user_hash, display_name, email}).
 * Events on window: "chinwag:message" {detail: {messageId, text, sources}} when an answer is
 * complete, "chinwag:feedback" {detail: {messageId, rating, comment}} when it is rated.
 * Model text is parsed into DOM nodes; it never reaches innerHTML.
 */
(() => {
  "use strict";
  const script = document.currentScript || document.querySelector("script[data-key][src*='widget.js']");
  if (!script || window.Chinwag) return;
  const BASE = new URL(script.src).origin;
  const KEY = script.dataset.key || "";

  // ---- strings -------------------------------------------------------------------------
  const STRINGS = {
    en: {
      launcher: "Chat with us", close: "Close chat", new_chat: "New chat", send: "Send",
      placeholder: "Write a message\u2026", sources: "Sources", helpful: "Helpful",
      not_helpful: "Not helpful", comment: "Tell us more (optional)", thanks: "Thanks for the feedback",
      reconnecting: "Connection lost, reconnecting\u2026", offline: "Cannot reach the chat service.",
      rate_limited: "Too many messages. Try again in {s} s.", unavailable: "The chat is unavailable right now.",
      unavailable_here: "The chat is not available on this site.",
      failed: "The answer could not be finished.", stopped: "The answer was interrupted.",
      person: "Talk to a person", joined: "{name} joined the chat", typing: "{name} is typing\u2026", back_to_bot: "You're chatting with the assistant again",
      confirm: "Confirm", cancel: "Cancel",
      email: "Your email address",
    },
    nb: {
      launcher: "Chat med oss", close: "Lukk chatten", new_chat: "Ny samtale", send: "Send",
      placeholder: "Skriv en melding\u2026", sources: "Kilder", helpful: "Nyttig",
      not_helpful: "Ikke nyttig", comment: "Fortell oss mer (valgfritt)", thanks: "Takk for tilbakemeldingen",
      reconnecting: "Forbindelsen ble brutt, kobler til igjen\u2026", offline: "F\u00e5r ikke kontakt med chatten.",
      rate_limited: "For mange meldinger. Pr\u00f8v igjen om {s} s.", unavailable: "Chatten er ikke tilgjengelig n\u00e5.",
      unavailable_here: "Chatten er ikke tilgjengelig p\u00e5 dette nettstedet.",
      failed: "Svaret kunne ikke fullf\u00f8res.", stopped: "Svaret ble avbrutt.",
      person: "Snakk med en person", joined: "{name} er med i samtalen", typing: "{name} skriver\u2026", back_to_bot: "Du chatter med assistenten igjen",
      confirm: "Bekreft", cancel: "Avbryt",
      email: "E-postadressen din",
    },
  };

  // ---- markdown: a safe subset, built as DOM nodes ---------------------------------------
  const SAFE_URL = /^(https?:|mailto:)/i;
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const link = (href, text) => {
    let url = null;
    try { url = new URL(href, BASE); } catch { /* not a URL: shown as text */ }
    if (!url || !SAFE_URL.test(url.protocol) || !SAFE_URL.test(href.trim())) return document.createTextNode(text);
    const a = el("a", "", text);
    a.href = url.href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    return a;
  };
  // A link's URL may hold balanced parentheses (…/Barolo_(wine)); its ")" is found by counting.
  const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*|(?<!\w)_[^_\n]+_(?!\w))|\[([^\]\n]+)\]\(|(https?:\/\/(?:[^\s<>()]|\([^\s<>()]*\))*(?:[^\s<>().,;:!?]|\([^\s<>()]*\)))/g;
  const closing = (text, i) => {
    for (let depth = 1; i < text.length && !/\s/.test(text[i]); i++) {
      if (text[i] === "(") depth++;
      else if (text[i] === ")" && !--depth) return i;
    }
    return -1;
  };
  function inline(text, parent) {
    const re = new RegExp(INLINE);
    let last = 0, m;
    while ((m = re.exec(text))) {
      const end = m[4] ? closing(text, re.lastIndex) : re.lastIndex;
      if (end < 0) { re.lastIndex = m.index + 1; continue; } // "[text](" without its ")": text
      if (m.index > last) parent.append(text.slice(last, m.index));
      if (m[1]) parent.append(el("code", "", m[1].slice(1, -1)));
      else if (m[2]) inline(m[2].slice(2, -2), parent.appendChild(el("strong")));
      else if (m[3]) inline(m[3].slice(1, -1), parent.appendChild(el("em")));
      else if (m[4]) parent.append(link(text.slice(re.lastIndex, end), m[4]));
      else parent.append(link(m[5], m[5]));
      last = re.lastIndex = m[4] ? end + 1 : end;
    }
    if (last < text.length) parent.append(text.slice(last));
    return parent;
  }
  function markdown(text) {
    const out = document.createDocumentFragment();
    const lines = text.replace(/\r\n?/g, "\n").split("\n");
    let para = [], list = null, code = null;
    const flush = () => {
      if (para.length) out.append(inline(para.join(" "), el("p")));
      para = [];
    };
    for (const line of lines) {
      if (code) {
        if (/^\s*```/.test(line)) { out.append(code.parentNode); code = null; } else code.textContent += line + "\n";
        continue;
      }
      if (/^\s*```/.test(line)) { flush(); list = null; code = el("pre").appendChild(el("code")); continue; }
      const item = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
      if (item) {
        flush();
        const tag = item[1] ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== tag) out.append(list = el(tag));
        list.append(inline(item[3], el("li")));
        continue;
      }
      if (!line.trim()) { flush(); list = null; continue; }
      const heading = /^#{1,6}\s+(.*)$/.exec(line);
      if (heading) { flush(); list = null; out.append(inline(heading[1], el("p", "h"))); continue; }
      if (list && /^\s{2,}\S/.test(line)) { inline(" " + line.trim(), list.lastChild); continue; }
      list = null;
      para.push(line.trim());
    }
    flush();
    if (code) out.append(code.parentNode);
    return out;
  }

  // ---- server-sent events over fetch (EventSource cannot POST or send a token) ----------
  async function* sse(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = { id: null, type: "message", data: "" };
        for (const line of block.split("\n")) {
          if (!line || line[0] === ":") continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") event.id = Number(val);
          else if (field === "event") event.type = val;
          else if (field === "data") event.data += (event.data ? "\n" : "") + val;
        }
        if (event.data) yield { seq: event.id, type: event.type, body: JSON.parse(event.data) };
      }
    }
  }

  // ---- storage: {token, user, expires, session, stream: {id, messageId, seq, text, sources}} --
  class Store {
    constructor(kind, name) {
      this.name = name;
      this.area = kind === "local" ? window.localStorage : kind === "session" ? window.sessionStorage : null;
      this.memory = {};
    }
    get() {
      try { return this.area ? JSON.parse(this.area.getItem(this.name) || "{}") : this.memory; } catch { return {}; }
    }
    set(patch) {
      const next = { ...this.get(), ...patch };
      try { if (this.area) this.area.setItem(this.name, JSON.stringify(next)); else this.memory = next; } catch { this.memory = next; }
      return next;
    }
    clear(keep) {
      const kept = {};
      for (const k of keep) kept[k] = this.get()[k];
      try { if (this.area) this.area.removeItem(this.name); } catch { /* storage blocked */ }
      this.memory = {};
      this.set(kept);
    }
  }

  // ---- the API ---------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, problem, retryAfter) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.code = problem.code || (status === 0 ? "network" : "http_" + status);
      this.retryAfter = retryAfter;
      this.hint = problem.hint;
    }
  }
  async function call(path, { token, method = "GET", body, headers = {}, stream = false } = {}) {
    let response;
    try {
      response = await fetch(BASE + path, {
        method,
        headers: { authorization: "Bearer " + token, accept: stream ? "text/event-stream" : "application/json",
          ...(body ? { "content-type": "application/json" } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, {});
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new ApiError(response.status, problem, Number(response.headers.get("retry-after")) || problem.retry_after);
    }
    return stream ? response : response.json();
  }

  // ---- the widget ------------------------------------------------------------------------
  const CSS = `
:host{all:initial!important;position:fixed!important;z-index:2147483000!important;bottom:0!important;right:0!important;display:block!important;width:0!important;height:0!important;visibility:visible!important;opacity:1!important;transform:none!important}
:host{--cw-accent:#7b2340;--cw-on-accent:#fff;--cw-bg:#fff;--cw-fg:#1d1b1c;--cw-muted:#6a6466;--cw-line:#e6e1e2;--cw-bot:#f4f1f1;--cw-radius:14px;--cw-font:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.root{font:15px/1.45 var(--cw-font);color:var(--cw-fg);letter-spacing:normal;text-align:left;text-transform:none;direction:ltr}
@media (prefers-color-scheme:dark){:host{--cw-bg:#1e1b1c;--cw-fg:#f2eeee;--cw-muted:#b3abad;--cw-line:#3a3436;--cw-bot:#2b2627}}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
button,input,textarea{font:inherit;color:inherit}
:focus-visible{outline:3px solid var(--cw-accent);outline-offset:2px}
.launcher{position:fixed;bottom:20px;right:20px;width:60px;height:60px;border-radius:50%;border:0;background:var(--cw-accent);color:var(--cw-on-accent);cursor:pointer;box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;padding:0;margin:0}
.left .launcher,.left .panel{right:auto;left:20px}
.launcher svg{width:28px;height:28px;fill:currentColor}
.panel{position:fixed;bottom:92px;right:20px;width:380px;height:min(620px,calc(100vh - 120px));background:var(--cw-bg);border:1px solid var(--cw-line);border-radius:var(--cw-radius);box-shadow:0 12px 40px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden}
@media (prefers-reduced-motion:no-preference){.panel{animation:cw-in .18s ease-out}@keyframes cw-in{from{opacity:0;transform:translateY(12px)}}}
@media (max-width:480px){.panel{inset:0;width:auto;height:auto;border-radius:0;border:0}.open .launcher{display:none}}
.header{display:flex;align-items:center;gap:10px;padding:12px 12px 12px 16px;background:var(--cw-accent);color:var(--cw-on-accent)}
.avatar{width:32px;height:32px;border-radius:50%;object-fit:cover;background:var(--cw-on-accent)}
.title{flex:1;font-weight:600;font-size:16px;margin:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.icon{background:transparent;border:0;color:inherit;cursor:pointer;border-radius:8px;padding:6px 8px;font-size:13px;line-height:1;margin:0;display:flex;align-items:center}
.icon svg{width:20px;height:20px}
.icon:hover{background:rgba(255,255,255,.16)}
.log{flex:1;overflow-y:auto;padding:16px;display:flex;flex-direction:column;gap:10px;margin:0;list-style:none}
.msg{max-width:88%;display:flex;flex-direction:column;gap:6px;margin:0;padding:0}
.msg.user{align-self:flex-end}
.bubble{padding:9px 13px;border-radius:var(--cw-radius);background:var(--cw-bot);overflow-wrap:anywhere}
.user .bubble{background:var(--cw-accent);color:var(--cw-on-accent);white-space:pre-wrap}
.bubble p{margin:0 0 8px}.bubble p:last-child{margin:0}.bubble .h{font-weight:600}
.bubble ul,.bubble ol{margin:0 0 8px;padding-left:22px}
.bubble code{font:13px ui-monospace,Menlo,Consolas,monospace;background:rgba(127,127,127,.16);padding:1px 4px;border-radius:4px}
.bubble pre{margin:0 0 8px;padding:8px;overflow-x:auto;background:rgba(127,127,127,.16);border-radius:8px}.bubble pre code{background:none;padding:0}
.bubble a{color:inherit;text-decoration:underline}
.streaming .bubble:empty::after,.streaming .bubble>:last-child::after{content:"\u258d";opacity:.6}
.error .bubble{background:transparent;border:1px solid #c0392b;color:inherit}
.status{font-size:13px;color:var(--cw-muted);padding:0 16px 6px}
.typing{font-size:13px;color:var(--cw-muted);font-style:italic;padding:0 16px 4px}
.ticket{display:flex;flex-direction:column;gap:8px;background:var(--cw-bot);border-radius:var(--cw-radius);padding:10px 13px;max-width:88%}
.ticket p{margin:0}.ticket input[type=email]{font:inherit;padding:7px;border:1px solid var(--cw-line);border-radius:8px;background:var(--cw-bg);color:var(--cw-fg)}
.consent{font-size:12px;color:var(--cw-muted)}.ticket button{align-self:flex-start;border:0;border-radius:8px;padding:6px 12px;background:var(--cw-accent);color:var(--cw-on-accent);font:inherit;cursor:pointer}
.sources{display:flex;flex-direction:column;gap:4px;margin:0;padding:0;list-style:none;font-size:13px}
.source{border:1px solid var(--cw-line);border-radius:10px;padding:6px 9px;display:flex;gap:7px;align-items:flex-start}
.source .n{flex:none;min-width:18px;height:18px;border-radius:9px;background:var(--cw-accent);color:var(--cw-on-accent);text-align:center;font-size:11px;line-height:18px;margin-top:1px}
.source div{min-width:0;flex:1}
.source .t{display:block;font-weight:600;color:inherit;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.snippet{color:var(--cw-muted);font-size:12.5px;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;margin:1px 0 0}
.rate{display:flex;flex-wrap:wrap;gap:4px;align-items:center;font-size:13px;color:var(--cw-muted)}
.rate button{border:1px solid var(--cw-line);background:var(--cw-bg);color:var(--cw-muted);border-radius:8px;padding:3px 7px;cursor:pointer;margin:0;display:flex}
.rate svg,.icon svg{width:16px;height:16px;fill:currentColor}.rate .down svg{transform:rotate(180deg)}
.rate button[aria-pressed=true]{color:var(--cw-accent)}
.ask{display:flex;gap:6px}.ask button{border:1px solid var(--cw-accent);border-radius:8px;padding:5px 12px;cursor:pointer;background:var(--cw-bg);color:var(--cw-accent)}.ask .yes{background:var(--cw-accent);color:#fff}
.rate button[aria-pressed=true]{border-color:var(--cw-accent);background:var(--cw-bot)}
.rate form{display:flex;gap:4px;flex:1 1 150px}.rate input{flex:1;min-width:0;border:1px solid var(--cw-line);border-radius:8px;padding:2px 6px;background:var(--cw-bg)}
.starters{display:flex;flex-wrap:wrap;gap:6px}
.starters button{border:1px solid var(--cw-accent);color:var(--cw-fg);background:var(--cw-bg);border-radius:16px;padding:5px 11px;cursor:pointer;margin:0;font-size:14px}
.composer{display:flex;gap:8px;padding:10px 12px;border-top:1px solid var(--cw-line);margin:0}
.composer textarea{flex:1;resize:none;border:1px solid var(--cw-line);border-radius:10px;padding:8px 10px;background:var(--cw-bg);height:40px;max-height:120px;min-width:0}
.send{border:0;border-radius:10px;background:var(--cw-accent);color:var(--cw-on-accent);padding:0 14px;cursor:pointer;font-weight:600;margin:0}
.send:disabled{opacity:.5;cursor:default}
.who{font-size:12px;color:var(--cw-muted)}
.note{font-size:12px;color:var(--cw-muted);padding:0 14px 10px;margin:0}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}`;
  const CHAT_ICON = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  const THUMB_ICON = "M2 10h4v11H2zM8 21h9.5a2 2 0 0 0 1.9-1.4l2-6.6A2 2 0 0 0 19.5 10H14l1-4.5A2 2 0 0 0 13 3l-5 7z";
  const CLOSE_ICON = "M5 6.4 6.4 5l5.6 5.6L17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6z";
  function icon(d) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    svg.append(path);
    return svg;
  }

  class Widget {
    constructor() {
      const data = script.dataset;
      this.bot = data.bot || "";
      this.lang = data.lang;
      this.position = data.position;
      this.pageToken = data.userToken || null;
      this.settings = { title: "", widget: {} };
      this.strings = STRINGS.en;
      this.busy = false;
      this.build();
      this.started = this.start(data.open !== undefined && data.open !== "false");
    }

    t(name, vars = {}) {
      return (this.strings[name] || STRINGS.en[name] || name).replace(/\{(\w+)\}/g, (_, k) => vars[k]);
    }

    build() {
      this.host = document.createElement("chinwag-widget");
      const shadow = this.host.attachShadow({ mode: "open" });
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
      this.root = el("div", "root");
      this.root.hidden = true; // no text in a language the bot may not speak: shown by start()
      this.launcher = el("button", "launcher");
      this.launcher.part = "launcher";
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.setAttribute("aria-controls", "chinwag-panel");
      this.launcher.append(icon(CHAT_ICON));
      this.launcher.addEventListener("click", () => (this.panel.hidden ? this.open() : this.close()));

      this.panel = el("div", "panel");
      Object.assign(this.panel, { id: "chinwag-panel", hidden: true, part: "panel" });
      this.panel.setAttribute("role", "dialog");
      this.panel.setAttribute("aria-labelledby", "chinwag-title");
      this.panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); this.close(); } });
      const header = el("div", "header");
      header.part = "header";
      this.avatar = el("img", "avatar");
      Object.assign(this.avatar, { alt: "", hidden: true });
      this.title = el("h2", "title");
      this.title.id = "chinwag-title";
      this.personButton = el("button", "icon");
      Object.assign(this.personButton, { type: "button", hidden: true });
      this.personButton.addEventListener("click", () => this.askPerson());
      this.newButton = el("button", "icon");
      this.newButton.addEventListener("click", () => this.reset());
      this.closeButton = el("button", "icon");
      this.closeButton.append(icon(CLOSE_ICON));
      this.closeButton.addEventListener("click", () => this.close());
      header.append(this.avatar, this.title, this.personButton, this.newButton, this.closeButton);

      this.log = el("div", "log");
      this.log.part = "log";
      this.log.setAttribute("role", "log");
      this.log.setAttribute("aria-live", "off"); // answers are announced once, by this.announcer
      this.log.tabIndex = 0;
      this.announcer = el("div", "sr");
      this.announcer.setAttribute("aria-live", "polite");
      this.announcer.setAttribute("data-chinwag-announcer", "");
      this.status = el("div", "status");
      this.status.setAttribute("role", "status");
      this.typing = el("div", "typing"); // "<name> is typing…" while an operator writes
      this.typing.part = "typing";
      this.typing.hidden = true;
      const form = this.composer = el("form", "composer");
      this.input = el("textarea");
      this.input.part = "input";
      this.input.rows = 1;
      this.input.addEventListener("keydown", (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
      });
      this.input.addEventListener("input", () => this.signalTyping());
      this.sendButton = el("button", "send");
      this.sendButton.part = "send";
      this.sendButton.type = "submit";
      form.append(this.input, this.sendButton);
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        const text = this.input.value.trim();
        if (text && !this.busy) { this.input.value = ""; this.send(text); }
      });
      this.note = el("p", "note");
      this.panel.append(header, this.log, this.typing, this.status, form, this.note, this.announcer);
      this.root.append(this.panel, this.launcher);
      shadow.append(this.root);
      document.body.append(this.host);
      this.applyTexts();
    }

    applyTexts() {
      const w = this.settings.widget;
      const page = /^(nb|nn|no)\b/i.test(document.documentElement.lang) ? "nb" : "en";
      this.language = STRINGS[this.lang || w.language || page] ? this.lang || w.language || page : "en";
      this.strings = { ...STRINGS[this.language], ...(w.strings || {}) };
      this.root.classList.toggle("left", (this.position || w.position) === "left");
      if (w.accent) this.host.style.setProperty("--cw-accent", w.accent); // CSSOM: no style attribute a CSP refuses
      this.launcher.setAttribute("aria-label", this.t("launcher"));
      this.title.textContent = this.settings.title || this.t("launcher");
      this.newButton.textContent = this.t("new_chat");
      this.personButton.textContent = this.t("person");
      this.closeButton.setAttribute("aria-label", this.t("close"));
      this.sendButton.textContent = this.t("send");
      this.input.placeholder = w.placeholder || this.t("placeholder");
      this.input.setAttribute("aria-label", this.input.placeholder);
      this.note.textContent = w.privacy_note || "";
      this.note.hidden = !w.privacy_note;
      if (w.avatar) { this.avatar.src = w.avatar; this.avatar.hidden = false; }
    }

    // Reads the bot's settings; shows the widget once its language is known. A key or origin
    // the server refuses closes the chat for this page; a server that cannot be reached (or
    // fails) is tried again on the next Send.
    async start(openNow) {
      try {
        const auth = this.pageToken || KEY;
        this.settings = await call(this.bot ? `/v1/bots/${encodeURIComponent(this.bot)}/widget` : "/v1/widget", { token: auth });
        this.bot = this.settings.bot_id;
        this.failed = null;
      } catch (error) {
        await this.explain(error);
        this.store = new Store("none");
        this.failed = error;
        this.applyTexts();
        this.root.hidden = false;
        this.showError(error);
        if (openNow) this.open();
        return;
      }
      this.log.querySelectorAll(".notice").forEach((e) => e.remove());
      this.store = new Store(this.settings.widget.persistence, `chinwag:${BASE}:${this.bot}`);
      this.applyTexts();
      this.root.hidden = false;
      if (openNow) this.open();
      this.shown = new Set(); // messages in the log, by id (an operator's comes once)
      this.ready = this.restore().then(() => this.showPerson());
    }

    // "Talk to a person": for a bot with handoff on, once a conversation exists and no person
    // has it (or is asked for).
    showPerson() {
      const saved = this.store.get();
      this.personButton.hidden = !(this.settings.handoff && saved.session && !saved.handoff);
    }

    // Under an answer the bot could not give: the same request as the header's button.
    offerPerson() {
      const box = el("div", "starters offer"), b = el("button", "", this.t("person"));
      b.type = "button";
      b.addEventListener("click", () => this.askPerson());
      box.append(b);
      return box;
    }

    async askPerson() {
      this.log.querySelectorAll(".offer").forEach((offer) => offer.remove());
      try {
        const sid = encodeURIComponent(this.store.get().session);
        const out = await call(`/v1/bots/${this.bot}/sessions/${sid}/handoff`, { token: await this.token(), method: "POST" });
        this.store.set({ handoff: out.state });
        this.showPerson();
        if (out.text) this.keepEnd(() => this.log.append(this.message("bot", out.text)));
        this.followSession();
      } catch (error) { this.showError(error); }
    }

    // The conversation's own events while a person has it: their messages, who joined, and the
    // hand-back; resumed after the last seq seen (kept with the session), also after a reload.
    async followSession() {
      const sid = this.store.get().session;
      if (this.following === sid) return;
      this.following = sid;
      for (let attempt = 0; this.store.get().session === sid && this.following === sid; ) {
        try {
          const after = this.store.get().seen || 0;
          const response = await call(`/v1/bots/${this.bot}/sessions/${encodeURIComponent(sid)}/events?after=${after}`, { token: await this.token(), stream: true });
          for await (const event of sse(response)) {
            attempt = 0;
            if (this.store.get().session !== sid) break;
            if (event.seq === null) { this.onTyping(event.body); continue; } // not in the log
            this.store.set({ seen: event.seq });
            if (this.onSessionEvent(event.body)) { this.following = null; return; }
          }
        } catch (error) {
          if (error.status && error.status !== 429 && error.status < 500) break;
        }
        await sleep(backoff(attempt++));
      }
      if (this.following === sid) this.following = null;
    }

    // An operator is typing: shown until their message comes, or for as long as the signal says.
    onTyping(body) {
      if (body.type !== "typing" || body.who !== "operator") return;
      clearTimeout(this.typingTimer);
      this.typing.textContent = this.t("typing", { name: body.name || "" });
      this.typing.hidden = false;
      this.typingTimer = setTimeout(() => this.hideTyping(), body.expires_in_ms || 5000);
    }

    hideTyping() {
      clearTimeout(this.typingTimer);
      this.typing.hidden = true;
    }

    // While a person has the conversation, the visitor's typing shows in their inbox: one
    // signal at most every 2 s (the server drops more).
    signalTyping() {
      const saved = this.store && this.store.get();
      if (!saved || !saved.handoff || !saved.session || Date.now() - (this.typedAt || 0) < 2000) return;
      this.typedAt = Date.now();
      const sid = encodeURIComponent(saved.session);
      this.token().then((token) => call(`/v1/bots/${this.bot}/sessions/${sid}/typing`, { token, method: "POST" }))
        .catch(() => {}); // an indicator that does not show is no failure
    }

    onSessionEvent(body) {
      if (body.type === "message.created" && body.author.kind === "operator") this.hideTyping();
      if (body.type === "message.created" && body.author.kind === "operator" && !this.shown.has(body.message_id)) {
        this.shown.add(body.message_id);
        this.keepEnd(() => this.log.append(this.operatorMessage(body.author.name, body.text)));
        this.announcer.append(el("p", "", body.text));
      } else if (body.type === "handoff.claimed") this.setStatus(this.t("joined", body.operator));
      else if (body.type === "handoff.ticket_offered") this.offerTicket(body);
      else if (body.type === "ticket.created" && this.ticketForm) this.ticketForm.replaceWith(this.message("bot", this.pick(body.text)));
      if (!body.state) return false;
      const over = body.state === "bot" || body.state === "closed";
      this.store.set({ handoff: over ? null : body.state });
      if (over) { this.hideTyping(); this.setStatus(this.t("back_to_bot")); }
      this.showPerson();
      return over;
    }

    pick(texts) { return texts[this.language] || texts.en; }

    // Nobody can answer live: a form to leave an email address, with the bot's consent text.
    offerTicket(offer) {
      if (this.ticketForm) this.ticketForm.remove();
      const form = (this.ticketForm = el("form", "ticket"));
      const email = el("input");
      Object.assign(email, { type: "email", required: true, autocomplete: "email", placeholder: this.t("email") });
      email.setAttribute("aria-label", this.t("email"));
      const consent = el("input");
      Object.assign(consent, { type: "checkbox", required: true });
      const label = el("label", "consent");
      label.append(consent, " " + this.pick(offer.consent));
      const send = el("button", "", this.t("send"));
      if (offer.reason !== "after_hours") form.append(el("p", "", this.pick(offer.text))); // else said already
      form.append(email, label, send);
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        send.disabled = true;
        try {
          const sid = encodeURIComponent(this.store.get().session);
          const body = { email: email.value, consent: consent.checked, language: this.language };
          const out = await call(`/v1/bots/${this.bot}/sessions/${sid}/ticket`, { token: await this.token(), method: "POST", body });
          form.replaceWith(this.message("bot", out.text));
          this.ticketForm = null;
        } catch (error) { send.disabled = false; this.showError(error); }
      });
      this.keepEnd(() => this.log.append(form));
    }

    operatorMessage(name, text) {
      const item = this.message("bot", text);
      item.prepend(el("div", "who", name));
      return item;
    }

    async follows(answer, stream) {
      this.busy = true;
      this.sendButton.disabled = true;
      try { await this.follow(answer, stream); } finally { this.busy = false; this.sendButton.disabled = false; }
    }

    async explain(error) {
      // A CORS refusal and a dead server look alike to a page; an opaque request tells them apart.
      const reachable = () => fetch(BASE + "/healthz", { mode: "no-cors", cache: "no-store" }).then(() => true, () => false);
      if (error.status === 0 && await reachable()) error.refused = true; // CORS said no
      if (error.code === "origin_not_allowed" || error.refused) {
        console.error(`chinwag: ${BASE} refused requests from ${location.origin}: this origin is not among the publishable key's allowed origins (use a key made with: chinwag keys create --kind publishable --bot BOT --name NAME --origin ${location.origin}). Nothing was sent.`);
      } else if (error.status === 0) {
        console.error(`chinwag: cannot reach ${BASE}; the chat service is down or blocked.`);
      } else {
        console.error(`chinwag: ${error.message}${error.hint ? " \u2014 " + error.hint : ""}`);
      }
    }

    open() {
      if (this.root.hidden) return void this.started.then(() => this.open());
      this.panel.hidden = false;
      this.root.classList.add("open");
      this.launcher.setAttribute("aria-expanded", "true");
      this.log.scrollTop = this.log.scrollHeight;
      this.input.focus();
    }

    close() {
      this.panel.hidden = true;
      this.root.classList.remove("open");
      this.launcher.setAttribute("aria-expanded", "false");
      this.launcher.focus();
    }

    async token() {
      const saved = this.store.get();
      if (this.pageToken) return this.pageToken;
      if (saved.token && saved.expires > Date.now() + 60000) return saved.token;
      const made = await call(`/v1/bots/${this.bot}/tokens`, { token: KEY, method: "POST", body: this.identity || {} });
      this.store.clear([]); // a new anonymous user: the old one's session is not theirs
      this.store.set({ token: made.token, user: made.user_id, expires: Date.parse(made.expires_at) });
      return made.token;
    }

    async restore() {
      let saved = this.store.get();
      if (!saved.session && this.pageToken) {
        // A signed-in visitor on a new device: continue their latest session.
        const latest = await call(`/v1/bots/${this.bot}/sessions?limit=1`, { token: this.pageToken }).catch(() => null);
        if (latest && latest.sessions.length) saved = this.store.set({ session: latest.sessions[0].id });
      }
      if (!saved.session || (!saved.token && !this.pageToken)) return this.greet();
      let messages = [], offer = null;
      try {
        const page = await call(`/v1/bots/${this.bot}/sessions/${encodeURIComponent(saved.session)}/messages?limit=500`, { token: await this.token() });
        ({ messages, ticket_offer: offer } = page);
      } catch (error) {
        if (error.status === 404 || error.status === 401) { this.store.clear(["token", "user", "expires"]); return this.greet(); }
        return this.showError(error);
      }
      this.greet();
      const live = saved.stream;
      for (const m of messages) {
        if (live && m.id === live.messageId && m.status === "streaming") continue;
        this.shown.add(m.id);
        if (m.author && m.author.kind === "operator") this.log.append(this.operatorMessage(m.author.name, m.content));
        else if (m.role === "user") this.addUser(m.content);
        else {
          // A confirmation not answered yet shows its Confirm/Cancel again (pending_action).
          const answer = Object.assign(this.addAnswer(m.id), { error: { code: m.error_code }, confirm: m.pending_action });
          this.finish(answer, m.content, m.citations, m.status, false);
        }
      }
      const streaming = live && messages.find((m) => m.id === live.messageId && m.status === "streaming");
      if (streaming) {
        const bubble = this.addAnswer(live.messageId);
        bubble.confirm = streaming.pending_action; // its tool.confirmation may be before `after`
        bubble.text = live.text || "";
        bubble.sources = live.sources || [];
        this.render(bubble);
        this.follows(bubble, live); // not awaited: `ready` means the history is shown
      } else if (live) {
        this.store.set({ stream: null });
      }
      if (offer) this.offerTicket(offer); // offered before the reload, not filled in yet
      if (saved.handoff) this.followSession(); // not awaited: it stays open
    }

    greet() {
      const w = this.settings.widget;
      if (this.log.childElementCount) return;
      if (w.greeting) this.log.append(this.message("bot", w.greeting));
      if (w.starters && w.starters.length) {
        const box = el("div", "starters");
        for (const q of w.starters) {
          const b = el("button", "", q);
          b.type = "button";
          b.addEventListener("click", () => { box.remove(); this.send(q); });
          box.append(b);
        }
        this.log.append(box);
      }
    }

    message(role, text) {
      const item = el("div", "msg " + role);
      item.part = "message";
      const bubble = el("div", "bubble");
      bubble.part = "bubble";
      if (role === "user") bubble.textContent = text; else bubble.append(markdown(text));
      item.append(bubble);
      return item;
    }

    addUser(text) {
      this.log.querySelector(".starters")?.remove();
      const item = this.log.appendChild(this.message("user", text));
      this.log.scrollTop = this.log.scrollHeight;
      return item;
    }

    // Changes the log and keeps its end in view, unless the visitor had scrolled up to read.
    keepEnd(change) {
      const log = this.log;
      const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      change();
      if (atEnd) log.scrollTop = log.scrollHeight;
    }

    addAnswer(messageId) {
      const item = this.message("bot streaming", "");
      const answer = { item, bubble: item.firstChild, messageId, text: "", sources: [] };
      this.log.append(item);
      return answer;
    }

    render(answer) {
      this.keepEnd(() => answer.bubble.replaceChildren(markdown(answer.text)));
    }

    async send(text, extra) {
      await this.started;
      if (this.closed) return;
      if (this.failed) await (this.started = this.start(false));
      if (this.failed) { if (!this.closed && !this.input.value) this.input.value = text; return; } // kept for later
      await this.ready;
      if (this.busy) return;
      this.busy = true;
      this.sendButton.disabled = true;
      this.clearStatus();
      if (this.unsent && this.log.lastElementChild?.matches(".notice")) this.log.lastElementChild.remove(); // about this text
      const mine = this.addUser(text);
      const answer = this.addAnswer(null);
      // The same text sent again after the server could not be reached: the same message.
      const idempotencyKey = this.unsent && this.unsent.text === text ? this.unsent.key : uid();
      this.unsent = null;
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            const token = await this.token(); // first: a new anonymous user starts a new session
            const saved = this.store.get();
            const response = await call(`/v1/bots/${this.bot}/messages`, {
              token, method: "POST", stream: true,
              body: { message: text, ...(saved.session ? { session_id: saved.session } : {}), ...extra },
              headers: { "idempotency-key": idempotencyKey },
            });
            if ((response.headers.get("content-type") || "").startsWith("application/json")) {
              // A person has this conversation (or is asked for): stored, no bot answer.
              const held = await response.json();
              answer.item.remove();
              this.store.set({ session: held.session_id, handoff: held.handoff });
              this.followSession();
              break;
            }
            const stream = { id: response.headers.get("x-chinwag-stream-id"), messageId: null, seq: 0, text: "", sources: [] };
            this.store.set({ session: response.headers.get("x-chinwag-session-id"), stream });
            await this.follow(answer, stream, response);
            break;
          } catch (error) {
            // Nothing was accepted yet (or we cannot know; a server shutting down took nothing):
            // the same Idempotency-Key makes a retry safe.
            const draining = error.code === "server_draining";
            if (error.status === 401 && !this.pageToken && this.store.get().token && !attempt) {
              this.store.clear([]); // a token the server no longer knows: ask the key for a new one
              continue;
            }
            if ((error.status !== 0 && !draining) || attempt >= 5) throw error;
            this.setStatus(this.t("reconnecting"));
            await sleep(draining ? error.retryAfter * 1000 : backoff(attempt));
          }
        }
      } catch (error) {
        answer.item.remove();
        this.clearStatus();
        if (error.status === 0) { // not delivered: back in the box, one "cannot reach" notice
          mine.remove();
          if (!this.input.value) this.input.value = text;
          this.unsent = { text, key: idempotencyKey };
        }
        this.showError(error);
      } finally {
        this.busy = false;
        this.sendButton.disabled = false;
        this.showPerson();
      }
    }

    async follow(answer, stream, response) {
      for (let attempt = 0; ; ) {
        try {
          response = response || await call(`/v1/streams/${stream.id}/events?after=${stream.seq}`, { token: await this.token(), stream: true });
          this.clearStatus();
          for await (const event of sse(response)) {
            attempt = 0;
            if (event.seq <= stream.seq) continue; // never twice
            stream.seq = event.seq;
            if (this.apply(answer, stream, event)) { this.store.set({ stream: null }); return; }
            this.store.set({ stream });
          }
        } catch (error) {
          if (error.status && error.status !== 429 && error.status < 500) {
            answer.item.remove();
            this.store.set({ stream: null });
            return this.showError(error);
          }
        }
        response = null; // the connection ended before stream.completed: resume after stream.seq
        this.setStatus(this.t("reconnecting"));
        await sleep(backoff(attempt++));
      }
    }

    apply(answer, stream, { type, body }) {
      if (type === "stream.started") stream.messageId = answer.messageId = body.message_id;
      else if (type === "retrieval.completed") stream.sources = answer.sources = body.sources;
      else if (type === "tool.confirmation") answer.confirm = body;
      else if (type === "message.delta") {
        stream.text = answer.text += body.text;
        this.schedule(answer);
      } else if (type === "message.completed") {
        answer.messageId = body.message_id;
        this.finish(answer, body.text, body.sources, "complete", true);
        window.dispatchEvent(new CustomEvent("chinwag:message", { detail: { messageId: body.message_id, text: body.text, sources: body.sources } }));
      } else if (type === "message.declined") {
        answer.offer = body.offer;
      } else if (type === "handoff.offered") { // a tool call failed: a person may help
        answer.offer = "handoff";
      } else if (type === "handoff.requested") {
        this.store.set({ handoff: body.state });
        this.followSession();
      } else if (type === "error") {
        answer.error = body;
      } else if (type === "stream.completed") {
        if (body.status !== "completed") this.finish(answer, answer.text, answer.sources, body.status, true);
        return true;
      }
      return false;
    }

    schedule(answer) {
      if (answer.frame) return;
      answer.frame = requestAnimationFrame(() => { answer.frame = 0; this.render(answer); });
    }

    finish(answer, text, sources, status, announce) {
      cancelAnimationFrame(answer.frame || 0);
      answer.text = text;
      answer.item.classList.remove("streaming");
      this.keepEnd(() => this.complete(answer, text, sources, status, announce));
    }

    complete(answer, text, sources, status, announce) {
      answer.bubble.replaceChildren(markdown(text));
      if (status !== "complete") {
        const why = status === "interrupted" ? this.t("stopped") : this.errorText(answer.error);
        if (announce && answer.error && answer.error.message) console.error(`chinwag: ${answer.error.code}: ${answer.error.message}`);
        answer.item.classList.add("error");
        if (text) answer.item.append(el("div", "status", why)); else answer.bubble.textContent = why;
      }
      if (sources && sources.length) answer.item.append(this.sources(sources));
      if (status === "complete" && answer.confirm) answer.item.append(this.confirmation(answer.confirm));
      else if (status === "complete" && answer.messageId) answer.item.append(this.rating(answer.messageId));
      if (answer.offer === "handoff" && this.settings.handoff && !this.store.get().handoff) answer.item.append(this.offerPerson());
      if (announce) this.announcer.append(el("p", "", answer.bubble.innerText || this.t("failed")));
    }

    sources(list) {
      const box = el("ol", "sources");
      box.part = "sources";
      box.setAttribute("aria-label", this.t("sources"));
      list.forEach((s, i) => {
        // The document's title first (a link to it when it has a URL), then the passage used.
        const chip = el("li", "source"), body = el("div");
        const title = s.title || s.document, linked = s.url && link(s.url, title);
        const head = linked && linked.nodeType === 1 ? linked : el("span", "", title);
        head.className = "t";
        head.title = title; // the whole title when CSS cuts it
        body.append(head);
        if (s.snippet) body.append(el("p", "snippet", s.snippet));
        chip.append(el("span", "n", String(i + 1)), body);
        box.append(chip);
      });
      return box;
    }

    confirmation({ action_id }) {
      // The visitor's answer is a message of its own; the server makes the call at most once.
      const box = el("div", "ask");
      box.part = "confirmation";
      for (const decision of ["confirm", "cancel"]) {
        const button = el("button", decision === "confirm" ? "yes" : "no", this.t(decision));
        button.addEventListener("click", () => {
          box.querySelectorAll("button").forEach((b) => { b.disabled = true; });
          this.send(button.textContent, { confirm: { action_id, decision } });
        });
        box.append(button);
      }
      return box;
    }

    rating(messageId) {
      const box = el("div", "rate");
      const chosen = { rating: 0 };
      const up = el("button", "up"), down = el("button", "down");
      up.append(icon(THUMB_ICON));
      down.append(icon(THUMB_ICON));
      const form = el("form");
      const comment = el("input");
      comment.placeholder = this.t("comment");
      comment.setAttribute("aria-label", this.t("comment"));
      comment.maxLength = 2000;
      form.append(comment);
      form.hidden = true;
      const thanks = el("span", "", this.t("thanks"));
      thanks.hidden = true;
      const save = async () => {
        const body = { rating: chosen.rating, ...(comment.value.trim() ? { comment: comment.value.trim() } : {}) };
        try {
          await call(`/v1/messages/${messageId}/feedback`, { token: await this.token(), method: "PUT", body });
          thanks.hidden = false;
          window.dispatchEvent(new CustomEvent("chinwag:feedback", { detail: { messageId, ...body } }));
        } catch (error) { this.showError(error); }
      };
      for (const [button, value, label] of [[up, 1, "helpful"], [down, -1, "not_helpful"]]) {
        button.type = "button";
        button.setAttribute("aria-label", this.t(label));
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", () => {
          chosen.rating = value;
          up.setAttribute("aria-pressed", String(value === 1));
          down.setAttribute("aria-pressed", String(value === -1));
          form.hidden = false;
          save();
        });
      }
      form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
      box.append(up, down, form, thanks);
      return box;
    }

    // Visitors get the widget's own words; the server's detail (which may name an LLM server)
    // goes to the console for the site's developers.
    errorText(error) {
      if (!error) return this.t("failed");
      if (error.code === "network") return this.t("offline");
      if (error.code === "rate_limited" || error.code === "too_many_open_streams") return this.t("rate_limited", { s: error.retryAfter || error.retry_after || 1 });
      if (error.code === "interrupted") return this.t("stopped");
      const down = /^(llm_|local_model_|database_|knowledge_|embedding_)/.test(error.code || "");
      if (down || error.retryable || [401, 403, 404].includes(error.status) || error.status >= 500) return this.t("unavailable");
      return this.t("failed");
    }

    // One alert at the end of the log: the same error again replaces it rather than stacking.
    showError(error) {
      if (error !== this.failed && error.status) console.error(`chinwag: ${error.code}: ${error.message}${error.hint ? " \u2014 " + error.hint : ""}`);
      const refused = error.refused || error.status === 401 || error.status === 403;
      if (refused) this.closeChat();
      const text = refused ? this.t("unavailable_here") : this.errorText(error);
      const last = this.log.lastElementChild;
      if (last && last.matches(".notice") && last.textContent === text) last.remove();
      const item = this.message("bot error notice", "");
      item.setAttribute("role", "alert");
      item.firstChild.textContent = text;
      this.log.append(item);
      this.log.scrollTop = this.log.scrollHeight;
    }

    // The server refuses this page's key or origin: nothing the visitor types could be sent.
    closeChat() {
      this.closed = true;
      this.composer.hidden = this.newButton.hidden = true;
      this.log.replaceChildren();
      this.store.clear([]);
      this.clearStatus();
    }

    setStatus(text) { this.status.textContent = text; }
    clearStatus() { this.status.textContent = ""; }

    reset() {
      if (this.closed) return;
      this.store.clear(["token", "user", "expires"]);
      this.log.replaceChildren();
      this.clearStatus();
      this.showPerson();
      this.greet();
      this.input.focus();
    }

    // A token your server made, or the verified identity to ask one for (with the name and
    // email the console shows); null: an anonymous visitor again.
    identify(token) {
      if (this.closed) return;
      this.identity = token && typeof token === "object" ? token : null;
      this.pageToken = this.identity ? null : token || null;
      if (!this.store) return; // the settings are still on their way: start() signs in with it
      this.store.clear([]);
      this.log.replaceChildren();
      this.ready = this.restore();
    }
  }

  // crypto.randomUUID needs a secure context; a shop on plain http still gets 128 random bits.
  const uid = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const backoff = (attempt) => Math.min(10000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);

  let widget = null;
  const whenBuilt = (fn) => (...args) => (widget ? fn(widget, ...args) : undefined);
  window.Chinwag = Object.freeze({
    open: whenBuilt((w) => w.open()),
    close: whenBuilt((w) => w.close()),
    reset: whenBuilt((w) => w.reset()),
    identify: whenBuilt((w, token) => w.identify(token)),
  });
  const boot = () => { widget = new Widget(); };
  if (document.body) boot(); else document.addEventListener("DOMContentLoaded", boot);
})();
