import type { Context } from 'koa';
import { ACTIVITY_SHOWN, activityList } from '../../account/activity.js';
import { ExchangeRefusal } from '../../errors.js';
import type { ImpersonationRecord } from '../../store/index.js';
import type { Html } from '../../web/html.js';
import { pageHeaders } from '../../web/security.js';
import { AdminError } from '../auth.js';
import { accessFor, refusalInWords } from './access.js';
import type { ConsoleContext, ConsolePage, ConsoleSession, ConsoleState, Notice } from './context.js';
import { impersonateView, noSuchUserView, userView, usersView, type ImpersonateValues } from './users-view.js';

/*
 * docs/admin-console.md: find the person, see what the agent may do with them, and open an
 * application as them through a one-time ticket (docs/browser-impersonation.md §1).
 */

const SEARCH_LIMIT = 50;

/** A user id from a path segment (RFC 3986 §2.1); a malformed percent-encoding is the client's error. */
export function userId(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new AdminError(400, 'invalid_request', 'That address is malformed.');
  }
}

/** What was done under each live impersonation (activity receipts, docs/beyond-impersonation.md). */
export async function activityOf(store: ConsoleContext['store'], records: readonly ImpersonationRecord[]): Promise<Map<string, Html>> {
  const found = await Promise.all(records.map((r) => store.impersonations.activity(r.grantId, ACTIVITY_SHOWN)));
  return new Map(records.map((r, i) => [r.grantId, activityList(found[i]!)]));
}

async function usersPage(c: Pick<ConsoleContext, 'base' | 'accounts' | 'render'>, ctx: Context, session: ConsoleSession): Promise<void> {
  const q = typeof ctx.query.q === 'string' ? ctx.query.q.slice(0, 200) : '';
  const results = c.accounts.searchAccounts ? await c.accounts.searchAccounts(q, SEARCH_LIMIT) : undefined;
  await c.render(ctx, session, { title: 'Users', section: 'users', body: usersView(c.base, q, results) });
}

/** A user's page, with a notice after a form posted from it. */
export async function userPage(c: ConsoleContext, ctx: Context, state: ConsoleState, id: string, n?: Notice, status = 200): Promise<void> {
  const { session, caller } = state;
  const account = await c.accounts.findAccount(id);
  if (!account) {
    await c.render(ctx, session, { title: 'No such user', section: 'users', body: noSuchUserView(c.base, id) }, 404);
    return;
  }
  const live = await c.lifecycle.list({ subject: id });
  const facts = await accessFor(c, caller, account);
  const activity = await activityOf(c.store, live);
  await c.render(ctx, session, { title: account.name ?? account.id, section: 'users', body: userView(c, session.csrf, account, facts, { records: live, activity }, n) }, status);
}

async function impersonatePage(c: ConsoleContext, ctx: Context, state: ConsoleState, id: string, values: ImpersonateValues = {}, error?: string, status = 200): Promise<void> {
  const found = await c.accounts.findAccount(id);
  const account = found ?? { id, roles: [] };
  const facts = await accessFor(c, state.caller, account);
  const verdict = found ? facts.verdict : `There is no user “${id}”.`;
  const body = impersonateView(c, state.session.csrf, id, account, facts, verdict, values, error);
  await c.render(ctx, state.session, { title: `Impersonate ${id}`, section: 'users', body }, status);
}

/** Where the ticket's login URL goes: to the script (JSON) or, for a plain form, a redirect. */
async function opened(c: Pick<ConsoleContext, 'formTargets'>, ctx: Context, minted: { login_url: string; expires_at: string }, wantsJson: boolean): Promise<void> {
  pageHeaders(ctx, await c.formTargets());
  if (wantsJson) {
    ctx.status = 201;
    ctx.body = { login_url: minted.login_url, expires_at: minted.expires_at };
  } else {
    ctx.status = 303;
    ctx.redirect(minted.login_url);
  }
}

/**
 * docs/browser-impersonation.md §1 from the console: the same rules as the admin API (they audit every attempt); the
 * browser goes to the ticket's login URL, or the script opens it in the new tab it prepared.
 */
async function impersonate(c: ConsoleContext, ctx: Context, state: ConsoleState, id: string, form: URLSearchParams): Promise<void> {
  const { caller } = state;
  const wantsJson = ctx.accepts('html', 'json') === 'json';
  const reason = form.get('reason') ?? undefined;
  const clientId = form.get('client_id') ?? '';
  const mode = form.get('mode');
  const approvalId = form.get('approval') || undefined;
  try {
    if (!c.options.applications.includes(clientId)) throw new ExchangeRefusal('ticket_client_unknown', 'invalid_request', 'choose one of the listed applications');
    const minted = await c.tickets.mint(
      {
        actor: { sub: caller.accountId, issuer: c.issuer, ownIssuer: true, authTime: await c.auth.authTimeOf(caller) },
        actorGrantId: caller.grantId,
        subject: id,
        clientId,
        reason,
        mode: mode === 'read' || mode === 'full' ? mode : undefined,
        approvalId,
      },
      c.requestFacts(ctx),
    );
    await opened(c, ctx, minted, wantsJson);
  } catch (err) {
    if (!(err instanceof ExchangeRefusal) || err.status >= 500) throw err;
    if (!(await c.stillAllowed(ctx, state))) return;
    for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
    const words = await refusalInWords(c, err, caller, id);
    if (wantsJson) {
      pageHeaders(ctx);
      ctx.status = err.status;
      ctx.body = { error: err.error, error_description: words };
      return;
    }
    await impersonatePage(c, ctx, state, id, { reason, client: clientId }, words, err.status);
  }
}

const USER = /^\/users\/([^/]+)$/;
const IMPERSONATE = /^\/users\/([^/]+)\/impersonate$/;

/** The users: search, a user's page, and the Impersonate dialog as a page and as a form. */
export const users: ConsolePage = {
  nav: { section: 'users', label: 'Users' },
  routes: (c) => [
    { method: 'GET', path: '/users', handler: (ctx, { state }) => usersPage(c, ctx, state.session) },
    { method: 'GET', path: USER, handler: (ctx, { state, params }) => userPage(c, ctx, state, userId(params[0]!)) },
    { method: 'GET', path: IMPERSONATE, handler: (ctx, { state, params }) => impersonatePage(c, ctx, state, userId(params[0]!)) },
    // docs/admin-console.md: minting leaves the agent's account to the ticket rules, which audit a refusal.
    { method: 'POST', path: IMPERSONATE, ownRules: true, handler: (ctx, { state, params, form }) => impersonate(c, ctx, state, userId(params[0]!), form) },
  ],
};
