import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { REASON, SUPPORT_CONSOLE, startTestServer, type TestServer } from './helpers/server.js';

/*
 * RFC 9449 §7 at the admin API (docs/admin-console.md): a DPoP-bound `impersonation:admin` token
 * is accepted only as `Authorization: DPoP` with a proof of its key; an unbound one stays a bearer
 * token.
 */

interface ProofKey {
  keyPair: oidc.CryptoKeyPair;
  jwk: JWK;
}

async function proofKey(): Promise<ProofKey> {
  const keyPair = (await generateKeyPair('ES256', { extractable: true })) as oidc.CryptoKeyPair;
  return { keyPair, jwk: await exportJWK(keyPair.publicKey as CryptoKey) };
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** An RFC 9449 §4.2 proof for `htm` `htu` carrying `ath` of `token`, with fields a test may spoil (undefined drops one). */
function proof(key: ProofKey, htm: string, htu: string, token: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const claims = Object.fromEntries(
    Object.entries({ htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ath: ath(token), ...overrides }).filter(([, v]) => v !== undefined),
  );
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk }).sign(key.keyPair.privateKey as CryptoKey);
}

let server: TestServer;
let key: ProofKey;
let bound: string;
let unbound: string;

beforeAll(async () => {
  server = await startTestServer({ policy: { rateLimit: false } });
  key = await proofKey();
  const config = await server.clientConfig(SUPPORT_CONSOLE.id, SUPPORT_CONSOLE.secret);
  const signedIn = await server.signIn('admin', SUPPORT_CONSOLE, oidc.getDPoPHandle(config, key.keyPair), 'openid impersonation:admin');
  expect(signedIn.token_type).toBe('dpop');
  bound = signedIn.access_token;
  unbound = (await server.signIn('admin', SUPPORT_CONSOLE, undefined, 'openid impersonation:admin')).access_token;
});
afterAll(() => server.close());

const url = (path: string) => `${server.issuer}/admin/api${path}`;

async function api(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(url(path), {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, challenge: response.headers.get('www-authenticate'), body: (await response.json()) as Record<string, unknown> };
}

const asDpop = async (method: string, path: string, proofOf: Promise<string>, body?: unknown, token = bound) => api(method, path, { authorization: `DPoP ${token}`, dpop: await proofOf }, body);

const invalidProof = { status: 401, body: { error: 'invalid_dpop_proof', error_description: 'invalid DPoP proof' } };

describe('DPoP-bound tokens at the admin API (RFC 9449 §7)', () => {
  it('refuses a DPoP-bound admin token presented as a bearer token, with a DPoP challenge', async () => {
    const answer = await api('GET', '/settings', { authorization: `Bearer ${bound}` });
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 401,
      body: { error: 'invalid_token', error_description: 'this access token is DPoP-bound: present it with the DPoP scheme and a proof' },
    });
    expect(answer.challenge).toMatch(/^DPoP error="invalid_token", error_description="this access token is DPoP-bound: present it with the DPoP scheme and a proof", algs="[^"]*ES256/);
  });

  it('refuses a DPoP-bound admin token as a bearer token for tickets and approvals, and nothing is minted or asked', async () => {
    const mark = server.auditMark();
    const ticket = await api('POST', '/tickets', { authorization: `Bearer ${bound}` }, { subject: 'alice', client_id: 'demo-app', reason: REASON });
    const approval = await api('POST', '/approvals', { authorization: `Bearer ${bound}` }, { subject: 'alice', reason: REASON });
    for (const answer of [ticket, approval]) {
      expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 401, error: 'invalid_token' });
    }
    expect(server.auditSince(mark)).toEqual([]);
  });

  it('accepts a DPoP-bound admin token with a proof of its key', async () => {
    const answer = await asDpop('GET', '/settings', proof(key, 'GET', url('/settings'), bound));
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { enabled: true } });
  });

  it('mints a ticket for a DPoP-bound admin token with a proof of its key', async () => {
    const answer = await asDpop('POST', '/tickets', proof(key, 'POST', url('/tickets'), bound), { subject: 'alice', client_id: 'demo-app', reason: REASON });
    expect(answer.status).toBe(201);
    expect(answer.body.ticket).toMatch(/^imptkt_/);
  });

  it('refuses a proof made with another key', async () => {
    const answer = await asDpop('GET', '/settings', proof(await proofKey(), 'GET', url('/settings'), bound));
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 401, body: { error: 'invalid_token', error_description: 'invalid DPoP key binding' } });
    expect(answer.challenge).toMatch(/^DPoP error="invalid_token"/);
  });

  it('refuses a proof for another URI', async () => {
    const answer = await asDpop('GET', '/settings', proof(key, 'GET', url('/audit'), bound));
    expect({ status: answer.status, body: answer.body }).toEqual(invalidProof);
    expect(answer.challenge).toMatch(/^DPoP error="invalid_dpop_proof", error_description="invalid DPoP proof", algs="/);
  });

  it('refuses a proof for another method', async () => {
    expect(await asDpop('GET', '/settings', proof(key, 'POST', url('/settings'), bound))).toMatchObject(invalidProof);
  });

  it('refuses a proof without ath', async () => {
    expect(await asDpop('GET', '/settings', proof(key, 'GET', url('/settings'), bound, { ath: undefined }))).toMatchObject(invalidProof);
  });

  it('refuses a proof whose ath is the hash of another token', async () => {
    expect(await asDpop('GET', '/settings', proof(key, 'GET', url('/settings'), unbound))).toMatchObject(invalidProof);
  });

  it('refuses a proof that is too old', async () => {
    expect(await asDpop('GET', '/settings', proof(key, 'GET', url('/settings'), bound, { iat: Math.floor(Date.now() / 1000) - 3600 }))).toMatchObject(invalidProof);
  });

  it('refuses a replayed proof', async () => {
    const once = await proof(key, 'GET', url('/settings'), bound);
    expect((await asDpop('GET', '/settings', Promise.resolve(once))).status).toBe(200);
    expect(await asDpop('GET', '/settings', Promise.resolve(once))).toMatchObject(invalidProof);
  });

  it('refuses the DPoP scheme without a proof', async () => {
    expect(await api('GET', '/settings', { authorization: `DPoP ${bound}` })).toMatchObject(invalidProof);
  });

  it('refuses an unbound token presented with the DPoP scheme', async () => {
    const answer = await asDpop('GET', '/settings', proof(key, 'GET', url('/settings'), unbound), undefined, unbound);
    expect({ status: answer.status, body: answer.body }).toEqual({
      status: 401,
      body: { error: 'invalid_token', error_description: 'this access token is not DPoP-bound: present it with the Bearer scheme' },
    });
  });

  it('still accepts an unbound admin token as a bearer token', async () => {
    const answer = await api('GET', '/settings', { authorization: `Bearer ${unbound}` });
    expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { enabled: true } });
  });
});
