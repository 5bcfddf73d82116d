import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { FixtureAccounts } from './accounts.js';
import { readForm } from '../web/forms.js';
import { pageNonce } from '../web/provider-pages.js';
import { consentPage, loginPage } from './interaction-views.js';

const ROUTE = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/;

/**
 * The login and consent pages oidc-provider sends the browser to (`interactions.url`). The login
 * form posts `login` and `password` (docs/reference-server.md).
 */
export function interactionRoutes(provider: Provider, accounts: FixtureAccounts) {
  /** What the pages call the client: its `client_name`, else its id. */
  async function appName(clientId: string): Promise<string> {
    const client = await provider.Client.find(clientId).catch(() => undefined);
    return typeof client?.clientName === 'string' && client.clientName ? client.clientName : clientId;
  }

  async function show(ctx: Context): Promise<void> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const clientId = await appName(String(details.params.client_id ?? ''));
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    if (details.prompt.name === 'login') {
      ctx.body = loginPage(pageNonce(ctx), `/interaction/${details.uid}/login`, clientId);
      return;
    }
    const missing = (details.prompt.details.missingOIDCScope as string[] | undefined) ?? [];
    ctx.body = consentPage(pageNonce(ctx), `/interaction/${details.uid}/confirm`, clientId, missing);
  }

  async function login(ctx: Context): Promise<void> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const form = await readForm(ctx);
    const accountId = await accounts.authenticate(form.get('login') ?? '', form.get('password') ?? '');
    if (!accountId) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage(pageNonce(ctx), `/interaction/${details.uid}/login`, await appName(String(details.params.client_id ?? '')), 'Invalid login or password.');
      return;
    }
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId } }, { mergeWithLastSubmission: false });
    ctx.respond = false;
  }

  async function confirm(ctx: Context): Promise<void> {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { session, params, prompt, grantId: existing } = details;
    if (!session) ctx.throw(400, 'no session');
    const grant = (existing && (await provider.Grant.find(existing))) || new provider.Grant({ accountId: session!.accountId, clientId: String(params.client_id) });
    const missing = (prompt.details.missingOIDCScope as string[] | undefined) ?? [];
    if (missing.length) grant.addOIDCScope(missing.join(' '));
    // RFC 8707: scopes asked for a resource server (e.g. the demo app's orders API) are granted for it.
    const missingResource = (prompt.details.missingResourceScopes as Record<string, string[]> | undefined) ?? {};
    for (const [indicator, scopes] of Object.entries(missingResource)) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    ctx.respond = false;
  }

  async function abort(ctx: Context): Promise<void> {
    await provider.interactionFinished(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user cancelled' }, { mergeWithLastSubmission: false });
    ctx.respond = false;
  }

  return async function interactions(ctx: Context, next: Next): Promise<void> {
    const match = ROUTE.exec(ctx.path);
    if (!match) return next();
    const action = match[2];
    if (ctx.method === 'GET' && action === undefined) return show(ctx);
    if (ctx.method === 'POST' && action === 'login') return login(ctx);
    if (ctx.method === 'POST' && action === 'confirm') return confirm(ctx);
    if (ctx.method === 'GET' && action === 'abort') return abort(ctx);
    return next();
  };
}
