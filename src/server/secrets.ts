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
export async function sharedSecrets(store: Store, issuer: string): Promise<{ jwks: { keys: JWK[] }; cookieKeys: string[] }> {
  await claimPrefix(store, issuer);
  const jwks = await store.backend.setIfAbsent(store.keys.setting('demo-jwks'), JSON.stringify(await generateSigningKeys()));
  const cookies = await store.backend.setIfAbsent(store.keys.setting('demo-cookie-keys'), JSON.stringify([randomBytes(32).toString('base64url')]));
  return { jwks: JSON.parse(jwks) as { keys: JWK[] }, cookieKeys: JSON.parse(cookies) as string[] };
}

/**
 * Claims the store's key prefix for this issuer, or refuses to start: a second deployment on the same
 * Redis database and prefix would silently share the first one's signing keys, cookie keys, sessions
 * and tokens (docs/storage.md#one-prefix-per-deployment). Every instance of one issuer shares it.
 */
export async function claimPrefix(store: Store, issuer: string): Promise<void> {
  const owner = await store.backend.setIfAbsent(store.keys.setting('issuer'), issuer);
  if (owner !== issuer) {
    throw new Error(
      `REDIS_PREFIX ${store.keys.prefix} on this Redis database already belongs to the issuer ${owner}, not ${issuer}: ` +
        "the prefix holds that issuer's signing keys, cookie keys, sessions and tokens, so a second deployment must not share it. " +
        'Give each deployment its own REDIS_PREFIX (or its own database).',
    );
  }
}
