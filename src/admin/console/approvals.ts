import type { Context } from 'koa';
import { ExchangeRefusal } from '../../errors.js';
import { refusalInWords } from './access.js';
import type { ConsoleContext, ConsolePage, ConsoleState } from './context.js';
import { userPage, userId } from './users.js';
import { short } from './views.js';

/** Beyond RFC 8693: the agent asks the user for approval (a plain form; every attempt audited). */
async function ask(c: ConsoleContext, ctx: Context, state: ConsoleState, id: string, form: URLSearchParams): Promise<void> {
  const { caller } = state;
  const mode = form.get('mode');
  const duration = Number(form.get('duration') ?? '');
  try {
    const asked = await c.approvals.request(
      {
        actor: { sub: caller.accountId, issuer: c.issuer, ownIssuer: true, authTime: await c.auth.authTimeOf(caller) },
        subject: id,
        reason: form.get('reason') ?? undefined,
        scopes: form.getAll('scope'),
        durationSeconds: Number.isInteger(duration) && duration > 0 ? duration : undefined,
        mode: mode === 'read' || mode === 'full' ? mode : undefined,
      },
      c.requestFacts(ctx),
    );
    return userPage(c, ctx, state, id, { kind: 'ok', text: `Asked ${id} for ${asked.mode === 'read' ? 'read-only' : 'full'} access: waiting for their answer (until ${short(asked.answer_by)}).` });
  } catch (err) {
    if (!(err instanceof ExchangeRefusal) || err.status >= 500) throw err;
    if (!(await c.stillAllowed(ctx, state))) return;
    for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
    ctx.status = err.status;
    return userPage(c, ctx, state, id, { kind: 'error', text: `Not asked. ${await refusalInWords(c, err, caller, id)}` }, err.status);
  }
}

/** Asking a user for approval, from their page (the form: src/admin/console/approvals-view.ts). */
export const approvals: ConsolePage = {
  routes: (c) => [
    // docs/admin-console.md: asking leaves the agent's account to the approval rules, which audit a refusal.
    { method: 'POST', path: /^\/users\/([^/]+)\/approvals$/, ownRules: true, handler: (ctx, { state, params, form }) => ask(c, ctx, state, userId(params[0]!), form) },
  ],
};
