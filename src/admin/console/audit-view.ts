import { AUDIT_EVENT_NAMES } from '../../audit/events.js';
import type { ChainedAuditRecord, VerifyResult } from '../../audit/chain.js';
import type { AuditPage } from '../../audit/query.js';
import { html, type Html } from '../../web/html.js';
import { time } from './views.js';

/** The audit view's form fields, as given (trimmed). */
export type AuditValues = Record<string, string>;

function outcomeBadge(outcome: string): Html {
  return html`<span class="badge ${outcome === 'granted' ? 'live' : outcome === 'denied' ? 'denied' : 'warn'}">${outcome}</span>`;
}

function chainStatus(base: string, result: VerifyResult | undefined): Html {
  if (!result) return html`<form method="get" action="${base}/audit/verify"><button class="button secondary" type="submit">Verify the chain</button></form>`;
  return result.ok
    ? html`<div class="alert ok" role="status">Chain intact: ${result.count} records verified, each linked to the one before it (SHA-256).</div>`
    : html`<div class="alert error" role="alert">Chain broken at record ${result.position} (id ${result.id ?? 'unknown'}): ${result.problem}. ${result.count} records before it verify.</div>`;
}

/** The audit view when records go to a plain sink (docs/audit.md). */
export function noAuditLogView(): Html {
  return html`<h1>Audit log</h1><div class="alert info">This provider writes audit records to a plain sink, not a queryable log.</div>`;
}

function row(r: ChainedAuditRecord): Html {
  return html`<tr><td>${time(r.time, 'second')}</td><td class="mono">${r.event}</td><td>${outcomeBadge(r.outcome)}${r.rule ? html`<br><span class="meta mono">${r.rule}</span>` : ''}</td><td>${r.actor ?? ''}</td><td>${r.subject ?? ''}</td><td>${r.client_id ?? ''}</td><td>${r.reason ?? ''}</td></tr>`;
}

function filters(base: string, values: AuditValues, filtered: boolean): Html {
  const input = (name: string, label: string, type = 'text') => html`<div><label for="audit-${name}">${label}</label><input id="audit-${name}" type="${type}" name="${name}" value="${values[name]}"></div>`;
  return html`<form class="card filters" method="get" action="${base}/audit" aria-label="Filter the audit log">
${input('actor', 'Actor')}${input('subject', 'Subject')}
<div><label for="audit-event">Event</label><select id="audit-event" name="event"><option value="">any</option>${AUDIT_EVENT_NAMES.map((e) => html`<option${values.event === e ? html` selected` : ''}>${e}</option>`)}</select></div>
<div><label for="audit-outcome">Outcome</label><select id="audit-outcome" name="outcome"><option value="">any</option>${['granted', 'denied', 'error'].map((o) => html`<option${values.outcome === o ? html` selected` : ''}>${o}</option>`)}</select></div>
${input('since', 'Since (UTC)', 'datetime-local')}${input('until', 'Until (UTC)', 'datetime-local')}
<div class="filter-actions">${filtered ? html`<a href="${base}/audit">Clear</a>` : ''}<button class="button" type="submit">Filter</button></div>
</form>`;
}

/** One page of the audit log, newest first: the chain's status, the filters, the records, the link to older ones. */
export function auditView(base: string, view: { page: AuditPage; values: AuditValues; filtered: boolean; cursor: string | undefined; next: string | undefined; verified: VerifyResult | undefined }): Html {
  const { page } = view;
  return html`<h1>Audit log</h1><p class="lead">Every attempt — granted or refused — every ticket, revocation and change of setting, newest first. Records are chained: an edit or a deletion anywhere breaks the chain.</p>
${chainStatus(base, view.verified)}
${filters(base, view.values, view.filtered)}
${
  page.records.length
    ? html`<div class="table-wrap"><table><caption class="visually-hidden">Audit records</caption><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Client</th><th scope="col">Reason</th></tr></thead><tbody>${page.records.map(row)}</tbody></table></div>`
    : html`<div class="card empty">No record matches.</div>`
}
<div class="pager"><span class="meta">${page.records.length} records${view.cursor ? ' (older page)' : ''}</span>${view.next ? html`<a class="button secondary" href="${view.next}">Older records →</a>` : ''}</div>`;
}
