import type { DirectoryAccount } from '../../accounts.js';
import type { ImpersonationRecord } from '../../store/index.js';
import { REASON_MAX_LENGTH, REASON_MIN_LENGTH } from '../../constants.js';
import { html, type Html } from '../../web/html.js';
import type { AccessFacts } from './access.js';
import { approvalsTable, askSection } from './approvals-view.js';
import type { ConsoleContext, Notice } from './context.js';
import { impersonationTable } from './impersonations-view.js';
import { hidden, modeChoice, notice, short } from './views.js';

/** What the Impersonate form shows again after a refusal. */
export interface ImpersonateValues {
  readonly reason?: string | undefined;
  readonly client?: string | undefined;
}

/** The search form and the users it found (`undefined`: the directory offers no search). */
export function usersView(base: string, q: string, results: readonly DirectoryAccount[] | undefined): Html {
  const rows = results?.map(
    (a) => html`<tr><td><a href="${base}/users/${encodeURIComponent(a.id)}"><strong>${a.id}</strong></a></td><td>${a.name ?? ''}</td><td>${a.email ?? ''}</td><td>${a.tenant ?? ''}</td><td>${a.roles.join(', ')}</td><td>${a.disabled ? html`<span class="badge denied">disabled</span>` : html`<span class="badge ended">active</span>`}</td></tr>`,
  );
  return html`<h1>Users</h1><p class="lead">Find the person you are helping, then open an application as them. Every impersonation asks why, lasts at most an hour, and is recorded.</p>
<form class="card toolbar" method="get" action="${base}/users" role="search"><div class="grow"><label for="q">Search by id, name or email</label><input id="q" type="search" name="q" value="${q}" autofocus></div><button class="button" type="submit">Search</button></form>
${
  results === undefined
    ? html`<div class="alert info">This account directory offers no search: open a user directly at <span class="mono">${base}/users/&lt;id&gt;</span>.</div>`
    : results.length === 0
      ? html`<div class="card empty">No user matches “${q}”.</div>`
      : html`<div class="table-wrap"><table><caption class="visually-hidden">Users matching the search</caption><thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Tenant</th><th scope="col">Roles</th><th scope="col">Status</th></tr></thead><tbody>${rows}</tbody></table></div>`
}`;
}

/** A user page for an id the directory does not know. */
export function noSuchUserView(base: string, id: string): Html {
  return html`<h1>No such user</h1><div class="alert error" role="alert">There is no user “${id}”.</div><p><a href="${base}/users">Back to the search</a></p>`;
}

function verdictNotice(account: DirectoryAccount, verdict: string, role: 'status' | 'alert' = 'status'): Html {
  return html`<div class="alert warn" role="${role}" id="impersonate-verdict"><strong>You cannot impersonate ${account.id}.</strong> ${verdict}</div>`;
}

/** The approvals the dialog can start under (the approval decides the mode), or the mode choice. */
function accessChoice(facts: AccessFacts): Html {
  if (!facts.usable.length) return modeChoice('impersonate', facts);
  return html`<div><label for="impersonate-approval">Under which approval? <span class="hint">Used once; the access ends with its window.</span></label>
<select id="impersonate-approval" name="approval">${facts.usable.map(
    (a) => html`<option value="${a.id}">${a.mode === 'read' ? 'Read-only' : 'Full'}, until ${short(a.approved_until!)} — ${a.reason ?? 'no reason'}</option>`,
  )}</select></div>`;
}

type FormDeps = Pick<ConsoleContext, 'base' | 'options'>;

function impersonateForm(deps: FormDeps, csrf: string, account: DirectoryAccount, facts: AccessFacts, values: ImpersonateValues = {}, error?: string): Html {
  const action = `${deps.base}/users/${encodeURIComponent(account.id)}/impersonate`;
  return html`<form method="post" action="${action}" target="_blank" id="impersonate-form" data-subject="${account.id}">
${hidden(csrf)}
<div class="dialog-body stack">
<h2 id="impersonate-title">Impersonate ${account.id}</h2>
<p class="meta">The application opens in a new tab, signed in as ${account.name ?? account.id}, for at most an hour. ${account.id} can see this on their account page.</p>
<div id="impersonate-error" class="alert error" role="alert"${error ? '' : html` hidden`}>${error ?? ''}</div>
<div><label for="impersonate-reason">Why? <span class="hint">${REASON_MIN_LENGTH} to ${REASON_MAX_LENGTH} characters, e.g. the ticket number and the problem. Recorded in the audit log.</span></label>
<textarea id="impersonate-reason" name="reason" required minlength="${REASON_MIN_LENGTH}" maxlength="${REASON_MAX_LENGTH}">${values.reason ?? ''}</textarea></div>
<div><label for="impersonate-client">Open which application?</label>
<select id="impersonate-client" name="client_id">${deps.options.applications.map((app) => html`<option value="${app}"${values.client === app ? html` selected` : ''}>${app}</option>`)}</select></div>
${accessChoice(facts)}
</div>
<div class="dialog-actions"><button type="button" class="button secondary" data-close>Cancel</button><button type="submit" class="button">Open as ${account.id}</button></div>
</form>`;
}

/** A user's page: their facts, whether and how the agent may impersonate them, approvals, live impersonations. */
export function userView(
  deps: Pick<ConsoleContext, 'base' | 'options' | 'approvals' | 'policy'>,
  csrf: string,
  account: DirectoryAccount,
  facts: AccessFacts,
  live: { readonly records: readonly ImpersonationRecord[]; readonly activity: Map<string, Html> },
  n: Notice | undefined,
): Html {
  const back = `${deps.base}/users/${encodeURIComponent(account.id)}`;
  const canOpen = !facts.required || facts.usable.length > 0;
  return html`<p class="meta"><a href="${deps.base}/users">Users</a> › ${account.id}</p>
<div class="row"><h1>${account.name ?? account.id}</h1>${account.disabled ? html`<span class="badge denied">disabled</span>` : ''}</div>
${notice(n)}
<div id="impersonate-status" role="status" class="alert ok" hidden></div>
<div class="card"><dl class="facts"><dt>Id</dt><dd class="mono">${account.id}</dd><dt>Email</dt><dd>${account.email ?? '—'}</dd><dt>Tenant</dt><dd>${account.tenant ?? '—'}</dd><dt>Roles</dt><dd>${account.roles.join(', ') || '—'}</dd></dl></div>
${
  facts.verdict !== undefined
    ? verdictNotice(account, facts.verdict)
    : canOpen
    ? html`<p><a class="button" id="impersonate-open" href="${back}/impersonate">Impersonate ${account.id}…</a>${facts.usable.length ? html` <span class="badge live">${account.id} approved</span>` : ''}</p>
<dialog id="impersonate-dialog" aria-labelledby="impersonate-title">${impersonateForm(deps, csrf, account, facts)}</dialog>`
    : html`<div class="alert info" role="status">${account.id} must approve before you can impersonate them.</div>`
}
${facts.required && facts.verdict === undefined ? askSection(deps, csrf, account, facts) : ''}
${facts.approvals.length ? html`<h2>Requests for ${account.id}'s approval</h2>${approvalsTable(facts.approvals)}` : ''}
<h2>Live impersonations of ${account.id}</h2>
${impersonationTable(deps.base, csrf, live.records, `Nobody is acting as ${account.id} right now.`, back, live.activity)}
${live.records.length ? html`<form method="post" action="${deps.base}/impersonations/revoke">${hidden(csrf, { subject: account.id, back })}<button class="button secondary" type="submit">End every impersonation of ${account.id}</button></form>` : ''}`;
}

/** The dialog's form as a page of its own (no script, or a refusal shown after a plain form post); `verdict` when it may not. */
export function impersonateView(deps: FormDeps, csrf: string, id: string, account: DirectoryAccount, facts: AccessFacts, verdict: string | undefined, values: ImpersonateValues, error: string | undefined): Html {
  const body = verdict !== undefined ? verdictNotice(account, verdict, 'alert') : html`<div class="card">${impersonateForm(deps, csrf, account, facts, values, error)}</div>`;
  return html`<p class="meta"><a href="${deps.base}/users/${encodeURIComponent(id)}">‹ Back to ${id}</a></p>${body}`;
}
