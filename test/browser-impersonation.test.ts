import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import * as oidc from 'openid-client';
import { HttpBrowser } from './helpers/http-browser.js';
import { ORDERS, ORDERS_API, REASON, SUPPORT_CONSOLE, startTestServer, type TestServer } from './helpers/server.js';

/*
 * docs/browser-impersonation.md over HTTP with a cookie jar: tickets minted through the admin API, redeemed by an ordinary
 * authorization-code request of a plain OIDC client (openid-client) carrying the ticket as
 * login_hint, and the impersonated session's rules.
 */

const DEMO_APP = { id: 'demo-app', secret: 'demo-app-secret', redirectUri: 'http://localhost:3001/callback' };
const SERVICE_X = { id: 'service-x', secret: 'service-x-secret' };
const OFFLINE_RP = { id: 'rp-offline', secret: 'rp-offline-secret', redirectUri: 'http://localhost:3003/callback' };
let server: TestServer;
let admin: string;

async function adminToken(login = 'support'): Promise<string> {
  return (await server.signIn(login, SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
}

async function mint(body: Record<string, unknown>, token = admin) {
  const response = await fetch(`${server.issuer}/admin/api/tickets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, string> };
}

async function ticketFor(subject = 'alice', clientId = DEMO_APP.id): Promise<string> {
  const minted = await mint({ subject, client_id: clientId, reason: REASON });
  if (minted.status !== 201) throw new Error(JSON.stringify(minted.body));
  return minted.body.ticket!;
}

type Rp = { id: string; secret: string; redirectUri: string };

/** The relying party's side: an ordinary authorization-code request (PKCE, state, nonce), optionally carrying a ticket. */
async function authorize(browser: HttpBrowser, params: { ticket?: string; scope?: string; prompt?: string; rp?: Rp; resource?: string } = {}) {
  const rp = params.rp ?? DEMO_APP;
  const config = await server.clientConfig(rp.id, rp.secret);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri,
    scope: params.scope ?? 'openid profile',
    state,
    nonce,
    ...(params.ticket ? { login_hint: params.ticket } : {}),
    ...(params.prompt ? { prompt: params.prompt } : {}),
    ...(params.resource ? { resource: params.resource } : {}),
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const stop = await browser.navigate(url, { until: (u) => u.href.startsWith(rp.redirectUri) });
  return {
    callback: stop.url,
    stop,
    tokens: () =>
      oidc.authorizationCodeGrant(config, stop.url, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, params.resource ? { resource: params.resource } : undefined),
  };
}

/** Signs the browser in as the subject through a fresh ticket and returns the tokens the client received. */
async function impersonatedTokens(browser = new HttpBrowser(), subject = 'alice') {
  const signIn = await authorize(browser, { ticket: await ticketFor(subject) });
  return { browser, tokens: await signIn.tokens() };
}

const userinfo = async (accessToken: string) => fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });

/** Moves the clock `seconds` ahead for the body (Date.now drives the provider, the store and the extension). */
async function later<T>(seconds: number, body: () => Promise<T>): Promise<T> {
  const real = Date.now.bind(Date);
  const spy = jest.spyOn(Date, 'now').mockImplementation(() => real() + seconds * 1000);
  try {
    return await body();
  } finally {
    spy.mockRestore();
  }
}

/** The shipped policy, with `email` also denied to impersonation (to see a scope refused), and room for many tickets. */
const POLICY = {
  rateLimit: { points: 1000, durationSeconds: 60 },
  scopes: { allow: ['openid', 'profile', 'email', 'orders:read', 'orders:write', 'billing:read'], deny: ['orders:write', 'email'] },
};

beforeAll(async () => {
  server = await startTestServer({ policy: POLICY });
  admin = await adminToken();
});
afterAll(() => server.close());

describe('tickets (docs/browser-impersonation.md §1)', () => {
  it('mints a one-time ticket with its expiry and a third-party-initiated login URL (OIDC Core §4)', async () => {
    const mark = server.auditMark();
    const minted = await mint({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON });
    expect(minted.status).toBe(201);
    expect(Object.keys(minted.body).sort()).toEqual(['expires_at', 'login_url', 'ticket']);
    expect(minted.body.ticket).toMatch(/^imptkt_[\w-]{43}$/);
    const lifetime = (Date.parse(minted.body.expires_at!) - Date.now()) / 1000;
    expect(lifetime).toBeGreaterThan(100);
    expect(lifetime).toBeLessThanOrEqual(120);
    const url = new URL(minted.body.login_url!);
    expect(`${url.origin}${url.pathname}`).toBe('http://localhost:3001/login');
    expect(Object.fromEntries(url.searchParams)).toEqual({ iss: server.issuer, login_hint: minted.body.ticket, target_link_uri: 'http://localhost:3001/' });
    const [record] = server.auditSince(mark);
    expect(record).toMatchObject({ event: 'ticket.minted', outcome: 'granted', actor: 'support', subject: 'alice', client_id: DEMO_APP.id, reason: REASON, token_id: expect.stringMatching(/^sha256:/) });
    expect(JSON.stringify(server.auditSince(mark))).not.toContain(minted.body.ticket);
  });

  it('stores only a digest of the ticket', async () => {
    const ticket = await ticketFor();
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(ticket).digest('base64url');
    const { backend, keys } = server.reference.exchange.store;
    expect(await backend.getEntity(keys.ticket(digest))).toMatchObject({ json: expect.not.stringContaining(ticket) });
    expect(await backend.getEntity(keys.ticket(ticket))).toBeUndefined();
  });

  it("keeps only the ticket's digest in the stored interaction when the flow stops before redemption", async () => {
    const ticket = await ticketFor();
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(ticket).digest('base64url');
    const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: DEMO_APP.redirectUri, scope: 'openid', login_hint: ticket, code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
    const response = await fetch(url, { redirect: 'manual' });
    const uid = /\/impersonation\/interaction\/([\w-]+)/.exec(response.headers.get('location') ?? '')?.[1];
    const interaction = await server.reference.provider.Interaction.find(uid!);
    expect(interaction?.params.login_hint).toBe(`imptkt_sha256.${digest}`);
    expect(JSON.stringify(interaction)).not.toContain(ticket);
  });

  it("treats a ticket's digest sent as login_hint as no hint: the login page, and the ticket stays unused", async () => {
    const ticket = await ticketFor();
    const { createHash } = await import('node:crypto');
    const digest = createHash('sha256').update(ticket).digest('base64url');
    const { stop } = await authorize(new HttpBrowser(), { ticket: `imptkt_sha256.${digest}` });
    expect(stop.status).toBe(200);
    expect(stop.html).toContain('name="password"');
    const redeemed = await authorize(new HttpBrowser(), { ticket });
    expect((await redeemed.tokens()).claims()).toMatchObject({ sub: 'alice', act: { sub: 'support' } });
    await server.reference.exchange.revoke({ subject: 'alice' });
  });

  it('gives a client without an initiate-login URI a plain authorization URL', async () => {
    const minted = await mint({ subject: 'alice', client_id: OFFLINE_RP.id, reason: REASON });
    expect(minted.status).toBe(201);
    const url = new URL(minted.body.login_url!);
    expect(`${url.origin}${url.pathname}`).toBe(`${server.issuer}/auth`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ client_id: OFFLINE_RP.id, response_type: 'code', scope: 'openid', redirect_uri: OFFLINE_RP.redirectUri, login_hint: minted.body.ticket });
  });

  it.each([['account'], [SUPPORT_CONSOLE.id]])("refuses to mint a ticket for a first-party client of the provider's own pages (%s), minting nothing", async (clientId) => {
    const mark = server.auditMark();
    const minted = await mint({ subject: 'alice', client_id: clientId, reason: REASON });
    expect({ status: minted.status, body: minted.body }).toEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: "tickets cannot open the provider's own pages (the subject's page, the support console)" },
    });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'ticket_client_first_party', subject: 'alice', client_id: clientId })]);
  });

  it('refuses to redeem a ticket for a first-party client, should one exist', async () => {
    const { createHash, randomBytes, randomUUID } = await import('node:crypto');
    const ticket = `imptkt_${randomBytes(32).toString('base64url')}`;
    const now = Math.floor(Date.now() / 1000);
    const record = { impersonationId: randomUUID(), actor: 'support', subject: 'alice', clientId: 'account', reason: REASON, sources: [], mintedAt: now, expiresAt: now + 120 };
    await server.reference.exchange.store.tickets.put(createHash('sha256').update(ticket).digest('base64url'), record, now);
    const mark = server.auditMark();
    const { callback } = await authorize(new HttpBrowser(), { ticket, rp: { id: 'account', secret: 'account-secret', redirectUri: `${server.issuer}/account/callback` } });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'ticket_client_first_party', subject: 'alice', client_id: 'account' })]);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
  });

  it.each([['http://localhost:3001//evil.example/x'], ['http://localhost:3001/\\evil.example/x'], ['http://localhost:3001/%2F%2Fevil.example/x'], ['http://localhost:3001/%5Cevil.example']])(
    'refuses a target_link_uri a browser would read as another host (%s), minting nothing',
    async (target) => {
      const mark = server.auditMark();
      const minted = await mint({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON, target_link_uri: target });
      expect({ status: minted.status, body: minted.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: "target_link_uri must be on the client's own origin" } });
      expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'target_link_uri_invalid' })]);
    },
  );

  it('refuses a target_link_uri on another origin than the client', async () => {
    const mark = server.auditMark();
    const minted = await mint({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON, target_link_uri: 'https://evil.example/' });
    expect(minted).toMatchObject({ status: 400, body: { error: 'invalid_request', error_description: "target_link_uri must be on the client's own origin" } });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'target_link_uri_invalid' })]);
  });
});

describe('minting refusals: every rule of docs/grant.md, docs/policy.md, each audited', () => {
  const cases: Array<[string, Record<string, unknown>, number, string, string, string]> = [
    ['a protected subject', { subject: 'root' }, 400, 'invalid_request', 'subject cannot be impersonated by this actor', 'subject_protected'],
    ['a subject of another tenant', { subject: 'carol' }, 400, 'invalid_request', 'subject cannot be impersonated by this actor', 'subject_other_tenant'],
    ['the actor themself', { subject: 'support' }, 400, 'invalid_request', 'subject cannot be impersonated by this actor', 'subject_is_actor'],
    ['an unknown subject', { subject: 'nobody' }, 400, 'invalid_request', 'subject cannot be impersonated by this actor', 'subject_unknown'],
    ['a missing reason', { reason: undefined }, 400, 'invalid_request', "missing required parameter 'reason'", 'reason_missing'],
    ['a reason too short', { reason: 'because' }, 400, 'invalid_request', 'reason must be 10 to 500 characters', 'reason_invalid'],
    ['an unknown client', { client_id: 'nope' }, 400, 'invalid_request', 'unknown client_id', 'ticket_client_unknown'],
    ['a client without the code flow', { client_id: 'plain-client' }, 400, 'invalid_request', 'this client cannot sign a browser in (no authorization code flow)', 'ticket_client_unsupported'],
  ];
  for (const [name, change, status, error, description, rule] of cases) {
    it(`refuses ${name}`, async () => {
      const mark = server.auditMark();
      const minted = await mint({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON, ...change });
      expect({ status: minted.status, body: minted.body }).toEqual({ status, body: { error, error_description: description } });
      expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule })]);
    });
  }

  it('refuses an actor without the impersonator role', async () => {
    const bob = await adminToken('bob');
    const mark = server.auditMark();
    const minted = await mint({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON }, bob);
    expect({ status: minted.status, body: minted.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'the actor is not allowed to impersonate' } });
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'actor_not_impersonator', actor: 'bob' })]);
  });

  it('refuses while impersonation is switched off', async () => {
    await server.reference.exchange.setEnabled(false);
    try {
      const mark = server.auditMark();
      const minted = await mint({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON });
      expect({ status: minted.status, body: minted.body }).toEqual({ status: 403, body: { error: 'access_denied', error_description: 'impersonation is disabled' } });
      expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.minted', outcome: 'denied', rule: 'impersonation_disabled' })]);
    } finally {
      await server.reference.exchange.setEnabled(true);
    }
  });
});

describe('redemption (docs/browser-impersonation.md §3)', () => {
  it('signs the browser in as the subject without a password or consent; the tokens carry act', async () => {
    const mark = server.auditMark();
    const ticket = await ticketFor();
    const browser = new HttpBrowser();
    const signIn = await authorize(browser, { ticket, scope: 'openid profile' });
    expect(signIn.callback.searchParams.get('code')).toBeTruthy();
    const tokens = await signIn.tokens();
    expect(tokens.claims()).toMatchObject({ sub: 'alice', act: { sub: 'support' }, impersonation: { reason: REASON } });
    const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
    expect(await oidc.fetchUserInfo(config, tokens.access_token, 'alice')).toMatchObject({ sub: 'alice', name: 'Alice Anders', act: { sub: 'support' } });
    expect(server.auditSince(mark)).toEqual([
      expect.objectContaining({ event: 'ticket.minted', outcome: 'granted' }),
      expect.objectContaining({ event: 'ticket.redeemed', outcome: 'granted', actor: 'support', subject: 'alice', client_id: DEMO_APP.id, scope: 'openid profile' }),
    ]);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toContainEqual(expect.objectContaining({ kind: 'browser', actors: ['support'], clientId: DEMO_APP.id }));
  });

  it('issues JWT access tokens for a resource that carry act and introspect with the impersonation', async () => {
    const browser = new HttpBrowser();
    const signIn = await authorize(browser, { ticket: await ticketFor(), scope: 'openid orders:read', resource: ORDERS });
    const tokens = await signIn.tokens();
    const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ sub: 'alice', aud: ORDERS, scope: 'orders:read', act: { sub: 'support' } });
    expect((await server.post('/token/introspection', { token: tokens.access_token }, ORDERS_API)).body).toMatchObject({ active: true, act: { sub: 'support' } });
  });

  it('answers exactly {"active": false} to a confidential client that is not the resource server of a browser impersonation\'s token, the client it was issued to included (RFC 7662 §4)', async () => {
    const { tokens } = await impersonatedTokens();
    for (const client of [SERVICE_X, { id: DEMO_APP.id, secret: DEMO_APP.secret }]) {
      const result = await server.post('/token/introspection', { token: tokens.access_token }, client);
      expect({ status: result.status, body: result.body }).toEqual({ status: 200, body: { active: false } });
    }
  });

  it('grants only what the impersonation policy allows, without asking for consent', async () => {
    const signIn = await authorize(new HttpBrowser(), { ticket: await ticketFor(), scope: 'openid profile email' });
    const tokens = await signIn.tokens();
    expect(tokens.scope).toBe('openid profile');
    const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
    const claims = await oidc.fetchUserInfo(config, tokens.access_token, 'alice');
    expect(claims).toMatchObject({ sub: 'alice', name: 'Alice Anders' });
    expect(claims.email).toBeUndefined();
  });

  it('refuses a ticket presented twice: access_denied at the redirect URI, nothing signed in, audited', async () => {
    const ticket = await ticketFor();
    await authorize(new HttpBrowser(), { ticket });
    const mark = server.auditMark();
    const replay = new HttpBrowser();
    const { callback } = await authorize(replay, { ticket });
    expect(Object.fromEntries(callback.searchParams)).toMatchObject({ error: 'access_denied', error_description: 'the impersonation ticket is invalid, expired or already used' });
    expect(callback.searchParams.get('code')).toBeNull();
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'ticket_used', subject: 'alice' })]);
    const silent = await authorize(replay, { prompt: 'none' });
    expect(silent.callback.searchParams.get('error')).toBe('login_required');
  });

  it('refuses an unknown ticket', async () => {
    const mark = server.auditMark();
    const { callback } = await authorize(new HttpBrowser(), { ticket: `imptkt_${'A'.repeat(43)}` });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'ticket_unknown' })]);
  });

  it('refuses an expired ticket (clock moved past its 120 s)', async () => {
    const ticket = await ticketFor();
    const mark = server.auditMark();
    const { callback } = await later(121, () => authorize(new HttpBrowser(), { ticket }));
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'ticket_expired' })]);
  });

  it('refuses a ticket minted for another client', async () => {
    const ticket = await ticketFor('alice', DEMO_APP.id);
    const mark = server.auditMark();
    const { callback } = await authorize(new HttpBrowser(), { ticket, rp: OFFLINE_RP });
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'ticket_other_client', client_id: OFFLINE_RP.id })]);
  });

  it('refuses a ticket whose actor lost the impersonator role before redemption', async () => {
    const ticket = await ticketFor();
    await server.reference.accounts.update('support', { roles: ['support'] });
    try {
      const mark = server.auditMark();
      const { callback } = await authorize(new HttpBrowser(), { ticket });
      expect(callback.searchParams.get('error')).toBe('access_denied');
      expect(server.auditSince(mark)).toContainEqual(expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'actor_not_impersonator' }));
    } finally {
      await server.reference.accounts.update('support', { roles: ['support', 'impersonator'] });
      admin = await adminToken();
    }
  });

  it('treats a login_hint that is not a ticket as an ordinary hint (the login page)', async () => {
    const { stop } = await authorize(new HttpBrowser(), { ticket: 'alice@acme.example' });
    expect(stop.status).toBe(200);
    expect(stop.html).toContain('name="password"');
  });

  it("replaces the browser's session: the support agent's own sign-in gives way, their console token keeps working", async () => {
    const browser = new HttpBrowser();
    const own = await authorize(browser, { rp: { id: SUPPORT_CONSOLE.id, secret: SUPPORT_CONSOLE.secret, redirectUri: `${server.issuer}/admin/callback` } });
    expect(own.stop.html).toContain('name="password"');
    await browser.navigate(own.stop.url, { until: (u) => u.pathname === '/admin/callback', login: { login: 'support', password: 'demo-password' } });
    const signIn = await authorize(browser, { ticket: await ticketFor() });
    expect((await signIn.tokens()).claims()).toMatchObject({ sub: 'alice', act: { sub: 'support' } });
    const stillAdmin = await fetch(`${server.issuer}/admin/api/settings`, { headers: { authorization: `Bearer ${admin}` } });
    expect(stillAdmin.status).toBe(200);
  });
});

describe('whose browser a ticket may sign in (docs/browser-impersonation.md)', () => {
  it("refuses a ticket opened in a browser signed in as someone else, spending it and leaving that person's session as it was", async () => {
    const browser = new HttpBrowser();
    const own = await authorize(browser);
    await browser.navigate(own.stop.url, { until: (u) => u.href.startsWith(DEMO_APP.redirectUri), login: { login: 'bob', password: 'demo-password' }, consent: true });
    const ticket = await ticketFor();
    const mark = server.auditMark();
    const { callback } = await authorize(browser, { ticket });
    expect(Object.fromEntries(callback.searchParams)).toMatchObject({ error: 'access_denied', error_description: 'this browser is signed in to another account: the impersonation was not started' });
    expect(server.auditSince(mark)).toContainEqual(expect.objectContaining({ event: 'ticket.redeemed', outcome: 'denied', rule: 'ticket_browser_signed_in', subject: 'alice', actor: 'support' }));
    // bob is still signed in there, with no prompt; the ticket is spent.
    const silent = await authorize(browser, { prompt: 'none' });
    expect((await silent.tokens()).claims()).toMatchObject({ sub: 'bob' });
    const again = await authorize(new HttpBrowser(), { ticket });
    expect(again.callback.searchParams.get('error_description')).toBe('the impersonation ticket is invalid, expired or already used');
  });

  it('signs in a ticket opened in a browser where its actor is already impersonating', async () => {
    const { browser } = await impersonatedTokens(new HttpBrowser(), 'alice');
    const ticket = await ticketFor('alice');
    const { callback } = await authorize(browser, { ticket });
    // support started both: the same actor may move on to another subject in the same browser.
    expect(callback.searchParams.get('code')).not.toBeNull();
    expect(callback.searchParams.get('error')).toBeNull();
    await server.reference.exchange.revoke({ subject: 'alice' });
  });
});

describe('100 concurrent redemptions of one ticket give exactly one code', () => {
  it('on the memory store', async () => {
    const ticket = await ticketFor();
    const browsers = Array.from({ length: 100 }, () => new HttpBrowser());
    const results = await Promise.all(browsers.map((browser) => authorize(browser, { ticket })));
    const codes = results.filter((r) => r.callback.searchParams.get('code'));
    expect(codes).toHaveLength(1);
    expect(results.filter((r) => r.callback.searchParams.get('error') === 'access_denied')).toHaveLength(99);
  });
});

describe('the impersonated session (docs/browser-impersonation.md §4)', () => {
  it('issues no refresh token, even for offline_access to a client allowed refresh tokens', async () => {
    const browser = new HttpBrowser();
    const minted = await mint({ subject: 'alice', client_id: OFFLINE_RP.id, reason: REASON });
    const signIn = await authorize(browser, { ticket: minted.body.ticket!, rp: OFFLINE_RP, scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await signIn.tokens();
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.scope).toBe('openid');
  });

  it('lasts at most 60 minutes from redemption and is never extended by a new authorization request', async () => {
    const { browser, tokens } = await impersonatedTokens();
    const idToken = tokens.claims()!;
    const startedAt = (idToken.impersonation as { started_at: number }).started_at;
    expect(idToken.exp).toBeLessThanOrEqual(startedAt + 3600);
    const halfway = await later(1800, async () => (await authorize(browser, { prompt: 'none' })).tokens());
    const renewed = halfway.claims()!;
    expect(renewed).toMatchObject({ sub: 'alice', act: { sub: 'support' }, impersonation: { started_at: startedAt } });
    expect(renewed.exp).toBeLessThanOrEqual(startedAt + 3600);
    expect(halfway.expires_in).toBeLessThanOrEqual(1800);
    const after = await later(3601, () => authorize(browser, { prompt: 'none' }));
    expect(after.callback.searchParams.get('error')).toBe('login_required');
  });

  it('does not extend to another client: that client gets a login, not the subject', async () => {
    const { browser } = await impersonatedTokens();
    const other = await authorize(browser, { rp: OFFLINE_RP, prompt: 'none' });
    expect(other.callback.searchParams.get('error')).toBe('login_required');
  });

  it('cannot consent to more than the ticket granted', async () => {
    const { browser } = await impersonatedTokens();
    const more = await authorize(browser, { scope: 'openid profile email', prompt: 'consent' });
    expect(Object.fromEntries(more.callback.searchParams)).toMatchObject({ error: 'access_denied', error_description: 'an impersonated session cannot grant consent' });
  });

  const endings: Array<[string, () => Promise<unknown>]> = [
    ['bulk revocation of the subject', () => server.reference.exchange.revoke({ subject: 'alice' })],
    ['bulk revocation of the actor', () => server.reference.exchange.revoke({ actor: 'support' })],
    ['revoking everything', () => server.reference.exchange.revoke({ all: true })],
    ['the switch', async () => { await server.reference.exchange.setEnabled(false); await server.reference.exchange.setEnabled(true); }],
    ['the actor losing the role (cascade)', async () => { await server.reference.accounts.update('support', { roles: ['support'] }); await server.reference.accounts.update('support', { roles: ['support', 'impersonator'] }); }],
  ];
  for (const [name, end] of endings) {
    it(`is ended by ${name}: tokens, grant and session`, async () => {
      const { browser, tokens } = await impersonatedTokens();
      expect((await userinfo(tokens.access_token)).status).toBe(200);
      await end();
      expect((await userinfo(tokens.access_token)).status).toBe(401);
      expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
      const silent = await authorize(browser, { prompt: 'none' });
      expect(silent.callback.searchParams.get('error')).toBe('login_required');
      admin = await adminToken();
    });
  }

  it("is ended by revoking the actor's admin token it was minted with (cascade)", async () => {
    const own = await adminToken();
    const ticket = (await mint({ subject: 'alice', client_id: DEMO_APP.id, reason: REASON }, own)).body.ticket!;
    const tokens = await (await authorize(new HttpBrowser(), { ticket })).tokens();
    await server.post('/token/revocation', { token: own }, SUPPORT_CONSOLE);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await userinfo(tokens.access_token)).status).toBe(401);
  });

  it('is ended by revoking one of its tokens (RFC 7009)', async () => {
    const { tokens } = await impersonatedTokens();
    const mark = server.auditMark();
    expect((await server.post('/token/revocation', { token: tokens.access_token }, { id: DEMO_APP.id, secret: DEMO_APP.secret })).status).toBe(200);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
    expect(server.auditSince(mark)).toContainEqual(expect.objectContaining({ event: 'token.revoked', rule: 'revoked_single', subject: 'alice' }));
  });

  it('is ended by RP-initiated logout, which revokes its tokens; the record names the agent who was acting', async () => {
    const { browser, tokens } = await impersonatedTokens();
    const mark = server.auditMark();
    const config = await server.clientConfig(DEMO_APP.id, DEMO_APP.secret);
    const logout = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token! });
    const page = await browser.navigate(logout, { until: () => false });
    const form = /<form[^>]*id="op.logoutForm"[^>]*action="([^"]+)"[\s\S]*?name="xsrf" value="([^"]+)"/.exec(page.html)!;
    await browser.request(new URL(form[1]!, server.issuer), { form: { xsrf: form[2]!, logout: 'yes' } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect(await server.reference.exchange.list({ subject: 'alice' })).toEqual([]);
    expect(server.auditSince(mark)).toContainEqual(expect.objectContaining({ event: 'token.revoked', rule: 'ended_by_logout', actor: 'support', subject: 'alice' }));
  });
});

describe("the subject's page (docs/browser-impersonation.md §5)", () => {
  async function aliceOnHerPage() {
    const browser = new HttpBrowser();
    const page = await browser.navigate(`${server.issuer}/account/impersonations`, { until: () => false, login: { login: 'alice', password: 'demo-password' } });
    return { browser, page };
  }

  it('lists every impersonation of the account: who, app, why, when, live or ended', async () => {
    await impersonatedTokens();
    await server.reference.exchange.revoke({ subject: 'alice' });
    const { tokens } = await impersonatedTokens();
    const { page } = await aliceOnHerPage();
    expect(page.status).toBe(200);
    expect(page.url.pathname).toBe('/account/impersonations');
    expect(page.html).toContain('Who has acted as you');
    expect(page.html).toContain('<span class="who">Alice Anders</span>');
    expect(page.html).toMatch(/<strong>Sam Support<\/strong> <span class="meta">\(support\)<\/span><\/td>\s*<td>Acme Orders<br><span class="meta">signed in as you<\/span><\/td>\s*<td>Ticket 4711: customer cannot see her orders<\/td>/);
    expect(page.html).toContain('<span class="badge live">Live</span>');
    expect(page.html).toContain('<span class="badge ended">Revoked by an administrator</span>');
    expect(page.html).not.toContain(tokens.access_token);
  });

  it('lets the subject end a live one: its tokens stop working, audited as ended_by_subject', async () => {
    await server.reference.exchange.revoke({ subject: 'alice' });
    const { tokens } = await impersonatedTokens();
    const { browser, page } = await aliceOnHerPage();
    const form = /action="\/account\/impersonations\/end"><input type="hidden" name="csrf" value="([^"]+)"><input type="hidden" name="impersonation" value="([^"]+)">/.exec(page.html)!;
    const mark = server.auditMark();
    const response = await browser.request(`${server.issuer}/account/impersonations/end`, { form: { csrf: form[1]!, impersonation: form[2]! } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Ended: the access support had to your account in demo-app is revoked.');
    expect((await userinfo(tokens.access_token)).status).toBe(401);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'token.revoked', rule: 'ended_by_subject', actor: 'alice', subject: 'alice' })]);
  });

  it('refuses to end one without the form token or from another origin', async () => {
    await server.reference.exchange.revoke({ subject: 'alice' });
    const { tokens } = await impersonatedTokens();
    const { browser, page } = await aliceOnHerPage();
    const [, csrf, grant] = /name="csrf" value="([^"]+)"><input type="hidden" name="impersonation" value="([^"]+)"/.exec(page.html)!;
    const mark = server.auditMark();
    expect((await browser.request(`${server.issuer}/account/impersonations/end`, { form: { impersonation: grant! } })).status).toBe(403);
    expect((await browser.request(`${server.issuer}/account/impersonations/end`, { form: { csrf: csrf!, impersonation: grant! }, headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await userinfo(tokens.access_token)).status).toBe(200);
    expect(server.auditSince(mark)).toEqual([]);
  });

  it('is not reachable from the impersonated session: the impersonator meets a login page', async () => {
    const { browser } = await impersonatedTokens();
    const page = await browser.navigate(`${server.issuer}/account/impersonations`, { until: () => false });
    expect(page.html).toContain('name="password"');
  });

  it('sends a strict Content-Security-Policy and refuses framing', async () => {
    const browser = new HttpBrowser();
    await browser.navigate(`${server.issuer}/account/login`, { until: (u) => u.pathname === '/account/impersonations', login: { login: 'bob', password: 'demo-password' } });
    const response = await browser.request(`${server.issuer}/account/impersonations`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(response.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await response.text()).toContain('Nobody has acted as you');
  });
});
