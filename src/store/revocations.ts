import type { Backend } from './backend.js';
import type { KeyLayout } from './keys.js';
import { HARD_MAX_LIFETIME_SECONDS } from '../constants.js';

/** A revoked JWT access token as the revocation feed publishes it (docs/resource-server.md, "The revocation feed"). */
export interface RevokedToken {
  readonly jti: string;
  /** Epoch seconds: the token's `exp`, after which nobody needs to remember it. */
  readonly exp: number;
  /** The token's audience; `undefined` for a record written before records named it (then every resource server is told). */
  readonly audience: readonly string[] | undefined;
}

/** What a record of a signed token holds (`ImpersonationStore.addJwt`). */
export interface JwtRecord {
  /** The grant it was issued under, or `-` for none. */
  readonly grantId: string;
  /** Epoch seconds; absent in records written before records held it. */
  readonly exp: number | undefined;
  /** The audience of an access token; absent for an ID token and for older records. */
  readonly audience: readonly string[] | undefined;
}

/** Encodes a token record: JSON, so that older records (the bare grant id) still read. */
export function encodeJwtRecord(record: JwtRecord): string {
  return JSON.stringify({ g: record.grantId, e: record.exp, ...(record.audience ? { a: record.audience } : {}) });
}

/** Decodes a token record, old (the bare grant id) or new. */
export function decodeJwtRecord(value: string): JwtRecord {
  if (!value.startsWith('{')) return { grantId: value, exp: undefined, audience: undefined };
  const parsed = JSON.parse(value) as { g: string; e?: number; a?: string[] };
  return { grantId: parsed.g, exp: parsed.e, audience: parsed.a };
}

/** The id namespace of ID tokens recorded by digest (src/exchange/token-ids.ts): never an access token. */
const ID_TOKEN_DIGEST = 'idt.';

/**
 * The revocations of JWT access tokens this provider signed, in the order they happened, each kept
 * until its token's `exp` and no longer: what the provider's revocation feed serves to resource
 * servers that verify JWTs locally. Written wherever a token record is removed by revocation (a
 * grant's members, a grantless token), so every path that revokes a token reaches it.
 */
export class RevocationLog {
  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
  ) {}

  /** The tokens the records under these keys stand for (read before they are deleted). */
  async revokedBy(recordKeys: readonly string[], now = Date.now()): Promise<RevokedToken[]> {
    const prefix = this.keys.jwt('').slice(0, -1);
    const keys = recordKeys.filter((key) => key.startsWith(prefix) && !key.startsWith(`${prefix}${ID_TOKEN_DIGEST}`));
    if (keys.length === 0) return [];
    const values = await this.backend.getMany(keys);
    const revoked: RevokedToken[] = [];
    values.forEach((value, i) => {
      if (value === undefined) return;
      const record = decodeJwtRecord(value);
      const legacy = record.exp === undefined;
      // A record without an audience and with an expiry is an ID token's: no resource server takes it.
      if (!legacy && record.audience === undefined) return;
      const jti = keys[i]!.slice(prefix.length, -1);
      revoked.push({ jti, exp: record.exp ?? Math.floor(now / 1000) + HARD_MAX_LIFETIME_SECONDS, audience: record.audience });
    });
    return revoked;
  }

  /** Appends revocations; each is dropped once its token expired. */
  async publish(tokens: readonly RevokedToken[], now = Date.now()): Promise<void> {
    if (tokens.length === 0) return;
    await this.backend.appendToLog(
      this.keys.revocations(),
      tokens.map((t) => ({ value: JSON.stringify({ j: t.jti, e: t.exp, ...(t.audience ? { a: t.audience } : {}) }), expiresAt: t.exp * 1000 })),
      now,
    );
  }

  /** Revocations numbered after `after` (at most `limit` looked at), with where to go on from. */
  async read(after: number, limit: number, now = Date.now()): Promise<{ epoch: string; tokens: RevokedToken[]; next: number; more: boolean }> {
    const read = await this.backend.readLog(this.keys.revocations(), after, limit, now);
    const tokens = read.entries.map(({ value }) => {
      const parsed = JSON.parse(value) as { j: string; e: number; a?: string[] };
      return { jti: parsed.j, exp: parsed.e, audience: parsed.a };
    });
    return { epoch: read.epoch, tokens, next: read.next, more: read.more };
  }
}
