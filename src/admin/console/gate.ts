import type { Context } from 'koa';
import { html, layout } from '../../web/html.js';
import { sendPage, type PageGate } from '../../web/app.js';
import type { WebSessions } from '../../web/sessions.js';
import type { SignIn } from '../../web/sign-in.js';
import { AdminError, type AdminAuthenticator } from '../auth.js';
import type { ConsoleSession, ConsoleState } from './context.js';

/*
 * Who may use the console (docs/admin-console.md): every request goes through the admin
 * authorization path (src/admin/auth.ts), read live, and an agent it refuses is signed out.
 */

/** Where the console lives and how it signs agents in. */
export interface GateDeps {
  readonly base: string;
  readonly product: string;
  readonly assetsPath: string;
  readonly ownOrigin: string;
  readonly auth: AdminAuthenticator;
  readonly sessions: WebSessions<ConsoleSession>;
  readonly signIn: SignIn;
}

/** The console's error page: a refusal, or a malformed request (400), with the way back in. */
export function forbidden(deps: Pick<GateDeps, 'base' | 'product' | 'assetsPath'>, ctx: Context, text: string, status = 403): void {
  const title = status === 400 ? 'Bad request' : 'Not allowed';
  const body = html`<h1>${title}</h1><div class="alert error" role="alert">${text}</div><p><a class="button" href="${deps.base}/login">${status === 400 ? 'Back to the console' : 'Sign in'}</a></p>`;
  sendPage(ctx, layout({ title, product: deps.product, assetsPath: deps.assetsPath, body }), { status });
}

/** Ends the console session of an agent the authorization path refused, and says so. */
async function turnAway(deps: GateDeps, ctx: Context, sessionId: string, err: AdminError): Promise<void> {
  await deps.sessions.destroy(ctx, sessionId);
  if (ctx.method === 'GET' && err.status === 401) await deps.signIn.start(ctx, ctx.originalUrl);
  else forbidden(deps, ctx, err.status === 401 ? 'Your console session has ended. Sign in again.' : `You may not use this console: ${err.description}.`);
}

/**
 * Every console request goes through the admin authorization path (src/admin/auth.ts), read
 * live: the session's token and grant still stand, and its account exists, is enabled and may
 * impersonate. Only routes with their own rules (minting a ticket, asking for approval) leave the
 * account to those rules, which audit a refusal (the admin API does the same); see {@link stillAllowed}.
 */
export function consoleGate(deps: GateDeps): PageGate<ConsoleState> {
  return {
    ownOrigin: deps.ownOrigin,
    csrfToken: (state) => state.session.csrf,
    forged: (ctx) => forbidden(deps, ctx, 'This form has expired or came from another site. Reload the page and try again.'),
    async signedIn(ctx, route) {
      const found = await deps.sessions.read(ctx);
      if (!found) {
        if (ctx.method === 'GET') await deps.signIn.start(ctx, ctx.path === `${deps.base}/login` ? `${deps.base}/users` : ctx.originalUrl);
        else forbidden(deps, ctx, 'Your console session has ended. Sign in again.');
        return undefined;
      }
      try {
        const caller = await deps.auth.authenticate(found.data.accessToken, !route?.ownRules);
        return { id: found.id, session: found.data, caller };
      } catch (err) {
        if (!(err instanceof AdminError)) throw err;
        await turnAway(deps, ctx, found.id, err);
        return undefined;
      }
    },
  };
}

/**
 * After the minting or approval rules refused (and audited) an attempt: whether the agent may
 * still use the console. If not, the session ends and the answer is the refusal page, not the
 * console's page for that user.
 */
export async function stillAllowed(deps: GateDeps, ctx: Context, state: ConsoleState): Promise<boolean> {
  try {
    await deps.auth.authenticate(state.session.accessToken);
    return true;
  } catch (err) {
    if (!(err instanceof AdminError)) throw err;
    await turnAway(deps, ctx, state.id, err);
    return false;
  }
}
