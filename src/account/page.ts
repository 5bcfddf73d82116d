import type { Context } from 'koa';
import { IMPERSONATION_AMR } from '../constants.js';
import { createPageApp, sendPage, type PageGate, type Route } from '../web/app.js';
import { html, layout } from '../web/html.js';
import { csrfHolds, newCsrfToken } from '../web/security.js';
import { createPageSignIn, type FinishedSignIn, type PageSignIn } from '../web/signed-in.js';
import { approvalAction, expired, linkAnswer, linkShow } from './answers.js';
import type { AccountContext, AccountDeps, AccountSession, AccountState } from './context.js';
import { createDelegationSection } from './delegations.js';
import { end, show } from './impersonations.js';

export type { AccountPageOptions } from './context.js';

const SESSION_SECONDS = 30 * 60;

/** The subject signing in: never through an impersonated session. */
async function admit({ claims, profile, returnTo }: FinishedSignIn) {
  // Defence in depth: the login check already keeps impersonated sessions away from this client.
  if (claims.act !== undefined || (Array.isArray(claims.amr) && claims.amr.includes(IMPERSONATION_AMR))) throw new Error('an impersonated session cannot open the account page');
  const name = typeof profile.name === 'string' ? profile.name : claims.sub;
  return { data: { sub: claims.sub, name, csrf: newCsrfToken() }, ttlSeconds: SESSION_SECONDS, returnTo };
}

function signInFailed(c: AccountContext, ctx: Context, err: unknown): void {
  const body = html`<h1>Sign-in failed</h1><div class="alert error" role="alert">${(err as Error).message}</div><p><a class="button" href="${c.base}/impersonations">Try again</a></p>`;
  sendPage(ctx, layout({ title: 'Sign-in failed', product: c.product, assetsPath: c.assetsPath, body }), { status: 400 });
}

/** The routes of the page; the delegation forms only when the extension offers delegations. */
function routes(c: AccountContext, signIn: PageSignIn<AccountSession>): Route<AccountState>[] {
  const home = `${c.base}/impersonations`;
  return [
    signIn.callback(admit, (ctx, err) => signInFailed(c, ctx, err)),
    { method: 'GET', path: '/impersonations', handler: (ctx, { state }) => show(c, ctx, state) },
    { method: 'GET', path: '/login', access: 'public', handler: (ctx) => signIn.signIn.start(ctx, home) },
    { method: 'GET', path: '/approvals/respond', access: 'public', handler: (ctx) => linkShow(c, ctx) },
    ...(c.assistants?.paths ?? []).map(
      (path): Route<AccountState> => ({
        method: 'POST',
        path: `/delegations/${path}`,
        handler: async (ctx, { state, form }) => show(c, ctx, state, await c.assistants!.answer(ctx, state.data.sub, path, form)),
      }),
    ),
    { method: 'POST', path: '/impersonations/end', handler: (ctx, { state, form }) => end(c, ctx, state, form) },
    {
      method: 'POST',
      path: '/logout',
      access: 'public',
      async handler(ctx, { form }) {
        const session = await signIn.sessions.read(ctx);
        if (session && csrfHolds(ctx, session.data.csrf, form.get('csrf'), c.ownOrigin)) await signIn.sessions.destroy(ctx, session.id);
        ctx.redirect(home);
      },
    },
    { method: 'POST', path: '/approvals/answer', handler: (ctx, { state, form }) => approvalAction(c, ctx, state, form, 'answer') },
    { method: 'POST', path: '/approvals/revoke', handler: (ctx, { state, form }) => approvalAction(c, ctx, state, form, 'revoke') },
    { method: 'POST', path: '/approvals/respond', access: 'public', handler: (ctx, { form }) => linkAnswer(c, ctx, form) },
  ];
}

/**
 * docs/browser-impersonation.md §5: the subject's own page on the provider. The subject signs in normally (authorization
 * code + PKCE through the provider's login, never through an impersonated session) and sees every
 * impersonation of their account — who, through which app, why, when, until when, live or how it
 * ended — and can end a live one (a CSRF-protected form), which revokes its tokens and is audited.
 * Server-rendered; no token ever reaches the page.
 */
export function createAccountPage(deps: AccountDeps) {
  const base = deps.options.basePath ?? '/account';
  const ownOrigin = new URL(deps.issuer).origin;
  const c: AccountContext = {
    ...deps,
    base,
    product: deps.options.product ?? 'Your account',
    assetsPath: `${base}/assets`,
    ownOrigin,
    assistants: deps.delegations ? createDelegationSection({ delegations: deps.delegations, base, requestFacts: deps.requestFacts }) : undefined,
  };
  const signIn = createPageSignIn<AccountSession>({
    name: 'account',
    base,
    client: { issuer: deps.issuer, clientId: deps.options.clientId, clientSecret: deps.options.clientSecret, scope: 'openid profile' },
    store: deps.store,
  });
  const gate: PageGate<AccountState> = {
    ownOrigin,
    csrfToken: (state) => state.data.csrf,
    forged: expired,
    async signedIn(ctx) {
      const found = await signIn.sessions.read(ctx);
      if (found) return found;
      if (ctx.method === 'GET') await signIn.signIn.start(ctx, `${base}/impersonations`);
      else expired(ctx);
      return undefined;
    },
  };
  return createPageApp<AccountState>({ base, assets: {}, routes: routes(c, signIn), gate });
}
