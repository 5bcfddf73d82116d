import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Koa, { type Context, type Next } from 'koa';
import { bannerElementFile } from '../banner/index.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { favicon } from '../web/favicon.js';
import { ASSETS, currentSession, sendPage, type DemoAppContext, type DemoOrdersApi } from './demo-app-context.js';
import { home, resend } from './demo-app-home.js';
import { BackchannelLogout, IMPERSONATION_ENDED, callback, discovery, logout, startSignIn, thirdPartyLogin } from './demo-app-sign-in.js';
import { DEMO_APP_CSS, errorPage, impersonationEndedPage, notFoundPage, signedOutPage } from './demo-app-views.js';
import { DemoSessions } from './demo-sessions.js';

export { DEMO_APP_COOKIE } from './demo-app-context.js';

/** How the demo relying party is set up; `main.ts` fills it from the environment and config/clients.json. */
export interface DemoAppOptions {
  /** The OpenID Provider's issuer identifier. */
  readonly issuer: string;
  /** The app's own origin, e.g. `http://localhost:3001`: its redirect and logout URIs derive from it. */
  readonly origin: string;
  readonly clientId?: string;
  readonly clientSecret: string;
  /** Scopes asked at sign-in (default `openid profile email`). */
  readonly scope?: string;
  /** Upper bound of an app session, in seconds (default 8 hours; never beyond the ID token's `exp`). */
  readonly sessionSeconds?: number;
  readonly logger?: Logger;
  /**
   * The orders API to call for the signed-in user (docs/resource-server.md): its RFC 8707 resource indicator and
   * base URL. Sign-in then asks for an access token for it (`orders:read`), kept server-side; the
   * home page lists the user's orders, each with "Resend confirmation" (a POST the API refuses to
   * a read-only impersonation). Profile claims then come from the ID token.
   */
  readonly ordersApi?: DemoOrdersApi;
}

/** The demo relying party: a plain openid-client web app (docs/admin-console.md). */
export interface DemoApp {
  readonly origin: string;
  /** `{origin}/callback`: the registered redirect URI. */
  readonly redirectUri: string;
  /** `{origin}/login`: the third-party initiated login endpoint (OIDC Core §4), the client's initiate-login URI. */
  readonly initiateLoginUri: string;
  /** `{origin}/signed-out`: the registered post-logout redirect URI. */
  readonly postLogoutRedirectUri: string;
  /** `{origin}/backchannel-logout`: the registered `backchannel_logout_uri` (OpenID Connect Back-Channel Logout 1.0). */
  readonly backchannelLogoutUri: string;
  /** Server-side sessions (tests read their count and may open one with given claims). */
  readonly sessions: DemoSessions;
  /** A Node request listener, for mounting on an existing server. */
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  listen(port: number, host?: string): Promise<Server>;
}

/**
 * Builds the demo app: sign-in by authorization code + PKCE with `state` and `nonce`, a home page
 * showing who the ID token says is signed in (with `<impersonation-banner>` when it carries `act`),
 * sign-out by RP-initiated logout, and `GET /login` for third-party initiated login. Sessions are
 * server-side behind an httpOnly SameSite=Lax cookie; every page sends a CSP without inline script.
 */
export async function createDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  const app = contextOf(options);
  const bannerScript = await readFile(bannerElementFile, 'utf8');
  const koa = new Koa();
  koa.use(securityHeaders(contentSecurityPolicy(new URL(options.issuer).origin)));
  koa.use(errorPages(app));
  koa.use(favicon);
  koa.use(routes(app, bannerScript));
  return {
    origin: app.origin,
    redirectUri: app.redirectUri,
    initiateLoginUri: `${app.origin}/login`,
    postLogoutRedirectUri: app.postLogoutRedirectUri,
    backchannelLogoutUri: `${app.origin}/backchannel-logout`,
    sessions: app.sessions,
    callback: () => koa.callback(),
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const server = koa.listen(port, host);
        server.once('listening', () => resolve(server));
        server.once('error', reject);
      });
    },
  };
}

function contextOf(options: DemoAppOptions): DemoAppContext {
  const origin = new URL(options.origin).origin;
  const clientId = options.clientId ?? 'demo-app';
  const api = options.ordersApi;
  return {
    issuer: options.issuer,
    origin,
    clientId,
    scope: options.scope ?? (api ? 'openid profile email orders:read' : 'openid profile email'),
    api,
    sessionMs: (options.sessionSeconds ?? 8 * 3600) * 1000,
    redirectUri: `${origin}/callback`,
    postLogoutRedirectUri: `${origin}/signed-out`,
    logger: options.logger ?? silentLogger,
    sessions: new DemoSessions(),
    configuration: discovery(options.issuer, clientId, options.clientSecret),
  };
}

function contentSecurityPolicy(issuerOrigin: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    // The sign-out form posts here and is redirected on to the provider's end-session endpoint.
    `form-action 'self' ${issuerOrigin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function securityHeaders(csp: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
}

// A refused request as a page of the app; anything else as "unavailable" (the provider could not be reached).
function errorPages(app: DemoAppContext) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status && status >= 400 && status < 500) return sendPage(ctx, status, 'Request refused', errorPage('Request refused', (err as Error).message), currentSession(app, ctx));
      app.logger.error({ event: 'demo_app.error', error: (err as Error).message }, 'demo app: request failed');
      sendPage(ctx, 502, 'Unavailable', errorPage('Acme Orders is unavailable', 'The identity provider could not be reached. Please try again in a moment.', 'temporarily_unavailable'), currentSession(app, ctx));
    }
  };
}

function routes(app: DemoAppContext, bannerScript: string) {
  const backchannel = new BackchannelLogout(app);
  return async (ctx: Context): Promise<void> => {
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'GET /') return home(app, ctx);
    if (route === 'GET /signin') return startSignIn(app, ctx, `${app.origin}/`);
    if (route === 'GET /login') return thirdPartyLogin(app, ctx);
    if (route === 'GET /callback') return callback(app, ctx);
    if (route === 'POST /logout') return logout(app, ctx);
    if (route === 'POST /backchannel-logout') return backchannel.handle(ctx);
    const resendRoute = /^POST \/orders\/([\w-]{1,40})\/resend$/.exec(route);
    if (resendRoute) return resend(app, ctx, resendRoute[1]!);
    if (route === 'GET /signed-out') {
      const ended = ctx.query.state === IMPERSONATION_ENDED;
      return sendPage(ctx, 200, ended ? 'Impersonation ended' : 'Signed out', ended ? impersonationEndedPage() : signedOutPage(), currentSession(app, ctx));
    }
    if (route === `GET ${ASSETS.css}`) return sendAsset(ctx, 'text/css', DEMO_APP_CSS);
    if (route === `GET ${ASSETS.banner}`) return sendAsset(ctx, 'text/javascript', bannerScript);
    sendPage(ctx, 404, 'Not found', notFoundPage(), currentSession(app, ctx));
  };
}

function sendAsset(ctx: Context, type: string, body: string): void {
  ctx.type = type;
  ctx.set('Cache-Control', 'no-cache');
  ctx.body = body;
}
