import type { Context } from 'koa';
import { sendPage } from '../web/app.js';
import { layout } from '../web/html.js';
import type { AccountContext, AccountState, Notice } from './context.js';
import { cursorOf, historyOf, namesOf } from './history.js';
import { requestsSection } from './requests-view.js';
import { accountView } from './view.js';

/*
 * docs/browser-impersonation.md §5: the subject's page — every impersonation of their account, live
 * or how it ended — and ending a live one, which revokes its tokens and is audited.
 */

/** The page, with a notice after a form posted from it; the status as the form's handler set it. */
export async function show(c: AccountContext, ctx: Context, state: AccountState, notice?: Notice): Promise<void> {
  const session = state.data;
  const cursor = ctx.method === 'GET' ? cursorOf(ctx) : undefined;
  if (cursor === false) {
    ctx.status = 400;
    notice = { kind: 'error', text: 'That page of your history does not exist.' };
  }
  const before = cursor || undefined;
  const [page, approvals, delegations] = await Promise.all([
    historyOf(c, session.sub, before),
    c.approvals.list({ subject: session.sub }),
    c.delegations ? c.delegations.list({ subject: session.sub }) : [],
  ]);
  const names = await namesOf(c.accounts, approvals.map((a) => a.actor));
  const body = accountView(c.base, session.csrf, page, {
    notice,
    requests: requestsSection(c.base, session.csrf, approvals, names),
    assistants: c.assistants ? c.assistants.render(session.csrf, delegations) : '',
  });
  const user = { name: session.name, signOutAction: `${c.base}/logout`, csrf: session.csrf };
  sendPage(ctx, layout({ title: 'Impersonations of your account', product: c.product, assetsPath: c.assetsPath, user, body }));
}

/** The subject ends one of their live impersonations. */
export async function end(c: AccountContext, ctx: Context, state: AccountState, form: URLSearchParams): Promise<void> {
  const grantId = form.get('impersonation') ?? '';
  const record = (await c.lifecycle.list({ subject: state.data.sub })).find((r) => r.grantId === grantId);
  if (!record) {
    ctx.status = 404;
    return show(c, ctx, state, { kind: 'error', text: 'That impersonation is no longer live.' });
  }
  await c.lifecycle.revokeGrant(record.grantId, 'ended_by_subject', { actor: state.data.sub, request: c.requestFacts(ctx) });
  // Worded for what every service honours: the access is revoked here at once; how soon each API
  // refuses it depends on how it checks tokens (docs/resource-server.md, "What a revocation reaches").
  return show(c, ctx, state, { kind: 'ok', text: `Ended: the access ${record.actors.at(-1)} had to your account in ${record.clientId} is revoked.` });
}
