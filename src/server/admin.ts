import type { Context, Next } from 'koa';
import { TOKEN_EXCHANGE_GRANT, TokenType } from '../constants.js';
import { redeemCode, startAuthorization, type ConsoleClient } from './console-client.js';
import { escapeHtml, page } from './views.js';

const COOKIE = 'console.pkce';
const SCOPE = 'openid profile email';

/**
 * The support console's sign-in (SPEC §6 will grow the console here): `/admin/login` starts an
 * authorization-code + PKCE flow as `support-console`; `/admin/callback` redeems the code and shows
 * the actor's access token with a ready token-exchange command.
 */
export function adminRoutes(client: ConsoleClient) {
  function home(ctx: Context): void {
    ctx.type = 'html';
    ctx.body = page('Support console', `<h1>Support console</h1><p><a href="/admin/login">Sign in as a support agent</a></p>`);
  }

  function login(ctx: Context): void {
    const start = startAuthorization(client, SCOPE);
    ctx.cookies.set(COOKIE, `${start.state}.${start.verifier}`, { signed: true, httpOnly: true, sameSite: 'lax', maxAge: 600_000, path: '/admin' });
    ctx.redirect(start.url);
  }

  async function callback(ctx: Context): Promise<void> {
    const [state, verifier] = (ctx.cookies.get(COOKIE, { signed: true }) ?? '').split('.');
    ctx.cookies.set(COOKIE, null, { path: '/admin' });
    const code = typeof ctx.query.code === 'string' ? ctx.query.code : undefined;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    if (!state || !verifier || ctx.query.state !== state || !code) {
      ctx.status = 400;
      ctx.body = page('Sign-in failed', `<h1>Sign-in failed</h1><p>${escapeHtml(String(ctx.query.error_description ?? 'state mismatch or missing code'))}</p><p><a href="/admin/login">Try again</a></p>`);
      return;
    }
    const tokens = await redeemCode(client, code, verifier);
    const command = [
      `curl -s -u ${client.clientId}:SECRET ${new URL('/token', client.issuer).href} \\`,
      `  -d grant_type=${TOKEN_EXCHANGE_GRANT} \\`,
      `  -d subject_token=alice -d subject_token_type=${TokenType.userId} \\`,
      `  -d actor_token=${tokens.access_token} -d actor_token_type=${TokenType.accessToken} \\`,
      `  --data-urlencode "reason=Ticket 4711: alice cannot see her orders"`,
    ].join('\n');
    ctx.body = page(
      'Signed in',
      `<h1>Signed in</h1><p>Your access token (expires in ${tokens.expires_in} s):</p><pre id="access-token">${escapeHtml(tokens.access_token)}</pre>
<p>Exchange it to act as <code>alice</code>:</p><pre>${escapeHtml(command)}</pre>`,
    );
  }

  return async function admin(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'GET') return next();
    if (ctx.path === '/admin' || ctx.path === '/admin/') return home(ctx);
    if (ctx.path === '/admin/login') return login(ctx);
    if (ctx.path === '/admin/callback') return callback(ctx);
    return next();
  };
}
