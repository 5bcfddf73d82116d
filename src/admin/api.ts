import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import type { ApprovalService } from '../approvals/service.js';
import { AUDIT_EVENT_NAMES } from '../audit/events.js';
import { InvalidCursorError, type AuditLog } from '../audit/log.js';
import { queryAudit } from '../audit/query.js';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { TicketService } from '../browser/tickets.js';
import { ExchangeRefusal } from '../errors.js';
import type { Limiter, LimitVerdict } from '../exchange/rate-limit.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { Logger } from '../observability/logger.js';
import type { ImpersonationFilter } from '../store/index.js';
import { ADMIN_SCOPE } from '../constants.js';
import { AdminError, createAdminAuthenticator, type AdminAuthenticator, type AdminCaller } from './auth.js';

export { ADMIN_SCOPE };

const MAX_BODY_BYTES = 8 * 1024;

// Each filter at most once: a repeated one (`?actor=a&actor=b`) is refused, never ignored.
const impersonationQuery = z
  .object({ actor: z.string().min(1).optional(), subject: z.string().min(1).optional() })
  .strict()
  .refine((q) => q.actor === undefined || q.subject === undefined, { message: 'give at most one of actor or subject' });
const revocationBody = z.union([
  z.object({ actor: z.string().min(1) }).strict(),
  z.object({ subject: z.string().min(1) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);
const settingsBody = z.object({ enabled: z.boolean() }).strict();
const isoTime = z.iso.datetime({ offset: true }).transform((t) => new Date(t).toISOString());
const auditQuery = z
  .object({
    actor: z.string().min(1).optional(),
    subject: z.string().min(1).optional(),
    event: z.enum(AUDIT_EVENT_NAMES).optional(),
    outcome: z.enum(['granted', 'denied', 'error']).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    cursor: z.string().regex(/^[\d-]{1,40}$/, 'not a cursor of this audit log').optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

const ticketBody = z
  .object({
    subject: z.string().min(1).max(256),
    client_id: z.string().min(1).max(256),
    reason: z.string().max(2000).optional(),
    target_link_uri: z.url().max(2000).optional(),
    mode: z.enum(['read', 'full']).optional(),
    approval: z.string().min(1).max(64).optional(),
  })
  .strict();

const approvalBody = z
  .object({
    subject: z.string().min(1).max(256),
    reason: z.string().max(2000).optional(),
    scope: z.string().max(2000).optional(),
    duration_seconds: z.number().int().optional(),
    mode: z.enum(['read', 'full']).optional(),
  })
  .strict();
const approvalQuery = z.union([z.object({ subject: z.string().min(1).max(256) }).strict(), z.object({ actor: z.string().min(1).max(256) }).strict()], {
  error: 'give exactly one of subject or actor',
});

type Next = () => Promise<unknown>;

/** Refused requests at the admin API, counted per caller (docs/policy.md, "Rate limits"). */
export interface AdminRefusalLimits {
  /** Per authenticated caller's account (`policy.rateLimit`). */
  readonly byCaller: Limiter;
  /** Per IP address, for requests refused before a caller is known (`policy.unauthenticatedRateLimit`). */
  readonly byAddress: Limiter;
}

const RATE_LIMITED = 'too many refused requests by this caller; retry later';
const ALLOWED: LimitVerdict = { allowed: true };

/** A limiter's verdict, or "allowed" when its store fails (the answer being given stands). */
async function verdictOf(count: () => Promise<LimitVerdict>): Promise<LimitVerdict> {
  try {
    return await count();
  } catch {
    return ALLOWED;
  }
}

/** Who a request's refusals count against: the caller once authenticated, else the address. */
interface RefusalState {
  caller: string | undefined;
  /** This request was answered 429 by the refusal limit (it was counted there). */
  limited: boolean;
}

/** An extension refusal as the admin API answers it (its status, OAuth error and fixed description). */
function refusalOf(ctx: KoaContextWithOIDC, err: unknown): unknown {
  if (!(err instanceof ExchangeRefusal) || err.status >= 500) return err;
  for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
  return new AdminError(err.status, err.error, err.description);
}




async function readJson(ctx: KoaContextWithOIDC): Promise<unknown> {
  if (!ctx.is('application/json')) throw new AdminError(415, 'invalid_request', 'send application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AdminError(413, 'invalid_request', 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new AdminError(400, 'invalid_request', 'body is not JSON');
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new AdminError(400, 'invalid_request', `${what}: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return result.data;
}

/**
 * The JSON admin API behind the console (docs/admin-console.md, docs/introspection-revocation.md): live impersonations, bulk revocation, the
 * global switch, the audit trail, browser-impersonation tickets. Callers present an access token of this provider (RFC 6750) that holds
 * `impersonation:admin`, is not itself an impersonation, and belongs to an account that may
 * impersonate (read live).
 */
export function createAdminApi(deps: {
  provider: Provider;
  lifecycle: ImpersonationLifecycle;
  auditLog: AuditLog | undefined;
  tickets: TicketService;
  approvals: ApprovalService;
  requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
  logger: Logger;
  recorder: AuditRecorder;
  refusals: AdminRefusalLimits;
  basePath?: string;
  /** The authorization path shared with the support console; by default one of its own. */
  auth?: AdminAuthenticator;
}) {
  const base = deps.basePath ?? '/admin/api';
  const auth = deps.auth ?? createAdminAuthenticator(deps.provider, deps.lifecycle);
  const states = new WeakMap<object, RefusalState>();
  const stateOf = (ctx: KoaContextWithOIDC): RefusalState => {
    let state = states.get(ctx);
    if (!state) states.set(ctx, (state = { caller: undefined, limited: false }));
    return state;
  };

  /** Answers 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3) in the API's error shape. */
  function tooMany(ctx: KoaContextWithOIDC, retryAfter: number): AdminError {
    stateOf(ctx).limited = true;
    ctx.set('Retry-After', String(retryAfter));
    return new AdminError(429, 'invalid_request', RATE_LIMITED);
  }

  /** The one record that says a window's further refusals go unrecorded: audited where the refusals are, else logged. */
  async function summarise(ctx: KoaContextWithOIDC, who: { actor?: string; ip?: string }, audited?: { event: 'ticket.minted' | 'approval.requested'; subject: string; clientId?: string }): Promise<void> {
    const facts = deps.requestFacts(ctx);
    if (audited) {
      await deps.recorder
        .record(audited.event, { outcome: 'denied', rule: 'admin_refusals_rate_limited', actor: who.actor, subject: audited.subject, client_id: audited.clientId }, facts)
        .catch(() => undefined);
      return;
    }
    deps.logger.warn({ event: 'admin.refusals_rate_limited', actor: who.actor, ip: who.ip, path: ctx.path, request_id: facts.requestId }, 'admin API refusals rate-limited');
  }

  /**
   * docs/policy.md "Rate limits": once a caller's refused requests spent the window's budget, its
   * requests are answered 429 before anything is done or audited; the first of them writes one
   * record (rule `admin_refusals_rate_limited`).
   */
  async function holdBack(ctx: KoaContextWithOIDC, caller: string, audited?: { event: 'ticket.minted' | 'approval.requested'; subject: string; clientId?: string }): Promise<void> {
    const key = `admin-refused account ${caller}`;
    const spent = await verdictOf(() => deps.refusals.byCaller.peek(key));
    if (spent.allowed) return;
    const counted = await verdictOf(() => deps.refusals.byCaller.consume(key));
    if (!counted.allowed && counted.firstRefused) await summarise(ctx, { actor: caller }, audited);
    throw tooMany(ctx, counted.allowed ? spent.retryAfter : counted.retryAfter);
  }

  /** Counts a refusal against its caller; one refused before a caller is known, over its address's budget, becomes a 429. */
  async function countRefusal(ctx: KoaContextWithOIDC, err: AdminError): Promise<AdminError> {
    const state = stateOf(ctx);
    if (err.status < 400 || err.status >= 500 || state.limited) return err;
    if (state.caller !== undefined) {
      await verdictOf(() => deps.refusals.byCaller.consume(`admin-refused account ${state.caller}`));
      return err;
    }
    const verdict = await verdictOf(() => deps.refusals.byAddress.consume(`admin-refused ip ${ctx.ip}`));
    if (verdict.allowed) return err;
    if (verdict.firstRefused) await summarise(ctx, { ip: ctx.ip });
    for (const name of ['WWW-Authenticate', 'Retry-After']) ctx.remove(name);
    return tooMany(ctx, verdict.retryAfter);
  }

  /**
   * RFC 6750 §3, RFC 9449 §7: answers who calls, or throws invalid_token / invalid_dpop_proof /
   * insufficient_scope. With `eligibility: false` the caller's right to impersonate is left to the
   * minting rules, which audit a refusal (docs/browser-impersonation.md §1).
   */
  async function authenticate(ctx: KoaContextWithOIDC, eligibility = true): Promise<AdminCaller> {
    const caller = await auth.authenticateRequest({ method: ctx.method, url: ctx.href, authorization: ctx.get('authorization'), dpop: ctx.get('dpop') || undefined }, eligibility);
    stateOf(ctx).caller = caller.accountId;
    return caller;
  }

  /** RFC 6750 §3 and RFC 9449 §7.1: the challenge of a 401 or 403, in the scheme at issue. */
  function challenge(err: AdminError): string {
    const params = [`error="${err.error}"`, `error_description="${err.description}"`];
    if (err.status === 403) params.push(`scope="${ADMIN_SCOPE}"`);
    if (err.scheme === 'DPoP') params.push(`algs="${auth.proofAlgorithms.join(' ')}"`);
    return `${err.scheme} ${params.join(', ')}`;
  }

  /** docs/browser-impersonation.md §1: `POST /admin/api/tickets` → 201 `{ ticket, expires_at, login_url }`, or the refusal. */
  async function mintTicket(ctx: KoaContextWithOIDC): Promise<void> {
    const caller = await authenticate(ctx, false);
    const body = parse(ticketBody, await readJson(ctx), 'give { "subject", "client_id", "reason" }');
    await holdBack(ctx, caller.accountId, { event: 'ticket.minted', subject: body.subject, clientId: body.client_id });
    const authTime = await auth.authTimeOf(caller);
    try {
      ctx.body = await deps.tickets.mint(
        {
          actor: { sub: caller.accountId, issuer: deps.provider.issuer, ownIssuer: true, authTime },
          actorGrantId: caller.grantId,
          subject: body.subject,
          clientId: body.client_id,
          reason: body.reason,
          targetLinkUri: body.target_link_uri,
          mode: body.mode,
          approvalId: body.approval,
        },
        deps.requestFacts(ctx),
      );
      ctx.status = 201;
    } catch (err) {
      throw refusalOf(ctx, err);
    }
  }

  /**
   * Beyond RFC 8693: `POST /admin/api/approvals` `{ subject, reason, scope?, duration_seconds?, mode? }`
   * asks the subject for approval → 201 with the request, or the refusal (every attempt audited).
   */
  async function requestApproval(ctx: KoaContextWithOIDC): Promise<void> {
    const caller = await authenticate(ctx, false);
    const body = parse(approvalBody, await readJson(ctx), 'give { "subject", "reason", "scope"?, "duration_seconds"?, "mode"? }');
    await holdBack(ctx, caller.accountId, { event: 'approval.requested', subject: body.subject });
    const authTime = await auth.authTimeOf(caller);
    try {
      ctx.body = await deps.approvals.request(
        {
          actor: { sub: caller.accountId, issuer: deps.provider.issuer, ownIssuer: true, authTime },
          subject: body.subject,
          reason: body.reason,
          scopes: body.scope?.split(' ').filter(Boolean),
          durationSeconds: body.duration_seconds,
          mode: body.mode,
        },
        deps.requestFacts(ctx),
      );
      ctx.status = 201;
    } catch (err) {
      throw refusalOf(ctx, err);
    }
  }

  async function route(ctx: KoaContextWithOIDC, path: string): Promise<void> {
    if (path === '/tickets' && ctx.method === 'POST') return mintTicket(ctx);
    if (path === '/approvals' && ctx.method === 'POST') return requestApproval(ctx);
    const admin = (await authenticate(ctx)).accountId;
    await holdBack(ctx, admin);
    const by = { actor: admin, request: deps.requestFacts(ctx) };
    if (path === '/impersonations' && ctx.method === 'GET') {
      const { actor, subject } = parse(impersonationQuery, ctx.query, 'impersonations query');
      const filter: ImpersonationFilter = actor !== undefined ? { actor } : subject !== undefined ? { subject } : { all: true };
      ctx.body = { impersonations: await deps.lifecycle.list(filter) };
      return;
    }
    if (path === '/revocations' && ctx.method === 'POST') {
      const filter = parse(revocationBody, await readJson(ctx), 'give exactly one of actor, subject or all: true');
      ctx.body = { revoked: await deps.lifecycle.revoke(filter, by) };
      return;
    }
    if (path === '/approvals' && ctx.method === 'GET') {
      const filter = parse(approvalQuery, ctx.query, 'approvals query');
      ctx.body = { approvals: await deps.approvals.list(filter) };
      return;
    }
    if (path === '/audit' && ctx.method === 'GET') {
      if (!deps.auditLog) throw new AdminError(404, 'not_found', 'this provider writes audit records to a plain sink, not a queryable log');
      const query = parse(auditQuery, ctx.query, 'audit query');
      const { cursor, limit, ...filter } = query;
      try {
        ctx.body = await queryAudit(deps.auditLog, filter, { cursor, limit });
      } catch (err) {
        if (err instanceof InvalidCursorError) throw new AdminError(400, 'invalid_request', 'audit query: not a cursor of this audit log');
        throw err;
      }
      return;
    }
    if (path === '/settings' && ctx.method === 'GET') {
      ctx.body = { enabled: await deps.lifecycle.isEnabled() };
      return;
    }
    if (path === '/settings' && ctx.method === 'PUT') {
      const { enabled } = parse(settingsBody, await readJson(ctx), 'give { "enabled": true | false }');
      const revoked = await deps.lifecycle.setEnabled(enabled, by);
      ctx.body = { enabled, revoked };
      return;
    }
    throw new AdminError(404, 'not_found', 'no such admin API resource');
  }

  return async function adminApi(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    if (ctx.path !== base && !ctx.path.startsWith(`${base}/`)) {
      await next();
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    try {
      await route(ctx, ctx.path.slice(base.length));
    } catch (thrown) {
      const err = thrown instanceof AdminError ? await countRefusal(ctx, thrown) : new AdminError(500, 'server_error', 'oops! something went wrong');
      if (!(thrown instanceof AdminError)) {
        const { name, message } = thrown instanceof Error ? thrown : new Error(String(thrown));
        deps.logger.error({ err: { name, message }, path: ctx.path, request_id: deps.requestFacts(ctx).requestId }, 'admin API failed');
      }
      ctx.status = err.status;
      ctx.body = { error: err.error, error_description: err.description };
      if (err.status === 401 || err.status === 403) ctx.set('WWW-Authenticate', challenge(err));
    }
  };
}
