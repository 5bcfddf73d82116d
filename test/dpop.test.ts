import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { expectRefusal } from './helpers/refusal.js';
import { BILLING, ORDERS, ORDERS_API, SUPPORT_CONSOLE, TOKEN_EXCHANGE_GRANT, TokenType, impersonate, startTestServer, type TestServer } from './helpers/server.js';

interface ProofKey {
  keyPair: oidc.CryptoKeyPair;
  jwk: JWK;
  thumbprint: string;
}

async function proofKey(): Promise<ProofKey> {
  const keyPair = (await generateKeyPair('ES256', { extractable: true })) as oidc.CryptoKeyPair;
  const jwk = await exportJWK(keyPair.publicKey as CryptoKey);
  return { keyPair, jwk, thumbprint: await calculateJwkThumbprint(jwk) };
}

/** An RFC 9449 §4.2 proof for POST to `htu`, with fields a test may spoil. */
function proof(key: ProofKey, htu: string, overrides: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ htm: 'POST', htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...overrides })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .sign(key.keyPair.privateKey as CryptoKey);
}

let server: TestServer;
let tokenEndpoint: string;
let key: ProofKey;
let support: string;

beforeAll(async () => {
  server = await startTestServer();
  tokenEndpoint = `${server.issuer}/token`;
  key = await proofKey();
  support = (await server.signIn('support')).access_token;
});
afterAll(() => server.close());

const badProof = { status: 400, error: 'invalid_dpop_proof', description: 'invalid DPoP proof', rule: 'dpop_proof_invalid' };

describe('DPoP (RFC 9449)', () => {
  it('binds the issued JWT to the proof key and answers token_type DPoP', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }), SUPPORT_CONSOLE, { dpop: await proof(key, tokenEndpoint) });
    expect(result.status).toBe(200);
    expect(result.body.token_type).toBe('DPoP');
    expect(decodeJwt(result.body.access_token as string).cnf).toEqual({ jkt: key.thumbprint });
  });

  it('binds an opaque token too, as introspection shows', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: BILLING }), SUPPORT_CONSOLE, { dpop: await proof(key, tokenEndpoint) });
    const introspection = await server.post('/token/introspection', { token: result.body.access_token as string }, ORDERS_API);
    expect(introspection.body).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: key.thumbprint } });
  });

  it('refuses a proof for another endpoint', async () => {
    await expectRefusal(server, async () => server.exchange(impersonate(support, 'alice'), SUPPORT_CONSOLE, { dpop: await proof(key, `${server.issuer}/me`) }), badProof);
  });

  it('refuses a proof that is too old', async () => {
    await expectRefusal(
      server,
      async () => server.exchange(impersonate(support, 'alice'), SUPPORT_CONSOLE, { dpop: await proof(key, tokenEndpoint, { iat: Math.floor(Date.now() / 1000) - 3600 }) }),
      badProof,
    );
  });

  it('refuses a replayed proof', async () => {
    const once = await proof(key, tokenEndpoint);
    expect((await server.exchange(impersonate(support, 'alice', { scope: 'openid' }), SUPPORT_CONSOLE, { dpop: once })).status).toBe(200);
    await expectRefusal(server, () => server.exchange(impersonate(support, 'alice', { scope: 'openid' }), SUPPORT_CONSOLE, { dpop: once }), badProof);
  });

  it('refuses a DPoP-bound actor token presented without a proof of its key', async () => {
    const bound = await server.signIn('support', SUPPORT_CONSOLE, oidc.getDPoPHandle(await server.clientConfig(SUPPORT_CONSOLE.id, SUPPORT_CONSOLE.secret), key.keyPair));
    expect(bound.token_type).toBe('dpop');
    await expectRefusal(server, () => server.exchange(impersonate(bound.access_token, 'alice')), {
      status: 400,
      error: 'invalid_request',
      description: 'actor_token is DPoP-bound; send a DPoP proof made with its key',
      rule: 'actor_token_invalid',
    });
    const other = await proofKey();
    await expectRefusal(server, async () => server.exchange(impersonate(bound.access_token, 'alice'), SUPPORT_CONSOLE, { dpop: await proof(other, tokenEndpoint) }), {
      status: 400,
      error: 'invalid_request',
      description: 'actor_token is DPoP-bound; send a DPoP proof made with its key',
      rule: 'actor_token_invalid',
    });
  });

  it('exchanges a DPoP-bound actor token through openid-client with the same key', async () => {
    const config = await server.clientConfig(SUPPORT_CONSOLE.id, SUPPORT_CONSOLE.secret);
    const dpop = oidc.getDPoPHandle(config, key.keyPair);
    const bound = await server.signIn('support', SUPPORT_CONSOLE, dpop);
    const tokens = await oidc.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, impersonate(bound.access_token, 'alice', { resource: ORDERS }) as Record<string, string>, { DPoP: dpop });
    expect(tokens.token_type).toBe('dpop');
    expect(decodeJwt(tokens.access_token)).toMatchObject({ sub: 'alice', act: { sub: 'support' }, cnf: { jkt: key.thumbprint } });
  });

  it('refuses to pass a DPoP-bound impersonation token down without its key', async () => {
    const result = await server.exchange(impersonate(support, 'alice', { resource: ORDERS }), SUPPORT_CONSOLE, { dpop: await proof(key, tokenEndpoint) });
    await expectRefusal(server, () => server.exchange({ subject_token: result.body.access_token as string, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API), {
      status: 400,
      error: 'invalid_request',
      description: 'subject_token is DPoP-bound; send a DPoP proof made with its key',
      rule: 'subject_token_invalid',
    });
  });
});
