import { profileLabel } from '../../claims/profiles.js';
import type { ImpersonationRecord } from '../../store/index.js';
import { html, type Html } from '../../web/html.js';
import type { Notice } from './context.js';
import { hidden, iso, notice, time } from './views.js';

/** Live impersonations, each with what was done under it and a revoke button that returns to `back`. */
export function impersonationTable(base: string, csrf: string, records: readonly ImpersonationRecord[], empty: string, back: string, activity: Map<string, Html> = new Map()): Html {
  if (!records.length) return html`<div class="card empty">${empty}</div>`;
  return html`<div class="table-wrap"><table><caption class="visually-hidden">Live impersonations</caption>
<thead><tr><th scope="col">Subject</th><th scope="col">Acting</th><th scope="col">Application</th><th scope="col">Reason</th><th scope="col">Started</th><th scope="col">Ends</th><th scope="col">Kind</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${records.map(
    (r) => html`<tr><td><strong>${r.subject}</strong></td><td>${r.actors.map((a, i) => html`${i ? ' for ' : ''}${a}${r.actorProfiles?.[i] && profileLabel(r.actorProfiles[i]) !== 'person' ? html` <span class="badge">${profileLabel(r.actorProfiles[i])}</span>` : ''}`)}</td><td>${r.clientId}</td><td>${r.reason ?? ''}${activity.get(r.grantId) ?? ''}</td><td>${time(iso(r.startedAt))}</td><td>${time(iso(r.expiresAt))}</td><td>${r.kind === 'browser' ? 'browser' : 'API'}${r.mode === 'read' ? html` <span class="badge info">read-only</span>` : ''}</td>
<td class="actions"><form method="post" action="${base}/impersonations/revoke">${hidden(csrf, { grant: r.grantId, back })}<button class="button danger small" type="submit" aria-label="Revoke the impersonation of ${r.subject} by ${r.actors.at(-1)}">Revoke</button></form></td></tr>`,
  )}</tbody></table></div>`;
}

/** The page of every live impersonation, with the forms that end all of one agent's or one user's. */
export function impersonationsView(base: string, csrf: string, live: readonly ImpersonationRecord[], activity: Map<string, Html>, n: Notice | undefined): Html {
  const actors = [...new Set(live.map((r) => r.actors.at(-1)!))].sort();
  const subjects = [...new Set(live.map((r) => r.subject))].sort();
  const back = `${base}/impersonations`;
  return html`<h1>Live impersonations</h1><p class="lead">Everyone acting as someone else right now, through an application (browser) or an API token. Revoking ends the session and every token at once, on every instance.</p>
${notice(n)}
${
  live.length
    ? html`<div class="card toolbar">
<form method="post" action="${base}/impersonations/revoke" class="toolbar">${hidden(csrf, { back })}<div><label for="revoke-actor">End everything by</label><select id="revoke-actor" name="actor">${actors.map((a) => html`<option>${a}</option>`)}</select></div><button class="button secondary" type="submit">End all of this agent</button></form>
<form method="post" action="${base}/impersonations/revoke" class="toolbar">${hidden(csrf, { back })}<div><label for="revoke-subject">End everything as</label><select id="revoke-subject" name="subject">${subjects.map((s) => html`<option>${s}</option>`)}</select></div><button class="button secondary" type="submit">End all of this user</button></form>
</div>`
    : ''
}
${impersonationTable(base, csrf, live, 'Nobody is acting as anyone right now.', back, activity)}`;
}
