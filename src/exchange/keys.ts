import { createLocalJWKSet, createRemoteJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { TrustedIssuer } from '../config.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;

/** The public half of a JWK: private members removed, symmetric keys refused. */
function publicJwk(jwk: JWK): JWK | undefined {
  if (jwk.kty === 'oct') return undefined;
  const pub: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete pub[member];
  return pub as JWK;
}

/** Where the verification keys of each accepted issuer come from. */
export interface IssuerKeys {
  /** The key set of `issuer`, or `undefined` when that issuer is not trusted. */
  forIssuer(issuer: string): JWTVerifyGetKey | undefined;
  isOwn(issuer: string): boolean;
}

/** Builds the key sets once, at start-up: the provider's own public keys plus each trusted issuer. */
export function createIssuerKeys(ownIssuer: string, ownJwks: { keys: JWK[] }, trusted: readonly TrustedIssuer[]): IssuerKeys {
  const sets = new Map<string, JWTVerifyGetKey>();
  const ownPublic = ownJwks.keys.map(publicJwk).filter((k): k is JWK => k !== undefined);
  sets.set(ownIssuer, createLocalJWKSet({ keys: ownPublic }));
  for (const t of trusted) {
    if (t.issuer === ownIssuer) continue;
    sets.set(
      t.issuer,
      t.jwks ? createLocalJWKSet(t.jwks as { keys: JWK[] }) : createRemoteJWKSet(new URL(t.jwksUri!)),
    );
  }
  return {
    forIssuer: (issuer) => sets.get(issuer),
    isOwn: (issuer) => issuer === ownIssuer,
  };
}
