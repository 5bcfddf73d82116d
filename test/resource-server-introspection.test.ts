import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { AccessDenied, createResourceServer, type ResourceServerOptions, type VerifiedAccess } from '../src/resource-server/index.js';
import { ath, proof, proofKey, type ProofKey } from './helpers/resource-tokens.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, impersonate, startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let support: string;
let introspections = 0;
let clock = Date.now();
const CREDENTIALS = { clientId: ORDERS_API.id, clientSecret: ORDERS_API.secret };

beforeAll(async () => {
  server = await startTestServer();
  // Counts the toolkit's calls to the introspection endpoint.
  const realFetch = globalThis.fetch;
  jest.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    if (String(input) === `${server.issuer}/token/introspection`) introspections += 1;
    return realFetch(input, init);
  });
  support = (await server.signIn('support')).access_token;
});
afterAll(async () => {
  jest.restoreAllMocks();
  await server.close();
});

async function issue(resource: string, extra: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<string> {
  const result = await server.exchange(impersonate(support, 'alice', { resource, ...extra }), SUPPORT_CONSOLE, headers);
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body.access_token as string;
}

const revoke = async (token: string) => expect((await server.post('/token/revocation', { token })).status).toBe(200);

function api(options: Partial<ResourceServerOptions> = {}) {
  return createResourceServer({ issuer: server.issuer, audience: BILLING, introspection: CREDENTIALS, now: () => clock, ...options });
}

/** Verifies a bearer request; answers the access or the refusal. */
async function present(resourceServer: ReturnType<typeof api>, token: string, headers: Record<string, string> = { authorization: `Bearer ${token}` }): Promise<VerifiedAccess | AccessDenied> {
  try {
    return await resourceServer.verifyRequest(new Request('https://billing.example.test/invoices', { headers }));
  } catch (err) {
    if (err instanceof AccessDenied) return err;
    throw err;
  }
}

const denial = (code: string) => expect.objectContaining({ code });

describe('opaque tokens through RFC 7662 introspection (docs/resource-server.md)', () => {
  it('verifies an opaque token by introspecting it as the orders-api client', async () => {
    const access = await present(api(), await issue(BILLING));
    expect(access).toMatchObject({
      subject: 'alice',
      actor: 'support',
      actorChain: [{ sub: 'support' }],
      scopes: ['billing:read'],
      impersonation: { id: expect.any(String), reason: expect.any(String), startedAt: expect.any(Number) },
      token: { format: 'opaque', verifiedBy: 'introspection', scheme: 'Bearer', clientId: SUPPORT_CONSOLE.id, audience: [BILLING], id: undefined },
    });
  });

  it('authenticates with client_secret_post too', async () => {
    expect(await present(api({ introspection: { ...CREDENTIALS, authMethod: 'client_secret_post' } }), await issue(BILLING))).toMatchObject({ subject: 'alice' });
  });

  it('sees a revocation once the cached answer is older than maxStalenessSeconds, and not before', async () => {
    const resourceServer = api({ introspection: { ...CREDENTIALS, maxStalenessSeconds: 30 } });
    const token = await issue(BILLING);
    const start = (clock = Date.now());
    const before = introspections;
    expect(await present(resourceServer, token)).toMatchObject({ subject: 'alice' });
    await revoke(token);
    clock = start + 29_000;
    expect(await present(resourceServer, token)).toMatchObject({ subject: 'alice' });
    expect(introspections).toBe(before + 1);
    clock = start + 30_000;
    expect(await present(resourceServer, token)).toEqual(denial('token_inactive'));
    expect(introspections).toBe(before + 2);
  });

  it("never reuses an answer past the token's exp", async () => {
    const resourceServer = api({ introspection: { ...CREDENTIALS, maxStalenessSeconds: 3600 } });
    const token = await issue(BILLING, { requested_expires_in: '20' });
    const start = (clock = Date.now());
    expect(await present(resourceServer, token)).toMatchObject({ subject: 'alice' });
    const before = introspections;
    clock = start + 30_000;
    expect(await present(resourceServer, token)).toEqual(denial('token_expired'));
    expect(introspections).toBe(before + 1);
  });

  it('reuses an inactive answer for negativeCacheSeconds, then asks again', async () => {
    const resourceServer = api({ introspection: { ...CREDENTIALS, negativeCacheSeconds: 10 } });
    const start = (clock = Date.now());
    const before = introspections;
    expect(await present(resourceServer, 'not-a-token-this-provider-issued')).toEqual(denial('token_inactive'));
    expect(await present(resourceServer, 'not-a-token-this-provider-issued')).toEqual(denial('token_inactive'));
    expect(introspections).toBe(before + 1);
    clock = start + 10_000;
    expect(await present(resourceServer, 'not-a-token-this-provider-issued')).toEqual(denial('token_inactive'));
    expect(introspections).toBe(before + 2);
  });

  it('refuses a value too short to be a token without introspecting it', async () => {
    const before = introspections;
    expect(await present(api(), 'abc')).toEqual(denial('token_malformed'));
    expect(introspections).toBe(before);
  });

  it('introspects made-up tokens only within its budget, answering 503 beyond it', async () => {
    const resourceServer = api({ introspection: { ...CREDENTIALS, budget: { perSecond: 1, burst: 5 } } });
    clock = Date.now();
    const before = introspections;
    const answers = [];
    for (let i = 0; i < 20; i += 1) answers.push(await present(resourceServer, `made-up-${randomUUID()}`));
    expect(answers.map((a) => (a as AccessDenied).code)).toEqual([...Array(5).fill('token_inactive'), ...Array(15).fill('introspection_budget')]);
    expect(introspections).toBe(before + 5);
    const refusal = answers[19] as AccessDenied;
    expect({ status: refusal.status, body: refusal.body(), challenges: refusal.challenges }).toEqual({
      status: 503,
      body: { error: 'temporarily_unavailable', error_description: 'too many unknown access tokens to check at the moment; retry later' },
      challenges: [],
    });
  });

  it('gives each client address its own share of the budget (Koa ctx.ip)', async () => {
    const resourceServer = api({ introspection: { ...CREDENTIALS, budget: { perAddressPerSecond: 1, perAddressBurst: 3 } } });
    clock = Date.now();
    const middleware = resourceServer.koa();
    const codes: number[] = [];
    for (const ip of ['192.0.2.1', '192.0.2.1', '192.0.2.1', '192.0.2.1', '192.0.2.2']) {
      const ctx = { method: 'GET', href: 'https://billing.example.test/invoices', ip, get: (f: string) => (f === 'authorization' ? `Bearer made-up-${randomUUID()}` : ''), state: {}, status: 404, body: undefined as unknown, set: () => undefined };
      await middleware(ctx, async () => undefined);
      codes.push(ctx.status);
    }
    expect(codes).toEqual([401, 401, 401, 503, 401]);
  });

  it('shares one introspection among concurrent requests for the same token', async () => {
    const resourceServer = api();
    const token = await issue(BILLING);
    clock = Date.now();
    const before = introspections;
    const answers = await Promise.all(Array.from({ length: 5 }, () => present(resourceServer, token)));
    expect(answers.map((a) => (a as VerifiedAccess).subject)).toEqual(['alice', 'alice', 'alice', 'alice', 'alice']);
    expect(introspections).toBe(before + 1);
  });

  it('introspects JWTs too in introspect mode, so a revoked JWT is refused within the bound', async () => {
    const resourceServer = api({ audience: ORDERS, mode: 'introspect', introspection: { ...CREDENTIALS, maxStalenessSeconds: 10 } });
    const token = await issue(ORDERS);
    const start = (clock = Date.now());
    expect(await present(resourceServer, token)).toMatchObject({ subject: 'alice', actor: 'support', token: { format: 'jwt', verifiedBy: 'introspection' } });
    await revoke(token);
    clock = start + 10_000;
    expect(await present(resourceServer, token)).toEqual(denial('token_inactive'));
  });

  it('verifies JWTs locally in auto mode (no introspection call)', async () => {
    const resourceServer = api({ audience: ORDERS });
    const token = await issue(ORDERS);
    clock = Date.now();
    const before = introspections;
    expect(await present(resourceServer, token)).toMatchObject({ subject: 'alice', token: { verifiedBy: 'jwt' } });
    expect(introspections).toBe(before);
  });

  it('refuses an introspected token meant for another API', async () => {
    expect(await present(api({ mode: 'introspect' }), await issue(ORDERS))).toEqual(denial('token_audience'));
  });

  it('answers 503 without a challenge when introspection refuses its credentials', async () => {
    const refused = await present(api({ introspection: { ...CREDENTIALS, clientSecret: 'wrong' } }), await issue(BILLING));
    expect(refused).toBeInstanceOf(AccessDenied);
    const response = (refused as AccessDenied).toResponse();
    expect({ code: (refused as AccessDenied).code, status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.json() }).toEqual({
      code: 'issuer_unavailable',
      status: 503,
      challenge: null,
      body: { error: 'temporarily_unavailable', error_description: 'the authorization server could not be reached; retry later' },
    });
  });

  describe('an introspected DPoP-bound token (RFC 9449 §7)', () => {
    let key: ProofKey;
    let token: string;
    beforeAll(async () => {
      key = await proofKey();
      token = await issue(BILLING, {}, { dpop: await proof(key, 'POST', `${server.issuer}/token`) });
    });

    it('is accepted with a proof of its key', async () => {
      clock = Date.now();
      const dpop = await proof(key, 'GET', 'https://billing.example.test/invoices', { ath: ath(token) });
      expect(await present(api({ publicOrigin: 'https://billing.example.test' }), token, { authorization: `DPoP ${token}`, dpop })).toMatchObject({ subject: 'alice', token: { scheme: 'DPoP', keyThumbprint: key.thumbprint } });
    });

    it('is refused as a bearer token', async () => {
      expect(await present(api(), token)).toEqual(denial('token_bound_presented_as_bearer'));
    });
  });
});

describe('a flood of made-up opaque tokens (no credentials needed to send them)', () => {
  let small: TestServer;
  beforeAll(async () => {
    // The provider allows this API 60 introspections a minute.
    small = await startTestServer({ policy: { clientRateLimit: { points: 60, durationSeconds: 60 } } });
  });
  afterAll(() => small.close());

  it("cannot spend the API's introspection allowance at the provider: a real token in use still verifies", async () => {
    const smallSupport = (await small.signIn('support')).access_token;
    const issued = await small.exchange(impersonate(smallSupport, 'alice', { resource: BILLING }));
    const token = issued.body.access_token as string;
    let now = Date.now();
    const resourceServer = createResourceServer({ issuer: small.issuer, audience: BILLING, introspection: { ...CREDENTIALS, maxStalenessSeconds: 30 }, now: () => now });
    expect(await present(resourceServer, token)).toMatchObject({ subject: 'alice' });
    for (let i = 0; i < 100; i += 1) await present(resourceServer, `made-up-${randomUUID()}`);
    now += 31_000; // the cached answer is stale: the real token is introspected again
    expect(await present(resourceServer, token)).toMatchObject({ subject: 'alice', token: { verifiedBy: 'introspection' } });
  });
});
