import type { ActivityEntry } from '../store/impersonations.js';
import { html, type Html } from '../web/html.js';

/*
 * "What was done" (docs/beyond-impersonation.md "Activity receipts"): the requests an API accepted
 * under an impersonation, as its receipts said — shown under each impersonation on the subject's
 * page and in the console.
 */

/** A time to the minute, in UTC, as the account page shows it. */
export function when(isoTime: string): Html {
  const d = new Date(isoTime);
  return html`<time datetime="${d.toISOString()}">${d.toISOString().slice(0, 16).replace('T', ' ')} UTC</time>`;
}

/** How many requests are shown per impersonation (the audit log keeps every one). */
export const ACTIVITY_SHOWN = 20;

/** The list of requests, or nothing when none was reported. */
export function activityList(entries: readonly ActivityEntry[]): Html {
  if (!entries.length) return html``;
  return html`<details class="activity"><summary>What was done (${String(entries.length)}${entries.length >= ACTIVITY_SHOWN ? '+' : ''} ${entries.length === 1 ? 'request' : 'requests'})</summary><ul class="plain">${entries.map(
    (e) =>
      html`<li><span class="mono">${e.method} ${e.path}</span> → ${String(e.status)} <span class="meta">${e.audience.join(' ')} · ${e.actor} · <time datetime="${e.at}">${e.at.slice(0, 19).replace('T', ' ')} UTC</time></span></li>`,
  )}</ul></details>`;
}
