import type { Context, Next } from 'koa';
import type { AccountDirectory } from '../accounts.js';
import { ApprovalAnswerError, type ApprovalService, type ApprovalView } from '../approvals/service.js';
import type { RequestFacts } from '../audit/recorder.js';
import { IMPERSONATION_AMR } from '../constants.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import { approvalMessage, utc } from '../notify/notice.js';
import { HISTORY_RETENTION_SECONDS, type HistoryCursor, type ImpersonationRecord, type Store } from '../store/index.js';
import { STYLESHEET } from '../web/assets.js';
import { readForm } from '../web/forms.js';
import { html, layout, type Html } from '../web/html.js';
import { csrfHolds, newCsrfToken, pageHeaders } from '../web/security.js';
import { WebSessions } from '../web/sessions.js';
import type { DelegationService, DelegationView } from '../delegations/service.js';
import { describeActor, profileLabel } from '../exchange/actor-profiles.js';
import { createDelegationSection } from './delegations.js';
import { ACTIVITY_SHOWN, activityList } from './activity.js';
import type { ActivityEntry } from '../store/impersonations.js';
import { createSignIn } from '../web/sign-in.js';

/** How the subject's page signs its user in: a confidential first-party client of this provider. */
export interface AccountPageOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default `/account`; the page is `<basePath>/impersonations`, the redirect URI `<basePath>/callback`. */
  readonly basePath?: string;
  /** Shown in the header bar. */
  readonly product?: string;
}

interface AccountSession {
  readonly sub: string;
  readonly name: string;
  readonly csrf: string;
}

/** One impersonation of the subject, as the page lists it. */
interface Row {
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

const SESSION_SECONDS = 30 * 60;
/** Impersonations per page of the subject's history. */
const PAGE = 20;

/** How an ended impersonation ended, in words (the `rule` of its `token.revoked` record). */
const ENDINGS: Record<string, string> = {
  revoked_single: 'Revoked',
  revoked_bulk_actor: 'Revoked by an administrator',
  revoked_bulk_subject: 'Revoked by an administrator',
  revoked_all: 'Revoked by an administrator',
  kill_switch: 'Impersonation was switched off',
  cascade_source_revoked: "Ended with the support agent's sign-in",
  cascade_actor_ineligible: 'The support agent lost access',
  ended_by_subject: 'Ended by you',
  ended_by_logout: 'Signed out',
  approval_revoked: 'Ended when you revoked your approval',
  delegation_paused: 'Paused by you',
  delegation_ended: 'Ended by you',
};

/** How an approval request stands, in words. */
const STATES: Record<ApprovalView['state'], { text: string; badge: string }> = {
  pending: { text: 'Waiting for you', badge: 'warn' },
  approved: { text: 'Approved', badge: 'live' },
  used: { text: 'Approved, in use', badge: 'live' },
  declined: { text: 'Declined', badge: 'ended' },
  revoked: { text: 'Revoked', badge: 'ended' },
  expired: { text: 'Expired', badge: 'ended' },
};

type Notice = { kind: 'ok' | 'error'; text: string };

const epoch = () => Math.floor(Date.now() / 1000);
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

function when(isoTime: string): Html {
  const d = new Date(isoTime);
  return html`<time datetime="${d.toISOString()}">${d.toISOString().slice(0, 16).replace('T', ' ')} UTC</time>`;
}

/**
 * docs/browser-impersonation.md §5: the subject's own page on the provider. The subject signs in normally (authorization
 * code + PKCE through the provider's login, never through an impersonated session) and sees every
 * impersonation of their account — who, through which app, why, when, until when, live or how it
 * ended — and can end a live one (a CSRF-protected form), which revokes its tokens and is audited.
 * Server-rendered; no token ever reaches the page.
 */
export function createAccountPage(deps: {
  readonly issuer: string;
  readonly options: AccountPageOptions;
  readonly lifecycle: ImpersonationLifecycle;
  readonly approvals: ApprovalService;
  /** Delegations to agents (docs/beyond-impersonation.md), when the extension offers them. */
  readonly delegations?: DelegationService | undefined;
  readonly accounts: AccountDirectory;
  readonly store: Store;
  readonly requestFacts: (ctx: Context) => RequestFacts;
  /** A client's display name (`client_name`), or undefined to show its id. */
  readonly clientName?: (clientId: string) => Promise<string | undefined>;
}) {
  const base = deps.options.basePath ?? '/account';
  const product = deps.options.product ?? 'Your account';
  const assetsPath = `${base}/assets`;
  const ownOrigin = new URL(deps.issuer).origin;
  const assistants = deps.delegations ? createDelegationSection({ delegations: deps.delegations, base, requestFacts: deps.requestFacts }) : undefined;
  const sessions = new WebSessions<AccountSession>(deps.store.backend, deps.store.keys, { name: 'account.session', path: base });
  const signIn = createSignIn(
    { issuer: deps.issuer, clientId: deps.options.clientId, clientSecret: deps.options.clientSecret, redirectUri: `${deps.issuer.replace(/\/$/, '')}${base}/callback`, scope: 'openid profile' },
    deps.store,
    { name: 'account.signin', path: base },
  );

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

  /**
   * One page of the subject's history (the store's per-subject index, docs/browser-impersonation.md
   * "The subject's page"): whoever else sends requests, the subject's own impersonations stay listed.
   * When the whole history fits on one page, it also lists any live impersonation the index does not
   * hold (one started before the index existed, at most an hour earlier).
   */
  async function rowsFor(subject: string, before: HistoryCursor | undefined): Promise<{ rows: Row[]; now: Row[]; next: HistoryCursor | undefined }> {
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
    const current = (await named(now)).sort((a, b) => rank(a.live!) - rank(b.live!));
    return { rows: await withActivity(await named(rows)), now: current, next: history.next };
  }

  /** What was done under each listed impersonation (docs/beyond-impersonation.md "Activity receipts"). */
  async function withActivity(rows: Row[]): Promise<Row[]> {
    const found = await Promise.all(rows.map((r) => (r.grantId ? deps.store.impersonations.activity(r.grantId, ACTIVITY_SHOWN) : [])));
    return rows.map((r, i) => (found[i]!.length ? { ...r, activity: found[i] } : r));
  }

  /** Rows with the person behind each chain, and people and apps by their names, newest first. */
  async function named(rows: Row[]): Promise<Row[]> {
    const people = await peopleOf(rows.sort((a, b) => a.startedAt - b.startedAt));
    const [names, apps] = await Promise.all([namesOf(people.map((r) => r.actor)), appNamesOf(people.map((r) => r.clientId))]);
    return people.map((r) => ({ ...r, actorName: names.get(r.actor), appName: apps.get(r.clientId) })).sort((a, b) => b.startedAt - a.startedAt);
  }

  /** The `before` cursor of an older page (`<epoch ms>.<skip>`), `undefined` for the newest, `false` when malformed. */
  function cursorOf(ctx: Context): HistoryCursor | undefined | false {
    const given = ctx.query.before;
    if (given === undefined) return undefined;
    const match = typeof given === 'string' ? /^(\d{1,16})\.(\d{1,6})$/.exec(given) : null;
    return match ? { at: Number(match[1]), skip: Number(match[2]) } : false;
  }

  /**
   * Keeps the person in every chain: a service that passed a token on (RFC 8693 §4.1) is shown as
   * acting for the person who started the impersonation — from the live record's chain, or else the
   * earlier impersonation of the same reason that a person started (rows oldest first).
   */
  async function peopleOf(rows: readonly Row[]): Promise<Row[]> {
    const isPerson = new Map<string, boolean>();
    for (const id of new Set(rows.map((r) => r.actor))) isPerson.set(id, (await deps.accounts.findAccount(id).catch(() => undefined)) !== undefined);
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

  /** Apps by their display names (`client_name`), read from the provider. */
  async function appNamesOf(ids: readonly string[]): Promise<Map<string, string | undefined>> {
    const unique = [...new Set(ids)];
    const found = await Promise.all(unique.map((id) => deps.clientName?.(id).catch(() => undefined)));
    return new Map(unique.map((id, i) => [id, found[i]]));
  }

  /** What happened, in plain words: who (and through which service), did what, where, until when, why. */
  function sentence(row: Row, live: boolean): string {
    const app = row.appName ?? row.clientId;
    // Typed actors (docs/beyond-impersonation.md): "an AI assistant, Orders Assistant (orders-assistant)," vs "Sam Support (support)".
    const agentName = row.actorProfile && profileLabel(row.actorProfile) !== 'person' && row.actor === row.clientId ? row.appName : undefined;
    const described = describeActor(row.actor, row.actorName ?? agentName, row.actorProfile);
    const person = `${described.charAt(0).toUpperCase()}${described.slice(1)}`;
    const read = row.mode === 'read';
    const until = `until ${utc(iso(row.live?.expiresAt ?? row.endsAt))}`;
    const why = row.reason === undefined ? '' : `, because: ${row.reason}`;
    if (row.via !== undefined) {
      const service = row.via === row.clientId ? app : row.via;
      return `${service} ${live ? 'is acting' : 'acted'} as you${read ? ' (read-only)' : ''} for ${person}, passing on the access they opened, ${until}${why}.`;
    }
    const what =
      row.kind === 'browser'
        ? `${live ? 'is' : 'was'} signed in to ${app} as you${read ? ' (read-only)' : ''}`
        : `${live ? 'is using' : 'used'} ${app} to ${read ? 'view your account (read-only)' : 'act as you'}`;
    return `${person} ${what}, ${until}${why}.`;
  }

  /** Display names from the account directory (`name`), read live, for the notices. */
  async function namesOf(ids: readonly string[]): Promise<Map<string, string | undefined>> {
    const unique = [...new Set(ids)];
    const accounts = await Promise.all(unique.map((id) => deps.accounts.findAccount(id).catch(() => undefined)));
    return new Map(unique.map((id, i) => [id, accounts[i]?.name]));
  }

  function status(row: Row): Html {
    const mode = row.mode === 'read' ? html` <span class="badge info">Read-only</span>` : '';
    return html`${lifeStatus(row)}${mode}`;
  }

  function lifeStatus(row: Row): Html {
    if (row.live) return html`<span class="badge live">Live</span>`;
    if (row.ended) return html`<span class="badge ended">${ENDINGS[row.ended.rule] ?? 'Ended'}</span><br><span class="meta">${when(row.ended.at)}</span>`;
    return html`<span class="badge ended">${row.endsAt <= epoch() ? 'Expired' : 'Ended'}</span>`;
  }

  function hidden(session: AccountSession, approval: string): Html {
    return html`<input type="hidden" name="csrf" value="${session.csrf}"><input type="hidden" name="approval" value="${approval}">`;
  }

  /** Requests waiting for an answer, and approvals the subject may still revoke. */
  function approvalsSection(session: AccountSession, approvals: readonly ApprovalView[], names: Map<string, string | undefined>): Html {
    const now = epoch();
    const pending = approvals.filter((a) => a.state === 'pending');
    const standing = approvals.filter((a) => (a.state === 'approved' || a.state === 'used') && Date.parse(a.approved_until ?? '') / 1000 > now);
    const answered = approvals.filter((a) => !pending.includes(a) && !standing.includes(a)).slice(0, 10);
    const sentence = (a: ApprovalView) =>
      approvalMessage({
        actor: a.actor,
        actor_name: names.get(a.actor),
        reason: a.reason,
        scope: a.scope,
        duration_seconds: a.duration_seconds,
        mode: a.mode,
        approval_id: a.id,
        answer_by: a.answer_by,
      });
    const scopes = (a: ApprovalView) => (a.scope ? html`<p class="meta">Access asked for: <span class="mono">${a.scope}</span></p>` : '');
    const requests = pending.map(
      (a) => html`<li class="card request" data-approval="${a.id}">
<p><strong>${sentence(a)}</strong></p>${scopes(a)}
<div class="row"><form method="post" action="${base}/approvals/answer">${hidden(session, a.id)}<input type="hidden" name="decision" value="approve"><button type="submit" class="button">Approve</button></form>
<form method="post" action="${base}/approvals/answer">${hidden(session, a.id)}<input type="hidden" name="decision" value="decline"><button type="submit" class="button secondary">Decline</button></form></div>
</li>`,
    );
    const granted = standing.map(
      (a) => html`<li class="card request" data-approval="${a.id}">
<p>You let <strong>${names.get(a.actor) ?? a.actor}</strong> ${a.mode === 'read' ? 'view your account (read-only)' : 'sign in as you'} until ${when(a.approved_until!)}${a.state === 'used' ? ' — in use now' : ''}.</p>
<form method="post" action="${base}/approvals/revoke">${hidden(session, a.id)}<button type="submit" class="button danger small">Revoke</button></form>
</li>`,
    );
    const history = answered.length
      ? html`<details><summary>Earlier requests</summary><ul class="plain">${answered.map(
          (a) => html`<li><span class="badge ${STATES[a.state].badge}">${STATES[a.state].text}</span> ${names.get(a.actor) ?? a.actor}: ${a.reason ?? ''} <span class="meta">(${when(a.requested_at)})</span></li>`,
        )}</ul></details>`
      : '';
    if (!requests.length && !granted.length && !history) return html``;
    return html`<section aria-labelledby="requests-heading"><h2 id="requests-heading">Requests for access</h2>
${requests.length ? html`<ul class="plain stack">${requests}</ul>` : html`<p class="meta">No request is waiting for you.</p>`}
${granted.length ? html`<h3>Access you approved</h3><ul class="plain stack">${granted}</ul>` : ''}
${history}</section>`;
  }

  /** What support did, as the subject was told (the notice of each started impersonation). */
  function noticesSection(rows: readonly Row[]): Html {
    const live = rows.filter((row) => row.live).slice(0, 10);
    if (!live.length) return html``;
    return html`<section aria-labelledby="notices-heading"><h2 id="notices-heading">Happening now</h2><ul class="plain notices">${live.map(
      (row) => html`<li>${sentence(row, true)}</li>`,
    )}</ul></section>`;
  }

  function pager(before: HistoryCursor | undefined, next: HistoryCursor | undefined): Html {
    if (!before && !next) return html``;
    return html`<nav class="row" aria-label="History pages">${before ? html`<a class="button secondary" href="${base}/impersonations">Newest</a>` : ''}${
      next ? html`<a class="button secondary" href="${base}/impersonations?before=${`${next.at}.${next.skip}`}">Older</a>` : ''
    }</nav>`;
  }

  function render(
    session: AccountSession,
    page: { rows: Row[]; now: Row[]; before: HistoryCursor | undefined; next: HistoryCursor | undefined },
    approvals: readonly ApprovalView[],
    names: Map<string, string | undefined>,
    notice?: Notice,
    delegations: readonly DelegationView[] = [],
  ): string {
    const { rows } = page;
    const table = rows.length
      ? html`<div class="table-wrap"><table>
<caption class="visually-hidden">Impersonations of your account</caption>
<thead><tr><th scope="col">Who</th><th scope="col">Where</th><th scope="col">Why</th><th scope="col">Started</th><th scope="col">Ends</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>${rows.map(
          (row) => html`<tr>
<td title="${sentence(row, Boolean(row.live))}"><strong>${row.actorName ?? row.actor}</strong>${row.actorProfile && profileLabel(row.actorProfile) !== 'person' ? html` <span class="badge">${profileLabel(row.actorProfile)}</span>` : ''}${row.actorName && row.actorName !== row.actor ? html` <span class="meta">(${row.actor})</span>` : ''}${row.via ? html`<br><span class="meta">through ${row.via === row.clientId ? (row.appName ?? row.via) : row.via}</span>` : ''}</td>
<td>${row.appName ?? row.clientId}${row.kind === 'browser' ? html`<br><span class="meta">signed in as you</span>` : html`<br><span class="meta">a token for an app</span>`}</td>
<td>${row.reason ?? html`<span class="meta">(no reason recorded)</span>`}${activityList(row.activity ?? [])}</td>
<td>${when(iso(row.startedAt))}</td>
<td>${when(iso(row.live?.expiresAt ?? row.endsAt))}</td>
<td>${status(row)}</td>
<td class="actions">${
            row.live
              ? html`<form method="post" action="${base}/impersonations/end"><input type="hidden" name="csrf" value="${session.csrf}"><input type="hidden" name="impersonation" value="${row.live.grantId}"><button type="submit" class="button danger small">End now</button></form>`
              : ''
          }</td></tr>`,
        )}</tbody></table></div>`
      : page.before
        ? html`<div class="card empty">Nothing older is listed.</div>`
        : html`<div class="card empty">Nobody has acted as you. If support ever does, it will be listed here — who, why and for how long.</div>`;
    return layout({
      title: 'Impersonations of your account',
      product,
      assetsPath,
      user: { name: session.name, signOutAction: `${base}/logout`, csrf: session.csrf },
      body: html`<h1>Who has acted as you</h1>
<p class="lead">When a support agent needs to see exactly what you see, they can sign in as you for at most an hour, and must say why. Every time it happened is listed here. You can end a live one here, and answer when support asks for access.</p>
${notice ? html`<div class="alert ${notice.kind}" role="${notice.kind === 'error' ? 'alert' : 'status'}">${notice.text}</div>` : ''}
${approvalsSection(session, approvals, names)}
${assistants ? assistants.render(session.csrf, delegations) : ''}
${page.before ? '' : noticesSection(page.now)}
<h2>Every impersonation</h2>
<p class="meta">Listed for ${HISTORY_RETENTION_SECONDS / 86_400} days after they started, newest first.</p>
${table}
${pager(page.before, page.next)}`,
    });
  }

  async function show(ctx: Context, notice?: Notice): Promise<void> {
    const session = await sessions.read(ctx);
    if (!session) return signIn.start(ctx, `${base}/impersonations`);
    pageHeaders(ctx);
    ctx.type = 'html';
    const cursor = ctx.method === 'GET' ? cursorOf(ctx) : undefined;
    if (cursor === false) {
      ctx.status = 400;
      notice = { kind: 'error', text: 'That page of your history does not exist.' };
    }
    const before = cursor || undefined;
    const [{ rows, now, next }, approvals, delegations] = await Promise.all([
      rowsFor(session.data.sub, before),
      deps.approvals.list({ subject: session.data.sub }),
      deps.delegations ? deps.delegations.list({ subject: session.data.sub }) : [],
    ]);
    const names = await namesOf(approvals.map((a) => a.actor));
    ctx.body = render(session.data, { rows, now, before, next }, approvals, names, notice, delegations);
  }

  async function callback(ctx: Context): Promise<void> {
    try {
      const { claims, profile, returnTo } = await signIn.finish(ctx);
      // Defence in depth: the login check already keeps impersonated sessions away from this client.
      if (claims.act !== undefined || (Array.isArray(claims.amr) && claims.amr.includes(IMPERSONATION_AMR))) throw new Error('an impersonated session cannot open the account page');
      const name = typeof profile.name === 'string' ? profile.name : claims.sub;
      await sessions.create(ctx, { sub: claims.sub, name, csrf: newCsrfToken() }, SESSION_SECONDS);
      ctx.redirect(returnTo);
    } catch (err) {
      pageHeaders(ctx);
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = layout({
        title: 'Sign-in failed',
        product,
        assetsPath,
        body: html`<h1>Sign-in failed</h1><div class="alert error" role="alert">${(err as Error).message}</div><p><a class="button" href="${base}/impersonations">Try again</a></p>`,
      });
    }
  }

  function expired(ctx: Context): void {
    pageHeaders(ctx);
    ctx.status = 403;
    ctx.type = 'text';
    ctx.body = 'This form has expired. Reload the page and try again.';
  }

  async function end(ctx: Context, form: URLSearchParams): Promise<void> {
    const session = await sessions.read(ctx);
    if (!session || !csrfHolds(ctx, session.data.csrf, form.get('csrf'), ownOrigin)) return expired(ctx);
    const grantId = form.get('impersonation') ?? '';
    const record = (await deps.lifecycle.list({ subject: session.data.sub })).find((r) => r.grantId === grantId);
    if (!record) {
      ctx.status = 404;
      return show(ctx, { kind: 'error', text: 'That impersonation is no longer live.' });
    }
    await deps.lifecycle.revokeGrant(record.grantId, 'ended_by_subject', { actor: session.data.sub, request: deps.requestFacts(ctx) });
    // Worded for what every service honours: the access is revoked here at once; how soon each API
    // refuses it depends on how it checks tokens (docs/resource-server.md, "What a revocation reaches").
    return show(ctx, { kind: 'ok', text: `Ended: the access ${record.actors.at(-1)} had to your account in ${record.clientId} is revoked.` });
  }

  /** The signed-in subject approves, declines or revokes one of their own requests. */
  async function approvalAction(ctx: Context, form: URLSearchParams, action: 'answer' | 'revoke'): Promise<void> {
    const session = await sessions.read(ctx);
    if (!session || !csrfHolds(ctx, session.data.csrf, form.get('csrf'), ownOrigin)) return expired(ctx);
    const id = form.get('approval') ?? '';
    const facts = deps.requestFacts(ctx);
    try {
      if (action === 'revoke') {
        const ended = await deps.approvals.revoke(id, session.data.sub, facts);
        return show(ctx, { kind: 'ok', text: `Revoked: it can no longer be used${ended ? `, and ${ended === 1 ? 'the access it opened has' : `the ${ended} accesses it opened have`} ended` : ''}.` });
      }
      const decision = form.get('decision') === 'approve' ? 'approve' : 'decline';
      const answered = await deps.approvals.answer(id, session.data.sub, decision, 'page', facts);
      return show(ctx, {
        kind: 'ok',
        text:
          decision === 'approve'
            ? `Approved until ${utc(answered.approved_until!)}. You can revoke it here at any time.`
            : 'Declined: support cannot use this request.',
      });
    } catch (err) {
      if (!(err instanceof ApprovalAnswerError)) throw err;
      ctx.status = err.status;
      return show(ctx, { kind: 'error', text: err.message });
    }
  }

  /** A state change without a session: only from this site (Origin / Sec-Fetch-Site), the link being the secret. */
  function sameSite(ctx: Context): boolean {
    const site = ctx.get('sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none') return false;
    const origin = ctx.get('origin');
    return !origin || origin === 'null' || origin === ownOrigin;
  }

  function linkPage(ctx: Context, status: number, body: Html): void {
    pageHeaders(ctx);
    ctx.status = status;
    ctx.type = 'html';
    ctx.body = layout({ title: 'Support access request', product, assetsPath, body });
  }

  /**
   * The one-time link delivered by `hooks.notifySubject`: showing it changes nothing (mail scanners
   * open links); the subject answers with a button, which spends the link.
   */
  async function linkShow(ctx: Context): Promise<void> {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const record = await deps.approvals.fromLink(token);
    if (!record) return linkPage(ctx, 404, html`<h1>This link is not valid</h1><div class="alert error" role="alert">It may have expired. Sign in to <a href="${base}/impersonations">your account page</a> to see every request.</div>`);
    const view = await deps.approvals.view(record);
    if (view.state !== 'pending') {
      return linkPage(ctx, 409, html`<h1>Already answered</h1><div class="alert info" role="status">This request is ${STATES[view.state].text.toLowerCase()}. Your <a href="${base}/impersonations">account page</a> lists every request and lets you revoke an approval.</div>`);
    }
    const names = await namesOf([record.actor]);
    const sentence = approvalMessage({ actor: view.actor, actor_name: names.get(view.actor), reason: view.reason, scope: view.scope, duration_seconds: view.duration_seconds, mode: view.mode, approval_id: view.id, answer_by: view.answer_by });
    const form = (decision: 'approve' | 'decline', label: string, style: string) =>
      html`<form method="post" action="${base}/approvals/respond"><input type="hidden" name="token" value="${token}"><input type="hidden" name="decision" value="${decision}"><button type="submit" class="button ${style}">${label}</button></form>`;
    return linkPage(
      ctx,
      200,
      html`<h1>Support asks for access to your account</h1><div class="card stack"><p><strong>${sentence}</strong></p>${view.scope ? html`<p class="meta">Access asked for: <span class="mono">${view.scope}</span></p>` : ''}
<p class="meta">Approving lets them start once, within ${Math.round(view.duration_seconds / 60)} minutes. You can revoke it at any time on your account page, which also revokes any access it opened.</p>
<div class="row">${form('approve', 'Approve', '')}${form('decline', 'Decline', 'secondary')}</div></div>`,
    );
  }

  async function linkAnswer(ctx: Context, form: URLSearchParams): Promise<void> {
    if (!sameSite(ctx)) return expired(ctx);
    const decision = form.get('decision') === 'approve' ? 'approve' : 'decline';
    try {
      const answered = await deps.approvals.answerByLink(form.get('token') ?? '', decision, deps.requestFacts(ctx));
      return linkPage(
        ctx,
        200,
        decision === 'approve'
          ? html`<h1>Approved</h1><div class="alert ok" role="status">Support may start once before ${utc(answered.approved_until!)}. You can revoke it at any time on <a href="${base}/impersonations">your account page</a>.</div>`
          : html`<h1>Declined</h1><div class="alert ok" role="status">Support cannot use this request.</div>`,
      );
    } catch (err) {
      if (!(err instanceof ApprovalAnswerError)) throw err;
      return linkPage(ctx, err.status, html`<h1>Not answered</h1><div class="alert error" role="alert">${err.message}</div>`);
    }
  }

  async function logout(ctx: Context, form: URLSearchParams): Promise<void> {
    const session = await sessions.read(ctx);
    if (session && csrfHolds(ctx, session.data.csrf, form.get('csrf'), ownOrigin)) await sessions.destroy(ctx, session.id);
    ctx.redirect(`${base}/impersonations`);
  }

  return async function accountPage(ctx: Context, next: Next): Promise<void> {
    if (!ctx.path.startsWith(`${base}/`)) return next();
    const path = ctx.path.slice(base.length);
    if (ctx.method === 'GET' && path === '/assets/app.css') {
      ctx.type = 'text/css';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.set('X-Content-Type-Options', 'nosniff');
      ctx.body = STYLESHEET;
      return;
    }
    if (ctx.method === 'GET' && path === '/impersonations') return show(ctx);
    if (ctx.method === 'GET' && path === '/login') return signIn.start(ctx, `${base}/impersonations`);
    if (ctx.method === 'GET' && path === '/callback') return callback(ctx);
    if (ctx.method === 'GET' && path === '/approvals/respond') return linkShow(ctx);
    if (assistants && ctx.method === 'POST' && path.startsWith('/delegations/') && (assistants.paths as readonly string[]).includes(path.slice('/delegations/'.length))) {
      const form = await readForm(ctx);
      const session = await sessions.read(ctx);
      if (!session || !csrfHolds(ctx, session.data.csrf, form.get('csrf'), ownOrigin)) return expired(ctx);
      return show(ctx, await assistants.answer(ctx, session.data.sub, path.slice('/delegations/'.length), form));
    }
    if (ctx.method === 'POST' && ['/impersonations/end', '/logout', '/approvals/answer', '/approvals/revoke', '/approvals/respond'].includes(path)) {
      const form = await readForm(ctx);
      if (path === '/logout') return logout(ctx, form);
      if (path === '/approvals/answer') return approvalAction(ctx, form, 'answer');
      if (path === '/approvals/revoke') return approvalAction(ctx, form, 'revoke');
      if (path === '/approvals/respond') return linkAnswer(ctx, form);
      return end(ctx, form);
    }
    return next();
  };
}
