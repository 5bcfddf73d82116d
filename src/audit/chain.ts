import { createHash } from 'node:crypto';
import type { AuditEvent } from './events.js';

/** The `prev_hash` of the first record of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** An audit record as stored: the event plus its link in the SHA-256 chain (docs/audit.md). */
export interface ChainedAuditRecord extends AuditEvent {
  readonly prev_hash: string;
  readonly hash: string;
}

/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped — the same bytes
 * for the same record on every instance, whatever order its fields were set in.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record = value as Record<string, unknown>;
  // Keys sorted by UTF-16 code units (the default sort), each value written once.
  let out = '{';
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${out.length > 1 ? ',' : ''}${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}

/**
 * `hash` = SHA-256 (hex) of `prev_hash`, a newline, and the canonical JSON of the event (the record
 * without `prev_hash` and `hash`): each record commits to its content and to every record before it.
 */
export function hashRecord(event: AuditEvent, prevHash: string): string {
  return hashCanonical(canonicalJson(event), prevHash);
}

/** {@link hashRecord} for an event already in canonical JSON. */
export function hashCanonical(canonicalEvent: string, prevHash: string): string {
  return createHash('sha256').update(`${prevHash}\n${canonicalEvent}`).digest('hex');
}

/** Links an event to the chain after `prevHash`. */
export function chain(event: AuditEvent, prevHash: string): ChainedAuditRecord {
  return Object.assign({}, event, { prev_hash: prevHash, hash: hashRecord(event, prevHash) });
}

/** The outcome of verifying a sequence of records. */
export type VerifyResult =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly count: number; readonly position: number; readonly id: string | undefined; readonly problem: string };

/**
 * Verifies records in order: each one's `hash` must match its content (else it was edited) and its
 * `prev_hash` the previous record's `hash` (else one was deleted, inserted or reordered). Positions
 * count from 1. The first record's `prev_hash` must be the genesis hash unless `continues` is set
 * (an export that starts mid-chain).
 */
export function verifyChain(records: Iterable<ChainedAuditRecord>, options: { continues?: boolean } = {}): VerifyResult {
  let previous: string | undefined = options.continues ? undefined : GENESIS_HASH;
  let position = 0;
  for (const record of records) {
    position += 1;
    const { hash, prev_hash: prevHash, ...event } = record;
    if (typeof hash !== 'string' || typeof prevHash !== 'string' || hashRecord(event, prevHash) !== hash) {
      return { ok: false, count: position - 1, position, id: record.id, problem: 'hash does not match the record (edited)' };
    }
    if (previous !== undefined && prevHash !== previous) {
      return { ok: false, count: position - 1, position, id: record.id, problem: 'prev_hash does not match the previous record (a record was deleted, inserted or reordered before it)' };
    }
    previous = hash;
  }
  return { ok: true, count: position };
}
