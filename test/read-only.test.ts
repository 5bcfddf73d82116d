import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as oidc from 'openid-client';
import { ConfigurationError, tokenExchange } from '../src/index.js';
import { allowWhenReadOnly, createResourceServer, requireScopes, type ResourceServer } from '../src/resource-server/index.js';
import { HttpBrowser } from './helpers/http-browser.js';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, REASON, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * Read-only impersonation (beyond RFC 8693): `impersonation_mode=read` on the grant, `mode: "read"`
 * on a ticket, or `policy.readOnlyRoles` — the issued scopes are held to `policy.readOnlyScopes`,
 * every token says `impersonation.mode: "read"`, and the resource-server toolkit refuses every
 * unsafe method (RFC 9110 §9.2.1) while a route has not opted in.
 */

const DEMO_APP = { id: 'demo-app', secret: 'demo-app-secret', redirectUri: 'http://localhost:3001/callback' };
const READ_ONLY = ['openid', 'profile', 'orders:read', 'billing:read'];
const REFUSED = 'a read-only impersonation cannot change anything';
let server: TestServer;
let support: string;

const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

async function exchanged(params: Record<string, string | string[]>, client: { id: string; secret: string } = SUPPORT_CONSOLE): Promise<string> {
  const result = await server.exchange(params, client);
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body.access_token as string;
}

beforeAll(async () => {
  server = await startTestServer({ policy: { rateLimit: false, readOnlyScopes: READ_ONLY }, ordersApi: true });
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

describe('configuration', () => {
  const accounts = { findAccount: async () => undefined };
  const messageOf = (policy: Record<string, unknown>) => {
    try {
      tokenExchange({ accounts, policy });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigurationError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigurationError');
  };

  it('rejects read-only roles without a declared read-only scope set', () => {
    expect(messageOf({ readOnlyRoles: ['contractor'] })).toBe(
      'invalid token exchange options: policy.readOnlyScopes: is required when readOnlyRoles is set: list the scopes a read-only impersonation may carry',
    );
  });

  it('rejects an empty read-only scope set', () => {
    expect(messageOf({ readOnlyScopes: [] })).toBe('invalid token exchange options: policy.readOnlyScopes: must list at least one scope: a read-only impersonation carries only these');
  });
});

describe('the grant: impersonation_mode=read', () => {
  it('holds the issued scope to the read-only set and marks the JWT impersonation.mode "read" (audited)', async () => {
    const mark = server.auditMark();
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS, impersonation_mode: 'read' }));
    expect(result.status).toBe(200);
    expect(result.body.scope).toBe('orders:read');
    const payload = payloadOf(result.body.access_token as string);
    expect(payload).toMatchObject({ sub: 'alice', act: { sub: 'support' }, scope: 'orders:read', impersonation: { reason: REASON, mode: 'read' } });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'exchange.granted', actor: 'support', subject: 'alice', mode: 'read' })]);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toContainEqual(expect.objectContaining({ mode: 'read' }));
  });

  it('shows the mode in introspection of a JWT and of an opaque token (RFC 7662)', async () => {
    for (const resource of [ORDERS, BILLING]) {
      const token = await exchanged(impersonate(support, 'alice', { resource, impersonation_mode: 'read' }));
      const introspection = await server.post('/token/introspection', { token }, ORDERS_API);
      expect(introspection.body).toMatchObject({ active: true, sub: 'alice', act: { sub: 'support' }, impersonation: { mode: 'read' } });
    }
  });

  it('marks an ID token issued by the exchange', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { scope: 'openid profile', requested_token_type: TokenType.idToken, impersonation_mode: 'read' }));
    expect(result.status).toBe(200);
    expect(payloadOf(result.body.access_token as string)).toMatchObject({ sub: 'alice', act: { sub: 'support' }, impersonation: { mode: 'read' } });
  });

  it('leaves a full impersonation unmarked', async () => {
    const payload = payloadOf(await exchanged(impersonate(support, 'alice', { resource: ORDERS })));
    expect((payload.impersonation as Record<string, unknown>).mode).toBeUndefined();
  });

  it('refuses a scope outside the read-only set: invalid_scope, naming the read-only bound', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { scope: 'email', impersonation_mode: 'read' })), {
      status: 400,
      error: 'invalid_scope',
      description: 'a read-only impersonation carries none of the requested scopes',
      rule: 'scope_empty',
    });
  });

  it('refuses an unknown impersonation_mode', async () => {
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { impersonation_mode: 'write' })), {
      status: 400,
      error: 'invalid_request',
      description: "impersonation_mode must be 'read' or 'full'",
      rule: 'impersonation_mode_invalid',
    });
  });

  it('refuses impersonation_mode on a delegation (no impersonation to mark)', async () => {
    const own = (await server.signIn('alice')).access_token;
    await expectRefusal(server, () => server.exchange({ subject_token: own, subject_token_type: TokenType.accessToken, impersonation_mode: 'read' }), {
      status: 400,
      error: 'invalid_request',
      description: 'impersonation_mode applies only to an impersonation',
      rule: 'impersonation_mode_invalid',
    });
  });

  it('keeps read mode through a chained exchange, and refuses to widen it', async () => {
    const read = await exchanged(impersonate(support, 'alice', { resource: ORDERS, impersonation_mode: 'read' }));
    const chained = await exchanged({ subject_token: read, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
    expect(payloadOf(chained)).toMatchObject({ act: { sub: 'orders-api', act: { sub: 'support' } }, impersonation: { mode: 'read' } });
    await expectRefusal(server, () => server.exchange({ subject_token: read, subject_token_type: TokenType.accessToken, resource: ORDERS, impersonation_mode: 'full' }, ORDERS_API), {
      status: 400,
      error: 'invalid_request',
      description: 'a read-only impersonation cannot be widened',
      rule: 'impersonation_mode_not_allowed',
    });
  });

  it('narrows a full impersonation to read-only when a chained exchange asks', async () => {
    const full = await exchanged(impersonate(support, 'alice', { resource: ORDERS }));
    const chained = await exchanged({ subject_token: full, subject_token_type: TokenType.accessToken, resource: ORDERS, impersonation_mode: 'read' }, ORDERS_API);
    expect(payloadOf(chained)).toMatchObject({ impersonation: { mode: 'read' } });
  });
});

describe('policy.readOnlyRoles and an undeclared read-only set', () => {
  let forced: TestServer;
  let bare: TestServer;
  beforeAll(async () => {
    [forced, bare] = await Promise.all([
      startTestServer({ policy: { rateLimit: false, readOnlyScopes: READ_ONLY, readOnlyRoles: ['support'] } }),
      startTestServer({ policy: { rateLimit: false, readOnlyScopes: undefined, actorProfiles: {} } }),
    ]);
  });
  afterAll(async () => Promise.all([forced.close(), bare.close()]));

  it('makes every impersonation by an actor holding a read-only role read-only', async () => {
    const token = (await forced.signIn('support')).access_token;
    const result = await forced.exchange(impersonate(token, 'alice', { resource: ORDERS }));
    expect(payloadOf(result.body.access_token as string)).toMatchObject({ impersonation: { mode: 'read' } });
    const admin = (await forced.signIn('admin')).access_token;
    const full = await forced.exchange(impersonate(admin, 'alice', { resource: ORDERS }));
    expect((payloadOf(full.body.access_token as string).impersonation as Record<string, unknown>).mode).toBeUndefined();
  });

  it('refuses full mode to an actor holding a read-only role', async () => {
    const token = (await forced.signIn('support')).access_token;
    await expectRefusal(forced, () => forced.exchange(impersonate(token, 'alice', { impersonation_mode: 'full' })), {
      status: 400,
      error: 'invalid_request',
      description: 'this actor may only impersonate read-only',
      rule: 'impersonation_mode_not_allowed',
    });
  });

  it('refuses read mode when policy declares no read-only scopes', async () => {
    const token = (await bare.signIn('support')).access_token;
    await expectRefusal(bare, () => bare.exchange(impersonate(token, 'alice', { impersonation_mode: 'read' })), {
      status: 400,
      error: 'invalid_request',
      description: 'read-only impersonation is not configured',
      rule: 'impersonation_mode_unavailable',
    });
  });
});

describe('browser impersonation: a ticket with mode "read"', () => {
  it('opens a session whose ID token and userinfo (for its access token) say impersonation.mode "read", within the read-only set', async () => {
    const admin = (await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    const mark = server.auditMark();
    const minted = await fetch(`${server.issuer}/admin/api/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON, mode: 'read' }),
    });
    expect(minted.status).toBe(201);
    const { ticket } = (await minted.json()) as { ticket: string };
    const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: DEMO_APP.redirectUri,
      scope: 'openid profile email',
      state: 's',
      login_hint: ticket,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const stop = await new HttpBrowser().navigate(url, { until: (u) => u.href.startsWith(DEMO_APP.redirectUri) });
    const tokens = await oidc.authorizationCodeGrant(config, stop.url, { pkceCodeVerifier: verifier, expectedState: 's' });
    expect(tokens.scope).toBe('openid profile');
    expect(tokens.claims()).toMatchObject({ sub: 'alice', act: { sub: 'support' }, impersonation: { mode: 'read' } });
    expect(await oidc.fetchUserInfo(config, tokens.access_token, 'alice')).toMatchObject({ impersonation: { mode: 'read' } });
    expect(server.auditSince(mark)).toEqual([
      expect.objectContaining({ event: 'ticket.minted', outcome: 'granted', mode: 'read' }),
      expect.objectContaining({ event: 'ticket.redeemed', outcome: 'granted', mode: 'read', scope: 'openid profile' }),
    ]);
  });
});

describe('the toolkit refuses unsafe methods to a read-only impersonation (RFC 9110 §9.2.1)', () => {
  let api: ResourceServer;
  let read: string;
  let full: string;
  beforeAll(async () => {
    api = createResourceServer({ issuer: server.issuer, audience: ORDERS });
    read = await exchanged(impersonate(support, 'alice', { resource: ORDERS, impersonation_mode: 'read' }));
    full = await exchanged(impersonate(support, 'alice', { resource: ORDERS }));
  });
  const request = (method: string, token: string, path = '/orders') => new Request(`http://api.test${path}`, { method, headers: { authorization: `Bearer ${token}` } });

  async function outcome(promise: Promise<unknown>) {
    try {
      await promise;
      return 'accepted';
    } catch (err) {
      const response = (err as { toResponse(): Response }).toResponse();
      return { status: response.status, body: await response.json(), challenge: response.headers.get('www-authenticate') };
    }
  }

  it('accepts the safe methods (GET, HEAD, OPTIONS)', async () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) expect(await outcome(api.verifyRequest(request(method, read)))).toBe('accepted');
    expect(await outcome(api.verifyRequest(request('GET', read), requireScopes('orders:read')))).toBe('accepted');
  });

  it('refuses POST, PUT, PATCH and DELETE: 403 insufficient_scope with its challenge', async () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(await outcome(api.verifyRequest(request(method, read)))).toEqual({
        status: 403,
        body: { error: 'insufficient_scope', error_description: REFUSED },
        challenge: `Bearer error="insufficient_scope", error_description="${REFUSED}"`,
      });
    }
  });

  it('lets a full impersonation use unsafe methods', async () => {
    expect(await outcome(api.verifyRequest(request('POST', full)))).toBe('accepted');
  });

  it('lets a route opt in with allowWhenReadOnly(), or some requests with a predicate', async () => {
    expect(await outcome(api.verifyRequest(request('POST', read), allowWhenReadOnly()))).toBe('accepted');
    const search = allowWhenReadOnly((r) => new URL(r.url).pathname === '/orders/search');
    expect(await outcome(api.verifyRequest(request('POST', read, '/orders/search'), search))).toBe('accepted');
    expect(await outcome(api.verifyRequest(request('POST', read, '/orders'), search))).toMatchObject({ status: 403 });
  });

  it('refuses in the Koa middleware the same way, before the route runs', async () => {
    const middleware = api.koa();
    const ctx = {
      method: 'DELETE',
      href: 'http://api.test/orders/A-1001',
      get: (name: string) => (name === 'authorization' ? `Bearer ${read}` : ''),
      state: {} as Record<string, unknown>,
      status: 404,
      body: undefined as unknown,
      headers: {} as Record<string, string | string[]>,
      set(name: string, value: string | string[]) {
        this.headers[name] = value;
      },
    };
    let reached = false;
    await middleware(ctx, async () => {
      reached = true;
    });
    expect({ reached, status: ctx.status, body: ctx.body }).toEqual({ reached: false, status: 403, body: { error: 'insufficient_scope', error_description: REFUSED } });
  });
});

describe('the orders API (reference server) uses it', () => {
  const call = async (method: string, path: string, token: string) => {
    const response = await fetch(`${server.ordersApiUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: (await response.json()) as unknown };
  };

  it('resends an order confirmation for a full impersonation, and refuses it to a read-only one', async () => {
    const full = await exchanged(impersonate(support, 'alice', { resource: ORDERS }));
    const read = await exchanged(impersonate(support, 'alice', { resource: ORDERS, impersonation_mode: 'read' }));
    expect(await call('POST', '/orders/A-1001/confirmation', full)).toEqual({ status: 202, body: { order: 'A-1001', confirmation: 'queued', for: 'alice', by: 'support' } });
    expect(await call('POST', '/orders/A-1001/confirmation', read)).toEqual({ status: 403, body: { error: 'insufficient_scope', error_description: REFUSED } });
    expect(await call('GET', '/orders', read)).toMatchObject({ status: 200, body: { subject: 'alice', actor: 'support' } });
  });

  it("answers 404 for another user's order", async () => {
    const full = await exchanged(impersonate(support, 'alice', { resource: ORDERS }));
    expect(await call('POST', '/orders/B-2001/confirmation', full)).toEqual({ status: 404, body: { error: 'not_found', error_description: 'no such order' } });
  });
});

describe('the demo app calls the orders API with its access token', () => {
  let demo: TestServer;
  beforeAll(async () => {
    demo = await startTestServer({ policy: { rateLimit: false }, demoApp: true, ordersApi: true });
  });
  afterAll(() => demo.close());

  /** Opens the demo app as alice through a ticket (the console's "Impersonate"), and answers the app's home page. */
  async function openAsAlice(mode?: 'read') {
    const admin = (await demo.signIn('support', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    const minted = await fetch(`${demo.issuer}/admin/api/tickets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON, ...(mode ? { mode } : {}) }),
    });
    const { login_url: loginUrl } = (await minted.json()) as { login_url: string };
    const browser = new HttpBrowser();
    const home = await browser.navigate(loginUrl, { until: () => false });
    return { browser, home };
  }

  it("lists alice's orders, and the API takes a change from a full impersonation", async () => {
    const { browser, home } = await openAsAlice();
    expect(home.url.href).toBe(`${demo.demoApp!.origin}/`);
    expect(home.html).toContain('<h2 id="orders-heading">Your orders</h2>');
    expect(home.html).toContain('<td><code>A-1001</code></td><td>Espresso machine</td>');
    expect(home.html).not.toContain('Read-only access.');
    const csrf = /action="\/orders\/A-1001\/resend"><input type="hidden" name="csrf" value="([^"]+)"/.exec(home.html)![1]!;
    const answer = await browser.request(`${demo.demoApp!.origin}/orders/A-1001/resend`, { form: { csrf } });
    expect([answer.status, answer.headers.get('location')]).toEqual([303, '/']);
    const after = await browser.navigate(`${demo.demoApp!.origin}/`, { until: () => false });
    expect(after.html).toContain('<div class="ok" role="status">The confirmation of order A-1001 is on its way.</div>');
  });

  it('signs alice in herself (consenting to the orders API) and lists her orders', async () => {
    const browser = new HttpBrowser();
    const home = await browser.navigate(`${demo.demoApp!.origin}/signin`, { until: () => false, login: { login: 'alice', password: 'demo-password' }, consent: true });
    expect(home.url.href).toBe(`${demo.demoApp!.origin}/`);
    expect(home.html).toContain('<h1>Hello, Alice Anders</h1>');
    expect(home.html).toContain('<td><code>A-1002</code></td><td>Coffee beans, 1 kg</td>');
  });

  it('says the access is read-only, and shows the refusal of the orders API', async () => {
    const { browser, home } = await openAsAlice('read');
    expect(home.html).toContain('<p class="note"><strong>Read-only access.</strong> Support is viewing this account: the orders API refuses any change.</p>');
    const csrf = /action="\/orders\/A-1001\/resend"><input type="hidden" name="csrf" value="([^"]+)"/.exec(home.html)![1]!;
    await browser.request(`${demo.demoApp!.origin}/orders/A-1001/resend`, { form: { csrf } });
    const after = await browser.navigate(`${demo.demoApp!.origin}/`, { until: () => false });
    expect(after.html).toContain(`<div class="error" role="alert">The orders API refused (403 insufficient_scope): ${REFUSED}.</div>`);
  });
});
