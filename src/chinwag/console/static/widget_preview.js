// The bot page's widget preview: the bot's widget as a visitor sees it, in a frame of
// /admin/preview. The widget needs a publishable key allowing this server's origin: the
// console makes one named "console-preview" for the bot through the keys API (admin keys
// only) and keeps it in this browser, making a new one when it is revoked or missing.
import { useEffect, useState } from "/admin/vendor/hooks.mjs";
import { api, html, Problem } from "./lib.js";

const PREVIEW_KEY_NAME = "console-preview";
const stored = (bot) => `chinwag-console:preview-key:${bot}`;

async function previewKey(bot) {
  const live = await api("/v1/keys");
  const kept = localStorage.getItem(stored(bot));
  const usable = live.some((k) => k.kind === "publishable" && k.bot_id === bot && k.name === PREVIEW_KEY_NAME
    && k.allowed_origins.includes(location.origin) && kept && kept.startsWith(k.prefix));
  if (usable) return kept;
  const created = await api("/v1/keys", { method: "POST", body: {
    kind: "publishable", name: PREVIEW_KEY_NAME, bot_id: bot, allowed_origins: [location.origin] } });
  localStorage.setItem(stored(bot), created.key);
  return created.key;
}

// `version` (the active one; null while loading) changes when the bot is saved or rolled back:
// the frame reloads with the new settings.
export function WidgetPreview({ bot, admin, version }) {
  const [open, setOpen] = useState(Boolean(localStorage.getItem(stored(bot))));
  const [key, setKey] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!open) return;
    previewKey(bot).then((k) => { setKey(k); setError(null); }, setError);
  }, [open, bot]);
  if (!admin) return html`<section class="preview"><h2>Widget preview</h2>
    <p class="muted small">The preview needs an admin key: it makes a publishable key for this server's origin.</p></section>`;
  const fragment = new URLSearchParams({ bot, key: key || "" }).toString();
  return html`<section class="preview" id="widget-preview"><h2>Widget preview</h2>
    ${open ? null : html`<p class="small muted">The bot's widget as a visitor sees it, with its current <code>widget:</code> settings.
      Opening it the first time in this browser creates a publishable key <code>${PREVIEW_KEY_NAME}</code> for this server's origin.</p>
      <button id="open-preview" onClick=${() => setOpen(true)}>Show the widget preview</button>`}
    <${Problem} error=${error} />
    ${open && key && version ? html`<iframe key=${version} title=${`Widget preview of ${bot}`} src=${`/admin/preview?v=${version}#${fragment}`}></iframe>
      <p class="small muted">Messages sent here are real conversations of the bot (an anonymous visitor): they appear under Conversations and in Analytics.</p>` : null}
  </section>`;
}
