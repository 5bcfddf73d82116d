import type { AdapterConstructor } from 'oidc-provider';
import { createAdapter } from './adapter.js';
import type { Backend } from './backend.js';
import { ApprovalStore } from './approvals.js';
import { DelegationStore } from './delegations.js';
import { ImpersonationStore } from './impersonations.js';
import { KeyLayout } from './keys.js';
import { MemoryBackend } from './memory.js';
import { TicketStore } from './tickets.js';
import { RevocationLog } from './revocations.js';
import { batching, WriteBatch } from './write-batch.js';

/** One storage backend, seen as oidc-provider's adapter and as the impersonation store. */
export interface Store {
  readonly backend: Backend;
  readonly keys: KeyLayout;
  /** Pass as `adapter` in the provider configuration. */
  readonly adapter: AdapterConstructor;
  readonly impersonations: ImpersonationStore;
  /** Browser-impersonation tickets (docs/browser-impersonation.md §1). */
  readonly tickets: TicketStore;
  /** Requests for the subject's approval (`policy.requireSubjectApproval`). */
  readonly approvals: ApprovalStore;
  /** Users' delegations to agent clients (docs/beyond-impersonation.md). */
  readonly delegations: DelegationStore;
  /** Revoked JWT access tokens, in order, until their `exp`: what the revocation feed serves. */
  readonly revocations: RevocationLog;
  /** A batch collecting this store's writes, to commit them together (see {@link WriteBatch}). */
  batch(): WriteBatch;
  close(): Promise<void>;
}

/** Wraps a backend; `prefix` namespaces every key (default `oidc:`). */
export function createStore(backend: Backend, prefix = 'oidc:'): Store {
  const keys = new KeyLayout(prefix);
  return {
    backend,
    keys,
    adapter: createAdapter(backend, keys),
    impersonations: new ImpersonationStore(batching(backend), keys),
    tickets: new TicketStore(backend, keys),
    approvals: new ApprovalStore(backend, keys),
    delegations: new DelegationStore(backend, keys),
    revocations: new RevocationLog(backend, keys),
    batch: () => new WriteBatch(backend),
    close: () => backend.close(),
  };
}

/** A store in process memory: for one instance, development and tests. */
export function createMemoryStore(prefix?: string): Store {
  return createStore(new MemoryBackend(), prefix);
}

export type { Backend, LinkedRead, LinkedValues, LogEntry, LogRead, StoreWrite, TimelineEntry, TimelineRange } from './backend.js';
export type { HistoryCursor, HistoryEntry, ImpersonationFilter, ImpersonationRecord, Standing, SwitchState } from './impersonations.js';
export { HISTORY_RETENTION_SECONDS } from './impersonations.js';
export type { StoreAdapter } from './adapter.js';
export type { Redemption, TicketRecord } from './tickets.js';
export type { ApprovalRecord, ApprovalStatus } from './approvals.js';
export type { DelegationRecord, DelegationStatus } from './delegations.js';
export type { RevocationLog, RevokedToken } from './revocations.js';
export { KeyLayout } from './keys.js';
export { WriteBatch, withWriteBatch } from './write-batch.js';
