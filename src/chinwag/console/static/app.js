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

function SignIn({ onSignedIn }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    try { onSignedIn(await api("/admin/session", { method: "POST", body: { key } })); }
    catch (err) { setError(err); }
  };
  return html`<form class="card signin" onSubmit=${submit}>
    <h1>chinwag console</h1>
    <p class="muted">Sign in with an admin key, or a bot's secret key for that bot only.</p>
    <input type="password" name="key" placeholder="cw_admin_… or cw_sk_…" value=${key}
      onInput=${(e) => setKey(e.target.value)} autocomplete="off" autofocus />
    <button class="primary" type="submit">Sign in</button>
    <${Problem} error=${error} /></form>`;
}

const SCREENS = [
  ["conversations", "Conversations"], ["routes", "Uncertain routes"], ["answers", "Curated answers"], ["analytics", "Analytics"],
  ["bots", "Bots"], ["knowledge", "Knowledge"], ["keys", "Keys", "admin"], ["health", "Health", "admin"],
];

function Shell({ session, path, onSignOut }) {
  const parts = path.split("?")[0].replace(/^\/admin\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [screen, ...rest] = parts.length ? parts : ["conversations"];
  const [bots, botsError] = useBots(session);
  const props = { session, bots, rest };
  const pages = {
    conversations: rest.length >= 2 ? Transcript : Conversations,
    routes: UncertainRoutes, answers: Answers, analytics: Analytics,
    bots: rest.length ? BotEditor : Bots,
    knowledge: Knowledge, keys: Keys, health: Health,
  };
  const Page = pages[screen];
  return html`<div class="layout">
    <nav class="side"><div class="brand">chinwag</div>
      ${SCREENS.filter(([, , who]) => !who || session.kind === who).map(([id, label]) =>
        html`<${Link} href=${"/admin/" + id} class=${screen === id ? "active" : ""}>${label}</${Link}>`)}
      <div class="who">Signed in: <b>${session.key_name}</b><br/>
        ${session.kind === "admin" ? "admin key" : `secret key of ${session.bot_id}`}<br/>
        <button onClick=${onSignOut} id="sign-out">Sign out</button></div></nav>
    <main><${Problem} error=${botsError} />${Page ? html`<${Page} ...${props} />` : html`<p>No such page.</p>`}</main></div>`;
}

// The bots the signed-in key may see: every bot (admin), or the secret key's own bot.
function useBots(session) {
  const [bots, setBots] = useState(session.bot_id ? [session.bot_id] : []);
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
