import type { IncomingMessage } from 'node:http';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/*
 * Everything a host already has and the extension does not replace: a login page, and (for this
 * example only) a scripted browser that plays the support agent signing in to the support tool.
 */

/** The host's check of a login and password: your user store. */
export type CheckPassword = (login: string, password: string) => Promise<string | undefined>;

function formOf(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk)).on('end', () => resolve(new URLSearchParams(body))).on('error', reject);
  });
}

/**
 * The login page behind `interactions.url` (`/interaction/<uid>`): a form posting to
 * `/interaction/<uid>/login`, which checks the password and answers both the login and the consent
 * prompt (the support tool is first-party: its scopes are granted as asked).
 */
export function loginPage(provider: Provider, checkPassword: CheckPassword) {
  return async (ctx: KoaContextWithOIDC, next: () => Promise<unknown>): Promise<void> => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    if (!match) return void (await next());
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'GET' && !match[2]) {
      ctx.type = 'html';
      ctx.body = `<form method="post" action="/interaction/${details.uid}/login"><input name="login"><input name="password" type="password"><button>Sign in</button></form>`;
      return;
    }
    if (ctx.method !== 'POST' || !match[2]) return void (await next());
    const form = await formOf(ctx.req);
    const accountId = await checkPassword(form.get('login') ?? '', form.get('password') ?? '');
    if (!accountId) {
      ctx.status = 401;
      ctx.body = 'wrong login or password';
      return;
    }
    const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    const grantId = await grant.save();
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  };
}

/** Plays a browser: follows redirects with a cookie jar, posts the login form, returns the callback URL. */
export async function signInAs(authorizationUrl: URL, redirectUri: string, login: string, password: string): Promise<URL> {
  const cookies = new Map<string, string>();
  let url = authorizationUrl;
  let init: RequestInit = {};
  for (let hop = 0; hop < 10; hop += 1) {
    const response = await fetch(url, { ...init, redirect: 'manual', headers: { ...init.headers, cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const location = response.headers.get('location');
    if (location && location.startsWith(redirectUri)) return new URL(location);
    if (location) {
      url = new URL(location, url);
      init = {};
    } else if (response.status === 200 && url.pathname.startsWith('/interaction/')) {
      url = new URL(`${url.pathname}/login`, url);
      init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ login, password }).toString() };
    } else {
      throw new Error(`sign-in stopped at ${url.pathname} (${response.status}): ${await response.text()}`);
    }
  }
  throw new Error('sign-in did not finish within 10 redirects');
}
