import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '../observability/logger.js';

/** The type of the provider's signed answer (src/lifecycle/revocation-feed.ts). */
const FEED_TYPE = 'revocations+jwt';

/** How often revocations past their token's `exp` are forgotten. */
const SWEEP_MS = 60_000;
/** Kept this long past `exp`: the most clock tolerance a local verification may allow. */
const KEEP_AFTER_EXP_SECONDS = 60;

export interface RevocationFeedSettings {
  readonly endpoint: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly issuer: string;
  readonly algorithms: readonly string[];
  readonly keys: () => Promise<JWTVerifyGetKey>;
  readonly pollIntervalMs: number;
  readonly maxStalenessSeconds: number;
  readonly timeoutMs: number;
  readonly now: () => number;
  readonly logger: Logger | undefined;
}

/** What the toolkit's health output says about the feed. */
export interface RevocationFeedHealth {
  /** `fresh`: the last answer is within `maxStalenessSeconds`; `stale`: it is not (or none came yet). */
  readonly state: 'fresh' | 'stale';
  /** When the last successful poll was sent (epoch ms), if any. */
  readonly lastSyncAt: number | undefined;
  /** How long ago that was (ms). */
  readonly ageMs: number | undefined;
  /** Revoked tokens remembered (until their `exp`). */
  readonly revoked: number;
  /** Why the last poll failed, when it did (never a token or a secret). */
  readonly lastError: string | undefined;
}

/** RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic encoding. */
function basic(clientId: string, clientSecret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${btoa(`${encode(clientId)}:${encode(clientSecret)}`)}`;
}

/** One revocation as the feed lists it. */
interface Revoked {
  readonly jti: string;
  readonly exp: number;
}

function isRevocationList(value: unknown): value is Revoked[] {
  return Array.isArray(value) && value.every((r) => typeof r === 'object' && r !== null && typeof (r as Revoked).jti === 'string' && typeof (r as Revoked).exp === 'number');
}

/**
 * The subscriber side of the provider's revocation feed (docs/resource-server.md, "The revocation
 * feed"): polls `GET <endpoint>?after=<cursor>` every `pollIntervalMs`, verifies each answer's
 * signature with the issuer's key set, and remembers every revoked `jti` until its `exp`. The
 * check per request is one map lookup. The feed is fresh while the last successful poll was sent
 * at most `maxStalenessSeconds` ago; the verifier decides what a stale feed means.
 */
export class RevocationFeedClient {
  readonly #settings: RevocationFeedSettings;
  readonly #revoked = new Map<string, number>();
  #cursor: string | undefined;
  #lastSyncAt: number | undefined;
  #lastError: string | undefined;
  #lastSweep = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  #inFlight: Promise<void> | undefined;
  #first: Promise<void> | undefined;
  #reportedStale = false;

  constructor(settings: RevocationFeedSettings) {
    this.#settings = settings;
  }

  /** Starts polling; the first poll goes out at once. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#first = this.#tick();
  }

  /** Stops polling (a poll in flight finishes). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Settles once the first poll after `start()` answered or failed. */
  firstPoll(): Promise<void> {
    return this.#first ?? Promise.resolve();
  }

  /** Whether the revocation of this `jti` was published (and its token has not expired). */
  isRevoked(jti: string): boolean {
    return this.#revoked.has(jti);
  }

  /** Whether the last successful poll was sent within `maxStalenessSeconds`. */
  isFresh(): boolean {
    return this.#lastSyncAt !== undefined && this.#settings.now() - this.#lastSyncAt <= this.#settings.maxStalenessSeconds * 1000;
  }

  health(): RevocationFeedHealth {
    const at = this.#lastSyncAt;
    return {
      state: this.isFresh() ? 'fresh' : 'stale',
      lastSyncAt: at,
      ageMs: at === undefined ? undefined : this.#settings.now() - at,
      revoked: this.#revoked.size,
      lastError: this.#lastError,
    };
  }

  /** Polls until the feed has nothing more (one request, unless a page was full). Shares a poll in flight. */
  sync(): Promise<void> {
    this.#inFlight ??= this.#drain().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #tick(): Promise<void> {
    try {
      await this.sync();
    } catch {
      // recorded in #lastError and logged by #drain
    } finally {
      if (!this.#stopped) {
        this.#timer = setTimeout(() => void this.#tick(), this.#settings.pollIntervalMs);
        // Never keeps a process alive on its own.
        (this.#timer as { unref?: () => void }).unref?.();
      }
    }
  }

  async #drain(): Promise<void> {
    try {
      for (let page = 0; page < 1000; page += 1) {
        const sentAt = this.#settings.now();
        const more = await this.#poll();
        if (!more) {
          this.#lastSyncAt = sentAt;
          break;
        }
      }
      if (this.#lastError !== undefined || this.#reportedStale) this.#settings.logger?.info({ revoked: this.#revoked.size }, 'resource server: revocation feed fresh again');
      this.#lastError = undefined;
      this.#reportedStale = false;
      this.#sweep();
    } catch (err) {
      this.#lastError = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 200) : 'poll failed';
      if (!this.isFresh() && !this.#reportedStale) {
        this.#reportedStale = true;
        this.#settings.logger?.warn({ detail: this.#lastError, lastSyncAt: this.#lastSyncAt }, 'resource server: revocation feed stale');
      }
      throw err;
    }
  }

  /** One request; answers whether the provider has more to send at once. */
  async #poll(): Promise<boolean> {
    const { endpoint, clientId, clientSecret, timeoutMs, issuer, algorithms, now } = this.#settings;
    const url = new URL(endpoint);
    if (this.#cursor !== undefined) url.searchParams.set('after', this.#cursor);
    const response = await fetch(url, {
      headers: { authorization: basic(clientId, clientSecret), accept: 'application/jwt' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}${response.status === 401 ? ' (check the feed client credentials)' : ''}`);
    }
    const jws = await response.text();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(jws, await this.#settings.keys(), {
        issuer,
        audience: clientId,
        typ: FEED_TYPE,
        algorithms: [...algorithms],
        currentDate: new Date(now()),
        requiredClaims: ['iat', 'exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new Error(`answer not verified: ${err.code}`);
      throw err;
    }
    const { cursor, reset, more, revoked } = payload;
    if (typeof cursor !== 'string' || !isRevocationList(revoked)) throw new Error('answer malformed');
    if (reset === true) this.#revoked.clear();
    const epoch = now() / 1000;
    for (const { jti, exp } of revoked) if (exp + KEEP_AFTER_EXP_SECONDS > epoch) this.#revoked.set(jti, exp);
    this.#cursor = cursor;
    return more === true;
  }

  #sweep(): void {
    const now = this.#settings.now();
    if (now - this.#lastSweep < SWEEP_MS) return;
    this.#lastSweep = now;
    const epoch = now / 1000;
    for (const [jti, exp] of this.#revoked) if (exp + KEEP_AFTER_EXP_SECONDS <= epoch) this.#revoked.delete(jti);
  }
}
