import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { decodeJwt, type JWK } from 'jose';
import { now, signJwt, testKeys } from './helpers/keys.js';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * Issue 8, findings 2, 4 and 5: whatever an exchange derives from a token ends with that token,
 * never grows beyond it, and counts against the person who started it.
 */

const PARTNER = 'https://idp.partner.example';
let server: TestServer;
let providerKey: JWK;
let partner: Awaited<ReturnType<typeof testKeys>>;
let support: string;

beforeAll(async () => {
  providerKey = (await testKeys('provider-key', 'RS256')).privateJwk;
  partner = await testKeys('partner-key');
  server = await startTestServer({ jwks: { keys: [providerKey] }, trustedIssuers: [{ issuer: PARTNER, jwks: partner.jwks as { keys: Array<Record<string, unknown>> } }] });
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

const introspect = (token: string) => server.post('/token/introspection', { token }, ORDERS_API);
const UNREVOCABLE = { status: 400, error: 'invalid_request', description: 'a subject_token that carries act must be an access token of this provider', rule: 'subject_token_unrevocable' };

async function issued(params: Record<string, string | string[]>, client: { id: string; secret: string } = SUPPORT_CONSOLE): Promise<Record<string, unknown>> {
  const result = await server.exchange(params, client);
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body;
}

describe('subject tokens that act for someone must be revocable (finding 2)', () => {
  it("refuses an impersonation's ID token as subject token: nothing could revoke what it yields", async () => {
    const idToken = (await issued(impersonate(support, 'alice', { requested_token_type: TokenType.idToken, scope: 'openid' }))).access_token as string;
    expect(decodeJwt(idToken).act).toEqual({ sub: 'support', sub_profile: 'user' });
    await expectRefusal(server, () => server.exchange({ subject_token: idToken, subject_token_type: TokenType.idToken, scope: 'billing:read' }), UNREVOCABLE);
    await expectRefusal(server, () => server.exchange({ subject_token: idToken, subject_token_type: TokenType.jwt, resource: BILLING }), UNREVOCABLE);
  });

  it("refuses any ID token carrying act, such as an impersonated browser session's", async () => {
    const session = await signJwt(providerKey, { iss: server.issuer, sub: 'alice', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600, act: { sub: 'support' } });
    await expectRefusal(server, () => server.exchange({ subject_token: session, subject_token_type: TokenType.idToken, scope: 'openid' }), UNREVOCABLE);
  });

  it("refuses a trusted issuer's JWT carrying act: this provider cannot revoke it", async () => {
    const foreign = await signJwt(partner.privateJwk, { iss: PARTNER, sub: 'alice', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600, act: { sub: 'agent-7' } });
    await expectRefusal(server, () => server.exchange({ subject_token: foreign, subject_token_type: TokenType.jwt, scope: 'openid' }), UNREVOCABLE);
  });

  it('refuses a JWT access token presented as an ID token (RFC 8725 §3.11)', async () => {
    const jwt = (await issued(impersonate(support, 'alice', { resource: ORDERS }))).access_token as string;
    await expectRefusal(server, () => server.exchange({ subject_token: jwt, subject_token_type: TokenType.idToken, resource: ORDERS }, ORDERS_API), {
      status: 400,
      error: 'invalid_request',
      description: 'subject_token is invalid, expired or revoked',
      rule: 'subject_token_invalid',
    });
  });

  it('grants nothing from a chained subject token whose scope is unknown, rather than everything', async () => {
    const first = (await issued(impersonate(support, 'alice', { resource: ORDERS }))).access_token as string;
    const claims = decodeJwt(first);
    const record = (await server.reference.exchange.list({ subject: 'alice' })).find((r) => r.tokenId === claims.jti)!;
    const { scope: _scope, ...unscoped } = { ...claims, jti: randomUUID() } as Record<string, unknown> & { jti: string };
    const withoutScope = await signJwt(providerKey, unscoped, 'at+jwt');
    await server.reference.exchange.store.impersonations.addJwt(unscoped.jti, record.grantId, 600);
    await expectRefusal(server, () => server.exchange({ subject_token: withoutScope, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API), {
      status: 400,
      error: 'invalid_scope',
      description: "the subject_token's scope holds none of the requested scopes",
      rule: 'scope_empty',
    });
  });
});

describe('delegated copies die with their source (finding 4)', () => {
  it('ends a delegation, opaque or JWT, when the access token it came from is revoked', async () => {
    const alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read billing:read')).access_token;
    const copies = [
      (await issued({ subject_token: alice, subject_token_type: TokenType.accessToken, resource: BILLING })).access_token as string,
      (await issued({ subject_token: alice, subject_token_type: TokenType.accessToken, resource: ORDERS })).access_token as string,
    ];
    for (const copy of copies) expect((await introspect(copy)).body).toMatchObject({ active: true, sub: 'alice' });
    const mark = server.auditMark();
    expect((await server.post('/token/revocation', { token: alice }, SUPPORT_CONSOLE)).status).toBe(200);
    for (const copy of copies) expect((await introspect(copy)).body).toEqual({ active: false });
    expect(server.auditSince(mark).filter((r) => r.event === 'token.revoked')).toHaveLength(2);
    const chained = await server.exchange({ subject_token: copies[1]!, subject_token_type: TokenType.accessToken, resource: ORDERS });
    expect(chained.body).toEqual({ error: 'invalid_request', error_description: 'subject_token is invalid, expired or revoked' });
  });

  it("ends a delegation when its source's grant is gone, even unannounced", async () => {
    const alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid billing:read')).access_token;
    const copy = (await issued({ subject_token: alice, subject_token_type: TokenType.accessToken, resource: BILLING })).access_token as string;
    const source = await server.reference.provider.AccessToken.find(alice);
    await server.reference.provider.Grant.adapter.destroy(source!.grantId!);
    expect((await introspect(copy)).body).toEqual({ active: false });
  });

  it('never passes impersonation:admin on by exchange, so a copy cannot use the admin API', async () => {
    const admin = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
    await expectRefusal(server, () => server.exchange({ subject_token: admin, subject_token_type: TokenType.accessToken, scope: 'impersonation:admin' }), {
      status: 400,
      error: 'invalid_scope',
      description: 'impersonation:admin is never granted by token exchange',
      rule: 'scope_empty',
    });
    const copy = await issued({ subject_token: admin, subject_token_type: TokenType.accessToken });
    expect(copy.scope).toBe('openid');
    const api = await fetch(`${server.issuer}/admin/api/settings`, { headers: { authorization: `Bearer ${copy.access_token as string}` } });
    expect(api.status).toBe(403);
  });
});

describe('chains count against the original actor (finding 5)', () => {
  it('refuses a chained exchange once the actor who started the impersonation spent their budget', async () => {
    const limited = await startTestServer({ policy: { rateLimit: { points: 2, durationSeconds: 60 } } });
    try {
      const actor = (await limited.signIn('support')).access_token;
      const tokens: string[] = [];
      for (let i = 0; i < 2; i += 1) {
        const result = await limited.exchange(impersonate(actor, 'alice', { resource: ORDERS }));
        expect(result.status).toBe(200);
        tokens.push(result.body.access_token as string);
      }
      expect((await limited.exchange(impersonate(actor, 'alice', { resource: ORDERS }))).status).toBe(429);
      const { result } = await expectRefusal(limited, () => limited.exchange({ subject_token: tokens[0]!, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API), {
        status: 429,
        error: 'invalid_request',
        description: 'too many impersonation requests by this actor; retry later',
        rule: 'actor_rate_limited',
      });
      expect(Number(result.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
