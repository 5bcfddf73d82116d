import type { ReplayCache } from './options.js';
import type { VerifiedProof } from '../dpop/proof.js';

// The proof itself is checked by the shared RFC 9449 verifier (src/dpop/proof.ts).
export { verifyProof, type ProofCheck, type ProofResult, type VerifiedProof } from '../dpop/proof.js';

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
