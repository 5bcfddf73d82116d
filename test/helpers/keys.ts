import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

/** A signing key pair for a test issuer: the private JWK and its public JWKS. */
export async function testKeys(kid: string, alg: 'ES256' | 'RS256' = 'ES256'): Promise<{ privateJwk: JWK; jwks: { keys: JWK[] } }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateJwk, jwks: { keys: [publicJwk] } };
}

/** Signs a JWT with a private JWK (ES256 or RS256 per the key's `alg`). */
export async function signJwt(privateJwk: JWK, payload: JWTPayload, typ = 'JWT'): Promise<string> {
  const alg = privateJwk.alg ?? 'ES256';
  const key = await importJWK(privateJwk, alg);
  return new SignJWT(payload).setProtectedHeader({ alg, kid: privateJwk.kid!, typ }).sign(key);
}

export const now = () => Math.floor(Date.now() / 1000);
