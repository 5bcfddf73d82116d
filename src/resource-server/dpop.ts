import { calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify } from 'jose';
import type { ReplayCache } from '../config.js';
import { sha256 } from './digest.js';
import type { DenialCode } from './errors.js';

export interface ProofCheck {
  readonly algorithms: readonly string[];
  readonly iatWindowSeconds: number;
  readonly clockToleranceSeconds: number;
  readonly now: () => number;
}

/** A proof whose signature and claims hold; its `jti` is not yet recorded (see {@link rememberProof}). */
export interface VerifiedProof {
  readonly thumbprint: string;
  readonly jti: string;
  /** Epoch ms until which the proof's `jti` must be remembered. */
  readonly rememberUntil: number;
}

export type ProofResult = { ok: true; proof: VerifiedProof } | { ok: false; code: DenialCode; detail: string };

const fail = (code: DenialCode, detail: string): ProofResult => ({ ok: false, code, detail });

/** RFC 9449 §4.3 step 9: the request URI without query and fragment, normalized by the URL parser. */
function withoutQuery(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    return `${url.origin}${url.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * RFC 9449 §4.3 and §7.1: one proof header; a JWS of `typ` `dpop+jwt` with an asymmetric allowed
 * `alg`, signed by the public key in its `jwk` header; `htm` is the request method, `htu` the
 * request URI (query and fragment ignored); `iat` within the window; a `jti`; and `ath` the
 * base64url SHA-256 of the access token. The key binding (`cnf.jkt`) and replay are checked by the
 * caller once the token is verified.
 */
export async function verifyProof(proof: string | undefined, request: { method: string; url: string }, accessToken: string, check: ProofCheck): Promise<ProofResult> {
  if (proof === undefined || proof === '') return fail('dpop_proof_missing', 'no DPoP header');
  if (proof.includes(',')) return fail('dpop_proof_multiple', 'more than one DPoP header');
  let verified;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...check.algorithms],
      // iat is checked against the window below; exp/nbf, when present, still hold.
      clockTolerance: check.clockToleranceSeconds,
      currentDate: new Date(check.now()),
    });
  } catch (err) {
    return fail('dpop_proof_invalid', err instanceof errors.JOSEError ? err.code : 'unverifiable');
  }
  const { payload, protectedHeader } = verified;
  if (payload.htm !== request.method) return fail('dpop_proof_method', 'htm is not the request method');
  if (typeof payload.htu !== 'string' || withoutQuery(payload.htu) !== withoutQuery(request.url)) return fail('dpop_proof_url', 'htu is not the request URI');
  const now = check.now() / 1000;
  if (typeof payload.iat !== 'number' || payload.iat < now - check.iatWindowSeconds || payload.iat > now + check.clockToleranceSeconds) {
    return fail('dpop_proof_iat', 'iat outside the window');
  }
  if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256) return fail('dpop_proof_invalid', 'jti missing');
  if (payload.ath !== (await sha256(accessToken))) return fail('dpop_proof_ath', 'ath is not the hash of the presented token');
  return {
    ok: true,
    proof: {
      thumbprint: await calculateJwkThumbprint(protectedHeader.jwk!, 'sha256'),
      jti: payload.jti,
      rememberUntil: (payload.iat + check.iatWindowSeconds + check.clockToleranceSeconds) * 1000,
    },
  };
}

/** RFC 9449 §11.1: each proof once. Keyed by the proof key and `jti`, so nobody can spend another key's `jti`. */
export async function rememberProof(cache: ReplayCache, proof: VerifiedProof): Promise<boolean> {
  return cache.remember(`${proof.thumbprint}:${proof.jti}`, proof.rememberUntil);
}

/**
 * The default replay cache: in process memory, each key until its expiry. When `maxEntries` keys
 * are live it refuses new ones (fails closed) rather than forget a live one. One process only: a
 * fleet of API instances should share a cache (implement {@link ReplayCache} on Redis, say).
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  remember(key: string, expiresAt: number): boolean {
    const now = this.#now();
    const known = this.#seen.get(key);
    if (known !== undefined && known > now) return false;
    if (this.#seen.size >= this.#maxEntries) {
      for (const [k, until] of this.#seen) if (until <= now) this.#seen.delete(k);
      if (this.#seen.size >= this.#maxEntries) return false;
    }
    this.#seen.set(key, expiresAt);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}
