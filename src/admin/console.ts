import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { AccountDirectory, DirectoryAccount } from '../accounts.js';
import type { ApprovalService, ApprovalView } from '../approvals/service.js';
import { AUDIT_EVENT_NAMES } from '../audit/events.js';
import { GENESIS_HASH, verifyChain, type ChainedAuditRecord, type VerifyResult } from '../audit/chain.js';
import { InvalidCursorError, type AuditLog } from '../audit/log.js';
import { queryAudit, readAll, type AuditFilter } from '../audit/query.js';
import type { RequestFacts } from '../audit/recorder.js';
import type { TicketService } from '../browser/tickets.js';
import type { ImpersonationPolicy } from '../config.js';
import { ADMIN_SCOPE, APPROVAL_MIN_DURATION_SECONDS, LOOPBACK_INITIATE_LOGIN_URI, REASON_MAX_LENGTH, REASON_MIN_LENGTH } from '../constants.js';
import type { ImpersonationRules } from '../exchange/rules.js';
import { assertSubjectMayBeImpersonated, impersonationScopes } from '../exchange/checks.js';
import { ExchangeRefusal } from '../errors.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { ImpersonationFilter, ImpersonationRecord, Store } from '../store/index.js';
import { STYLESHEET } from '../web/assets.js';
import { readForm } from '../web/forms.js';
import { html, layout, type Html } from '../web/html.js';
import { csrfHolds, newCsrfToken, pageHeaders } from '../web/security.js';
import { WebSessions } from '../web/sessions.js';
import { createSignIn } from '../web/sign-in.js';
import { AdminError, type AdminAuthenticator, type AdminCaller } from './auth.js';
import { ACTIVITY_SHOWN, activityList } from '../account/activity.js';
import { profileLabel } from '../exchange/actor-profiles.js';

/** How the console signs support agents in, and which applications an impersonation may open. */
export interface AdminConsoleOptions {
  /** A confidential first-party client of this provider, allowed `impersonation:admin`; redirect URI `<issuer><basePath>/callback`. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** Client ids offered in the "Impersonate" dialog (each needs the authorization-code flow). */
  readonly applications: readonly string[];
  /** Default `/admin` (the JSON admin API stays under `/admin/api`). */
  readonly basePath?: string;
  readonly product?: string;
}

interface ConsoleSession {
  readonly sub: string;
  readonly name: string;
  readonly csrf: string;
  /** The agent's access token (with `impersonation:admin`): kept here, never sent to the browser. */
  readonly accessToken: string;
}

interface Page {
  readonly title: string;
  readonly section: 'users' | 'impersonations' | 'audit' | 'settings';
  readonly body: Html;
}

type Notice = { readonly kind: 'ok' | 'error' | 'info'; readonly text: string };

/** The console's script (a checked browser file, tsconfig.browser.json), served as a file: no inline script. */
const CONSOLE_SCRIPT_FILE = fileURLToPath(new URL('../web/client/console.js', import.meta.url));
const SESSION_SECONDS = 8 * 3600;
const SEARCH_LIMIT = 50;
const AUDIT_PAGE = 25;
const AUDIT_EVENTS = AUDIT_EVENT_NAMES;
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

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
const short = (isoTime: string) => `${isoTime.slice(0, 16).replace('T', ' ')} UTC`;
/** A time to the minute, or to the second (the audit view); the full ISO 8601 time on hover. */
const time = (isoTime: string, precision: 'minute' | 'second' = 'minute') =>
  html`<time datetime="${isoTime}" title="${isoTime}">${precision === 'second' ? `${isoTime.slice(0, 19).replace('T', ' ')} UTC` : short(isoTime)}</time>`;

function outcomeBadge(outcome: string): Html {
  return html`<span class="badge ${outcome === 'granted' ? 'live' : outcome === 'denied' ? 'denied' : 'warn'}">${outcome}</span>`;
}

/**
 * docs/admin-console.md: the support console — a real web page on the provider that signs its user in through
 * the provider itself, finds users, opens an application as one of them through a one-time ticket
 * (docs/browser-impersonation.md) after asking why, lists and revokes live impersonations, reads the audit log (with the
 * chain's status) and holds the global switch. Server-rendered HTML with a small script for the
 * dialog; every state change carries a CSRF token; strict CSP, framing refused; the agent's tokens
 * stay on the server.
 */
export function createAdminConsole(deps: {
  readonly provider: Provider;
  readonly options: AdminConsoleOptions;
  readonly accounts: AccountDirectory;
  readonly lifecycle: ImpersonationLifecycle;
  readonly tickets: TicketService;
  readonly auditLog: AuditLog | undefined;
  readonly auth: AdminAuthenticator;
  readonly store: Store;
  readonly approvals: ApprovalService;
  readonly rules: ImpersonationRules;
  readonly policy: ImpersonationPolicy;
  readonly requestFacts: (ctx: Context) => RequestFacts;
}) {
  const { provider, options, lifecycle } = deps;
  const base = options.basePath ?? '/admin';
  const product = options.product ?? 'Support console';
  const assetsPath = `${base}/assets`;
  const issuer = provider.issuer.replace(/\/$/, '');
  const ownOrigin = new URL(issuer).origin;
  const sessions = new WebSessions<ConsoleSession>(deps.store.backend, deps.store.keys, { name: 'console.session', path: base });
  const signIn = createSignIn(
    { issuer, clientId: options.clientId, clientSecret: options.clientSecret, redirectUri: `${issuer}${base}/callback`, scope: `openid profile ${ADMIN_SCOPE}` },
    deps.store,
    { name: 'console.signin', path: base },
  );
  let applicationOrigins: Promise<string[]> | undefined;

  /** CSP `form-action` must allow where "Impersonate" redirects: each application's login URI origin. */
  function formTargets(): Promise<string[]> {
    applicationOrigins ??= Promise.all(
      options.applications.map(async (id) => {
        const metadata = (await provider.Client.find(id))?.metadata() as Record<string, unknown> | undefined;
        const uri = metadata?.initiate_login_uri ?? metadata?.[LOOPBACK_INITIATE_LOGIN_URI];
        return typeof uri === 'string' ? new URL(uri).origin : undefined;
      }),
    ).then((origins) => [...new Set(origins.filter((o): o is string => o !== undefined && o !== ownOrigin))]);
    return applicationOrigins;
  }

  async function render(ctx: Context, session: ConsoleSession, page: Page, status = 200): Promise<void> {
    pageHeaders(ctx, await formTargets());
    ctx.status = status;
    ctx.type = 'html';
    const nav = [
      { href: `${base}/users`, label: 'Users', current: page.section === 'users' },
      { href: `${base}/impersonations`, label: 'Live impersonations', current: page.section === 'impersonations' },
      { href: `${base}/audit`, label: 'Audit log', current: page.section === 'audit' },
      { href: `${base}/settings`, label: 'Settings', current: page.section === 'settings' },
    ];
    ctx.body = layout({ title: page.title, product, assetsPath, script: true, nav, user: { name: session.name, signOutAction: `${base}/logout`, csrf: session.csrf }, body: page.body });
  }

  function notice(n: Notice | undefined): Html {
    return n ? html`<div class="alert ${n.kind}" role="${n.kind === 'error' ? 'alert' : 'status'}">${n.text}</div>` : html``;
  }

  function hidden(session: ConsoleSession, fields: Record<string, string> = {}): Html {
    return html`<input type="hidden" name="csrf" value="${session.csrf}">${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}`;
  }

  // ---- users

  async function usersPage(ctx: Context, session: ConsoleSession): Promise<void> {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.slice(0, 200) : '';
    const results = deps.accounts.searchAccounts ? await deps.accounts.searchAccounts(q, SEARCH_LIMIT) : undefined;
    const rows = results?.map(
      (a) => html`<tr><td><a href="${base}/users/${encodeURIComponent(a.id)}"><strong>${a.id}</strong></a></td><td>${a.name ?? ''}</td><td>${a.email ?? ''}</td><td>${a.tenant ?? ''}</td><td>${a.roles.join(', ')}</td><td>${a.disabled ? html`<span class="badge denied">disabled</span>` : html`<span class="badge ended">active</span>`}</td></tr>`,
    );
    await render(ctx, session, {
      title: 'Users',
      section: 'users',
      body: html`<h1>Users</h1><p class="lead">Find the person you are helping, then open an application as them. Every impersonation asks why, lasts at most an hour, and is recorded.</p>
<form class="card toolbar" method="get" action="${base}/users" role="search"><div class="grow"><label for="q">Search by id, name or email</label><input id="q" type="search" name="q" value="${q}" autofocus></div><button class="button" type="submit">Search</button></form>
${
  results === undefined
    ? html`<div class="alert info">This account directory offers no search: open a user directly at <span class="mono">${base}/users/&lt;id&gt;</span>.</div>`
    : results.length === 0
      ? html`<div class="card empty">No user matches “${q}”.</div>`
      : html`<div class="table-wrap"><table><caption class="visually-hidden">Users matching the search</caption><thead><tr><th scope="col">Id</th><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Tenant</th><th scope="col">Roles</th><th scope="col">Status</th></tr></thead><tbody>${rows}</tbody></table></div>`
}`,
    });
  }

  /** What was done under each live impersonation (activity receipts, docs/beyond-impersonation.md). */
  async function activityOf(records: readonly ImpersonationRecord[]): Promise<Map<string, Html>> {
    const found = await Promise.all(records.map((r) => deps.store.impersonations.activity(r.grantId, ACTIVITY_SHOWN)));
    return new Map(records.map((r, i) => [r.grantId, activityList(found[i]!)]));
  }

  function impersonationTable(session: ConsoleSession, records: readonly ImpersonationRecord[], empty: string, back: string, activity: Map<string, Html> = new Map()): Html {
    if (!records.length) return html`<div class="card empty">${empty}</div>`;
    return html`<div class="table-wrap"><table><caption class="visually-hidden">Live impersonations</caption>
<thead><tr><th scope="col">Subject</th><th scope="col">Acting</th><th scope="col">Application</th><th scope="col">Reason</th><th scope="col">Started</th><th scope="col">Ends</th><th scope="col">Kind</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${records.map(
      (r) => html`<tr><td><strong>${r.subject}</strong></td><td>${r.actors.map((a, i) => html`${i ? ' for ' : ''}${a}${r.actorProfiles?.[i] && profileLabel(r.actorProfiles[i]) !== 'person' ? html` <span class="badge">${profileLabel(r.actorProfiles[i])}</span>` : ''}`)}</td><td>${r.clientId}</td><td>${r.reason ?? ''}${activity.get(r.grantId) ?? ''}</td><td>${time(iso(r.startedAt))}</td><td>${time(iso(r.expiresAt))}</td><td>${r.kind === 'browser' ? 'browser' : 'API'}${r.mode === 'read' ? html` <span class="badge info">read-only</span>` : ''}</td>
<td class="actions"><form method="post" action="${base}/impersonations/revoke">${hidden(session, { grant: r.grantId, back })}<button class="button danger small" type="submit" aria-label="Revoke the impersonation of ${r.subject} by ${r.actors.at(-1)}">Revoke</button></form></td></tr>`,
    )}</tbody></table></div>`;
  }

  /**
   * A refusal in the words the console shows a signed-in agent (docs/admin-console.md#refusals-in-words): the
   * subject rule that refused, with the account's own facts and what could change it. The token
   * endpoint keeps its one public description for every subject refusal (docs/policy.md).
   */
  function inWords(refusal: ExchangeRefusal, subjectId: string, account: DirectoryAccount | undefined, actor: DirectoryAccount | undefined): string {
    const who = account?.name ?? account?.id ?? subjectId;
    switch (refusal.rule) {
      case 'subject_protected':
        return `${who} holds the protected role ${account?.roles.find((role) => deps.policy.protectedRoles.includes(role)) ?? ''}: nobody can impersonate this account.`;
      case 'subject_other_tenant':
        return `${who} belongs to another tenant (${account?.tenant ?? 'none'}). You may impersonate users of your own tenant${actor?.tenant ? ` (${actor.tenant})` : ''} only, unless you hold the ${deps.policy.globalRole} role.`;
      case 'subject_disabled':
        return 'This account is disabled: nobody can impersonate it until it is enabled again.';
      case 'subject_is_actor':
        return 'This is your own account: open the application as yourself instead.';
      case 'subject_unknown':
        return `There is no user “${subjectId}”.`;
      case 'subject_denied_by_hook':
        return "This provider's own authorization rule refused to let you impersonate this account. Ask an administrator why.";
      default: {
        const text = refusal.description.charAt(0).toUpperCase() + refusal.description.slice(1);
        return /[.!?]$/.test(text) ? text : `${text}.`;
      }
    }
  }

  /** The subject rules (src/exchange/checks.ts), asked before the agent types a reason: why not, in words, or undefined. */
  function verdictFor(actor: DirectoryAccount | undefined, account: DirectoryAccount): string | undefined {
    if (!actor) return undefined;
    try {
      assertSubjectMayBeImpersonated(account, account.id, actor, deps.policy);
      return undefined;
    } catch (err) {
      if (!(err instanceof ExchangeRefusal)) throw err;
      return inWords(err, account.id, account, actor);
    }
  }

  /** What the agent may do with this user now: may they at all, must they ask first, which approvals can they use, which modes. */
  async function accessFor(caller: AdminCaller, account: DirectoryAccount) {
    const actor = await deps.accounts.findAccount(caller.accountId);
    const verdict = verdictFor(actor, account);
    const required = actor ? deps.rules.approvalRequired(actor, account) : false;
    const readOnlyOnly = actor ? deps.rules.readOnlyOnly(actor) : false;
    const approvals = await deps.approvals.list({ subject: account.id });
    const usable = approvals.filter((a) => a.actor === caller.accountId && a.state === 'approved');
    return { verdict, required, readOnlyOnly, readOnlyAvailable: deps.policy.readOnlyScopes !== undefined, approvals, usable };
  }

  /** {@link inWords} for a refusal of the minting or approval rules, the accounts read live. */
  async function refusalInWords(refusal: ExchangeRefusal, caller: AdminCaller, subjectId: string): Promise<string> {
    const [account, actor] = await Promise.all([deps.accounts.findAccount(subjectId), deps.accounts.findAccount(caller.accountId)]);
    return inWords(refusal, subjectId, account, actor);
  }

  function verdictNotice(account: DirectoryAccount, verdict: string, role: 'status' | 'alert' = 'status'): Html {
    return html`<div class="alert warn" role="${role}" id="impersonate-verdict"><strong>You cannot impersonate ${account.id}.</strong> ${verdict}</div>`;
  }

  type AccessFacts = Awaited<ReturnType<typeof accessFor>>;

  function approvalsTable(list: readonly ApprovalView[]): Html {
    if (!list.length) return html``;
    return html`<div class="table-wrap"><table><caption class="visually-hidden">Requests for approval</caption>
<thead><tr><th scope="col">Asked by</th><th scope="col">Access</th><th scope="col">Reason</th><th scope="col">Asked</th><th scope="col">State</th></tr></thead>
<tbody>${list.map(
      (a) => html`<tr><td>${a.actor}</td><td>${a.mode === 'read' ? html`<span class="badge info">read-only</span>` : 'full'}, ${Math.round(a.duration_seconds / 60)} min${a.scope ? html`<br><span class="meta mono">${a.scope}</span>` : ''}</td><td>${a.reason ?? ''}</td><td>${time(a.requested_at)}</td>
<td><span class="badge ${STATE_BADGES[a.state].badge}">${STATE_BADGES[a.state].text}</span>${a.state === 'approved' && a.approved_until ? html`<br><span class="meta">until ${time(a.approved_until)}</span>` : ''}</td></tr>`,
    )}</tbody></table></div>`;
  }

  /** Scopes an approval may be asked for: the impersonation allow-list, when policy declares one. */
  function askableScopes(): string[] | undefined {
    const allow = deps.policy.scopes.allow;
    return allow ? impersonationScopes(allow, deps.policy) : undefined;
  }

  function modeChoice(prefix: string, facts: AccessFacts): Html {
    if (!facts.readOnlyAvailable) return html``;
    if (facts.readOnlyOnly) {
      return html`<p class="meta"><span class="badge info">read-only</span> Your role may only impersonate read-only: look, change nothing.</p><input type="hidden" name="mode" value="read">`;
    }
    return html`<fieldset class="choice"><legend>Access</legend>
<label><input type="radio" name="mode" value="full" id="${prefix}-mode-full" checked> Full — act as the user</label>
<label><input type="radio" name="mode" value="read" id="${prefix}-mode-read"> Read-only — look, change nothing</label>
</fieldset>`;
  }

  function askSection(session: ConsoleSession, account: DirectoryAccount, facts: AccessFacts): Html {
    const max = deps.approvals.maxDuration();
    const durations = [...new Set([...DURATIONS.map((m) => m * 60).filter((d) => d <= max && d >= APPROVAL_MIN_DURATION_SECONDS), max])].sort((a, b) => a - b);
    const preferred = durations.includes(1800) ? 1800 : durations.at(-1);
    const scopes = askableScopes();
    return html`<section class="card stack" aria-labelledby="ask-title"><h2 id="ask-title">Ask ${account.id} for access</h2>
<p class="meta">Impersonating ${account.id} needs their approval. They see your request on their account page (and are told through the app's notifications), and approve or decline it. An approval can be used once, within its window, and ${account.id} can revoke it at any time.</p>
<form method="post" action="${base}/users/${encodeURIComponent(account.id)}/approvals" class="stack">${hidden(session)}
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

  async function userPage(ctx: Context, session: ConsoleSession, caller: AdminCaller, id: string, n?: Notice, status = 200): Promise<void> {
    const account = await deps.accounts.findAccount(id);
    if (!account) {
      await render(ctx, session, { title: 'No such user', section: 'users', body: html`<h1>No such user</h1><div class="alert error" role="alert">There is no user “${id}”.</div><p><a href="${base}/users">Back to the search</a></p>` }, 404);
      return;
    }
    const live = await lifecycle.list({ subject: id });
    const back = `${base}/users/${encodeURIComponent(id)}`;
    const facts = await accessFor(caller, account);
    const canOpen = !facts.required || facts.usable.length > 0;
    await render(ctx, session, {
      title: account.name ?? account.id,
      section: 'users',
      body: html`<p class="meta"><a href="${base}/users">Users</a> › ${account.id}</p>
<div class="row"><h1>${account.name ?? account.id}</h1>${account.disabled ? html`<span class="badge denied">disabled</span>` : ''}</div>
${notice(n)}
<div id="impersonate-status" role="status" class="alert ok" hidden></div>
<div class="card"><dl class="facts"><dt>Id</dt><dd class="mono">${account.id}</dd><dt>Email</dt><dd>${account.email ?? '—'}</dd><dt>Tenant</dt><dd>${account.tenant ?? '—'}</dd><dt>Roles</dt><dd>${account.roles.join(', ') || '—'}</dd></dl></div>
${
  facts.verdict !== undefined
    ? verdictNotice(account, facts.verdict)
    : canOpen
    ? html`<p><a class="button" id="impersonate-open" href="${back}/impersonate">Impersonate ${account.id}…</a>${facts.usable.length ? html` <span class="badge live">${account.id} approved</span>` : ''}</p>
${impersonateDialog(session, account, facts)}`
    : html`<div class="alert info" role="status">${account.id} must approve before you can impersonate them.</div>`
}
${facts.required && facts.verdict === undefined ? askSection(session, account, facts) : ''}
${facts.approvals.length ? html`<h2>Requests for ${account.id}'s approval</h2>${approvalsTable(facts.approvals)}` : ''}
<h2>Live impersonations of ${account.id}</h2>
${impersonationTable(session, live, `Nobody is acting as ${account.id} right now.`, back, await activityOf(live))}
${live.length ? html`<form method="post" action="${base}/impersonations/revoke">${hidden(session, { subject: account.id, back })}<button class="button secondary" type="submit">End every impersonation of ${account.id}</button></form>` : ''}`,
    }, status);
  }

  /** The approvals the dialog can start under (the approval decides the mode), or the mode choice. */
  function accessChoice(facts: AccessFacts): Html {
    if (!facts.usable.length) return modeChoice('impersonate', facts);
    return html`<div><label for="impersonate-approval">Under which approval? <span class="hint">Used once; the access ends with its window.</span></label>
<select id="impersonate-approval" name="approval">${facts.usable.map(
      (a) => html`<option value="${a.id}">${a.mode === 'read' ? 'Read-only' : 'Full'}, until ${short(a.approved_until!)} — ${a.reason ?? 'no reason'}</option>`,
    )}</select></div>`;
  }

  function impersonateForm(session: ConsoleSession, account: DirectoryAccount, facts: AccessFacts, values: { reason?: string; client?: string } = {}, error?: string): Html {
    const action = `${base}/users/${encodeURIComponent(account.id)}/impersonate`;
    return html`<form method="post" action="${action}" target="_blank" id="impersonate-form" data-subject="${account.id}">
${hidden(session)}
<div class="dialog-body stack">
<h2 id="impersonate-title">Impersonate ${account.id}</h2>
<p class="meta">The application opens in a new tab, signed in as ${account.name ?? account.id}, for at most an hour. ${account.id} can see this on their account page.</p>
<div id="impersonate-error" class="alert error" role="alert"${error ? '' : html` hidden`}>${error ?? ''}</div>
<div><label for="impersonate-reason">Why? <span class="hint">${REASON_MIN_LENGTH} to ${REASON_MAX_LENGTH} characters, e.g. the ticket number and the problem. Recorded in the audit log.</span></label>
<textarea id="impersonate-reason" name="reason" required minlength="${REASON_MIN_LENGTH}" maxlength="${REASON_MAX_LENGTH}">${values.reason ?? ''}</textarea></div>
<div><label for="impersonate-client">Open which application?</label>
<select id="impersonate-client" name="client_id">${options.applications.map((app) => html`<option value="${app}"${values.client === app ? html` selected` : ''}>${app}</option>`)}</select></div>
${accessChoice(facts)}
</div>
<div class="dialog-actions"><button type="button" class="button secondary" data-close>Cancel</button><button type="submit" class="button">Open as ${account.id}</button></div>
</form>`;
  }

  function impersonateDialog(session: ConsoleSession, account: DirectoryAccount, facts: AccessFacts): Html {
    return html`<dialog id="impersonate-dialog" aria-labelledby="impersonate-title">${impersonateForm(session, account, facts)}</dialog>`;
  }

  /** The dialog's form as a page of its own (no script, or a refusal shown after a plain form post). */
  async function impersonatePage(ctx: Context, session: ConsoleSession, caller: AdminCaller, id: string, values: { reason?: string; client?: string } = {}, error?: string, status = 200): Promise<void> {
    const found = await deps.accounts.findAccount(id);
    const account = found ?? { id, roles: [] };
    const facts = await accessFor(caller, account);
    const verdict = found ? facts.verdict : `There is no user “${id}”.`;
    const body = verdict !== undefined ? verdictNotice(account, verdict, 'alert') : html`<div class="card">${impersonateForm(session, account, facts, values, error)}</div>`;
    await render(ctx, session, { title: `Impersonate ${id}`, section: 'users', body: html`<p class="meta"><a href="${base}/users/${encodeURIComponent(id)}">‹ Back to ${id}</a></p>${body}` }, status);
  }

  /** Beyond RFC 8693: the agent asks the user for approval (a plain form; every attempt audited). */
  async function ask(ctx: Context, state: { id: string; session: ConsoleSession }, caller: AdminCaller, id: string, form: URLSearchParams): Promise<void> {
    const { session } = state;
    const mode = form.get('mode');
    const duration = Number(form.get('duration') ?? '');
    try {
      const asked = await deps.approvals.request(
        {
          actor: { sub: caller.accountId, issuer, ownIssuer: true, authTime: await deps.auth.authTimeOf(caller) },
          subject: id,
          reason: form.get('reason') ?? undefined,
          scopes: form.getAll('scope'),
          durationSeconds: Number.isInteger(duration) && duration > 0 ? duration : undefined,
          mode: mode === 'read' || mode === 'full' ? mode : undefined,
        },
        deps.requestFacts(ctx),
      );
      return userPage(ctx, session, caller, id, { kind: 'ok', text: `Asked ${id} for ${asked.mode === 'read' ? 'read-only' : 'full'} access: waiting for their answer (until ${short(asked.answer_by)}).` });
    } catch (err) {
      if (!(err instanceof ExchangeRefusal) || err.status >= 500) throw err;
      if (!(await stillAllowed(ctx, state.id, session))) return;
      for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
      ctx.status = err.status;
      return userPage(ctx, session, caller, id, { kind: 'error', text: `Not asked. ${await refusalInWords(err, caller, id)}` }, err.status);
    }
  }

  /**
   * docs/browser-impersonation.md §1 from the console: the same rules as the admin API (they audit every attempt); the
   * browser goes to the ticket's login URL, or the script opens it in the new tab it prepared.
   */
  async function impersonate(ctx: Context, state: { id: string; session: ConsoleSession }, caller: AdminCaller, id: string, form: URLSearchParams): Promise<void> {
    const { session } = state;
    const wantsJson = ctx.accepts('html', 'json') === 'json';
    const reason = form.get('reason') ?? undefined;
    const clientId = form.get('client_id') ?? '';
    const mode = form.get('mode');
    const approvalId = form.get('approval') || undefined;
    try {
      if (!options.applications.includes(clientId)) throw new ExchangeRefusal('ticket_client_unknown', 'invalid_request', 'choose one of the listed applications');
      const minted = await deps.tickets.mint(
        {
          actor: { sub: caller.accountId, issuer, ownIssuer: true, authTime: await deps.auth.authTimeOf(caller) },
          actorGrantId: caller.grantId,
          subject: id,
          clientId,
          reason,
          mode: mode === 'read' || mode === 'full' ? mode : undefined,
          approvalId,
        },
        deps.requestFacts(ctx),
      );
      pageHeaders(ctx, await formTargets());
      if (wantsJson) {
        ctx.status = 201;
        ctx.body = { login_url: minted.login_url, expires_at: minted.expires_at };
      } else {
        ctx.status = 303;
        ctx.redirect(minted.login_url);
      }
    } catch (err) {
      if (!(err instanceof ExchangeRefusal) || err.status >= 500) throw err;
      if (!(await stillAllowed(ctx, state.id, session))) return;
      for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
      const words = await refusalInWords(err, caller, id);
      if (wantsJson) {
        pageHeaders(ctx);
        ctx.status = err.status;
        ctx.body = { error: err.error, error_description: words };
        return;
      }
      await impersonatePage(ctx, session, caller, id, { reason, client: clientId }, words, err.status);
    }
  }

  // ---- live impersonations

  async function impersonationsPage(ctx: Context, session: ConsoleSession, n?: Notice): Promise<void> {
    const live = await lifecycle.list({ all: true });
    const actors = [...new Set(live.map((r) => r.actors.at(-1)!))].sort();
    const subjects = [...new Set(live.map((r) => r.subject))].sort();
    const back = `${base}/impersonations`;
    await render(ctx, session, {
      title: 'Live impersonations',
      section: 'impersonations',
      body: html`<h1>Live impersonations</h1><p class="lead">Everyone acting as someone else right now, through an application (browser) or an API token. Revoking ends the session and every token at once, on every instance.</p>
${notice(n)}
${
  live.length
    ? html`<div class="card toolbar">
<form method="post" action="${base}/impersonations/revoke" class="toolbar">${hidden(session, { back })}<div><label for="revoke-actor">End everything by</label><select id="revoke-actor" name="actor">${actors.map((a) => html`<option>${a}</option>`)}</select></div><button class="button secondary" type="submit">End all of this agent</button></form>
<form method="post" action="${base}/impersonations/revoke" class="toolbar">${hidden(session, { back })}<div><label for="revoke-subject">End everything as</label><select id="revoke-subject" name="subject">${subjects.map((s) => html`<option>${s}</option>`)}</select></div><button class="button secondary" type="submit">End all of this user</button></form>
</div>`
    : ''
}
${impersonationTable(session, live, 'Nobody is acting as anyone right now.', back, await activityOf(live))}`,
    });
  }

  async function revoke(ctx: Context, session: ConsoleSession, caller: AdminCaller, form: URLSearchParams): Promise<void> {
    // Where to go afterwards is settled before anything is revoked: a user's page, or else the list.
    const backTo = userOfBack(form.get('back'));
    const by = { actor: caller.accountId, request: deps.requestFacts(ctx) };
    const grant = form.get('grant');
    const actor = form.get('actor');
    const subject = form.get('subject');
    let ended: number;
    let what: string;
    if (grant) {
      const record = (await lifecycle.list({ all: true })).find((r) => r.grantId === grant);
      ended = record ? await lifecycle.revokeGrant(grant, 'revoked_single', by) : 0;
      what = record ? `the impersonation of ${record.subject} by ${record.actors.at(-1)}` : 'that impersonation (it had already ended)';
    } else {
      const filter: ImpersonationFilter | undefined = actor ? { actor } : subject ? { subject } : undefined;
      if (!filter) throw new AdminError(400, 'invalid_request', 'say which impersonations to end');
      ended = await lifecycle.revoke(filter, by);
      what = actor ? `every impersonation by ${actor}` : `every impersonation of ${subject}`;
    }
    const text = `Ended ${what}: ${ended} revoked.`;
    if (backTo !== undefined) return userPage(ctx, session, caller, backTo, { kind: 'ok', text });
    return impersonationsPage(ctx, session, { kind: 'ok', text });
  }

  // ---- audit

  function auditFilterOf(query: Context['query']): { filter: AuditFilter; cursor: string | undefined; values: Record<string, string> } {
    const get = (name: string) => (typeof query[name] === 'string' ? (query[name] as string).trim().slice(0, 200) : '');
    const values = Object.fromEntries(['actor', 'subject', 'event', 'outcome', 'since', 'until'].map((k) => [k, get(k)]));
    const at = (value: string) => {
      const t = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
      return Number.isNaN(t) ? undefined : new Date(t).toISOString();
    };
    const filter: AuditFilter = {
      actor: values.actor || undefined,
      subject: values.subject || undefined,
      event: (AUDIT_EVENTS as readonly string[]).includes(values.event!) ? values.event : undefined,
      outcome: ['granted', 'denied', 'error'].includes(values.outcome!) ? values.outcome : undefined,
      since: values.since ? at(values.since) : undefined,
      until: values.until ? at(values.until) : undefined,
    };
    const cursor = get('cursor');
    return { filter, cursor: /^[\w-]{1,64}$/.test(cursor) ? cursor : undefined, values };
  }

  function chainStatus(result: VerifyResult | undefined): Html {
    if (!result) return html`<form method="get" action="${base}/audit/verify"><button class="button secondary" type="submit">Verify the chain</button></form>`;
    return result.ok
      ? html`<div class="alert ok" role="status">Chain intact: ${result.count} records verified, each linked to the one before it (SHA-256).</div>`
      : html`<div class="alert error" role="alert">Chain broken at record ${result.position} (id ${result.id ?? 'unknown'}): ${result.problem}. ${result.count} records before it verify.</div>`;
  }

  async function auditPage(ctx: Context, session: ConsoleSession, verified?: VerifyResult): Promise<void> {
    if (!deps.auditLog) {
      await render(ctx, session, { title: 'Audit log', section: 'audit', body: html`<h1>Audit log</h1><div class="alert info">This provider writes audit records to a plain sink, not a queryable log.</div>` });
      return;
    }
    const { filter, cursor, values } = auditFilterOf(ctx.query);
    // Like every other field of this form, a cursor the log never gave out is ignored (first page).
    const page = await queryAudit(deps.auditLog, filter, { cursor, limit: AUDIT_PAGE }).catch((err: unknown) => {
      if (err instanceof InvalidCursorError) return queryAudit(deps.auditLog!, filter, { limit: AUDIT_PAGE });
      throw err;
    });
    const keep = new URLSearchParams(Object.entries(values).filter(([, v]) => v));
    const next = page.next_cursor && page.records.length === AUDIT_PAGE ? `${base}/audit?${new URLSearchParams([...keep, ['cursor', page.next_cursor]])}` : undefined;
    const row = (r: ChainedAuditRecord) =>
      html`<tr><td>${time(r.time, 'second')}</td><td class="mono">${r.event}</td><td>${outcomeBadge(r.outcome)}${r.rule ? html`<br><span class="meta mono">${r.rule}</span>` : ''}</td><td>${r.actor ?? ''}</td><td>${r.subject ?? ''}</td><td>${r.client_id ?? ''}</td><td>${r.reason ?? ''}</td></tr>`;
    const input = (name: string, label: string, type = 'text') => html`<div><label for="audit-${name}">${label}</label><input id="audit-${name}" type="${type}" name="${name}" value="${values[name]}"></div>`;
    await render(ctx, session, {
      title: 'Audit log',
      section: 'audit',
      body: html`<h1>Audit log</h1><p class="lead">Every attempt — granted or refused — every ticket, revocation and change of setting, newest first. Records are chained: an edit or a deletion anywhere breaks the chain.</p>
${chainStatus(verified)}
<form class="card filters" method="get" action="${base}/audit" aria-label="Filter the audit log">
${input('actor', 'Actor')}${input('subject', 'Subject')}
<div><label for="audit-event">Event</label><select id="audit-event" name="event"><option value="">any</option>${AUDIT_EVENTS.map((e) => html`<option${values.event === e ? html` selected` : ''}>${e}</option>`)}</select></div>
<div><label for="audit-outcome">Outcome</label><select id="audit-outcome" name="outcome"><option value="">any</option>${['granted', 'denied', 'error'].map((o) => html`<option${values.outcome === o ? html` selected` : ''}>${o}</option>`)}</select></div>
${input('since', 'Since (UTC)', 'datetime-local')}${input('until', 'Until (UTC)', 'datetime-local')}
<div class="filter-actions">${keep.size ? html`<a href="${base}/audit">Clear</a>` : ''}<button class="button" type="submit">Filter</button></div>
</form>
${
  page.records.length
    ? html`<div class="table-wrap"><table><caption class="visually-hidden">Audit records</caption><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Outcome</th><th scope="col">Actor</th><th scope="col">Subject</th><th scope="col">Client</th><th scope="col">Reason</th></tr></thead><tbody>${page.records.map(row)}</tbody></table></div>`
    : html`<div class="card empty">No record matches.</div>`
}
<div class="pager"><span class="meta">${page.records.length} records${cursor ? ' (older page)' : ''}</span>${next ? html`<a class="button secondary" href="${next}">Older records →</a>` : ''}</div>`,
    });
  }

  async function verifyAuditChain(): Promise<VerifyResult> {
    const records: ChainedAuditRecord[] = [];
    for await (const record of readAll(deps.auditLog!)) records.push(record);
    return verifyChain(records, { continues: records.length > 0 && records[0]!.prev_hash !== GENESIS_HASH });
  }

  // ---- settings

  async function settingsPage(ctx: Context, session: ConsoleSession, n?: Notice): Promise<void> {
    const enabled = await lifecycle.isEnabled();
    await render(ctx, session, {
      title: 'Settings',
      section: 'settings',
      body: html`<h1>Settings</h1>${notice(n)}
<div class="card stack"><h2>Impersonation</h2>
<p class="switch-state ${enabled ? 'on' : 'off'}">${enabled ? 'On: support agents with the impersonator role may impersonate.' : 'Off: nobody can impersonate; every attempt is refused.'}</p>
<p class="meta">Switching off ends every live impersonation at once, on every instance sharing the store.</p>
<form method="post" action="${base}/settings">${hidden(session, { enabled: enabled ? 'false' : 'true' })}<button type="submit" class="button ${enabled ? 'danger' : ''}" ${enabled ? html`data-confirm="Switch impersonation off and end every live impersonation?"` : ''}>${enabled ? 'Switch impersonation off' : 'Switch impersonation on'}</button></form>
</div>`,
    });
  }

  // ---- plumbing

  /** A user id from a path segment (RFC 3986 §2.1); a malformed percent-encoding is the client's error. */
  function userId(segment: string): string {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new AdminError(400, 'invalid_request', 'That address is malformed.');
    }
  }

  /** The user whose page a revoke form came from (its `back` field), or undefined for the list of live impersonations. */
  function userOfBack(back: string | null): string | undefined {
    const segment = back?.startsWith(`${base}/users/`) ? back.slice(`${base}/users/`.length) : undefined;
    if (segment === undefined || !/^[^/?#]+$/.test(segment)) return undefined;
    try {
      return decodeURIComponent(segment);
    } catch {
      return undefined;
    }
  }

  /**
   * Every console request goes through the admin authorization path (src/admin/auth.ts), read
   * live: the session's token and grant still stand, and its account exists, is enabled and may
   * impersonate. Only minting a ticket and asking for approval leave the account to their own rules,
   * which audit a refusal (the admin API does the same); see {@link stillAllowed}.
   */
  async function signedIn(ctx: Context, eligibility: boolean): Promise<{ id: string; session: ConsoleSession; caller: AdminCaller } | 'answered'> {
    const found = await sessions.read(ctx);
    if (!found) {
      if (ctx.method === 'GET') await signIn.start(ctx, ctx.path === `${base}/login` ? `${base}/users` : ctx.originalUrl);
      else forbidden(ctx, 'Your console session has ended. Sign in again.');
      return 'answered';
    }
    try {
      const caller = await deps.auth.authenticate(found.data.accessToken, eligibility);
      return { id: found.id, session: found.data, caller };
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      await turnAway(ctx, found.id, err);
      return 'answered';
    }
  }

  /** Ends the console session of an agent the authorization path refused, and says so. */
  async function turnAway(ctx: Context, sessionId: string, err: AdminError): Promise<void> {
    await sessions.destroy(ctx, sessionId);
    if (ctx.method === 'GET' && err.status === 401) await signIn.start(ctx, ctx.originalUrl);
    else forbidden(ctx, err.status === 401 ? 'Your console session has ended. Sign in again.' : `You may not use this console: ${err.description}.`);
  }

  /**
   * After the minting or approval rules refused (and audited) an attempt: whether the agent may
   * still use the console. If not, the session ends and the answer is the refusal page, not the
   * console's page for that user.
   */
  async function stillAllowed(ctx: Context, sessionId: string, session: ConsoleSession): Promise<boolean> {
    try {
      await deps.auth.authenticate(session.accessToken);
      return true;
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      await turnAway(ctx, sessionId, err);
      return false;
    }
  }

  function forbidden(ctx: Context, text: string, status = 403): void {
    pageHeaders(ctx);
    ctx.status = status;
    ctx.type = 'html';
    const title = status === 400 ? 'Bad request' : 'Not allowed';
    ctx.body = layout({ title, product, assetsPath, body: html`<h1>${title}</h1><div class="alert error" role="alert">${text}</div><p><a class="button" href="${base}/login">${status === 400 ? 'Back to the console' : 'Sign in'}</a></p>` });
  }

  async function callback(ctx: Context): Promise<void> {
    try {
      const { claims, profile, tokens, returnTo } = await signIn.finish(ctx);
      if (claims.act !== undefined) throw new Error('an impersonated session cannot open the support console');
      await deps.auth.authenticate(tokens.access_token);
      const name = typeof profile.name === 'string' ? profile.name : claims.sub;
      await sessions.create(ctx, { sub: claims.sub, name, csrf: newCsrfToken(), accessToken: tokens.access_token }, Math.min(SESSION_SECONDS, tokens.expires_in ?? SESSION_SECONDS));
      ctx.redirect(returnTo.startsWith(`${base}/`) ? returnTo : `${base}/users`);
    } catch (err) {
      forbidden(ctx, err instanceof AdminError ? `You may not use this console: ${err.description}.` : `Sign-in failed: ${(err as Error).message}`);
    }
  }

  let script: Promise<string> | undefined;
  async function asset(ctx: Context, path: string): Promise<boolean> {
    const body = path === '/assets/app.css' ? STYLESHEET : path === '/assets/app.js' ? await (script ??= readFile(CONSOLE_SCRIPT_FILE, 'utf8')) : undefined;
    if (body === undefined) return false;
    ctx.type = path.endsWith('.css') ? 'text/css' : 'text/javascript';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = body;
    return true;
  }

  async function route(ctx: Context, path: string): Promise<void> {
    if (ctx.method === 'GET' && (await asset(ctx, path))) return;
    if (ctx.method === 'GET' && path === '/callback') return callback(ctx);
    // docs/admin-console.md: minting and asking leave the agent's account to their own (audited) rules.
    const ruled = ctx.method === 'POST' && /^\/users\/[^/]+\/(impersonate|approvals)$/.test(path);
    const state = await signedIn(ctx, !ruled);
    if (state === 'answered') return;
    const { session, caller } = state;
    if (ctx.method === 'GET') {
      if (path === '' || path === '/' || path === '/login') return ctx.redirect(`${base}/users`);
      if (path === '/users') return usersPage(ctx, session);
      const user = /^\/users\/([^/]+)(\/impersonate)?$/.exec(path);
      if (user) return user[2] ? impersonatePage(ctx, session, caller, userId(user[1]!)) : userPage(ctx, session, caller, userId(user[1]!));
      if (path === '/impersonations') return impersonationsPage(ctx, session);
      if (path === '/audit') return auditPage(ctx, session);
      if (path === '/audit/verify' && deps.auditLog) return auditPage(ctx, session, await verifyAuditChain());
      if (path === '/settings') return settingsPage(ctx, session);
      return;
    }
    if (ctx.method !== 'POST') return;
    const form = await readForm(ctx);
    if (!csrfHolds(ctx, session.csrf, form.get('csrf'), ownOrigin)) return forbidden(ctx, 'This form has expired or came from another site. Reload the page and try again.');
    if (path === '/logout') {
      await sessions.destroy(ctx, state.id);
      pageHeaders(ctx);
      ctx.type = 'html';
      ctx.body = layout({ title: 'Signed out', product, assetsPath, body: html`<h1>Signed out</h1><p>You have left the support console.</p><p><a class="button" href="${base}/login">Sign in again</a></p>` });
      return;
    }
    const impersonation = /^\/users\/([^/]+)\/impersonate$/.exec(path);
    if (impersonation) return impersonate(ctx, state, caller, userId(impersonation[1]!), form);
    const asking = /^\/users\/([^/]+)\/approvals$/.exec(path);
    if (asking) return ask(ctx, state, caller, userId(asking[1]!), form);
    if (path === '/impersonations/revoke') return revoke(ctx, session, caller, form);
    if (path === '/settings') {
      const enabled = form.get('enabled') === 'true';
      const ended = await lifecycle.setEnabled(enabled, { actor: caller.accountId, request: deps.requestFacts(ctx) });
      return settingsPage(ctx, session, { kind: 'ok', text: enabled ? 'Impersonation is on.' : `Impersonation is off; ${ended} live impersonations ended.` });
    }
  }

  return async function adminConsole(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== base && !ctx.path.startsWith(`${base}/`)) return next();
    if (ctx.path === `${base}/api` || ctx.path.startsWith(`${base}/api/`)) return next();
    try {
      await route(ctx, ctx.path.slice(base.length));
    } catch (err) {
      if (!(err instanceof AdminError)) throw err;
      forbidden(ctx, err.description, err.status);
    }
    if (ctx.body === undefined && ctx.status === 404) await next();
  };
}
