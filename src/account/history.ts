import type { Context } from 'koa';
import type { HistoryCursor, ImpersonationRecord } from '../store/index.js';
import type { ActivityEntry } from '../store/impersonations.js';
import { ACTIVITY_SHOWN } from './activity.js';
import type { AccountDeps } from './context.js';

/*
 * What the subject's page lists (docs/browser-impersonation.md §5): every impersonation of their
 * account, the person behind each, and people and apps by their names.
 */

/** One impersonation of the subject, as the page lists it. */
export interface Row {
  /** The person behind it: the actor, or for a chain the person who started it (RFC 8693 §4.1). */
  readonly actor: string;
  /** The actor's kind (`act.sub_profile`) when it acted directly: `user`, `ai_agent`, `service`. */
  readonly actorProfile?: string | undefined;
  /** The grant backing it, and what was done under it (activity receipts). */
  readonly grantId?: string | undefined;
  readonly activity?: readonly ActivityEntry[] | undefined;
  /** For a chain: the service that acts for that person now. */
  readonly via?: string | undefined;
  /** A browser session (a ticket redeemed) or a token issued to an app. */
  readonly kind?: 'browser' | 'api';
  readonly appName?: string | undefined;
  readonly actorName: string | undefined;
  readonly mode: 'read' | 'full';
  readonly clientId: string;
  readonly reason: string | undefined;
  readonly startedAt: number;
  readonly endsAt: number;
  readonly live: ImpersonationRecord | undefined;
  readonly ended: { readonly at: string; readonly rule: string } | undefined;
}

/** One page of the history, and what is happening now. */
export interface HistoryPage {
  readonly rows: Row[];
  readonly now: Row[];
  readonly before: HistoryCursor | undefined;
  readonly next: HistoryCursor | undefined;
}

type HistoryDeps = Pick<AccountDeps, 'lifecycle' | 'store' | 'accounts' | 'clientName'>;

/** Impersonations per page of the subject's history. */
const PAGE = 20;

/** Epoch seconds as an ISO 8601 time. */
export const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** A live impersonation as a row of the page. */
function liveRow(record: ImpersonationRecord): Row {
  return {
    actor: record.actors.at(-1)!,
    grantId: record.grantId,
    ...(record.actors.length === 1 && record.actorProfiles?.[0] ? { actorProfile: record.actorProfiles[0] } : {}),
    kind: record.kind === 'browser' ? 'browser' : 'api',
    actorName: undefined,
    mode: record.mode ?? 'full',
    clientId: record.clientId,
    reason: record.reason,
    startedAt: record.startedAt,
    endsAt: record.expiresAt,
    live: record,
    ended: undefined,
  };
}

/** The `before` cursor of an older page (`<epoch ms>.<skip>`), `undefined` for the newest, `false` when malformed. */
export function cursorOf(ctx: Context): HistoryCursor | undefined | false {
  const given = ctx.query.before;
  if (given === undefined) return undefined;
  const match = typeof given === 'string' ? /^(\d{1,16})\.(\d{1,6})$/.exec(given) : null;
  return match ? { at: Number(match[1]), skip: Number(match[2]) } : false;
}

/** Display names from the account directory (`name`), read live, for the notices. */
export async function namesOf(accounts: AccountDeps['accounts'], ids: readonly string[]): Promise<Map<string, string | undefined>> {
  const unique = [...new Set(ids)];
  const found = await Promise.all(unique.map((id) => accounts.findAccount(id).catch(() => undefined)));
  return new Map(unique.map((id, i) => [id, found[i]?.name]));
}

/** Apps by their display names (`client_name`), read from the provider. */
async function appNamesOf(clientName: AccountDeps['clientName'], ids: readonly string[]): Promise<Map<string, string | undefined>> {
  const unique = [...new Set(ids)];
  const found = await Promise.all(unique.map((id) => clientName?.(id).catch(() => undefined)));
  return new Map(unique.map((id, i) => [id, found[i]]));
}

/**
 * Keeps the person in every chain: a service that passed a token on (RFC 8693 §4.1) is shown as
 * acting for the person who started the impersonation — from the live record's chain, or else the
 * earlier impersonation of the same reason that a person started (rows oldest first).
 */
async function peopleOf(accounts: AccountDeps['accounts'], rows: readonly Row[]): Promise<Row[]> {
  const isPerson = new Map<string, boolean>();
  for (const id of new Set(rows.map((r) => r.actor))) isPerson.set(id, (await accounts.findAccount(id).catch(() => undefined)) !== undefined);
  const out: Row[] = [];
  for (const row of rows) {
    const chain = row.live?.actors ?? [];
    const human = row.live?.actorAccount ?? (chain.length > 1 ? chain.at(-1) : undefined);
    if (human !== undefined && human !== row.actor) out.push({ ...row, actor: human, via: row.actor });
    else if (chain.length > 1) out.push({ ...row, via: chain[0] });
    else if (isPerson.get(row.actor) === false) {
      const origin = out.findLast((r) => r.via === undefined && r.reason === row.reason && isPerson.get(r.actor) !== false);
      out.push(origin ? { ...row, actor: origin.actor, via: row.actor } : row);
    } else out.push(row);
  }
  return out;
}

/** Rows with the person behind each chain, and people and apps by their names, newest first. */
async function named(deps: HistoryDeps, rows: Row[]): Promise<Row[]> {
  const people = await peopleOf(deps.accounts, rows.sort((a, b) => a.startedAt - b.startedAt));
  const [names, apps] = await Promise.all([namesOf(deps.accounts, people.map((r) => r.actor)), appNamesOf(deps.clientName, people.map((r) => r.clientId))]);
  return people.map((r) => ({ ...r, actorName: names.get(r.actor), appName: apps.get(r.clientId) })).sort((a, b) => b.startedAt - a.startedAt);
}

/** What was done under each listed impersonation (docs/beyond-impersonation.md "Activity receipts"). */
async function withActivity(store: AccountDeps['store'], rows: Row[]): Promise<Row[]> {
  const found = await Promise.all(rows.map((r) => (r.grantId ? store.impersonations.activity(r.grantId, ACTIVITY_SHOWN) : [])));
  return rows.map((r, i) => (found[i]!.length ? { ...r, activity: found[i] } : r));
}

/**
 * One page of the subject's history (the store's per-subject index, docs/browser-impersonation.md
 * "The subject's page"): whoever else sends requests, the subject's own impersonations stay listed.
 * When the whole history fits on one page, it also lists any live impersonation the index does not
 * hold (one started before the index existed, at most an hour earlier).
 */
export async function historyOf(deps: HistoryDeps, subject: string, before: HistoryCursor | undefined): Promise<HistoryPage> {
  const [live, history] = await Promise.all([deps.lifecycle.list({ subject }), deps.store.impersonations.history(subject, { before, limit: PAGE })]);
  const liveByGrant = new Map(live.map((r) => [r.grantId, r]));
  const rows: Row[] = history.entries.map((entry) => ({
    actor: entry.actor,
    grantId: entry.grantId,
    actorProfile: entry.actorProfile,
    kind: entry.kind === 'browser' ? 'browser' : 'api',
    actorName: undefined,
    mode: entry.mode === 'read' ? 'read' : 'full',
    clientId: entry.clientId,
    reason: entry.reason,
    startedAt: entry.startedAt,
    endsAt: entry.expiresAt,
    live: liveByGrant.get(entry.grantId),
    ended: entry.ended ? { at: iso(entry.ended.at), rule: entry.ended.rule } : undefined,
  }));
  const seen = new Set(history.entries.map((e) => e.grantId));
  for (const record of before || history.next ? [] : live) {
    if (!seen.has(record.grantId) && record.actors.length === 1 && !record.quiet) rows.push(liveRow(record));
  }
  // What is happening now: every live impersonation of the subject, chains passed on by a
  // service included (they add no history entry: they continue the impersonation they came from).
  // A delegation's later tokens (quiet) are not listed again.
  const now = live.filter((record) => !record.quiet).map(liveRow);
  // Newest first as the index orders them (its times are finer than a record's seconds); a chain
  // passed on by a service comes right before the impersonation it came from.
  const position = new Map(history.entries.map((entry, i) => [entry.grantId, i]));
  const rank = (record: ImpersonationRecord): number => {
    const own = position.get(record.grantId);
    if (own !== undefined) return own;
    const origin = record.sources.map((id) => position.get(id)).find((i) => i !== undefined);
    return origin === undefined ? -1 : origin - 0.5;
  };
  const current = (await named(deps, now)).sort((a, b) => rank(a.live!) - rank(b.live!));
  return { rows: await withActivity(deps.store, await named(deps, rows)), now: current, before, next: history.next };
}
