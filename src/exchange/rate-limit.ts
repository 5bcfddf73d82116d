import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { ImpersonationPolicy, RateLimit } from '../config.js';
import { ExchangeRefusal } from '../errors.js';

/** Where counters live: Redis when the store has a client (shared by every instance), else this process. */
export interface LimiterStore {
  readonly redisClient?: unknown;
  readonly keyPrefix: string;
}

/** The verdict on one more request under a key. */
export type LimitVerdict =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Whole seconds until the window resets (the `Retry-After` value, RFC 9110 §10.2.3). */
      readonly retryAfter: number;
      /** This request is the first one over the budget in its window. */
      readonly firstRefused: boolean;
    };

/** Counts requests per key within a fixed window (rate-limiter-flexible). */
export interface Limiter {
  consume(key: string): Promise<LimitVerdict>;
  /** Whether the key's budget for this window is already spent, without counting: the seconds until it resets. */
  spent(key: string): Promise<number | undefined>;
  /** Whether the key's budget for this window is spent already, counting nothing (`firstRefused` is false). */
  peek(key: string): Promise<LimitVerdict>;
}

const UNLIMITED: Limiter = { consume: async () => ({ allowed: true }), spent: async () => undefined, peek: async () => ({ allowed: true }) };

/**
 * A fixed-window limiter of `limit.points` per `limit.durationSeconds` per key. Keys carry a Redis
 * Cluster hash tag. With `failOpen`, a store failure counts in process memory instead of failing the
 * request (rate-limiter-flexible's insurance limiter).
 */
export function createLimiter(limit: RateLimit | false, store: LimiterStore, options: { failOpen?: boolean } = {}): Limiter {
  if (limit === false) return UNLIMITED;
  const settings = { points: limit.points, duration: limit.durationSeconds, keyPrefix: store.keyPrefix };
  const limiter = store.redisClient
    ? new RateLimiterRedis({
        ...settings,
        storeClient: store.redisClient,
        ...(options.failOpen ? { insuranceLimiter: new RateLimiterMemory(settings) } : {}),
      })
    : new RateLimiterMemory(settings);
  /** The key's current window, if one is running. */
  const windowOf = async (key: string) => {
    const current = await limiter.get(`{${key}}`);
    return current && current.msBeforeNext > 0 ? current : undefined;
  };
  const retryAfterOf = (window: { msBeforeNext: number }) => Math.max(1, Math.ceil(window.msBeforeNext / 1000));
  return {
    async consume(key) {
      try {
        await limiter.consume(`{${key}}`);
        return { allowed: true };
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return {
          allowed: false,
          retryAfter: retryAfterOf(rejection),
          firstRefused: rejection.consumedPoints === limit.points + 1,
        };
      }
    },
    // Both read the window without counting; `spent` holds once a request went over the budget (the
    // one that spent it was answered), `peek` as soon as the budget is used up.
    async spent(key) {
      const current = await windowOf(key);
      return current && current.consumedPoints > limit.points ? retryAfterOf(current) : undefined;
    },
    async peek(key) {
      const current = await windowOf(key);
      if (!current || current.consumedPoints < limit.points) return { allowed: true };
      return { allowed: false, retryAfter: retryAfterOf(current), firstRefused: false };
    },
  };
}

/** Counts one attempt of an actor; refuses once the actor's budget for the window is spent. */
export interface ActorRateLimiter {
  consume(actorKey: string): Promise<void>;
}

/**
 * docs/policy.md: a per-actor limit answered with 429 and `Retry-After`. On a Redis store the count is
 * shared by every instance (`store.redisClient`, keys under `store.keyPrefix`); else per process.
 */
export function createActorRateLimiter(policy: ImpersonationPolicy, store: LimiterStore): ActorRateLimiter {
  const limiter = createLimiter(policy.rateLimit, store);
  return {
    async consume(actorKey) {
      const verdict = await limiter.consume(actorKey);
      if (verdict.allowed) return;
      throw new ExchangeRefusal('actor_rate_limited', 'invalid_request', 'too many impersonation requests by this actor; retry later', {
        status: 429,
        headers: { 'Retry-After': String(verdict.retryAfter) },
        detail: `retry after ${verdict.retryAfter}s`,
      });
    },
  };
}
