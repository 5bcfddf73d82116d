import type { Context } from 'koa';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import { readForm } from '../web/forms.js';
import { sameOriginTarget } from '../web/redirects.js';
import { currentSession, sendPage, setSessionCookie, type DemoAppContext } from './demo-app-context.js';
import { errorPage } from './demo-app-views.js';
import { DemoSessions, type DemoSession, type PendingSignIn, type SignedInUser } from './demo-sessions.js';

const PENDING_MS = 10 * 60 * 1000;
/** The `state` the app's sign-out of an impersonated session carries to its post-logout page. */
export const IMPERSONATION_ENDED = 'impersonation-ended';

/**
 * The provider's metadata by OpenID Connect Discovery, fetched on first use and again after a
 * failure (the provider may start after the app).
 */
export function discovery(issuer: string, clientId: string, clientSecret: string): () => Promise<oidc.Configuration> {
  let discovered: Promise<oidc.Configuration> | undefined;
  return () => {
    discovered ??= oidc
      .discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
        ...(new URL(issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
      })
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  };
}

/** OIDC Core §3.1.2.1, RFC 7636: redirects to the authorization endpoint with `state`, `nonce` and a PKCE challenge. */
export async function startSignIn(app: DemoAppContext, ctx: Context, returnTo: string, loginHint?: string): Promise<void> {
  const config = await app.configuration();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const pending: PendingSignIn = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier, returnTo, expiresAt: Date.now() + PENDING_MS };
  let session = currentSession(app, ctx);
  if (!session) {
    session = app.sessions.create(PENDING_MS);
    setSessionCookie(app, ctx, session);
  }
  session.pending = pending;
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: app.redirectUri,
    scope: app.scope,
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...(loginHint ? { login_hint: loginHint } : {}),
    ...(app.api ? { resource: app.api.resource } : {}),
  });
  ctx.set('Cache-Control', 'no-store');
  ctx.redirect(url.href);
}

function sameIssuer(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/** OIDC Core §4: `iss` must be this app's provider, `target_link_uri` a page of this app. */
export async function thirdPartyLogin(app: DemoAppContext, ctx: Context): Promise<void> {
  const query = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : undefined);
  const iss = query('iss');
  const target = query('target_link_uri');
  const loginHint = query('login_hint');
  if (!iss || !sameIssuer(iss, app.issuer)) {
    return sendPage(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'This sign-in link was not issued by the identity provider Acme Orders trusts.', 'invalid_request'));
  }
  // OIDC Core §4: an absolute URL; here one of this app's own pages (no `//host`, no backslash).
  const returnTo = target === undefined ? `${app.origin}/` : sameOriginTarget(target, app.origin);
  if (returnTo === undefined) {
    return sendPage(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'This sign-in link points outside Acme Orders.', 'invalid_request'));
  }
  await startSignIn(app, ctx, returnTo, loginHint);
}

/** OIDC Core §3.1.2.5: redeems the code, verifies the ID token and opens the app session. */
export async function callback(app: DemoAppContext, ctx: Context): Promise<void> {
  ctx.set('Cache-Control', 'no-store');
  const session = currentSession(app, ctx);
  const pending = session?.pending;
  if (session) delete session.pending;
  if (!session || !pending || pending.expiresAt <= Date.now()) {
    return sendPage(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'This sign-in has expired or was already completed. Please sign in again.', 'invalid_request'), session);
  }
  const config = await app.configuration();
  let tokens: Tokens;
  try {
    tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(ctx.url, app.origin),
      { pkceCodeVerifier: pending.codeVerifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true },
      app.api ? { resource: app.api.resource } : undefined,
    );
  } catch (err) {
    return refuseSignIn(app, ctx, session, err);
  }
  const { user, lifetime } = await signedInUser(app, config, tokens);
  app.sessions.delete(session.id);
  setSessionCookie(app, ctx, app.sessions.create(lifetime, user));
  ctx.status = 303;
  ctx.redirect(sameOriginTarget(pending.returnTo, app.origin) ?? `${app.origin}/`);
}

type Tokens = Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;

// RFC 6749 §4.1.2.1: the provider's refusal as it gave it; anything else as a response that could not be verified.
function refuseSignIn(app: DemoAppContext, ctx: Context, session: DemoSession, err: unknown): void {
  if (err instanceof oidc.AuthorizationResponseError) {
    app.logger.warn({ event: 'demo_app.sign_in_refused', error: err.error }, 'demo app: the provider refused the sign-in');
    return sendPage(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', err.error_description ?? 'The identity provider refused the sign-in.', err.error), session);
  }
  app.logger.warn({ event: 'demo_app.sign_in_failed', error: (err as Error).message }, 'demo app: sign-in failed');
  sendPage(ctx, 400, 'Sign-in failed', errorPage('Sign-in failed', 'The sign-in response could not be verified. Please sign in again.', 'invalid_grant'), session);
}

// Who signed in, and for how long: the app session never outlives the ID token's `exp`.
async function signedInUser(app: DemoAppContext, config: oidc.Configuration, tokens: Tokens): Promise<{ user: SignedInUser; lifetime: number }> {
  const claims = tokens.claims()!;
  // OIDC Core §5.4: with an access token for UserInfo, profile claims come from UserInfo. An access
  // token for an API (RFC 8707) cannot call UserInfo; the provider then puts them in the ID token.
  const profile = app.api ? { ...claims } : await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
  const lifetime = Math.min(app.sessionMs, claims.exp * 1000 - Date.now());
  const user: SignedInUser = {
    claims: { ...claims },
    profile: { ...profile },
    signedInAt: Date.now(),
    ...(tokens.id_token ? { idToken: tokens.id_token } : {}),
    ...(app.api ? { apiToken: tokens.access_token } : {}),
  };
  return { user, lifetime };
}

/** Ends the app session, then RP-initiated logout at the provider (client_id + post_logout_redirect_uri). */
export async function logout(app: DemoAppContext, ctx: Context): Promise<void> {
  const session = currentSession(app, ctx);
  const form = await readForm(ctx);
  if (!session) {
    ctx.status = 303;
    return ctx.redirect('/');
  }
  if (!DemoSessions.csrfMatches(session, form.get('csrf'))) {
    return sendPage(ctx, 403, 'Sign-out failed', errorPage('Sign-out failed', 'The sign-out form expired. Reload the page and try again.', 'invalid_csrf_token'), session);
  }
  app.sessions.delete(session.id);
  setSessionCookie(app, ctx, undefined);
  const config = await app.configuration();
  const user = session.user;
  // With its own ID token as id_token_hint, the provider knows the request is this app's: an
  // impersonation then ends at once, without a question (docs/browser-impersonation.md).
  const params: Record<string, string> = { client_id: app.clientId, post_logout_redirect_uri: app.postLogoutRedirectUri };
  if (user?.idToken) params.id_token_hint = user.idToken;
  if (user?.claims.act !== undefined) params.state = IMPERSONATION_ENDED;
  ctx.status = 303;
  ctx.redirect(oidc.buildEndSessionUrl(config, params).href);
}

/**
 * OpenID Connect Back-Channel Logout 1.0 §2.6: validates the logout token (signature with the
 * provider's keys, `iss`, `aud`, `iat`, `jti`, the back-channel logout event, no `nonce`, `sub` or
 * `sid`) and ends the sessions it names: by `sid` when it has one, else every session of `sub`.
 * It remembers the logout tokens it took for ten minutes, and the provider's key set.
 */
export class BackchannelLogout {
  readonly #seen = new Map<string, number>();
  #jwks: ReturnType<typeof jose.createRemoteJWKSet> | undefined;

  constructor(private readonly app: DemoAppContext) {}

  async handle(ctx: Context): Promise<void> {
    ctx.set('Cache-Control', 'no-store');
    const form = await readForm(ctx);
    const token = form.get('logout_token');
    const refuse = (description: string) => {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: description };
    };
    if (!token) return refuse('logout_token is missing');
    const metadata = (await this.app.configuration()).serverMetadata();
    const payload = await this.#verify(token, metadata);
    if (!payload) return refuse('the logout token could not be verified');
    const events = payload.events as Record<string, unknown> | undefined;
    const event = events?.['http://schemas.openid.net/event/backchannel-logout'];
    if (typeof event !== 'object' || event === null || 'nonce' in payload) return refuse('not a logout token');
    const sid = typeof payload.sid === 'string' ? payload.sid : undefined;
    const sub = typeof payload.sub === 'string' ? payload.sub : undefined;
    if (!sid && !sub) return refuse('the logout token names no session');
    if (!this.#firstUse(payload.jti!)) return refuse('the logout token was already used');
    const ended = this.app.sessions.endWhere((claims) => claims.iss === metadata.issuer && (sid ? claims.sid === sid : claims.sub === sub));
    this.app.logger.info({ event: 'demo_app.backchannel_logout', ended }, 'demo app: back-channel logout');
    ctx.status = 200;
    ctx.body = '';
  }

  async #verify(token: string, metadata: oidc.ServerMetadata): Promise<jose.JWTPayload | undefined> {
    try {
      this.#jwks ??= jose.createRemoteJWKSet(new URL(metadata.jwks_uri!));
      const { payload } = await jose.jwtVerify(token, this.#jwks, { issuer: metadata.issuer, audience: this.app.clientId, requiredClaims: ['iat', 'jti', 'events'], maxTokenAge: '5m', clockTolerance: 5 });
      return payload;
    } catch {
      return undefined;
    }
  }

  // §2.6: a logout token recently received is refused; each `jti` is remembered for ten minutes.
  #firstUse(jti: string): boolean {
    const now = Date.now();
    for (const [seen, until] of this.#seen) if (until <= now) this.#seen.delete(seen);
    if (this.#seen.has(jti)) return false;
    this.#seen.set(jti, now + 10 * 60_000);
    return true;
  }
}
