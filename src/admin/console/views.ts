import { html, type Html } from '../../web/html.js';
import type { AccessFacts } from './access.js';
import type { Notice } from './context.js';

/* Views the console's pages share: times, notices, the CSRF field, the access mode. */

/** Epoch seconds as an ISO 8601 time. */
export const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
/** An ISO 8601 time to the minute, in UTC. */
export const short = (isoTime: string) => `${isoTime.slice(0, 16).replace('T', ' ')} UTC`;
/** A time to the minute, or to the second (the audit view); the full ISO 8601 time on hover. */
export const time = (isoTime: string, precision: 'minute' | 'second' = 'minute') =>
  html`<time datetime="${isoTime}" title="${isoTime}">${precision === 'second' ? `${isoTime.slice(0, 19).replace('T', ' ')} UTC` : short(isoTime)}</time>`;

/** The answer to a form, above the page (an alert for an error, a status otherwise). */
export function notice(n: Notice | undefined): Html {
  return n ? html`<div class="alert ${n.kind}" role="${n.kind === 'error' ? 'alert' : 'status'}">${n.text}</div>` : html``;
}

/** The session's CSRF token and any other hidden fields of a form. */
export function hidden(csrf: string, fields: Record<string, string> = {}): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}">${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}`;
}

/** Full or read-only access, where policy offers read-only (docs/policy.md). */
export function modeChoice(prefix: string, facts: AccessFacts): Html {
  if (!facts.readOnlyAvailable) return html``;
  if (facts.readOnlyOnly) {
    return html`<p class="meta"><span class="badge info">read-only</span> Your role may only impersonate read-only: look, change nothing.</p><input type="hidden" name="mode" value="read">`;
  }
  return html`<fieldset class="choice"><legend>Access</legend>
<label><input type="radio" name="mode" value="full" id="${prefix}-mode-full" checked> Full — act as the user</label>
<label><input type="radio" name="mode" value="read" id="${prefix}-mode-read"> Read-only — look, change nothing</label>
</fieldset>`;
}
