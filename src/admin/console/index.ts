import type { Context } from 'koa';
import { ADMIN_SCOPE, LOOPBACK_INITIATE_LOGIN_URI } from '../../constants.js';
import { createPageApp, sendPage, type Route } from '../../web/app.js';
import { html, layout } from '../../web/html.js';
import { newCsrfToken } from '../../web/security.js';
import { createPageSignIn, type FinishedSignIn } from '../../web/signed-in.js';
import { AdminError, type AdminAuthenticator } from '../auth.js';
import type { ConsoleContext, ConsoleDeps, ConsoleSession, ConsoleState, PageView } from './context.js';
import { consoleGate, forbidden, stillAllowed, type GateDeps } from './gate.js';
import { PAGES } from './pages.js';

export type { AdminConsoleOptions } from './context.js';

const SESSION_SECONDS = 8 * 3600;

/** CSP `form-action` must allow where "Impersonate" redirects: each application's login URI origin. */
function applicationOrigins(deps: Pick<ConsoleDeps, 'provider' | 'options'>, ownOrigin: string): () => Promise<string[]> {
  let origins: Promise<string[]> | undefined;
  return () =>
    (origins ??= Promise.all(
      deps.options.applications.map(async (id) => {
        const metadata = (await deps.provider.Client.find(id))?.metadata() as Record<string, unknown> | undefined;
        const uri = metadata?.initiate_login_uri ?? metadata?.[LOOPBACK_INITIATE_LOGIN_URI];
        return typeof uri === 'string' ? new URL(uri).origin : undefined;
      }),
    ).then((found) => [...new Set(found.filter((o): o is string => o !== undefined && o !== ownOrigin))]));
}

/** An agent signing in: never an impersonated session, and only one the admin authorization path accepts. */
async function admit(auth: AdminAuthenticator, base: string, { claims, profile, tokens, returnTo }: FinishedSignIn) {
  if (claims.act !== undefined) throw new Error('an impersonated session cannot open the support console');
  await auth.authenticate(tokens.access_token);
  const name = typeof profile.name === 'string' ? profile.name : claims.sub;
  return {
    data: { sub: claims.sub, name, csrf: newCsrfToken(), accessToken: tokens.access_token },
    ttlSeconds: Math.min(SESSION_SECONDS, tokens.expires_in ?? SESSION_SECONDS),
    returnTo: returnTo.startsWith(`${base}/`) ? returnTo : `${base}/users`,
  };
}

/** The console's own routes around its pages: the home redirect and signing out. */
function frameRoutes(gate: GateDeps): Route<ConsoleState>[] {
  const home = (ctx: Context) => ctx.redirect(`${gate.base}/users`);
  return [
    ...['', '/', '/login'].map((path): Route<ConsoleState> => ({ method: 'GET', path, handler: home })),
    {
      method: 'POST',
      path: '/logout',
      async handler(ctx, { state }) {
        await gate.sessions.destroy(ctx, state.id);
        const body = html`<h1>Signed out</h1><p>You have left the support console.</p><p><a class="button" href="${gate.base}/login">Sign in again</a></p>`;
        sendPage(ctx, layout({ title: 'Signed out', product: gate.product, assetsPath: gate.assetsPath, body }));
      },
    },
  ];
}

/**
 * docs/admin-console.md: the support console — a real web page on the provider that signs its user in through
 * the provider itself, finds users, opens an application as one of them through a one-time ticket
 * (docs/browser-impersonation.md) after asking why, lists and revokes live impersonations, reads the audit log (with the
 * chain's status) and holds the global switch. Server-rendered HTML with a small script for the
 * dialog; every state change carries a CSRF token; strict CSP, framing refused; the agent's tokens
 * stay on the server. Its pages are the list in src/admin/console/pages.ts.
 */
export function createAdminConsole(deps: ConsoleDeps) {
  const base = deps.options.basePath ?? '/admin';
  const product = deps.options.product ?? 'Support console';
  const assetsPath = `${base}/assets`;
  const issuer = deps.provider.issuer.replace(/\/$/, '');
  const ownOrigin = new URL(issuer).origin;
  const { sessions, signIn, callback } = createPageSignIn<ConsoleSession>({
    name: 'console',
    base,
    client: { issuer, clientId: deps.options.clientId, clientSecret: deps.options.clientSecret, scope: `openid profile ${ADMIN_SCOPE}` },
    store: deps.store,
  });
  const gate: GateDeps = { base, product, assetsPath, ownOrigin, auth: deps.auth, sessions, signIn };
  const formTargets = applicationOrigins(deps, ownOrigin);

  async function render(ctx: Context, session: ConsoleSession, page: PageView, status = 200): Promise<void> {
    const nav = PAGES.flatMap((p) => (p.nav ? [{ href: `${base}/${p.nav.section}`, label: p.nav.label, current: page.section === p.nav.section }] : []));
    const user = { name: session.name, signOutAction: `${base}/logout`, csrf: session.csrf };
    sendPage(ctx, layout({ title: page.title, product, assetsPath, script: true, nav, user, body: page.body }), { status, formAction: await formTargets() });
  }

  const context: ConsoleContext = { ...deps, base, issuer, render, formTargets, stillAllowed: (ctx, state) => stillAllowed(gate, ctx, state) };
  const failed = (ctx: Context, err: unknown) =>
    forbidden(gate, ctx, err instanceof AdminError ? `You may not use this console: ${err.description}.` : `Sign-in failed: ${(err as Error).message}`);
  return createPageApp<ConsoleState>({
    base,
    ownsBase: true,
    leaves: ['/api'],
    assets: { script: true },
    routes: [callback((finished) => admit(deps.auth, base, finished), failed), ...frameRoutes(gate), ...PAGES.flatMap((page) => page.routes(context))],
    gate: consoleGate(gate),
    guardsUnmatched: true,
    errorPage(ctx, err) {
      if (!(err instanceof AdminError)) return false;
      forbidden(gate, ctx, err.description, err.status);
      return true;
    },
  });
}
