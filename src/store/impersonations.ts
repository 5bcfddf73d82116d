import type { Backend } from './backend.js';
import { revokeGrantMembers } from './adapter.js';
import type { KeyLayout } from './keys.js';

/** One live impersonation: what bulk revocation, the cascade and the console need to know. */
export interface ImpersonationRecord {
  /** The grant backing the issued token (one grant per exchanged token). */
  readonly grantId: string;
  readonly impersonationId: string;
  readonly actor: string;
  readonly subject: string;
  readonly clientId: string;
  readonly reason?: string | undefined;
  readonly startedAt: number;
  readonly expiresAt: number;
  /** The grant of the actor's own token, for the cascade when it is revoked. */
  readonly sourceGrantId?: string | undefined;
  /** The token's id as the audit trail names it. */
  readonly tokenId: string;
}

/** Which live impersonations an operation applies to. */
export type ImpersonationFilter = { actor: string } | { subject: string } | { sourceGrantId: string } | { all: true };

const ENABLED = 'impersonation-enabled';

/**
 * The shared state of impersonation: every live impersonation indexed by actor, subject and the
 * actor grant it came from; JWT access token records by `jti`; the global switch. Lives in the
 * same backend as the provider's adapter, so every instance sharing it sees the same state.
 */
export class ImpersonationStore {
  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
  ) {}

  #indexes(record: Pick<ImpersonationRecord, 'actor' | 'subject' | 'sourceGrantId'>): string[] {
    return [
      this.keys.allImpersonations(),
      this.keys.impersonationsOfActor(record.actor),
      this.keys.impersonationsOfSubject(record.subject),
      ...(record.sourceGrantId ? [this.keys.impersonationsFromGrant(record.sourceGrantId)] : []),
    ];
  }

  #indexOf(filter: ImpersonationFilter): string {
    if ('actor' in filter) return this.keys.impersonationsOfActor(filter.actor);
    if ('subject' in filter) return this.keys.impersonationsOfSubject(filter.subject);
    if ('sourceGrantId' in filter) return this.keys.impersonationsFromGrant(filter.sourceGrantId);
    return this.keys.allImpersonations();
  }

  /** Records a live impersonation for `ttlSeconds` (its token's lifetime). */
  async add(record: ImpersonationRecord, ttlSeconds: number): Promise<void> {
    await Promise.all(this.#indexes(record).map((index) => this.backend.addToSet(index, record.grantId, ttlSeconds)));
    await this.backend.set(this.keys.impersonation(record.grantId), JSON.stringify(record), ttlSeconds);
  }

  async get(grantId: string): Promise<ImpersonationRecord | undefined> {
    const json = await this.backend.get(this.keys.impersonation(grantId));
    return json === undefined ? undefined : (JSON.parse(json) as ImpersonationRecord);
  }

  /** Live impersonations matching the filter; index members whose record expired are pruned. */
  async list(filter: ImpersonationFilter): Promise<ImpersonationRecord[]> {
    const index = this.#indexOf(filter);
    const grantIds = await this.backend.members(index);
    const records = await Promise.all(grantIds.map((id) => this.get(id)));
    const stale = grantIds.filter((_, i) => records[i] === undefined);
    if (stale.length) await this.backend.removeFromSet(index, stale);
    return records.filter((r): r is ImpersonationRecord => r !== undefined);
  }

  /**
   * Ends impersonations: deletes each one's tokens (every member of its grant, JWT records
   * included), its grant, its record and its index entries. Answers the records it ended.
   */
  async revoke(records: readonly ImpersonationRecord[], grantEntityKey: (grantId: string) => string): Promise<void> {
    await Promise.all(
      records.map(async (record) => {
        await revokeGrantMembers(this.backend, this.keys, record.grantId);
        await this.backend.delete([grantEntityKey(record.grantId), this.keys.impersonation(record.grantId)]);
        await Promise.all(this.#indexes(record).map((index) => this.backend.removeFromSet(index, [record.grantId])));
      }),
    );
  }

  /** Records a JWT access token by `jti` under its grant, so revoking the grant removes it. */
  async addJwt(jti: string, grantId: string, ttlSeconds: number): Promise<void> {
    const key = this.keys.jwt(jti);
    await this.backend.addToSet(this.keys.grant(grantId), key, ttlSeconds);
    await this.backend.set(key, grantId, ttlSeconds);
  }

  /** The grant of a recorded JWT access token, or `undefined` once revoked or expired. */
  async jwtGrant(jti: string): Promise<string | undefined> {
    return this.backend.get(this.keys.jwt(jti));
  }

  /** The global switch; `fallback` (the configured default) until someone sets it. */
  async isEnabled(fallback: boolean): Promise<boolean> {
    const value = await this.backend.get(this.keys.setting(ENABLED));
    return value === undefined ? fallback : value === 'true';
  }

  async setEnabled(enabled: boolean): Promise<void> {
    await this.backend.set(this.keys.setting(ENABLED), String(enabled), undefined);
  }
}
