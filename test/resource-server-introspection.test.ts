import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
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

describe('opaque tokens through RFC 7662 introspection (SPEC §7)', () => {
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

  it('does not cache inactive answers', async () => {
    const resourceServer = api();
    clock = Date.now();
    const before = introspections;
    expect(await present(resourceServer, 'not-a-token-this-provider-issued')).toEqual(denial('token_inactive'));
    expect(await present(resourceServer, 'not-a-token-this-provider-issued')).toEqual(denial('token_inactive'));
    expect(introspections).toBe(before + 2);
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
