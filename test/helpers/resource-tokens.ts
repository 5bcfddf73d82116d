import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type * as oidc from 'openid-client';
import { TokenType } from '../../src/constants.js';
import { impersonate, ORDERS, ORDERS_API, SUPPORT_CONSOLE, type TestServer } from './server.js';

/** A DPoP key pair (RFC 9449): the client's, or a thief's. */
export interface ProofKey {
  keyPair: oidc.CryptoKeyPair;
  jwk: JWK;
  thumbprint: string;
}

export async function proofKey(): Promise<ProofKey> {
  const keyPair = (await generateKeyPair('ES256', { extractable: true })) as oidc.CryptoKeyPair;
  const jwk = await exportJWK(keyPair.publicKey as CryptoKey);
  return { keyPair, jwk, thumbprint: await calculateJwkThumbprint(jwk) };
}

/** RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token. */
export const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A DPoP proof for `htm` and `htu`, with any field a test may spoil (`typ` goes to the header). */
export function proof(key: ProofKey, htm: string, htu: string, claims: Record<string, unknown> = {}, typ = 'dpop+jwt'): Promise<string> {
  return new SignJWT({ htm, htu, jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ, jwk: key.jwk })
    .sign(key.keyPair.privateKey as CryptoKey);
}

/** Signs claims with a private JWK under any header: forged or broken tokens "from" the provider. */
export async function forge(privateJwk: JWK, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const alg = privateJwk.alg ?? 'RS256';
  return new SignJWT(claims).setProtectedHeader({ alg, kid: privateJwk.kid!, typ: 'at+jwt', ...header }).sign(await importJWK(privateJwk, alg));
}

/** An unsigned JWT (`alg: none`). */
export function unsigned(claims: JWTPayload): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'at+jwt' })}.${part(claims)}.`;
}

/** The tokens the resource-server tests present: real ones from the provider under test. */
export interface RealTokens {
  /** support's own access token (actor token). */
  support: string;
  /** alice's own JWT for the orders API (authorization code with `resource`). */
  alice: string;
  /** support acting as alice: a JWT for the orders API with `act`. */
  impersonated: string;
  /** The impersonated token passed on by orders-api: `act` nests. */
  chained: string;
  /** support acting as alice, bound to `dpopKey` (RFC 9449). */
  bound: string;
  dpopKey: ProofKey;
  /** An opaque impersonation token for the billing API. */
  opaque: string;
  /** The claims of `impersonated`, a base to forge from. */
  claims: JWTPayload;
}

async function exchanged(server: TestServer, params: Record<string, string>, client = SUPPORT_CONSOLE, headers: Record<string, string> = {}): Promise<string> {
  const result = await server.exchange(params, client, headers);
  if (result.status !== 200) throw new Error(`exchange failed: ${JSON.stringify(result.body)}`);
  return result.body.access_token as string;
}

/** Issues every kind of token the tests need through the real provider. */
export async function realTokens(server: TestServer, billing: string): Promise<RealTokens> {
  const support = (await server.signIn('support')).access_token;
  const alice = (await server.signIn('alice', SUPPORT_CONSOLE, undefined, 'openid orders:read', ORDERS)).access_token;
  const impersonated = await exchanged(server, impersonate(support, 'alice', { resource: ORDERS }) as Record<string, string>);
  const chained = await exchanged(server, { subject_token: impersonated, subject_token_type: TokenType.accessToken, resource: ORDERS }, ORDERS_API);
  const dpopKey = await proofKey();
  const bound = await exchanged(server, impersonate(support, 'alice', { resource: ORDERS }) as Record<string, string>, SUPPORT_CONSOLE, {
    dpop: await proof(dpopKey, 'POST', `${server.issuer}/token`),
  });
  const opaque = await exchanged(server, impersonate(support, 'alice', { resource: billing }) as Record<string, string>);
  return { support, alice, impersonated, chained, bound, dpopKey, opaque, claims: decodeJwt(impersonated) };
}
