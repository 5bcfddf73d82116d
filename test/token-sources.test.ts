import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { decodeJwt, type JWK } from 'jose';
import { now, signJwt, testKeys } from './helpers/keys.js';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';
import { until } from './helpers/until.js';

/*
 * Whatever the token type, a subject or actor token's limits travel with it: an exchange never yields
 * more than the grant the token came from, and everything derived dies with that grant. ID tokens
 * carry no scope; the provider records each one it issues under its grant. Tokens of the provider's
 * own flows (ID tokens, JWT access tokens) are revocable sources like any other.
 */

let server: TestServer;
let providerKey: JWK;

beforeAll(async () => {
  providerKey = (await testKeys('provider-key', 'RS256')).privateJwk;
  server = await startTestServer({ jwks: { keys: [providerKey] } });
});
afterAll(() => server.close());

const invalidScope = (description: string) => ({ status: 400, error: 'invalid_scope', description, rule: 'scope_empty' });
const SUBJECT_SCOPE = "the subject_token's scope holds none of the requested scopes";
const RESOURCE_SCOPE = 'the requested resource or audience serves none of the requested scopes';
const active = async (token: string) => (await server.post('/token/introspection', { token }, ORDERS_API)).body.active;

async function issued(params: Record<string, string | string[]>, client: { id: string; secret: string } = SUPPORT_CONSOLE): Promise<string> {
  const result = await server.exchange(params, client);
  if (result.status !== 200) throw new Error(JSON.stringify(result.body));
  return result.body.access_token as string;
}

describe('an ID token yields no more than the grant it came from', () => {
  it("refuses to turn alice's orders:read token, through an ID token, into billing or userinfo scopes", async () => {
    const alice = await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', ORDERS);
    const direct = { subject_token: alice.access_token, subject_token_type: TokenType.accessToken };
    await expectRefusal(server, () => server.exchange({ ...direct, resource: BILLING }, ORDERS_API), invalidScope(RESOURCE_SCOPE));

    const idToken = await issued({ ...direct, requested_token_type: TokenType.idToken }, ORDERS_API);
    const viaIdToken = { subject_token: idToken, subject_token_type: TokenType.idToken };
    await expectRefusal(server, () => server.exchange({ ...viaIdToken, resource: BILLING }, ORDERS_API), invalidScope(RESOURCE_SCOPE));
    await expectRefusal(server, () => server.exchange({ ...viaIdToken, resource: BILLING, scope: 'billing:read' }, ORDERS_API), invalidScope(SUBJECT_SCOPE));
    await expectRefusal(server, () => server.exchange({ ...viaIdToken, scope: 'openid profile' }, ORDERS_API), invalidScope(SUBJECT_SCOPE));
    expect(decodeJwt(await issued({ ...viaIdToken, resource: ORDERS }, ORDERS_API)).scope).toBe('orders:read');
  });

  it("limits alice's sign-in ID token to the scope she consented to", async () => {
    const alice = await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid');
    const viaIdToken = { subject_token: alice.id_token!, subject_token_type: TokenType.idToken };
    await expectRefusal(server, () => server.exchange({ ...viaIdToken, scope: 'orders:read orders:write' }), invalidScope(SUBJECT_SCOPE));
    await expectRefusal(server, () => server.exchange({ ...viaIdToken, resource: ORDERS, scope: 'orders:read' }), invalidScope(SUBJECT_SCOPE));
    const granted = await server.exchange({ ...viaIdToken, scope: 'openid' });
    expect(granted.status).toBe(200);
    expect(granted.body.scope).toBe('openid');
  });

  it('ends what an ID token yielded when its grant is revoked, and the ID token yields nothing more', async () => {
    const alice = await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', ORDERS);
    const viaIdToken = { subject_token: alice.id_token!, subject_token_type: TokenType.idToken, resource: ORDERS };
    const derived = await issued(viaIdToken);
    const idToken = await issued({ subject_token: alice.id_token!, subject_token_type: TokenType.idToken, scope: 'orders:read', requested_token_type: TokenType.idToken });
    const derivedFromIdToken = await issued({ subject_token: idToken, subject_token_type: TokenType.idToken, resource: ORDERS });
    expect(await active(derived)).toBe(true);
    expect(await active(derivedFromIdToken)).toBe(true);

    expect((await server.post('/token/revocation', { token: alice.access_token }, SUPPORT_CONSOLE)).status).toBe(200);
    await until(async () => (await active(derived)) === false && (await active(derivedFromIdToken)) === false);
    const revoked = { status: 400, error: 'invalid_request', description: 'subject_token is invalid, expired or revoked', rule: 'subject_token_untracked' };
    await expectRefusal(server, () => server.exchange(viaIdToken), revoked);
    await expectRefusal(server, () => server.exchange({ subject_token: idToken, subject_token_type: TokenType.idToken, resource: ORDERS }), revoked);
  });

  it('refuses an ID token of this provider that it never recorded', async () => {
    const forged = await signJwt(providerKey, { iss: server.issuer, sub: 'alice', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600 });
    await expectRefusal(server, () => server.exchange({ subject_token: forged, subject_token_type: TokenType.idToken, scope: 'openid' }), {
      status: 400,
      error: 'invalid_request',
      description: 'subject_token is invalid, expired or revoked',
      rule: 'subject_token_untracked',
    });
  });
});

describe("an agent's ID token or own-flow JWT as actor_token is a revocable source", () => {
  const ACTOR_REVOKED = 'actor_token is invalid, expired or revoked';

  it("ends an impersonation started with the agent's ID token when the agent's grant is revoked, and refuses that ID token afterwards", async () => {
    const support = await server.signIn('support');
    const started = impersonate(support.id_token!, 'alice', { actor_token_type: TokenType.idToken, resource: ORDERS });
    const token = await issued(started);
    expect(await active(token)).toBe(true);

    expect((await server.post('/token/revocation', { token: support.access_token }, SUPPORT_CONSOLE)).status).toBe(200);
    await until(async () => (await active(token)) === false);
    await expectRefusal(server, () => server.exchange(started), { status: 400, error: 'invalid_request', description: ACTOR_REVOKED, rule: 'actor_token_untracked' });
  });

  it("makes the revocation of the agent's own-flow JWT take effect: its impersonations end and it starts no more", async () => {
    const support = await server.signIn('support', SUPPORT_CONSOLE, undefined, 'openid', ORDERS);
    expect(decodeJwt(support.access_token).client_id).toBe(SUPPORT_CONSOLE.id);
    const started = impersonate(support.access_token, 'alice', { resource: ORDERS });
    const token = await issued(started);
    expect(await active(token)).toBe(true);

    const mark = server.auditMark();
    expect((await server.post('/token/revocation', { token: support.access_token }, SUPPORT_CONSOLE)).status).toBe(200);
    expect(await active(token)).toBe(false);
    expect(server.auditSince(mark)).toEqual([expect.objectContaining({ event: 'token.revoked', rule: 'revoked_single', subject: 'alice', token_id: decodeJwt(token).jti })]);
    await expectRefusal(server, () => server.exchange(started), { status: 400, error: 'invalid_request', description: ACTOR_REVOKED, rule: 'actor_token_invalid' });
  });
});
