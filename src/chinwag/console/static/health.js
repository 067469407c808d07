// Health (admin): what /readyz and `chinwag doctor` report, on one page.
import { useEffect, useState } from "/admin/vendor/hooks.mjs";
import { html, Problem, useApi } from "./lib.js";

async function readyz() {
  const response = await fetch("/readyz");
  return { status: response.status, body: await response.json() };
}

export function Health() {
  const [ready, setReady] = useState(null);
  const [checks, error, reload] = useApi("/v1/doctor");
  const refresh = () => { readyz().then(setReady); reload(); };
  useEffect(() => { readyz().then(setReady); }, []);
  return html`<h1>Health</h1><p><button onClick=${refresh}>Check again</button></p>
    <h2>Readiness (<code>/readyz</code>)</h2>
    ${ready ? html`<p id="readiness" class=${ready.status === 200 ? "ok" : "bad"}>${ready.status === 200 ? "Ready" : `Not ready (HTTP ${ready.status})`}</p>
      <table id="readyz"><tbody>${Object.entries(ready.body.checks || ready.body).map(([name, value]) => html`<tr>
        <td>${name}</td><td class=${value && value.ok === false ? "bad" : "ok"}>${value && value.ok === false ? "✗" : "✓"}</td>
        <td class="small"><code>${JSON.stringify(value)}</code></td></tr>`)}</tbody></table>` : html`<p class="loading">Checking…</p>`}
    <h2>Integrity checks (<code>chinwag doctor</code>)</h2>
    <${Problem} error=${error} />
    ${checks ? html`<table id="doctor"><tbody>${checks.map((c) => html`<tr><td>${c.name}</td>
      <td class=${c.ok ? "ok" : "bad"}>${c.ok ? "✓" : "✗"}</td><td class="small">${c.detail}</td></tr>`)}</tbody></table>` : null}`;
}
