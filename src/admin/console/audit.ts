import type { Context } from 'koa';
import { AUDIT_EVENT_NAMES } from '../../audit/events.js';
import { GENESIS_HASH, verifyChain, type ChainedAuditRecord, type VerifyResult } from '../../audit/chain.js';
import { InvalidCursorError, type AuditLog } from '../../audit/log.js';
import { queryAudit, readAll, type AuditFilter } from '../../audit/query.js';
import { auditView, noAuditLogView, type AuditValues } from './audit-view.js';
import type { ConsoleContext, ConsolePage, ConsoleSession } from './context.js';

/* docs/admin-console.md: the audit log, filtered and paged, and the status of its chain (docs/audit.md). */

const AUDIT_PAGE = 25;

function auditFilterOf(query: Context['query']): { filter: AuditFilter; cursor: string | undefined; values: AuditValues } {
  const get = (name: string) => (typeof query[name] === 'string' ? (query[name] as string).trim().slice(0, 200) : '');
  const values = Object.fromEntries(['actor', 'subject', 'event', 'outcome', 'since', 'until'].map((k) => [k, get(k)]));
  const at = (value: string) => {
    const t = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(value) ? value : `${value}Z`);
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  };
  const filter: AuditFilter = {
    actor: values.actor || undefined,
    subject: values.subject || undefined,
    event: (AUDIT_EVENT_NAMES as readonly string[]).includes(values.event!) ? values.event : undefined,
    outcome: ['granted', 'denied', 'error'].includes(values.outcome!) ? values.outcome : undefined,
    since: values.since ? at(values.since) : undefined,
    until: values.until ? at(values.until) : undefined,
  };
  const cursor = get('cursor');
  return { filter, cursor: /^[\w-]{1,64}$/.test(cursor) ? cursor : undefined, values };
}

async function auditPage(c: Pick<ConsoleContext, 'base' | 'auditLog' | 'render'>, ctx: Context, session: ConsoleSession, verified?: VerifyResult): Promise<void> {
  if (!c.auditLog) {
    await c.render(ctx, session, { title: 'Audit log', section: 'audit', body: noAuditLogView() });
    return;
  }
  const log = c.auditLog;
  const { filter, cursor, values } = auditFilterOf(ctx.query);
  // Like every other field of this form, a cursor the log never gave out is ignored (first page).
  const page = await queryAudit(log, filter, { cursor, limit: AUDIT_PAGE }).catch((err: unknown) => {
    if (err instanceof InvalidCursorError) return queryAudit(log, filter, { limit: AUDIT_PAGE });
    throw err;
  });
  const keep = new URLSearchParams(Object.entries(values).filter(([, v]) => v));
  const next = page.next_cursor && page.records.length === AUDIT_PAGE ? `${c.base}/audit?${new URLSearchParams([...keep, ['cursor', page.next_cursor]])}` : undefined;
  await c.render(ctx, session, { title: 'Audit log', section: 'audit', body: auditView(c.base, { page, values, filtered: keep.size > 0, cursor, next, verified }) });
}

async function verifyAuditChain(log: AuditLog): Promise<VerifyResult> {
  const records: ChainedAuditRecord[] = [];
  for await (const record of readAll(log)) records.push(record);
  return verifyChain(records, { continues: records.length > 0 && records[0]!.prev_hash !== GENESIS_HASH });
}

/** The audit log and the check of its chain. */
export const audit: ConsolePage = {
  nav: { section: 'audit', label: 'Audit log' },
  routes: (c) => [
    { method: 'GET', path: '/audit', handler: (ctx, { state }) => auditPage(c, ctx, state.session) },
    {
      method: 'GET',
      path: '/audit/verify',
      handler: async (ctx, { state }) => {
        if (c.auditLog) await auditPage(c, ctx, state.session, await verifyAuditChain(c.auditLog));
      },
    },
  ],
};
