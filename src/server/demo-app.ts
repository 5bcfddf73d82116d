import { readFile } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import Koa, { type Context } from 'koa';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import { bannerElementFile, impersonationBanner, renderImpersonationBanner } from '../banner/index.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { DemoSessions, type DemoSession, type SignedInUser } from './demo-sessions.js';
import { DEMO_APP_CSS, demoPage, errorPage, impersonationEndedPage, notFoundPage, ordersCard, signedInHome, signedOutHome, signedOutPage, type DemoOrder } from './demo-app-views.js';
import { readForm } from '../web/forms.js';
import { favicon } from '../web/favicon.js';
import { sameOriginTarget } from '../web/redirects.js';

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
  readonly ordersApi?: { readonly resource: string; readonly url: string };
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

export const DEMO_APP_COOKIE = 'demo_app_session';
const PENDING_MS = 10 * 60 * 1000;
/** The `state` the app's sign-out of an impersonated session carries to its post-logout page. */
const IMPERSONATION_ENDED = 'impersonation-ended';
const ASSETS = { css: '/assets/demo-app.css', banner: '/assets/impersonation-banner.js' };

function displayName(user: SignedInUser): string {
  const name = user.profile?.name ?? user.claims.name;
  return typeof name === 'string' && name !== '' ? name : String(user.claims.sub);
}

function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/**
 * Builds the demo app: sign-in by authorization code + PKCE with `state` and `nonce`, a home page
 * showing who the ID token says is signed in (with `<impersonation-banner>` when it carries `act`),
 * sign-out by RP-initiated logout, and `GET /login` for third-party initiated login. Sessions are
 * server-side behind an httpOnly SameSite=Lax cookie; every page sends a CSP without inline script.
 */
export async function createDemoApp(options: DemoAppOptions): Promise<DemoApp> {
  const origin = new URL(options.origin).origin;
  const issuerOrigin = new URL(options.issuer).origin;
  const clientId = options.clientId ?? 'demo-app';
  const api = options.ordersApi;
  const scope = options.scope ?? (api ? 'openid profile email orders:read' : 'openid profile email');
  const sessionMs = (options.sessionSeconds ?? 8 * 3600) * 1000;
  const logger = options.logger ?? silentLogger;
  const redirectUri = `${origin}/callback`;
  const postLogoutRedirectUri = `${origin}/signed-out`;
  const secure = origin.startsWith('https:');
  const bannerScript = await readFile(bannerElementFile, 'utf8');
  const sessions = new DemoSessions();

  // Discovery waits for the first request that needs it (the provider may start after the app)
  // and is retried after a failure.
  let discovered: Promise<oidc.Configuration> | undefined;
  function configuration(): Promise<oidc.Configuration> {
    discovered ??= oidc
      .discovery(new URL(options.issuer), clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
        ...(new URL(options.issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  }

  const csp = [
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

  function current(ctx: Context): DemoSession | undefined {
    return sessions.get(ctx.cookies.get(DEMO_APP_COOKIE));
  }

  function setCookie(ctx: Context, session: DemoSession | undefined): void {
    const attributes = `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
    ctx.append('Set-Cookie', session ? `${DEMO_APP_COOKIE}=${session.id}; ${attributes}` : `${DEMO_APP_COOKIE}=; ${attributes}; Max-Age=0`);
  }

  function html(ctx: Context, status: number, title: string, main: string, session?: DemoSession, banner?: string): void {
    const user = session?.user;
    const name = user && displayName(user);
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = demoPage({
      title,
      main,
      assets: ASSETS,
      ...(banner ? { banner } : {}),
      ...(session && name !== undefined ? { user: { name, csrf: session.csrf } } : {}),
    });
  }

  async function startSignIn(ctx: Context, returnTo: string, loginHint?: string): Promise<void> {
    const config = await configuration();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier, returnTo, expiresAt: Date.now() + PENDING_MS };
    let session = current(ctx);
    if (!session) {
      session = sessions.create(PENDING_MS);
      setCookie(ctx, session);
    }
    session.pending = pending;
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      ...(loginHint ? { login_hint: loginHint } : {}),
      ...(api ? { resource: api.resource } : {}),
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(url.href);
  }

  /** The signed-in user's orders from the API, or why they could not be read. */
  async function orders(user: SignedInUser): Promise<{ orders: DemoOrder[] } | { error: string }> {
    try {
      const response = await fetch(`${api!.url}/orders`, { headers: { authorization: `Bearer ${user.apiToken}` }, signal: AbortSignal.timeout(5000) });
      const body = (await response.json().catch(() => ({}))) as { orders?: DemoOrder[]; error_description?: string };
      if (!response.ok) return { error: body.error_description ?? `the orders API answered ${response.status}` };
      return { orders: body.orders ?? [] };
    } catch {
      return { error: 'the orders API could not be reached' };
    }
  }

  async function home(ctx: Context): Promise<void> {
    const session = current(ctx);
    if (!session?.user) return html(ctx, 200, 'Home', signedOutHome(), session);
    const view = impersonationBanner(session.user.claims);
    const banner = view && renderImpersonationBanner(view, { action: '/logout', csrfToken: session.csrf });
    const flash = session.flash;
    delete session.flash;
    const readOnly = (session.user.claims.impersonation as { mode?: unknown } | undefined)?.mode === 'read';
    const list = api && session.user.apiToken ? ordersCard(await orders(session.user), { csrf: session.csrf, readOnly, flash }) : '';
    html(ctx, 200, 'Home', signedInHome({ ...session.user.profile, ...session.user.claims }) + list, session, banner);
  }

  /** Asks the orders API to resend an order's confirmation with the user's access token; the answer comes back as a message. */
  async function resend(ctx: Context, orderId: string): Promise<void> {
    const session = current(ctx);
    const form = await readForm(ctx);
    if (!session?.user?.apiToken || !api) {
      ctx.status = 303;
      return ctx.redirect('/');
    }
    if (!DemoSessions.csrfMatches(session, form.get('csrf'))) {
      return html(ctx, 403, 'Request refused', errorPage('Request refused', 'The form expired. Reload the page and try again.', 'invalid_csrf_token'), session);
    }
    try {
      const response = await fetch(`${api.url}/orders/${encodeURIComponent(orderId)}/confirmation`, {
        method: 'POST',
        headers: { authorization: `Bearer ${session.user.apiToken}` },
        signal: AbortSignal.timeout(5000),
      });
      const body = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
      session.flash = response.ok
        ? { kind: 'ok', text: `The confirmation of order ${orderId} is on its way.` }
        : { kind: 'error', text: `The orders API refused (${response.status} ${body.error ?? ''}): ${body.error_description ?? 'no reason given'}.` };
    } catch {
      session.flash = { kind: 'error', text: 'The orders API could not be reached.' };
    }
    ctx.status = 303;
    ctx.redirect('/');
  }

  /** OIDC Core §4: `iss` must be this app's provider, `target_link_uri` a page of this app. */
  async function thirdPartyLogin(ctx: Context): Promise<void> {
    const query = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined);
    const iss = query('iss');
    const target = query('target_link_uri');
    const loginHint = query('login_hint');
    if (!iss || !sameIssuer(iss, options.issuer)) {
      return html(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'This sign-in link was not issued by the identity provider Acme Orders trusts.', 'invalid_request'));
    }
    // OIDC Core §4: an absolute URL; here one of this app's own pages (no `//host`, no backslash).
    const returnTo = target === undefined ? `${origin}/` : sameOriginTarget(target, origin);
    if (returnTo === undefined) {
      return html(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'This sign-in link points outside Acme Orders.', 'invalid_request'));
    }
    await startSignIn(ctx, returnTo, loginHint);
  }

  async function callback(ctx: Context): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    const session = current(ctx);
    const pending = session?.pending;
    if (session) delete session.pending;
    if (!session || !pending || pending.expiresAt <= Date.now()) {
      return html(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'This sign-in has expired or was already completed. Please sign in again.', 'invalid_request'), session);
    }
    const config = await configuration();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(
        config,
        new URL(ctx.url, origin),
        {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        },
        api ? { resource: api.resource } : undefined,
      );
    } catch (err) {
      if (err instanceof oidc.AuthorizationResponseError) {
        logger.warn({ event: 'demo_app.sign_in_refused', error: err.error }, 'demo app: the provider refused the sign-in');
        return html(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', err.error_description ?? 'The identity provider refused the sign-in.', err.error), session);
      }
      logger.warn({ event: 'demo_app.sign_in_failed', error: (err as Error).message }, 'demo app: sign-in failed');
      return html(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'The sign-in response could not be verified. Please sign in again.', 'invalid_grant'), session);
    }
    const claims = tokens.claims()!;
    // OIDC Core §5.4: with an access token for UserInfo, profile claims come from UserInfo. An access
    // token for an API (RFC 8707) cannot call UserInfo; the provider then puts them in the ID token.
    const profile = api ? { ...claims } : await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    const lifetime = Math.min(sessionMs, claims.exp * 1000 - Date.now());
    sessions.delete(session.id);
    const signedIn = sessions.create(lifetime, {
      claims: { ...claims },
      profile: { ...profile },
      signedInAt: Date.now(),
      ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
      ...(api ? { apiToken: tokens.access_token } : {}),
    });
    setCookie(ctx, signedIn);
    ctx.status = 303;
    ctx.redirect(sameOriginTarget(pending.returnTo, origin) ?? `${origin}/`);
  }

  /** Ends the app session, then RP-initiated logout at the provider (client_id + post_logout_redirect_uri). */
  async function logout(ctx: Context): Promise<void> {
    const session = current(ctx);
    const form = await readForm(ctx);
    if (!session) {
      ctx.status = 303;
      return ctx.redirect('/');
    }
    if (!DemoSessions.csrfMatches(session, form.get('csrf'))) {
      return html(ctx, 403, 'Sign-out failed', errorPage('Sign-out failed', 'The sign-out form expired. Reload the page and try again.', 'invalid_csrf_token'), session);
    }
    sessions.delete(session.id);
    setCookie(ctx, undefined);
    const config = await configuration();
    const user = session.user;
    // With its own ID token as id_token_hint, the provider knows the request is this app's: an
    // impersonation then ends at once, without a question (docs/browser-impersonation.md).
    const params: Record<string, string> = { client_id: clientId, post_logout_redirect_uri: postLogoutRedirectUri };
    if (user?.idToken) params.id_token_hint = user.idToken;
    if (user?.claims.act !== undefined) params.state = IMPERSONATION_ENDED;
    ctx.status = 303;
    ctx.redirect(oidc.buildEndSessionUrl(config, params).href);
  }

  const seenLogoutTokens = new Map<string, number>();

  /**
   * OpenID Connect Back-Channel Logout 1.0 §2.6: validates the logout token (signature with the
   * provider's keys, `iss`, `aud`, `iat`, `jti`, the back-channel logout event, no `nonce`, `sub` or
   * `sid`) and ends the sessions it names: by `sid` when it has one, else every session of `sub`.
   */
  async function backchannelLogout(ctx: Context): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    const form = await readForm(ctx);
    const token = form.get('logout_token');
    const refuse = (description: string) => {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: description };
    };
    if (!token) return refuse('logout_token is missing');
    const config = await configuration();
    const metadata = config.serverMetadata();
    let payload: jose.JWTPayload;
    try {
      jwks ??= jose.createRemoteJWKSet(new URL(metadata.jwks_uri!));
      ({ payload } = await jose.jwtVerify(token, jwks, { issuer: metadata.issuer, audience: clientId, requiredClaims: ['iat', 'jti', 'events'], maxTokenAge: '5m', clockTolerance: 5 }));
    } catch {
      return refuse('the logout token could not be verified');
    }
    const events = payload.events as Record<string, unknown> | undefined;
    const event = events?.['http://schemas.openid.net/event/backchannel-logout'];
    if (typeof event !== 'object' || event === null || 'nonce' in payload) return refuse('not a logout token');
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    if (!sid && !sub) return refuse('the logout token names no session');
    const now = Date.now();
    for (const [jti, until] of seenLogoutTokens) if (until <= now) seenLogoutTokens.delete(jti);
    if (seenLogoutTokens.has(payload.jti!)) return refuse('the logout token was already used');
    seenLogoutTokens.set(payload.jti!, now + 10 * 60_000);
    const ended = sessions.endWhere((claims) => claims.iss === metadata.issuer && (sid ? claims.sid === sid : claims.sub === sub));
    logger.info({ event: 'demo_app.backchannel_logout', ended }, 'demo app: back-channel logout');
    ctx.status = 200;
    ctx.body = '';
  }
  let jwks: ReturnType<typeof jose.createRemoteJWKSet> | undefined;

  const app = new Koa();
  app.use(async (ctx, next) => {
    ctx.set('Content-Security-Policy', csp);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status && status >= 400 && status < 500) return html(ctx, status, 'Request refused', errorPage('Request refused', (err as Error).message), current(ctx));
      logger.error({ event: 'demo_app.error', error: (err as Error).message }, 'demo app: request failed');
      html(ctx, 502, 'Unavailable', errorPage('Acme Orders is unavailable', 'The identity provider could not be reached. Please try again in a moment.', 'temporarily_unavailable'), current(ctx));
    }
  });
  app.use(favicon);
  app.use(async (ctx) => {
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'GET /') return home(ctx);
    if (route === 'GET /signin') return startSignIn(ctx, `${origin}/`);
    if (route === 'GET /login') return thirdPartyLogin(ctx);
    if (route === 'GET /callback') return callback(ctx);
    if (route === 'POST /logout') return logout(ctx);
    if (route === 'POST /backchannel-logout') return backchannelLogout(ctx);
    const resendRoute = /^POST \/orders\/([\w-]{1,40})\/resend$/.exec(route);
    if (resendRoute) return resend(ctx, resendRoute[1]!);
    if (route === 'GET /signed-out') {
      const ended = ctx.query.state === IMPERSONATION_ENDED;
      return html(ctx, 200, ended ? 'Impersonation ended' : 'Signed out', ended ? impersonationEndedPage() : signedOutPage(), current(ctx));
    }
    if (route === `GET ${ASSETS.css}`) {
      ctx.type = 'text/css';
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = DEMO_APP_CSS;
      return;
    }
    if (route === `GET ${ASSETS.banner}`) {
      ctx.type = 'text/javascript';
      ctx.set('Cache-Control', 'no-cache');
      ctx.body = bannerScript;
      return;
    }
    html(ctx, 404, 'Not found', notFoundPage(), current(ctx));
  });

  return {
    origin,
    redirectUri,
    initiateLoginUri: `${origin}/login`,
    postLogoutRedirectUri,
    backchannelLogoutUri: `${origin}/backchannel-logout`,
    sessions,
    callback: () => app.callback(),
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        const server = app.listen(port, host);
        server.once('listening', () => resolve(server));
        server.once('error', reject);
      });
    },
  };
}
