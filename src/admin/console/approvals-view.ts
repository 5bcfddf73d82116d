import type { DirectoryAccount } from '../../accounts.js';
import type { ApprovalView } from '../../approvals/service.js';
import { APPROVAL_MIN_DURATION_SECONDS, REASON_MAX_LENGTH, REASON_MIN_LENGTH } from '../../constants.js';
import { impersonationScopes } from '../../exchange/checks.js';
import { html, type Html } from '../../web/html.js';
import type { AccessFacts } from './access.js';
import type { ConsoleContext } from './context.js';
import { hidden, modeChoice, time } from './views.js';

/** Durations offered when asking a subject for approval (minutes). */
const DURATIONS = [15, 30, 60];
const STATE_BADGES: Record<ApprovalView['state'], { text: string; badge: string }> = {
  pending: { text: 'waiting for the user', badge: 'warn' },
  approved: { text: 'approved', badge: 'live' },
  used: { text: 'used', badge: 'ended' },
  declined: { text: 'declined', badge: 'denied' },
  revoked: { text: 'revoked', badge: 'denied' },
  expired: { text: 'expired', badge: 'ended' },
};

/** The requests for a user's approval and how each stands. */
export function approvalsTable(list: readonly ApprovalView[]): Html {
  if (!list.length) return html``;
  return html`<div class="table-wrap"><table><caption class="visually-hidden">Requests for approval</caption>
<thead><tr><th scope="col">Asked by</th><th scope="col">Access</th><th scope="col">Reason</th><th scope="col">Asked</th><th scope="col">State</th></tr></thead>
<tbody>${list.map(
    (a) => html`<tr><td>${a.actor}</td><td>${a.mode === 'read' ? html`<span class="badge info">read-only</span>` : 'full'}, ${Math.round(a.duration_seconds / 60)} min${a.scope ? html`<br><span class="meta mono">${a.scope}</span>` : ''}</td><td>${a.reason ?? ''}</td><td>${time(a.requested_at)}</td>
<td><span class="badge ${STATE_BADGES[a.state].badge}">${STATE_BADGES[a.state].text}</span>${a.state === 'approved' && a.approved_until ? html`<br><span class="meta">until ${time(a.approved_until)}</span>` : ''}</td></tr>`,
  )}</tbody></table></div>`;
}

/** Scopes an approval may be asked for: the impersonation allow-list, when policy declares one. */
function askableScopes(policy: ConsoleContext['policy']): string[] | undefined {
  const allow = policy.scopes.allow;
  return allow ? impersonationScopes(allow, policy) : undefined;
}

/** The form asking a user for access (docs/admin-console.md): why, for how long, which mode and scopes. */
export function askSection(deps: Pick<ConsoleContext, 'base' | 'approvals' | 'policy'>, csrf: string, account: DirectoryAccount, facts: AccessFacts): Html {
  const max = deps.approvals.maxDuration();
  const durations = [...new Set([...DURATIONS.map((m) => m * 60).filter((d) => d <= max && d >= APPROVAL_MIN_DURATION_SECONDS), max])].sort((a, b) => a - b);
  const preferred = durations.includes(1800) ? 1800 : durations.at(-1);
  const scopes = askableScopes(deps.policy);
  return html`<section class="card stack" aria-labelledby="ask-title"><h2 id="ask-title">Ask ${account.id} for access</h2>
<p class="meta">Impersonating ${account.id} needs their approval. They see your request on their account page (and are told through the app's notifications), and approve or decline it. An approval can be used once, within its window, and ${account.id} can revoke it at any time.</p>
<form method="post" action="${deps.base}/users/${encodeURIComponent(account.id)}/approvals" class="stack">${hidden(csrf)}
<div><label for="ask-reason">Why? <span class="hint">${REASON_MIN_LENGTH} to ${REASON_MAX_LENGTH} characters; ${account.id} reads it.</span></label>
<textarea id="ask-reason" name="reason" required minlength="${REASON_MIN_LENGTH}" maxlength="${REASON_MAX_LENGTH}"></textarea></div>
<div class="row"><div><label for="ask-duration">For how long?</label><select id="ask-duration" name="duration">${durations.map((d) => html`<option value="${d}"${d === preferred ? html` selected` : ''}>${Math.round(d / 60)} minutes</option>`)}</select></div></div>
${modeChoice('ask', facts)}
${
  scopes?.length
    ? html`<fieldset class="choice"><legend>Scopes <span class="hint">None ticked: whatever policy allows.</span></legend>${scopes.map((scope) => html`<label><input type="checkbox" name="scope" value="${scope}"> <span class="mono">${scope}</span></label>`)}</fieldset>`
    : ''
}
<div><button type="submit" class="button">Ask ${account.id}</button></div>
</form></section>`;
}
