import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Limiter, LimitVerdict } from './rate-limit.js';

/** The answer to an address (or a client from it) past its budget of wrong client credentials. */
export const UNAUTHENTICATED = 'too many unauthenticated requests from this address; retry later';
const UNSPENT_MS = 1000;
const UNSPENT_MAX = 10_000;

/** RFC 6585 §4: 429 with `Retry-After`, no challenge, in the OAuth error shape of the endpoint. */
export function tooManyRequests(ctx: KoaContextWithOIDC, verdict: Pick<Extract<LimitVerdict, { allowed: false }>, 'retryAfter'>, description: string): void {
  ctx.status = 429;
  ctx.remove('WWW-Authenticate');
  ctx.set('Retry-After', String(verdict.retryAfter));
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error: 'invalid_request', error_description: description };
}

/** The client id of an HTTP Basic `Authorization` header (RFC 6749 §2.3.1: form-encoded), unproven. */
export function basicClientId(ctx: KoaContextWithOIDC): string | undefined {
  const [scheme, credentials] = ctx.get('authorization').split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !credentials) return undefined;
  const id = Buffer.from(credentials, 'base64').toString('utf8').split(':')[0];
  try {
    return id ? decodeURIComponent(id.replaceAll('+', ' ')) : undefined;
  } catch {
    return id;
  }
}

/** One more request counted under `key`; the limiter's store failing allows it (the answer already given stands). */
export async function verdictOf(limiter: Limiter, key: string): Promise<LimitVerdict> {
  try {
    return await limiter.consume(key);
  } catch {
    return { allowed: true }; // the limiter's store failed: the answer already given stands
  }
}

/**
 * The limit on guessing client secrets (docs/policy.md "Rate limits"), one for every endpoint that
 * authenticates clients: the token, introspection and revocation endpoints and the resource servers'
 * routes. Refusals without client authentication count against the address, and a wrong secret
 * also against the client its HTTP Basic header names from there; once that budget is spent, the
 * client's requests from the address are answered 429 before their credentials are checked, so a
 * right secret answers like a wrong one until the window ends.
 */
export class ClientGuessing {
  readonly #limiter: Limiter;
  /**
   * Keys this instance found unspent, until when it trusts that without asking the store again: a
   * client that authenticates well costs no round trip for the lock-out check more than once a
   * second. A refusal counted here forgets its keys at once; one counted on another instance
   * reaches this one within UNSPENT_MS.
   */
  readonly #unspent = new Map<string, number>();

  constructor(limiter: Limiter) {
    this.#limiter = limiter;
  }

  static #addressKey(ctx: KoaContextWithOIDC): string {
    return `ip ${ctx.ip}`;
  }

  /**
   * What a guesser is shut out of: the client named in an HTTP Basic header from this address (so a
   * neighbour behind the same address keeps its other clients), else the whole address — a body's
   * `client_id` cannot be read before oidc-provider parses it.
   */
  static #guessKey(ctx: KoaContextWithOIDC): string {
    const clientId = basicClientId(ctx);
    return clientId === undefined ? ClientGuessing.#addressKey(ctx) : `ip ${ctx.ip} client ${clientId}`;
  }

  /** Answers 429 and returns `true` when the budget of this client from this address is spent; the store failing lets the request through. */
  async blocked(ctx: KoaContextWithOIDC): Promise<boolean> {
    const key = ClientGuessing.#guessKey(ctx);
    const now = Date.now();
    if ((this.#unspent.get(key) ?? 0) > now) return false;
    let retryAfter: number | undefined;
    try {
      retryAfter = await this.#limiter.spent(key);
    } catch {
      return false;
    }
    if (retryAfter === undefined) {
      if (this.#unspent.size >= UNSPENT_MAX) this.#unspent.clear();
      this.#unspent.set(key, now + UNSPENT_MS);
      return false;
    }
    tooManyRequests(ctx, { retryAfter }, UNAUTHENTICATED);
    return true;
  }

  /**
   * Counts a refusal without client authentication against the address, and — for a wrong secret —
   * against the client it named from there. Over the address's budget the refusal becomes a 429.
   */
  async count(ctx: KoaContextWithOIDC, wrongSecret: boolean): Promise<LimitVerdict> {
    const address = ClientGuessing.#addressKey(ctx);
    const guessed = ClientGuessing.#guessKey(ctx);
    this.#unspent.delete(address);
    this.#unspent.delete(guessed);
    const verdict = await verdictOf(this.#limiter, address);
    if (wrongSecret && guessed !== address) await verdictOf(this.#limiter, guessed);
    if (!verdict.allowed) tooManyRequests(ctx, verdict, UNAUTHENTICATED);
    return verdict;
  }
}
