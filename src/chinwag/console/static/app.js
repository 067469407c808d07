// The console's shell: sign-in, navigation and the screen for each URL under /admin.
import { render } from "/admin/vendor/preact.mjs";
import { useEffect, useState } from "/admin/vendor/hooks.mjs";
import { api, html, Link, navigate, Problem, setSession } from "./lib.js";
import { Conversations, Transcript } from "./conversations.js";
import { Answers } from "./answers.js";
import { Analytics } from "./analytics.js";
import { Bots, BotEditor } from "./bots.js";
import { Knowledge } from "./knowledge.js";
import { Keys } from "./keys.js";
import { Health } from "./health.js";
import { UncertainRoutes } from "./routes.js";
import { Inbox, useInbox, WaitingCount } from "./inbox.js";
import { Operators } from "./operators.js";

// Two ways in: an admin or bot secret key, or an operator's email and password.
function SignIn({ onSignedIn }) {
  const [key, setKey] = useState("");
  const [login, setLogin] = useState({ email: "", password: "" });
  const [error, setError] = useState(null);
  const submit = (path, body) => async (e) => {
    e.preventDefault();
    try { onSignedIn(await api(path, { method: "POST", body })); }
    catch (err) { setError(err); }
  };
  const set = (name) => (e) => setLogin({ ...login, [name]: e.target.value });
  return html`<div class="card signin"><h1>chinwag console</h1>
    <form id="key-sign-in" onSubmit=${submit("/admin/session", { key })}>
      <p class="muted">Sign in with an admin key, or a bot's secret key for that bot only.</p>
      <input type="password" name="key" placeholder="cw_admin_… or cw_sk_…" value=${key}
        onInput=${(e) => setKey(e.target.value)} autocomplete="off" autofocus />
      <button class="primary" type="submit">Sign in</button></form>
    <form id="operator-sign-in" onSubmit=${submit("/admin/operator-session", login)}>
      <p class="muted">Operators: sign in with your email and password.</p>
      <input type="email" name="email" placeholder="you@shop.example" value=${login.email}
        onInput=${set("email")} autocomplete="username" />
      <input type="password" name="password" placeholder="Password" value=${login.password}
        onInput=${set("password")} autocomplete="current-password" />
      <button type="submit">Sign in as operator</button></form>
    <${Problem} error=${error} /></div>`;
}

// Each screen and who sees it: every kind of sign-in unless listed ("people": admin keys and
// operators with the admin role).
const KEYS = ["admin", "secret"];
const SCREENS = [
  ["inbox", "Inbox"], ["conversations", "Conversations", KEYS], ["routes", "Uncertain routes", KEYS],
  ["answers", "Curated answers", KEYS], ["analytics", "Analytics", KEYS], ["bots", "Bots", KEYS],
  ["knowledge", "Knowledge", KEYS], ["operators", "Operators", ["people"]], ["keys", "Keys", ["admin"]],
  ["health", "Health", ["admin"]],
];
const kindsOf = (session) => [session.kind, ...(session.kind === "admin" || (session.kind === "operator" && !session.bots) ? ["people"] : [])];

function whoLine(session) {
  if (session.kind === "admin") return "admin key";
  if (session.kind === "secret") return `secret key of ${session.bot_id}`;
  return session.bots ? `operator of ${session.bots.join(", ") || "no bot yet"}` : "operator of every bot";
}

function Shell({ session, path, onSignOut }) {
  const parts = path.split("?")[0].replace(/^\/admin\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [screen, ...rest] = parts.length ? parts : [session.kind === "operator" ? "inbox" : "conversations"];
  const [bots, botsError] = useBots(session);
  const inbox = useInbox();
  const props = { session, bots, rest, inbox };
  const pages = {
    conversations: rest.length >= 2 ? Transcript : Conversations,
    routes: UncertainRoutes, answers: Answers, analytics: Analytics,
    bots: rest.length ? BotEditor : Bots,
    knowledge: Knowledge, keys: Keys, health: Health, inbox: Inbox, operators: Operators,
  };
  const kinds = kindsOf(session);
  const shown = SCREENS.filter(([, , who]) => !who || who.some((k) => kinds.includes(k)));
  const Page = shown.some(([id]) => id === screen) ? pages[screen] : null;
  return html`<div class="layout">
    <nav class="side"><div class="brand">chinwag</div>
      ${shown.map(([id, label]) =>
        html`<${Link} href=${"/admin/" + id} class=${screen === id ? "active" : ""}>${label}${id === "inbox" ? html` <${WaitingCount} inbox=${inbox} />` : null}</${Link}>`)}
      <div class="who">Signed in: <b>${session.key_name}</b><br/>
        ${whoLine(session)}<br/>
        <button onClick=${onSignOut} id="sign-out">Sign out</button></div></nav>
    <main><${Problem} error=${botsError} />${Page ? html`<${Page} ...${props} />` : html`<p>No such page.</p>`}</main></div>`;
}

// The bots the signed-in key may see: every bot (admin), or the secret key's own bot.
function useBots(session) {
  const [bots, setBots] = useState(session.bot_id ? [session.bot_id] : session.bots || []);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (session.kind === "admin") api("/v1/bots").then((list) => setBots(list.map((b) => b.id)), setError);
  }, [session.key_prefix]);
  return [bots, error];
}

function App() {
  const [session, setSessionState] = useState(undefined);
  const [path, setPath] = useState(location.pathname + location.search);
  const signedIn = (s) => { setSession(s, () => setSessionState(null)); setSessionState(s); };
  useEffect(() => {
    const moved = () => setPath(location.pathname + location.search);
    addEventListener("popstate", moved);
    api("/admin/session").then(signedIn, () => setSessionState(null));
    return () => removeEventListener("popstate", moved);
  }, []);
  const signOut = async () => {
    await api("/admin/session", { method: "DELETE" }).catch(() => {});
    setSession(null);
    setSessionState(null);
    navigate("/admin");
  };
  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (session === null) return html`<${SignIn} onSignedIn=${signedIn} />`;
  return html`<${Shell} session=${session} path=${path} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById("app"));
