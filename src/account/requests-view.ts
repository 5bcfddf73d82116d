import type { ApprovalView } from '../approvals/service.js';
import { approvalMessage, utc } from '../notify/notice.js';
import { html, type Html } from '../web/html.js';
import { when } from './activity.js';
import { epoch } from './view.js';

/*
 * Support's requests for access (docs/admin-console.md, approvals): on the subject's page, and on
 * the page a one-time link opens.
 */

/** How an approval request stands, in words. */
const STATES: Record<ApprovalView['state'], { text: string; badge: string }> = {
  pending: { text: 'Waiting for you', badge: 'warn' },
  approved: { text: 'Approved', badge: 'live' },
  used: { text: 'Approved, in use', badge: 'live' },
  declined: { text: 'Declined', badge: 'ended' },
  revoked: { text: 'Revoked', badge: 'ended' },
  expired: { text: 'Expired', badge: 'ended' },
};

/** The request in one sentence, as the subject is told it (src/notify/notice.ts). */
function requestSentence(a: ApprovalView, names: Map<string, string | undefined>): string {
  return approvalMessage({
    actor: a.actor,
    actor_name: names.get(a.actor),
    reason: a.reason,
    scope: a.scope,
    duration_seconds: a.duration_seconds,
    mode: a.mode,
    approval_id: a.id,
    answer_by: a.answer_by,
  });
}

function hidden(csrf: string, approval: string): Html {
  return html`<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="approval" value="${approval}">`;
}

/** Requests waiting for an answer, and approvals the subject may still revoke. */
export function requestsSection(base: string, csrf: string, approvals: readonly ApprovalView[], names: Map<string, string | undefined>): Html {
  const now = epoch();
  const pending = approvals.filter((a) => a.state === 'pending');
  const standing = approvals.filter((a) => (a.state === 'approved' || a.state === 'used') && Date.parse(a.approved_until ?? '') / 1000 > now);
  const answered = approvals.filter((a) => !pending.includes(a) && !standing.includes(a)).slice(0, 10);
  const scopes = (a: ApprovalView) => (a.scope ? html`<p class="meta">Access asked for: <span class="mono">${a.scope}</span></p>` : '');
  const requests = pending.map(
    (a) => html`<li class="card request" data-approval="${a.id}">
<p><strong>${requestSentence(a, names)}</strong></p>${scopes(a)}
<div class="row"><form method="post" action="${base}/approvals/answer">${hidden(csrf, a.id)}<input type="hidden" name="decision" value="approve"><button type="submit" class="button">Approve</button></form>
<form method="post" action="${base}/approvals/answer">${hidden(csrf, a.id)}<input type="hidden" name="decision" value="decline"><button type="submit" class="button secondary">Decline</button></form></div>
</li>`,
  );
  const granted = standing.map(
    (a) => html`<li class="card request" data-approval="${a.id}">
<p>You let <strong>${names.get(a.actor) ?? a.actor}</strong> ${a.mode === 'read' ? 'view your account (read-only)' : 'sign in as you'} until ${when(a.approved_until!)}${a.state === 'used' ? ' — in use now' : ''}.</p>
<form method="post" action="${base}/approvals/revoke">${hidden(csrf, a.id)}<button type="submit" class="button danger small">Revoke</button></form>
</li>`,
  );
  const history = answered.length
    ? html`<details><summary>Earlier requests</summary><ul class="plain">${answered.map(
        (a) => html`<li><span class="badge ${STATES[a.state].badge}">${STATES[a.state].text}</span> ${names.get(a.actor) ?? a.actor}: ${a.reason ?? ''} <span class="meta">(${when(a.requested_at)})</span></li>`,
      )}</ul></details>`
    : '';
  if (!requests.length && !granted.length && !history) return html``;
  return html`<section aria-labelledby="requests-heading"><h2 id="requests-heading">Requests for access</h2>
${requests.length ? html`<ul class="plain stack">${requests}</ul>` : html`<p class="meta">No request is waiting for you.</p>`}
${granted.length ? html`<h3>Access you approved</h3><ul class="plain stack">${granted}</ul>` : ''}
${history}</section>`;
}

/** A one-time link that is unknown, tampered with or expired. */
export function invalidLinkView(base: string): Html {
  return html`<h1>This link is not valid</h1><div class="alert error" role="alert">It may have expired. Sign in to <a href="${base}/impersonations">your account page</a> to see every request.</div>`;
}

/** A one-time link whose request is no longer waiting. */
export function answeredLinkView(base: string, state: ApprovalView['state']): Html {
  return html`<h1>Already answered</h1><div class="alert info" role="status">This request is ${STATES[state].text.toLowerCase()}. Your <a href="${base}/impersonations">account page</a> lists every request and lets you revoke an approval.</div>`;
}

/** The request a one-time link opens, with its two buttons (showing it changes nothing). */
export function linkView(base: string, token: string, view: ApprovalView, names: Map<string, string | undefined>): Html {
  const form = (decision: 'approve' | 'decline', label: string, style: string) =>
    html`<form method="post" action="${base}/approvals/respond"><input type="hidden" name="token" value="${token}"><input type="hidden" name="decision" value="${decision}"><button type="submit" class="button ${style}">${label}</button></form>`;
  return html`<h1>Support asks for access to your account</h1><div class="card stack"><p><strong>${requestSentence(view, names)}</strong></p>${view.scope ? html`<p class="meta">Access asked for: <span class="mono">${view.scope}</span></p>` : ''}
<p class="meta">Approving lets them start once, within ${Math.round(view.duration_seconds / 60)} minutes. You can revoke it at any time on your account page, which also revokes any access it opened.</p>
<div class="row">${form('approve', 'Approve', '')}${form('decline', 'Decline', 'secondary')}</div></div>`;
}

/** The answer given through the link. */
export function linkAnsweredView(base: string, decision: 'approve' | 'decline', answered: ApprovalView): Html {
  return decision === 'approve'
    ? html`<h1>Approved</h1><div class="alert ok" role="status">Support may start once before ${utc(answered.approved_until!)}. You can revoke it at any time on <a href="${base}/impersonations">your account page</a>.</div>`
    : html`<h1>Declined</h1><div class="alert ok" role="status">Support cannot use this request.</div>`;
}

/** The link's answer refused (the approval service's words). */
export function notAnsweredView(message: string): Html {
  return html`<h1>Not answered</h1><div class="alert error" role="alert">${message}</div>`;
}
