import type { Context } from 'koa';
import type { ImpersonationFilter } from '../../store/index.js';
import { AdminError } from '../auth.js';
import type { ConsoleContext, ConsolePage, ConsoleState, Notice } from './context.js';
import { impersonationsView } from './impersonations-view.js';
import { activityOf, userPage } from './users.js';

/* docs/admin-console.md: every live impersonation, and revoking one, all of an agent's, or all of a user's. */

async function impersonationsPage(c: Pick<ConsoleContext, 'base' | 'lifecycle' | 'store' | 'render'>, ctx: Context, state: ConsoleState, n?: Notice): Promise<void> {
  const live = await c.lifecycle.list({ all: true });
  const body = impersonationsView(c.base, state.session.csrf, live, await activityOf(c.store, live), n);
  await c.render(ctx, state.session, { title: 'Live impersonations', section: 'impersonations', body });
}

/** The user whose page a revoke form came from (its `back` field), or undefined for the list of live impersonations. */
function userOfBack(base: string, back: string | null): string | undefined {
  const segment = back?.startsWith(`${base}/users/`) ? back.slice(`${base}/users/`.length) : undefined;
  if (segment === undefined || !/^[^/?#]+$/.test(segment)) return undefined;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** Ends what the form names (one grant, or everything by an agent or as a user): how many ended, in words. */
async function end(c: Pick<ConsoleContext, 'lifecycle' | 'requestFacts'>, ctx: Context, state: ConsoleState, form: URLSearchParams): Promise<string> {
  const by = { actor: state.caller.accountId, request: c.requestFacts(ctx) };
  const grant = form.get('grant');
  const actor = form.get('actor');
  const subject = form.get('subject');
  if (grant) {
    const record = (await c.lifecycle.list({ all: true })).find((r) => r.grantId === grant);
    const ended = record ? await c.lifecycle.revokeGrant(grant, 'revoked_single', by) : 0;
    const what = record ? `the impersonation of ${record.subject} by ${record.actors.at(-1)}` : 'that impersonation (it had already ended)';
    return `Ended ${what}: ${ended} revoked.`;
  }
  const filter: ImpersonationFilter | undefined = actor ? { actor } : subject ? { subject } : undefined;
  if (!filter) throw new AdminError(400, 'invalid_request', 'say which impersonations to end');
  const ended = await c.lifecycle.revoke(filter, by);
  return `Ended ${actor ? `every impersonation by ${actor}` : `every impersonation of ${subject}`}: ${ended} revoked.`;
}

async function revoke(c: ConsoleContext, ctx: Context, state: ConsoleState, form: URLSearchParams): Promise<void> {
  // Where to go afterwards is settled before anything is revoked: a user's page, or else the list.
  const backTo = userOfBack(c.base, form.get('back'));
  const text = await end(c, ctx, state, form);
  if (backTo !== undefined) return userPage(c, ctx, state, backTo, { kind: 'ok', text });
  return impersonationsPage(c, ctx, state, { kind: 'ok', text });
}

/** Live impersonations: the list and the revoke forms. */
export const impersonations: ConsolePage = {
  nav: { section: 'impersonations', label: 'Live impersonations' },
  routes: (c) => [
    { method: 'GET', path: '/impersonations', handler: (ctx, { state }) => impersonationsPage(c, ctx, state) },
    { method: 'POST', path: '/impersonations/revoke', handler: (ctx, { state, form }) => revoke(c, ctx, state, form) },
  ],
};
