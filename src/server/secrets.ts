import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import type { Store } from '../store/index.js';
import { generateSigningKeys } from './provider.js';

/**
 * The provider's signing keys and cookie keys, shared through the store: the first instance
 * generates them, every other instance on the same store reads the same ones (so a token signed
 * by one verifies at another, and a session cookie set by one is read by another). Demo key
 * material only — a production deployment brings its own keys.
 */
export async function sharedSecrets(store: Store): Promise<{ jwks: { keys: JWK[] }; cookieKeys: string[] }> {
  const jwks = await store.backend.setIfAbsent(store.keys.setting('demo-jwks'), JSON.stringify(await generateSigningKeys()));
  const cookies = await store.backend.setIfAbsent(store.keys.setting('demo-cookie-keys'), JSON.stringify([randomBytes(32).toString('base64url')]));
  return { jwks: JSON.parse(jwks) as { keys: JWK[] }, cookieKeys: JSON.parse(cookies) as string[] };
}
