import type { Backend } from './backend.js';
import type { KeyLayout } from './keys.js';

/** What a minted ticket stands for (docs/browser-impersonation.md §1); stored under the ticket's digest, never its value. */
export interface TicketRecord {
  readonly impersonationId: string;
  readonly actor: string;
  readonly subject: string;
  readonly clientId: string;
  readonly reason: string | undefined;
  /** Grants the minting came from (the actor's admin token): revoking one ends the impersonation. */
  readonly sources: readonly string[];
  readonly mintedAt: number;
  readonly expiresAt: number;
  /** `read`: the session is a read-only impersonation (absent: full). */
  readonly mode?: 'read' | undefined;
  /** The subject's approval the ticket was minted under (already spent), and what it allows. */
  readonly approvalId?: string | undefined;
  readonly approvedScopes?: readonly string[] | undefined;
  /** Epoch second the impersonation must end by (the approval's window). */
  readonly notAfter?: number | undefined;
}

/** The outcome of presenting a ticket: redeemed exactly once, or why not. */
export type Redemption =
  | { readonly outcome: 'redeemed'; readonly record: TicketRecord }
  | { readonly outcome: 'unknown' }
  | { readonly outcome: 'used' | 'expired' | 'other_client'; readonly record: TicketRecord };

/**
 * Used and expired tickets stay recognisable this long after their expiry, so a refusal can say
 * which it was (the audit rule); after that they read as unknown.
 */
const TOMBSTONE_SECONDS = 300;

/**
 * Tickets on the shared backend. Redemption is the backend's atomic `consumeEntity` — the operation
 * that makes authorization codes single-use — so of any number of concurrent redemptions on any
 * number of instances exactly one wins, on memory, standalone Redis and Redis Cluster alike.
 */
export class TicketStore {
  constructor(
    private readonly backend: Backend,
    private readonly keys: KeyLayout,
  ) {}

  async put(digest: string, record: TicketRecord, now: number): Promise<void> {
    await this.backend.putEntity(this.keys.ticket(digest), JSON.stringify(record), record.expiresAt - now + TOMBSTONE_SECONDS);
  }

  /** Consumes the ticket (whatever follows, it can never be presented again), then says whether it counts. */
  async redeem(digest: string, clientId: string, now: number): Promise<Redemption> {
    const key = this.keys.ticket(digest);
    const won = await this.backend.consumeEntity(key, now);
    const entity = await this.backend.getEntity(key);
    if (!entity) return { outcome: 'unknown' };
    const record = JSON.parse(entity.json) as TicketRecord;
    if (!won) return { outcome: 'used', record };
    if (record.expiresAt <= now) return { outcome: 'expired', record };
    if (record.clientId !== clientId) return { outcome: 'other_client', record };
    return { outcome: 'redeemed', record };
  }
}
