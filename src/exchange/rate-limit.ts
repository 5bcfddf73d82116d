import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { ImpersonationPolicy } from '../config.js';
import { ExchangeRefusal } from '../errors.js';

/** Counts one attempt of an actor; refuses once the actor's budget for the window is spent. */
export interface ActorRateLimiter {
  consume(actorKey: string): Promise<void>;
}

/**
 * SPEC §2: a per-actor limit answered with 429 and `Retry-After`. On a Redis store the count is
 * shared by every instance (`shared.redisClient`, keys under `shared.keyPrefix`); else per process.
 */
export function createActorRateLimiter(policy: ImpersonationPolicy, shared: { redisClient?: unknown; keyPrefix: string }): ActorRateLimiter {
  const { rateLimit } = policy;
  if (rateLimit === false) return { consume: async () => undefined };
  const settings = { points: rateLimit.points, duration: rateLimit.durationSeconds, keyPrefix: shared.keyPrefix };
  const limiter = shared.redisClient ? new RateLimiterRedis({ ...settings, storeClient: shared.redisClient }) : new RateLimiterMemory(settings);
  return {
    async consume(actorKey) {
      try {
        await limiter.consume(`{${actorKey}}`);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw new ExchangeRefusal('actor_rate_limited', 'invalid_request', 'too many impersonation requests by this actor; retry later', {
          status: 429,
          headers: { 'Retry-After': String(retryAfter) },
          detail: `retry after ${retryAfter}s`,
        });
      }
    },
  };
}
