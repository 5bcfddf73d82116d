import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Backend } from '../store/backend.js';
import type { KeyLayout } from '../store/keys.js';

const KEY_SETTING = 'approval-link-key';

/** What a one-time approval link stands for. */
export interface LinkClaims {
  readonly approvalId: string;
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/**
 * Signs and verifies the one-time links a subject may answer an approval request with:
 * `base64url(JSON { a, e })` + `.` + `base64url(HMAC-SHA256(key, payload))`. The key is 256 random
 * bits kept in the shared store's settings (created once, the same on every instance). A link is
 * single-use by an entity of its own in the store, spent when the subject answers.
 */
export class ApprovalLinks {
  #key: Promise<Buffer> | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
  ) {}

  #secret(): Promise<Buffer> {
    this.#key ??= this.backend
      .setIfAbsent(this.keys.setting(KEY_SETTING), randomBytes(32).toString('base64url'))
      .then((value) => Buffer.from(value, 'base64url'))
      .catch((err: unknown) => {
        this.#key = undefined;
        throw err;
      });
    return this.#key;
  }

  async sign(claims: LinkClaims): Promise<string> {
    const payload = Buffer.from(JSON.stringify({ a: claims.approvalId, e: claims.expiresAt })).toString('base64url');
    const mac = createHmac('sha256', await this.#secret()).update(payload).digest('base64url');
    return `${payload}.${mac}`;
  }

  /** The link's claims when its signature holds and it has not expired; `undefined` otherwise. */
  async verify(token: string, now: number): Promise<LinkClaims | undefined> {
    const match = /^([\w-]{1,400})\.([\w-]{43})$/.exec(token);
    if (!match) return undefined;
    const [, payload, mac] = match;
    const expected = createHmac('sha256', await this.#secret()).update(payload!).digest();
    const given = Buffer.from(mac!, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let claims: { a?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as { a?: unknown; e?: unknown };
    } catch {
      return undefined;
    }
    if (typeof claims.a !== 'string' || typeof claims.e !== 'number' || claims.e <= now) return undefined;
    return { approvalId: claims.a, expiresAt: claims.e };
  }
}
