import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DEMO_APP_COOKIE, type DemoApp } from '../src/server/demo-app.js';
import { signJwt, testKeys } from './helpers/keys.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** The demo relying party over plain HTTP (docs/admin-console.md): its routes, checks, cookie and headers. */
let server: TestServer;
let app: DemoApp;

beforeAll(async () => {
  server = await startTestServer({ demoApp: true });
  app = server.demoApp!;
});

afterAll(async () => {
  await server.close();
});

async function get(path: string, cookie?: string): Promise<Response> {
  return fetch(new URL(path, app.origin), { redirect: 'manual', headers: cookie ? { cookie } : {} });
}

function sessionCookie(response: Response): string {
  const line = response.headers.getSetCookie().find((c) => c.startsWith(`${DEMO_APP_COOKIE}=`));
  if (!line) throw new Error('no session cookie set');
  return line.split(';')[0]!;
}

describe('demo-app sign-in (OIDC Core §3.1, RFC 7636)', () => {
  it('answers /favicon.ico with an icon, not a 404', async () => {
    const response = await fetch(`${app.origin}/favicon.ico`);
    expect({ status: response.status, type: response.headers.get('content-type') }).toEqual({ status: 200, type: 'image/svg+xml' });
    expect(await response.text()).toMatch(/^<svg /);
  });

  it('starts an authorization-code request with PKCE (S256), state and nonce at the provider', async () => {
    const response = await get('/signin');
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(`${server.issuer}/auth`);
    const params = Object.fromEntries(location.searchParams);
    expect(params).toEqual({
      client_id: 'demo-app',
      response_type: 'code',
      redirect_uri: `${app.origin}/callback`,
      scope: 'openid profile email',
      state: expect.stringMatching(/^[\w-]{43}$/),
      nonce: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge_method: 'S256',
    });
  });

  it('sets its session cookie httpOnly and SameSite=Lax, holding only a random id', async () => {
    const response = await get('/signin');
    const line = response.headers.getSetCookie().find((c) => c.startsWith(`${DEMO_APP_COOKIE}=`))!;
    expect(line).toMatch(new RegExp(`^${DEMO_APP_COOKIE}=[\\w-]{43}; Path=/; HttpOnly; SameSite=Lax$`));
  });

  it('refuses a callback without a sign-in under way, and opens no session', async () => {
    const before = app.sessions.size;
    const response = await get('/callback?code=abc&state=xyz');
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('This sign-in has expired or was already completed.');
    expect(app.sessions.size).toBe(before);
  });

  it('refuses a callback whose state does not match, and signs nobody in', async () => {
    const started = await get('/signin');
    const cookie = sessionCookie(started);
    const response = await get(`/callback?code=abc&state=not-the-state&iss=${encodeURIComponent(server.issuer)}`, cookie);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('The sign-in response could not be verified.');
    expect(app.sessions.get(cookie.split('=')[1])?.user).toBeUndefined();
  });

  it("shows the provider's error at the callback (RFC 6749 §4.1.2.1), e.g. access_denied", async () => {
    const started = await get('/signin');
    const cookie = sessionCookie(started);
    const state = new URL(started.headers.get('location')!).searchParams.get('state')!;
    const query = new URLSearchParams({ error: 'access_denied', error_description: 'the ticket <b>expired</b>', state, iss: server.issuer });
    const response = await get(`/callback?${query}`, cookie);
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('<p>the ticket &lt;b&gt;expired&lt;/b&gt;</p>');
    expect(html).toContain('<code>access_denied</code>');
    expect(app.sessions.get(cookie.split('=')[1])?.user).toBeUndefined();
  });
});

describe('demo-app third-party initiated login (OIDC Core §4)', () => {
  it('starts an ordinary authorization request passing login_hint through, and returns to target_link_uri', async () => {
    const query = new URLSearchParams({ iss: server.issuer, login_hint: 'opaque-hint', target_link_uri: `${app.origin}/?from=console` });
    const response = await get(`/login?${query}`);
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(`${server.issuer}/auth`);
    expect(location.searchParams.get('client_id')).toBe('demo-app');
    expect(location.searchParams.get('login_hint')).toBe('opaque-hint');
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    const session = app.sessions.get(sessionCookie(response).split('=')[1]);
    expect(session?.pending?.returnTo).toBe(`${app.origin}/?from=console`);
  });

  it('refuses an iss that is not its provider', async () => {
    const query = new URLSearchParams({ iss: 'https://evil.example', login_hint: 'x', target_link_uri: `${app.origin}/` });
    const response = await get(`/login?${query}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('This sign-in link was not issued by the identity provider Acme Orders trusts.');
  });

  it('refuses a request without iss', async () => {
    const response = await get(`/login?login_hint=x`);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('refuses a target_link_uri outside its own origin (no open redirect)', async () => {
    for (const target of ['https://evil.example/', `${app.origin.replace('127.0.0.1', 'localhost')}/`, '//evil.example/']) {
      const query = new URLSearchParams({ iss: server.issuer, target_link_uri: target });
      const response = await get(`/login?${query}`);
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('This sign-in link points outside Acme Orders.');
    }
  });
});

describe('demo-app: where a sign-in lands', () => {
  it.each([
    ['a scheme-relative path', (o: string) => `${o}//evil.example/x`],
    ['a backslash', (o: string) => `${o}/\\evil.example/x`],
    ['an encoded double slash', (o: string) => `${o}/%2F%2Fevil.example/x`],
    ['an encoded backslash', (o: string) => `${o}/%5Cevil.example/x`],
    ['a double-encoded double slash', (o: string) => `${o}/%252F%252Fevil.example/x`],
    ['a relative path', () => '/orders'],
    ['credentials in the URL', (o: string) => o.replace('http://', 'http://user:pw@') + '/'],
  ])('refuses a target_link_uri with %s, starting no sign-in', async (_name, target) => {
    const query = new URLSearchParams({ iss: server.issuer, target_link_uri: target(app.origin) });
    const response = await get(`/login?${query}`);
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await response.text()).toContain('This sign-in link points outside Acme Orders.');
  });
});

describe('demo-app back-channel logout (OpenID Connect Back-Channel Logout 1.0)', () => {
  it('refuses a logout token not signed by its provider, ending no session', async () => {
    const session = app.sessions.create(60_000, { claims: { iss: server.issuer, sub: 'alice', sid: 'sid-1' }, signedInAt: Date.now() });
    const { privateJwk } = await testKeys('forged');
    const now = Math.floor(Date.now() / 1000);
    const token = await signJwt(privateJwk, { iss: server.issuer, aud: 'demo-app', iat: now, jti: 'j-1', sid: 'sid-1', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } }, 'logout+jwt');
    const response = await fetch(`${app.origin}/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ logout_token: token }) });
    expect({ status: response.status, body: await response.json() }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'the logout token could not be verified' } });
    expect(app.sessions.get(session.id)?.user).toBeDefined();
  });
});

describe('demo-app pages and sign-out', () => {
  it('sends a Content-Security-Policy without inline script or style, and refuses framing', async () => {
    const response = await get('/');
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy');
    expect(csp).toBe(
      `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self' ${server.issuer}; frame-ancestors 'none'; base-uri 'none'`,
    );
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/);
    expect(html).not.toMatch(/\sstyle=|<style/);
  });

  it('refuses a sign-out without its CSRF token and keeps the session', async () => {
    const session = app.sessions.create(60_000, { claims: { sub: 'alice', name: 'Alice Anders' }, signedInAt: Date.now() });
    const response = await fetch(new URL('/logout', app.origin), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `${DEMO_APP_COOKIE}=${session.id}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=wrong',
    });
    expect(response.status).toBe(403);
    expect(app.sessions.get(session.id)).toBe(session);
  });

  it('signs out: ends the app session and redirects to the provider for RP-initiated logout', async () => {
    const session = app.sessions.create(60_000, { claims: { sub: 'alice', name: 'Alice Anders' }, signedInAt: Date.now() });
    const response = await fetch(new URL('/logout', app.origin), {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `${DEMO_APP_COOKIE}=${session.id}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: session.csrf }),
    });
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location')!);
    expect(location.origin + location.pathname).toBe(`${server.issuer}/session/end`);
    expect(Object.fromEntries(location.searchParams)).toEqual({ client_id: 'demo-app', post_logout_redirect_uri: `${app.origin}/signed-out` });
    expect(app.sessions.get(session.id)).toBeUndefined();
    expect(response.headers.getSetCookie()).toContain(`${DEMO_APP_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`);
  });

  it('shows the banner markup on the home page only when the ID token carries act', async () => {
    const plain = app.sessions.create(60_000, { claims: { sub: 'bob', name: 'Bob Berg' }, signedInAt: Date.now() });
    const acted = app.sessions.create(60_000, { claims: { sub: 'alice', name: 'Alice Anders', act: { sub: 'support' } }, signedInAt: Date.now() });
    const withoutAct = await (await get('/', `${DEMO_APP_COOKIE}=${plain.id}`)).text();
    const withAct = await (await get('/', `${DEMO_APP_COOKIE}=${acted.id}`)).text();
    expect(withoutAct).not.toContain('<impersonation-banner');
    expect(withoutAct).not.toContain('impersonation-banner.js');
    expect(withAct).toContain(`<impersonation-banner subject="alice" actor="support" action="/logout" csrf-field="csrf" csrf-token="${acted.csrf}">`);
    expect(withAct).toContain('<script type="module" src="/assets/impersonation-banner.js"></script>');
  });

  it('serves the banner element as a JavaScript module', async () => {
    const response = await get('/assets/impersonation-banner.js');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await response.text()).toContain("customElements.define(TAG, ImpersonationBannerElement)");
  });
});
