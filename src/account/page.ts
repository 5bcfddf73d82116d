import type { Context, Next } from 'koa';
import type { AuditLog } from '../audit/log.js';
import { queryAudit } from '../audit/query.js';
import type { RequestFacts } from '../audit/recorder.js';
import { IMPERSONATION_AMR } from '../constants.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { ImpersonationRecord, Store } from '../store/index.js';
import { STYLESHEET } from '../web/assets.js';
import { readForm } from '../web/forms.js';
import { html, layout, type Html } from '../web/html.js';
import { csrfHolds, newCsrfToken, pageHeaders } from '../web/security.js';
import { WebSessions } from '../web/sessions.js';
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
  readonly actor: string;
  readonly clientId: string;
  readonly reason: string | undefined;
  readonly startedAt: number;
  readonly endsAt: number;
  readonly live: ImpersonationRecord | undefined;
  readonly ended: { readonly at: string; readonly rule: string } | undefined;
}

const SESSION_SECONDS = 30 * 60;
const HISTORY = 200;

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
};

const epoch = () => Math.floor(Date.now() / 1000);
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

function when(isoTime: string): Html {
  const d = new Date(isoTime);
  return html`<time datetime="${d.toISOString()}">${d.toISOString().slice(0, 16).replace('T', ' ')} UTC</time>`;
}

/**
 * SPEC §4.5: the subject's own page on the provider. The subject signs in normally (authorization
 * code + PKCE through the provider's login, never through an impersonated session) and sees every
 * impersonation of their account — who, through which app, why, when, until when, live or how it
 * ended — and can end a live one (a CSRF-protected form), which revokes its tokens and is audited.
 * Server-rendered; no token ever reaches the page.
 */
export function createAccountPage(deps: {
  readonly issuer: string;
  readonly options: AccountPageOptions;
  readonly lifecycle: ImpersonationLifecycle;
  readonly auditLog: AuditLog | undefined;
  readonly store: Store;
  readonly requestFacts: (ctx: Context) => RequestFacts;
}) {
  const base = deps.options.basePath ?? '/account';
  const product = deps.options.product ?? 'Your account';
  const assetsPath = `${base}/assets`;
  const ownOrigin = new URL(deps.issuer).origin;
  const sessions = new WebSessions<AccountSession>(deps.store.backend, deps.store.keys, { name: 'account.session', path: base });
  const signIn = createSignIn(
    { issuer: deps.issuer, clientId: deps.options.clientId, clientSecret: deps.options.clientSecret, redirectUri: `${deps.issuer.replace(/\/$/, '')}${base}/callback`, scope: 'openid profile' },
    deps.store,
    { name: 'account.signin', path: base },
  );

  async function rowsFor(subject: string): Promise<Row[]> {
    const live = await deps.lifecycle.list({ subject });
    const liveByToken = new Map(live.map((r) => [r.tokenId, r]));
    const rows: Row[] = [];
    const seen = new Set<string>();
    if (deps.auditLog) {
      const { records } = await queryAudit(deps.auditLog, { subject }, { limit: HISTORY });
      const endings = new Map(records.filter((r) => r.event === 'token.revoked' && r.token_id).map((r) => [r.token_id!, { at: r.time, rule: r.rule ?? '' }]));
      for (const r of records) {
        const started = (r.event === 'exchange.granted' && r.actor !== undefined) || r.event === 'ticket.redeemed';
        if (!started || r.outcome !== 'granted' || !r.token_id || seen.has(r.token_id)) continue;
        seen.add(r.token_id);
        const startedAt = Math.floor(Date.parse(r.time) / 1000);
        rows.push({
          actor: r.actor ?? 'unknown',
          clientId: r.client_id ?? '',
          reason: r.reason,
          startedAt,
          endsAt: r.expires_at ? Math.floor(Date.parse(r.expires_at) / 1000) : startedAt,
          live: liveByToken.get(r.token_id),
          ended: endings.get(r.token_id),
        });
      }
    }
    for (const record of live) {
      if (seen.has(record.tokenId)) continue;
      rows.push({ actor: record.actors.at(-1)!, clientId: record.clientId, reason: record.reason, startedAt: record.startedAt, endsAt: record.expiresAt, live: record, ended: undefined });
    }
    return rows.sort((a, b) => b.startedAt - a.startedAt);
  }

  function status(row: Row): Html {
    if (row.live) return html`<span class="badge live">Live</span>`;
    if (row.ended) return html`<span class="badge ended">${ENDINGS[row.ended.rule] ?? 'Ended'}</span><br><span class="meta">${when(row.ended.at)}</span>`;
    return html`<span class="badge ended">${row.endsAt <= epoch() ? 'Expired' : 'Ended'}</span>`;
  }

  function render(session: AccountSession, rows: Row[], notice?: { kind: 'ok' | 'error'; text: string }): string {
    const table = rows.length
      ? html`<div class="table-wrap"><table>
<caption class="visually-hidden">Impersonations of your account</caption>
<thead><tr><th scope="col">Who</th><th scope="col">App</th><th scope="col">Why</th><th scope="col">Started</th><th scope="col">Ends</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody>${rows.map(
          (row) => html`<tr>
<td><strong>${row.actor}</strong></td>
<td>${row.clientId}</td>
<td>${row.reason ?? html`<span class="meta">(no reason recorded)</span>`}</td>
<td>${when(iso(row.startedAt))}</td>
<td>${when(iso(row.live?.expiresAt ?? row.endsAt))}</td>
<td>${status(row)}</td>
<td class="actions">${
            row.live
              ? html`<form method="post" action="${base}/impersonations/end"><input type="hidden" name="csrf" value="${session.csrf}"><input type="hidden" name="impersonation" value="${row.live.grantId}"><button type="submit" class="button danger small">End now</button></form>`
              : ''
          }</td></tr>`,
        )}</tbody></table></div>`
      : html`<div class="card empty">Nobody has acted as you. If support ever does, it will be listed here — who, why and for how long.</div>`;
    return layout({
      title: 'Impersonations of your account',
      product,
      assetsPath,
      user: { name: session.name, signOutAction: `${base}/logout`, csrf: session.csrf },
      body: html`<h1>Who has acted as you</h1>
<p class="lead">When a support agent needs to see exactly what you see, they can sign in as you for at most an hour, and must say why. Every time it happened is listed here. You can end a live one at once.</p>
${notice ? html`<div class="alert ${notice.kind}" role="${notice.kind === 'error' ? 'alert' : 'status'}">${notice.text}</div>` : ''}
${table}`,
    });
  }

  async function show(ctx: Context, notice?: { kind: 'ok' | 'error'; text: string }): Promise<void> {
    const session = await sessions.read(ctx);
    if (!session) return signIn.start(ctx, `${base}/impersonations`);
    pageHeaders(ctx);
    ctx.type = 'html';
    ctx.body = render(session.data, await rowsFor(session.data.sub), notice);
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

  async function end(ctx: Context, form: URLSearchParams): Promise<void> {
    const session = await sessions.read(ctx);
    if (!session || !csrfHolds(ctx, session.data.csrf, form.get('csrf'), ownOrigin)) {
      pageHeaders(ctx);
      ctx.status = 403;
      ctx.type = 'text';
      ctx.body = 'This form has expired. Reload the page and try again.';
      return;
    }
    const grantId = form.get('impersonation') ?? '';
    const record = (await deps.lifecycle.list({ subject: session.data.sub })).find((r) => r.grantId === grantId);
    if (!record) {
      ctx.status = 404;
      return show(ctx, { kind: 'error', text: 'That impersonation is no longer live.' });
    }
    await deps.lifecycle.revokeGrant(record.grantId, 'ended_by_subject', { actor: session.data.sub, request: deps.requestFacts(ctx) });
    return show(ctx, { kind: 'ok', text: `Ended: ${record.actors.at(-1)} can no longer act as you in ${record.clientId}.` });
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
    if (ctx.method === 'POST' && (path === '/impersonations/end' || path === '/logout')) {
      const form = await readForm(ctx);
      return path === '/logout' ? logout(ctx, form) : end(ctx, form);
    }
    return next();
  };
}
