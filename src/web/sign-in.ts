import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { Backend } from '../store/backend.js';
import type { KeyLayout } from '../store/keys.js';

/** A first-party page signing its user in through this very provider (authorization code + PKCE). */
export interface FirstPartyClient {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
  readonly scope: string;
}

interface Pending {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
}

const PENDING_SECONDS = 600;

/**
 * OpenID Connect sign-in for the extension's own pages, through `openid-client`: state, nonce and
 * PKCE kept server-side under a random id in a short cookie; the code redeemed at the provider's
 * token endpoint and the ID token validated as any relying party would.
 */
export function createSignIn(client: FirstPartyClient, store: { backend: Backend; keys: KeyLayout }, cookie: { name: string; path: string }) {
  let configuration: Promise<oidc.Configuration> | undefined;
  const config = () =>
    (configuration ??= oidc
      .discovery(new URL(client.issuer), client.clientId, client.clientSecret, undefined, client.issuer.startsWith('http:') ? { execute: [oidc.allowInsecureRequests] } : undefined)
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      }));

  /** Redirects the browser to the provider; `returnTo` is a path of this site to land on afterwards. */
  async function start(ctx: Context, returnTo: string): Promise<void> {
    const pending: Pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), returnTo };
    const id = oidc.randomState();
    await store.backend.set(store.keys.webSession(`signin:${id}`), JSON.stringify(pending), PENDING_SECONDS);
    ctx.cookies.set(cookie.name, id, { httpOnly: true, sameSite: 'lax', path: cookie.path, secure: ctx.secure, maxAge: PENDING_SECONDS * 1000, overwrite: true });
    const url = oidc.buildAuthorizationUrl(await config(), {
      redirect_uri: client.redirectUri,
      scope: client.scope,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: 'S256',
    });
    ctx.redirect(url.href);
  }

  /** Completes the sign-in at the redirect URI: the validated ID token claims, the tokens, and where to go. */
  async function finish(ctx: Context): Promise<{ claims: oidc.IDToken; profile: oidc.UserInfoResponse; tokens: oidc.TokenEndpointResponse; returnTo: string }> {
    const id = ctx.cookies.get(cookie.name, { signed: false });
    ctx.cookies.set(cookie.name, null, { path: cookie.path, overwrite: true });
    const key = store.keys.webSession(`signin:${id ?? ''}`);
    const json = id ? await store.backend.get(key) : undefined;
    if (!json) throw new Error('the sign-in has expired or was started in another browser');
    await store.backend.delete([key]);
    const pending = JSON.parse(json) as Pending;
    const current = new URL(ctx.originalUrl, client.redirectUri);
    const tokens = await oidc.authorizationCodeGrant(await config(), current, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the provider returned no ID token');
    const profile = await oidc.fetchUserInfo(await config(), tokens.access_token, claims.sub);
    return { claims, profile, tokens, returnTo: pending.returnTo };
  }

  return { start, finish };
}

export type SignIn = ReturnType<typeof createSignIn>;
