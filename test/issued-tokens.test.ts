import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { expectRefusal } from './helpers/refusal.js';
import { now, signJwt, testKeys } from './helpers/keys.js';
import { BILLING, ORDERS, ORDERS_API, REASON, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

const PARTNER = 'https://idp.partner.example';
let server: TestServer;
let support: string;
let partnerKey: Awaited<ReturnType<typeof testKeys>>;
let jwks: ReturnType<typeof createRemoteJWKSet>;

beforeAll(async () => {
  partnerKey = await testKeys('partner-1');
  server = await startTestServer({ trustedIssuers: [{ issuer: PARTNER, jwks: partnerKey.jwks as { keys: Array<Record<string, unknown>> } }] });
  support = (await server.signIn('support')).access_token;
  jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
});
afterAll(() => server.close());

async function ordersApiClient(): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(server.issuer), ORDERS_API.id, ORDERS_API.secret, undefined, { execute: [oidc.allowInsecureRequests] });
}

describe('JWT access tokens (RFC 9068) with act (RFC 8693 §4.1)', () => {
  let response: Record<string, unknown>;
  beforeAll(async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    expect(result.status).toBe(200);
    response = result.body;
  });

  it('answers with the RFC 8693 §2.2.1 response and no refresh token', () => {
    expect(Object.keys(response).sort()).toEqual(['access_token', 'expires_in', 'issued_token_type', 'scope', 'token_type']);
    expect(response).toMatchObject({ issued_token_type: TokenType.accessToken, token_type: 'Bearer', expires_in: 3600, scope: 'orders:read' });
  });

  it('issues an at+jwt signed by the provider, for the subject, naming the actor', async () => {
    const token = response.access_token as string;
    expect(decodeProtectedHeader(token).typ).toBe('at+jwt');
    const { payload } = await jwtVerify(token, jwks, { issuer: server.issuer, audience: ORDERS, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: 'alice', client_id: SUPPORT_CONSOLE.id, scope: 'orders:read', act: { sub: 'support' } });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(typeof payload.jti).toBe('string');
    expect(payload.impersonation).toMatchObject({ reason: REASON });
  });
});

describe('opaque access tokens', () => {
  it('carries act and the impersonation facts, shown by introspection', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: BILLING }));
    expect(result.status).toBe(200);
    const token = result.body.access_token as string;
    expect(token.split('.')).toHaveLength(1);
    const introspection = await server.post('/token/introspection', { token }, ORDERS_API);
    expect(introspection.body).toEqual({
      active: true,
      sub: 'alice',
      act: { sub: 'support', sub_profile: 'user' },
      impersonation: { id: expect.any(String), reason: REASON, started_at: expect.any(Number) },
      client_id: SUPPORT_CONSOLE.id,
      scope: 'billing:read',
      aud: BILLING,
      exp: expect.any(Number),
      iat: expect.any(Number),
      iss: server.issuer,
      token_type: 'Bearer',
    });
  });

  it('issues a JWT for an opaque resource server when requested_token_type is jwt', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: BILLING, requested_token_type: TokenType.jwt }));
    expect(result.body).toMatchObject({ issued_token_type: TokenType.jwt, token_type: 'Bearer' });
    const { payload } = await jwtVerify(result.body.access_token as string, jwks, { issuer: server.issuer, audience: BILLING });
    expect(payload.act).toEqual({ sub: 'support', sub_profile: 'user' });
  });

  it('serves userinfo for the subject, naming the actor, with a token without audience', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { scope: 'openid profile' }));
    const userinfo = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${result.body.access_token as string}` } });
    expect(await userinfo.json()).toEqual({
      sub: 'alice',
      name: 'Alice Anders',
      tenant: 'acme',
      act: { sub: 'support', sub_profile: 'user' },
      impersonation: { id: expect.any(String), reason: REASON, started_at: expect.any(Number) },
    });
  });
});

describe('ID tokens (OIDC Core §2)', () => {
  it('issues an ID token for the subject with the same act and N_A token type', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { requested_token_type: TokenType.idToken, scope: 'openid profile' }));
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ issued_token_type: TokenType.idToken, token_type: 'N_A', expires_in: 3600, scope: 'openid profile' });
    const { payload } = await jwtVerify(result.body.access_token as string, jwks, { issuer: server.issuer, audience: SUPPORT_CONSOLE.id });
    expect(payload).toMatchObject({ sub: 'alice', act: { sub: 'support' }, name: 'Alice Anders' });
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(3600);
  });
});

describe('chained exchange (RFC 8693 §4.1)', () => {
  let impersonation: string;
  beforeAll(async () => {
    impersonation = (await server.exchange(impersonate(support, 'alice', { resource: ORDERS, requested_expires_in: '900' }))).body.access_token as string;
  });

  it('lets the resource server pass the token further down, wrapping the actor chain', async () => {
    const client = await ordersApiClient();
    const tokens = await oidc.genericGrantRequest(client, TOKEN_EXCHANGE_GRANT, {
      subject_token: impersonation,
      subject_token_type: TokenType.accessToken,
      resource: ORDERS,
    });
    expect(tokens.refresh_token).toBeUndefined();
    expect(tokens.expires_in).toBeLessThanOrEqual(900);
    const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: server.issuer, audience: ORDERS });
    expect(payload).toMatchObject({ sub: 'alice', client_id: ORDERS_API.id, act: { sub: 'orders-api', act: { sub: 'support' } } });
    expect(payload.impersonation).toEqual(decodeJwt(impersonation).impersonation);
  });

  it('never lengthens the incoming impersonation', async () => {
    const result = await server.exchange({ subject_token: impersonation, subject_token_type: TokenType.accessToken, resource: ORDERS, requested_expires_in: '3600' }, ORDERS_API);
    expect(result.body.expires_in as number).toBeLessThanOrEqual(900);
    const payload = decodeJwt(result.body.access_token as string);
    expect(payload.exp).toBeLessThanOrEqual(decodeJwt(impersonation).exp!);
  });

  it('never widens the incoming scope', async () => {
    const result = await server.exchange({ subject_token: impersonation, subject_token_type: TokenType.accessToken, resource: ORDERS, scope: 'orders:read orders:write' }, ORDERS_API);
    expect(result.body.scope).toBe('orders:read');
  });

  it('refuses a chain longer than maxActors (default 3)', async () => {
    let token = impersonation;
    for (let depth = 2; depth <= 3; depth += 1) {
      const result = await server.exchange({ subject_token: token, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
      expect(result.status).toBe(200);
      token = result.body.access_token as string;
    }
    await expectRefusal(server, () => server.exchange({ subject_token: token, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API), {
      status: 400,
      error: 'invalid_request',
      description: 'the delegation chain is too long',
      rule: 'chain_too_long',
    });
  });
});

describe('trusted issuers', () => {
  it('names the actor with iss when the actor token comes from another issuer', async () => {
    const idToken = await signJwt(partnerKey.privateJwk, { iss: PARTNER, sub: 'support', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600 });
    const result = await server.exchange(impersonate(idToken, 'alice', { actor_token_type: TokenType.idToken, resource: ORDERS }));
    expect(result.status).toBe(200);
    expect(decodeJwt(result.body.access_token as string).act).toEqual({ sub: 'support', iss: PARTNER, sub_profile: 'user' });
  });

  it('accepts a subject JWT from a trusted issuer', async () => {
    const subjectToken = await signJwt(partnerKey.privateJwk, { iss: PARTNER, sub: 'alice', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 600 });
    const result = await server.exchange(impersonate(support, 'alice', { subject_token: subjectToken, subject_token_type: TokenType.jwt, resource: ORDERS }));
    expect(result.status).toBe(200);
    expect(decodeJwt(result.body.access_token as string)).toMatchObject({ sub: 'alice', act: { sub: 'support' } });
  });
});

describe('the audit record of a grant (docs/audit.md)', () => {
  it('writes one exchange.granted record, chained, with the facts and no token value', async () => {
    const mark = server.auditMark();
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }), SUPPORT_CONSOLE, { 'user-agent': 'jest-test', 'x-request-id': 'req-42' });
    const records = server.auditSince(mark);
    expect(records).toHaveLength(1);
    const payload = decodeJwt(result.body.access_token as string);
    expect(records[0]).toEqual({
      id: expect.any(String),
      time: expect.any(String),
      event: 'exchange.granted',
      outcome: 'granted',
      client_id: SUPPORT_CONSOLE.id,
      actor: 'support',
      subject: 'alice',
      reason: REASON,
      scope: 'orders:read',
      audience: [ORDERS],
      token_id: payload.jti,
      expires_at: new Date(payload.exp! * 1000).toISOString(),
      ip: expect.any(String),
      user_agent: 'jest-test',
      request_id: 'req-42',
      prev_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const everything = JSON.stringify(server.audit.records());
    expect(everything).not.toContain(result.body.access_token as string);
    expect(everything).not.toContain(support);
  });
});
