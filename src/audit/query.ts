import type { ChainedAuditRecord } from './chain.js';
import type { AuditLog } from './log.js';

/** Which records a query returns (docs/audit.md): every given field must match. */
export interface AuditFilter {
  readonly actor?: string | undefined;
  readonly subject?: string | undefined;
  readonly event?: string | undefined;
  readonly outcome?: string | undefined;
  /** ISO 8601 bounds on `time`, inclusive. */
  readonly since?: string | undefined;
  readonly until?: string | undefined;
}

export interface AuditPage {
  readonly records: ChainedAuditRecord[];
  /** Pass back as `cursor` for the next (older) page; absent when the log is exhausted. */
  readonly next_cursor?: string | undefined;
}

const PAGE = 200;
const MAX_SCAN = 20_000;

export function matches(record: ChainedAuditRecord, filter: AuditFilter): boolean {
  return (
    (filter.actor === undefined || record.actor === filter.actor) &&
    (filter.subject === undefined || record.subject === filter.subject) &&
    (filter.event === undefined || record.event === filter.event) &&
    (filter.outcome === undefined || record.outcome === filter.outcome) &&
    (filter.since === undefined || record.time >= filter.since) &&
    (filter.until === undefined || record.time <= filter.until)
  );
}

/**
 * Newest first, `limit` matching records per page, cursor-paginated. Scans at most 20,000
 * records per call; a page may then be short, with a cursor to go on from.
 */
export async function queryAudit(log: AuditLog, filter: AuditFilter, page: { cursor?: string | undefined; limit: number }): Promise<AuditPage> {
  const records: ChainedAuditRecord[] = [];
  let cursor = page.cursor;
  let scanned = 0;
  while (records.length < page.limit && scanned < MAX_SCAN) {
    const batch = await log.readBackwards(cursor, PAGE);
    if (batch.length === 0) return { records };
    for (const { cursor: at, record } of batch) {
      scanned += 1;
      cursor = at;
      if (filter.since !== undefined && record.time < filter.since) return { records };
      if (matches(record, filter)) records.push(record);
      if (records.length === page.limit) break;
    }
  }
  return { records, next_cursor: cursor };
}

/** Every record, oldest first, in pages (export and verify). */
export async function* readAll(log: AuditLog): AsyncGenerator<ChainedAuditRecord> {
  let cursor: string | undefined;
  for (;;) {
    const batch = await log.read(cursor, 1000);
    if (batch.length === 0) return;
    for (const stored of batch) yield stored.record;
    cursor = batch.at(-1)!.cursor;
  }
}
