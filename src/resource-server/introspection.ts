import { sha256 } from '../digest.js';
import type { DenialCode } from './errors.js';

export interface IntrospectionSettings {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post';
  /** How long an active answer may be reused (never past the token's `exp`). */
  readonly maxStalenessSeconds: number;
  readonly cacheMaxEntries: number;
  readonly timeoutMs: number;
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly clockToleranceSeconds: number;
  readonly now: () => number;
  /** How long an inactive answer is reused. */
  readonly negativeCacheSeconds: number;
  /** Introspections of tokens never seen active (see {@link IntrospectionClient}). */
  readonly budget: { perSecond: number; burst: number; perAddressPerSecond: number; perAddressBurst: number };
}

export type IntrospectionResult = { ok: true; claims: Record<string, unknown> } | { ok: false; code: DenialCode; detail: string };

/** The issuer did not answer usably (network, timeout, non-200, not JSON): not the token's fault. */
export class IntrospectionUnavailable extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`introspection failed: ${detail}`, options);
    this.name = 'IntrospectionUnavailable';
  }
}

/** The budget for tokens never seen active is spent: not the token's fault, retry later. */
export class IntrospectionBudgetExceeded extends Error {
  constructor(detail: string) {
    super(`introspection budget spent: ${detail}`);
    this.name = 'IntrospectionBudgetExceeded';
  }
}

/** A token bucket: `rate` per second, at most `burst` saved up. */
class Bucket {
  #tokens: number;
  #at: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  take(now: number): boolean {
    // A clock that went back refills nothing.
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
      this.#at = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** Client addresses with a bucket of their own, at most (the oldest go first). */
const MAX_ADDRESSES = 10_000;
/** The shortest and longest token this introspects: anything else is refused without a call. */
const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_LENGTH = 4096;

interface CacheEntry {
  readonly claims: Record<string, unknown>;
  /** Epoch ms after which the answer must be fetched again. */
  readonly until: number;
}

/** RFC 6749 §2.3.1: client_id and secret are form-encoded before Basic encoding. */
function basic(clientId: string, clientSecret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${btoa(`${encode(clientId)}:${encode(clientSecret)}`)}`;
}

/**
 * An RFC 7662 client with an answer cache. Active answers are kept no longer than the token's
 * `exp` and `maxStalenessSeconds` (so a revocation is seen within that bound); inactive answers for
 * `negativeCacheSeconds` (a token does not become active again), in a map of their own so unknown
 * values never push out active answers. Concurrent requests for one token share one call.
 *
 * Made-up tokens cannot spend the API's introspection allowance at the provider: a value of
 * implausible length is refused without a call, and tokens never seen active are introspected
 * within a budget (overall and per client address); tokens seen active before — the real ones in
 * use — are refreshed outside it.
 */
export class IntrospectionClient {
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inactive = new Map<string, number>();
  /** Digests of tokens seen active, until their `exp` (epoch ms). */
  readonly #known = new Map<string, number>();
  readonly #pending = new Map<string, Promise<Record<string, unknown>>>();
  readonly #settings: IntrospectionSettings;
  readonly #endpoint: () => Promise<string>;
  readonly #budget: Bucket;
  readonly #addresses = new Map<string, Bucket>();

  constructor(settings: IntrospectionSettings, endpoint: () => Promise<string>) {
    this.#settings = settings;
    this.#endpoint = endpoint;
    this.#budget = new Bucket(settings.budget.perSecond, settings.budget.burst, settings.now());
  }

  /**
   * Introspects `token` (or reuses a fresh answer) and checks what the answer says (RFC 7662 §2.2,
   * §4). `address` is the caller's, when known, for its share of the budget. Throws
   * {@link IntrospectionBudgetExceeded} when an unknown token finds the budget spent.
   */
  async introspect(token: string, address?: string): Promise<IntrospectionResult> {
    if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) return { ok: false, code: 'token_malformed', detail: 'implausible length, not introspected' };
    // The cache key is a digest: the cache holds no usable token.
    const key = await sha256(token);
    const now = this.#settings.now();
    const cached = this.#cache.get(key);
    const reused = cached !== undefined && cached.until > now;
    let claims: Record<string, unknown>;
    if (reused) {
      claims = cached.claims;
    } else {
      if (cached) this.#cache.delete(key);
      const inactiveUntil = this.#inactive.get(key);
      if (inactiveUntil !== undefined) {
        if (inactiveUntil > now) return { ok: false, code: 'token_inactive', detail: 'active is not true (cached)' };
        this.#inactive.delete(key);
      }
      let pending = this.#pending.get(key);
      if (!pending) {
        this.#spend(key, address, now);
        pending = this.#call(token).finally(() => this.#pending.delete(key));
        this.#pending.set(key, pending);
      }
      claims = await pending;
    }
    const result = this.#check(claims);
    if (result.ok && !reused) this.#remember(key, claims);
    if (!result.ok && claims.active !== true) this.#rememberInactive(key);
    return result;
  }

  /** A call for a token never seen active takes from the budget (its address's share first). */
  #spend(key: string, address: string | undefined, now: number): void {
    const knownUntil = this.#known.get(key);
    if (knownUntil !== undefined && knownUntil > now) return;
    const { perAddressPerSecond, perAddressBurst } = this.#settings.budget;
    if (address !== undefined) {
      let bucket = this.#addresses.get(address);
      if (!bucket) {
        if (this.#addresses.size >= MAX_ADDRESSES) this.#addresses.delete(this.#addresses.keys().next().value!);
        this.#addresses.set(address, (bucket = new Bucket(perAddressPerSecond, perAddressBurst, now)));
      }
      if (!bucket.take(now)) throw new IntrospectionBudgetExceeded('this address');
    }
    if (!this.#budget.take(now)) throw new IntrospectionBudgetExceeded('overall');
  }

  #rememberInactive(key: string): void {
    const { negativeCacheSeconds, cacheMaxEntries, now } = this.#settings;
    if (negativeCacheSeconds === 0 || cacheMaxEntries === 0) return;
    const at = now();
    if (this.#inactive.size >= cacheMaxEntries) {
      for (const [k, until] of this.#inactive) if (until <= at) this.#inactive.delete(k);
      if (this.#inactive.size >= cacheMaxEntries) this.#inactive.delete(this.#inactive.keys().next().value!);
    }
    this.#inactive.set(key, at + negativeCacheSeconds * 1000);
  }

  #remember(key: string, claims: Record<string, unknown>): void {
    const { maxStalenessSeconds, cacheMaxEntries, now } = this.#settings;
    if (cacheMaxEntries > 0) {
      const at = now();
      if (this.#known.size >= cacheMaxEntries) {
        for (const [k, until] of this.#known) if (until <= at) this.#known.delete(k);
        if (this.#known.size >= cacheMaxEntries) this.#known.delete(this.#known.keys().next().value!);
      }
      this.#known.set(key, (claims.exp as number) * 1000);
    }
    if (maxStalenessSeconds === 0 || cacheMaxEntries === 0) return;
    const until = Math.min(now() + maxStalenessSeconds * 1000, (claims.exp as number) * 1000);
    if (this.#cache.size >= cacheMaxEntries) this.#evict();
    this.#cache.set(key, { claims, until });
  }

  /** Drops expired answers; if none were, the oldest entry (Map order is insertion order). */
  #evict(): void {
    const now = this.#settings.now();
    for (const [key, entry] of this.#cache) if (entry.until <= now) this.#cache.delete(key);
    if (this.#cache.size >= this.#settings.cacheMaxEntries) this.#cache.delete(this.#cache.keys().next().value!);
  }

  #check(claims: Record<string, unknown>): IntrospectionResult {
    const { issuer, audience, clockToleranceSeconds, now } = this.#settings;
    if (claims.active !== true) return { ok: false, code: 'token_inactive', detail: 'active is not true' };
    const type = typeof claims.token_type === 'string' ? claims.token_type.toLowerCase() : undefined;
    if (type !== undefined && type !== 'bearer' && type !== 'dpop') return { ok: false, code: 'token_type', detail: 'not an access token' };
    if (claims.iss !== undefined && claims.iss !== issuer) return { ok: false, code: 'token_issuer', detail: 'iss' };
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.some((a) => audience.includes(a as string))) return { ok: false, code: 'token_audience', detail: 'aud' };
    const epoch = now() / 1000;
    if (typeof claims.exp !== 'number') return { ok: false, code: 'token_claims', detail: 'exp missing' };
    if (claims.exp <= epoch - clockToleranceSeconds) return { ok: false, code: 'token_expired', detail: 'exp' };
    if (typeof claims.nbf === 'number' && claims.nbf > epoch + clockToleranceSeconds) return { ok: false, code: 'token_not_yet_valid', detail: 'nbf' };
    if (typeof claims.iat === 'number' && claims.iat > epoch + clockToleranceSeconds) return { ok: false, code: 'token_not_yet_valid', detail: 'iat in the future' };
    return { ok: true, claims };
  }

  async #call(token: string): Promise<Record<string, unknown>> {
    const { clientId, clientSecret, authMethod, timeoutMs } = this.#settings;
    const body = new URLSearchParams({ token, token_type_hint: 'access_token' });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (authMethod === 'client_secret_basic') headers.authorization = basic(clientId, clientSecret);
    else {
      body.set('client_id', clientId);
      body.set('client_secret', clientSecret);
    }
    let response: Response;
    try {
      response = await fetch(await this.#endpoint(), { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new IntrospectionUnavailable(err instanceof Error ? err.name : 'fetch failed', { cause: err });
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new IntrospectionUnavailable(`HTTP ${response.status}${response.status === 401 ? ' (check the introspection client credentials)' : ''}`);
    }
    const json: unknown = await response.json().catch(() => undefined);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new IntrospectionUnavailable('answer is not a JSON object');
    return json as Record<string, unknown>;
  }
}
