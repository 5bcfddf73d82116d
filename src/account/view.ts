import { describeActor, profileLabel } from '../claims/profiles.js';
import { utc } from '../notify/notice.js';
import { HISTORY_RETENTION_SECONDS, type HistoryCursor } from '../store/index.js';
import { html, type Html } from '../web/html.js';
import { activityList, when } from './activity.js';
import { iso, type HistoryPage, type Row } from './history.js';

/* The subject's page (docs/browser-impersonation.md §5): who has acted as them, and what is happening now. */

/** How an ended impersonation ended, in words (the `rule` of its `token.revoked` record). */
const ENDINGS: Record<string, string> = {
  revoked_single: 'Revoked',
  revoked_bulk_actor: 'Revoked by an administrator',
  revoked_bulk_subject: 'Revoked by an administrator',
  revoked_all: 'Revoked by an administrator',
  kill_switch: 'Impersonation was switched off',
  cascade_source_revoked: "Ended with the support agent's sign-in",
  cascade_actor_ineligible: 'The support agent lost access',
  ended_by_subject: 'Ended by you',
  ended_by_logout: 'Signed out',
  approval_revoked: 'Ended when you revoked your approval',
  delegation_paused: 'Paused by you',
  delegation_ended: 'Ended by you',
};

/** Now, in epoch seconds. */
export const epoch = () => Math.floor(Date.now() / 1000);

/** What happened, in plain words: who (and through which service), did what, where, until when, why. */
function sentence(row: Row, live: boolean): string {
  const app = row.appName ?? row.clientId;
  // Typed actors (docs/beyond-impersonation.md): "an AI assistant, Orders Assistant (orders-assistant)," vs "Sam Support (support)".
  const agentName = row.actorProfile && profileLabel(row.actorProfile) !== 'person' && row.actor === row.clientId ? row.appName : undefined;
  const described = describeActor(row.actor, row.actorName ?? agentName, row.actorProfile);
  const person = `${described.charAt(0).toUpperCase()}${described.slice(1)}`;
  const read = row.mode === 'read';
  const until = `until ${utc(iso(row.live?.expiresAt ?? row.endsAt))}`;
  const why = row.reason === undefined ? '' : `, because: ${row.reason}`;
  if (row.via !== undefined) {
    const service = row.via === row.clientId ? app : row.via;
    return `${service} ${live ? 'is acting' : 'acted'} as you${read ? ' (read-only)' : ''} for ${person}, passing on the access they opened, ${until}${why}.`;
  }
  const what =
    row.kind === 'browser'
      ? `${live ? 'is' : 'was'} signed in to ${app} as you${read ? ' (read-only)' : ''}`
      : `${live ? 'is using' : 'used'} ${app} to ${read ? 'view your account (read-only)' : 'act as you'}`;
  return `${person} ${what}, ${until}${why}.`;
}

function lifeStatus(row: Row): Html {
  if (row.live) return html`<span class="badge live">Live</span>`;
  if (row.ended) return html`<span class="badge ended">${ENDINGS[row.ended.rule] ?? 'Ended'}</span><br><span class="meta">${when(row.ended.at)}</span>`;
  return html`<span class="badge ended">${row.endsAt <= epoch() ? 'Expired' : 'Ended'}</span>`;
}

function status(row: Row): Html {
  const mode = row.mode === 'read' ? html` <span class="badge info">Read-only</span>` : '';
  return html`${lifeStatus(row)}${mode}`;
}

/** What support did, as the subject was told (the notice of each started impersonation). */
function noticesSection(rows: readonly Row[]): Html {
  const live = rows.filter((row) => row.live).slice(0, 10);
  if (!live.length) return html``;
  return html`<section aria-labelledby="notices-heading"><h2 id="notices-heading">Happening now</h2><ul class="plain notices">${live.map(
    (row) => html`<li>${sentence(row, true)}</li>`,
  )}</ul></section>`;
}

function pager(base: string, before: HistoryCursor | undefined, next: HistoryCursor | undefined): Html {
  if (!before && !next) return html``;
  return html`<nav class="row" aria-label="History pages">${before ? html`<a class="button secondary" href="${base}/impersonations">Newest</a>` : ''}${
    next ? html`<a class="button secondary" href="${base}/impersonations?before=${`${next.at}.${next.skip}`}">Older</a>` : ''
  }</nav>`;
}

function historyRow(base: string, csrf: string, row: Row): Html {
  return html`<tr>
<td title="${sentence(row, Boolean(row.live))}"><strong>${row.actorName ?? row.actor}</strong>${row.actorProfile && profileLabel(row.actorProfile) !== 'person' ? html` <span class="badge">${profileLabel(row.actorProfile)}</span>` : ''}${row.actorName && row.actorName !== row.actor ? html` <span class="meta">(${row.actor})</span>` : ''}${row.via ? html`<br><span class="meta">through ${row.via === row.clientId ? (row.appName ?? row.via) : row.via}</span>` : ''}</td>
<td>${row.appName ?? row.clientId}${row.kind === 'browser' ? html`<br><span class="meta">signed in as you</span>` : html`<br><span class="meta">a token for an app</span>`}</td>
<td>${row.reason ?? html`<span class="meta">(no reason recorded)</span>`}${activityList(row.activity ?? [])}</td>
<td>${when(iso(row.startedAt))}</td>
<td>${when(iso(row.live?.expiresAt ?? row.endsAt))}</td>
<td>${status(row)}</td>
<td class="actions">${
    row.live
      ? html`<form method="post" action="${base}/impersonations/end"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="impersonation" value="${row.live.grantId}"><button type="submit" class="button danger small">End now</button></form>`
      : ''
  }</td></tr>`;
}

function historyTable(base: string, csrf: string, page: HistoryPage): Html {
  if (page.rows.length) {
    return html`<div class="table-wrap"><table>
<caption class="visually-hidden">Impersonations of your account</caption>
<thead><tr><th scope="col">Who</th><th scope="col">Where</th><th scope="col">Why</th><th scope="col">Started</th><th scope="col">Ends</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>${page.rows.map((row) => historyRow(base, csrf, row))}</tbody></table></div>`;
  }
  return page.before
    ? html`<div class="card empty">Nothing older is listed.</div>`
    : html`<div class="card empty">Nobody has acted as you. If support ever does, it will be listed here — who, why and for how long.</div>`;
}

/** The page's body: a notice, the requests for access, the assistants, what is happening now, and the history. */
export function accountView(
  base: string,
  csrf: string,
  page: HistoryPage,
  sections: { readonly notice: { kind: 'ok' | 'error'; text: string } | undefined; readonly requests: Html; readonly assistants: Html | '' },
): Html {
  const { notice } = sections;
  return html`<h1>Who has acted as you</h1>
<p class="lead">When a support agent needs to see exactly what you see, they can sign in as you for at most an hour, and must say why. Every time it happened is listed here. You can end a live one here, and answer when support asks for access.</p>
${notice ? html`<div class="alert ${notice.kind}" role="${notice.kind === 'error' ? 'alert' : 'status'}">${notice.text}</div>` : ''}
${sections.requests}
${sections.assistants}
${page.before ? '' : noticesSection(page.now)}
<h2>Every impersonation</h2>
<p class="meta">Listed for ${HISTORY_RETENTION_SECONDS / 86_400} days after they started, newest first.</p>
${historyTable(base, csrf, page)}
${pager(base, page.before, page.next)}`;
}
