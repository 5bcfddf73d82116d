import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { now, signJwt, testKeys } from './helpers/keys.js';
import { ORDERS, REASON, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

/*
 * OIDC Core §2: every ID token the grant issues carries `sub`, `aud` = the client, `iat`, `exp` —
 * and `act` when someone acts — whatever the subject token type, direct or chained. Each test asks
 * for an ID token and has openid-client validate it as a relying party would (its ID token checks
 * plus the signature: enableNonRepudiationChecks), not only a signature check.
 */

const PARTNER = 'https://idp.partner.example';
let server: TestServer;
let support: string;
let partnerKey: Awaited<ReturnType<typeof testKeys>>;
let client: oidc.Configuration;

/**
 * RFC 8693 §2.2.1 returns the issued token in `access_token`; openid-client validates ID tokens it
 * finds in `id_token`. This fetch hands the issued ID token over in the standard place so the
 * client's own validation runs on it.
 */
const asOidcResponse: oidc.CustomFetch = async (url, options) => {
  const response = await fetch(url, options as RequestInit);
  const body = (await response.json()) as Record<string, unknown>;
  if (body.issued_token_type !== TokenType.idToken) return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
  const standard = { ...body, id_token: body.access_token, token_type: 'bearer' };
  return new Response(JSON.stringify(standard), { status: response.status, headers: { 'content-type': 'application/json' } });
};

/** Exchanges as support-console through openid-client and returns the validated ID token claims. */
async function exchangeForIdToken(params: Record<string, string>): Promise<oidc.IDToken> {
  const response = await oidc.genericGrantRequest(client, TOKEN_EXCHANGE_GRANT, { ...params, requested_token_type: TokenType.idToken });
  expect(response.issued_token_type).toBe(TokenType.idToken);
  const claims = response.claims();
  if (!claims) throw new Error('no ID token validated');
  const { payload } = await jwtVerify(response.id_token!, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), { issuer: server.issuer, audience: SUPPORT_CONSOLE.id });
  expect(payload).toEqual(claims);
  return claims;
}

beforeAll(async () => {
  partnerKey = await testKeys('partner-id');
  server = await startTestServer({ trustedIssuers: [{ issuer: PARTNER, jwks: partnerKey.jwks as { keys: Array<Record<string, unknown>> } }] });
  support = (await server.signIn('support')).access_token;
  client = await oidc.discovery(new URL(server.issuer), SUPPORT_CONSOLE.id, SUPPORT_CONSOLE.secret, undefined, { execute: [oidc.allowInsecureRequests] });
  client[oidc.customFetch] = asOidcResponse;
  oidc.enableNonRepudiationChecks(client);
});
afterAll(() => server.close());

describe('ID tokens issued by token exchange (OIDC Core §2)', () => {
  it('carries sub, aud, iat, exp, act and the granted claims for a user-id subject', async () => {
    const claims = await exchangeForIdToken(impersonate(support, 'alice', { scope: 'openid profile' }) as Record<string, string>);
    expect(claims).toMatchObject({ iss: server.issuer, sub: 'alice', aud: SUPPORT_CONSOLE.id, act: { sub: 'support' }, name: 'Alice Anders' });
    expect(claims.exp - claims.iat).toBe(3600);
  });

  it('carries sub for a chained exchange of an impersonation access token that granted no openid scope', async () => {
    const first = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    expect(first.status).toBe(200);
    expect(first.body.scope).toBe('orders:read');
    const claims = await exchangeForIdToken({ subject_token: first.body.access_token as string, subject_token_type: TokenType.accessToken, reason: REASON });
    expect(claims).toMatchObject({ sub: 'alice', aud: SUPPORT_CONSOLE.id, act: { sub: 'support-console', act: { sub: 'support' } } });
    expect(typeof claims.iat).toBe('number');
    expect(claims.exp).toBeLessThanOrEqual(decodeJwt(first.body.access_token as string).exp!);
  });

  it("carries sub for a delegation of the subject's own ID token", async () => {
    const alice = await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid profile');
    const claims = await exchangeForIdToken({ subject_token: alice.id_token!, subject_token_type: TokenType.idToken, scope: 'openid profile' });
    expect(claims).toMatchObject({ sub: 'alice', aud: SUPPORT_CONSOLE.id, name: 'Alice Anders' });
    expect(claims.act).toBeUndefined();
  });

  it('carries sub for a JWT of a trusted issuer', async () => {
    const partnerJwt = await signJwt(partnerKey.privateJwk, { iss: PARTNER, sub: 'alice', aud: SUPPORT_CONSOLE.id, iat: now(), exp: now() + 300 });
    const claims = await exchangeForIdToken({ subject_token: partnerJwt, subject_token_type: TokenType.jwt, scope: 'openid' });
    expect(claims).toMatchObject({ iss: server.issuer, sub: 'alice', aud: SUPPORT_CONSOLE.id });
  });
});

describe('JWT access tokens of a chained exchange (RFC 9068 §2.2)', () => {
  it('carry sub, client_id, iss, aud, exp, iat and jti', async () => {
    const first = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }));
    const chained = await server.exchange({ subject_token: first.body.access_token as string, subject_token_type: TokenType.accessToken, resource: ORDERS });
    expect(chained.status).toBe(200);
    const { payload } = await jwtVerify(chained.body.access_token as string, createRemoteJWKSet(new URL(`${server.issuer}/jwks`)), { issuer: server.issuer, audience: ORDERS, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: 'alice', client_id: SUPPORT_CONSOLE.id, act: { sub: 'support-console', act: { sub: 'support' } } });
    for (const claim of ['iss', 'aud', 'exp', 'iat', 'jti']) expect(payload[claim]).toBeDefined();
  });
});
