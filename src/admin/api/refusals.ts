import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../../audit/recorder.js';
import type { Limiter, LimitVerdict } from '../../exchange/rate-limit.js';
import type { Logger } from '../../observability/logger.js';
import { AdminError } from '../auth.js';

/** Refused requests at the admin API, counted per caller (docs/policy.md, "Rate limits"). */
export interface AdminRefusalLimits {
  /** Per authenticated caller's account (`policy.rateLimit`). */
  readonly byCaller: Limiter;
  /** Per IP address, for requests refused before a caller is known (`policy.unauthenticatedRateLimit`). */
  readonly byAddress: Limiter;
}

/** What counting refusals needs: the limits, and where the one summary record goes. */
export interface RefusalDeps {
  readonly refusals: AdminRefusalLimits;
  readonly recorder: AuditRecorder;
  readonly logger: Logger;
  readonly requestFacts: (ctx: KoaContextWithOIDC) => RequestFacts;
}

/** One request to the admin API, and whom its refusals count against. */
export interface AdminCall {
  readonly ctx: KoaContextWithOIDC;
  /** The caller's account once authenticated; until then refusals count against the address. */
  caller: string | undefined;
  /** This request was answered 429 by the refusal limit (it was counted there). */
  limited: boolean;
}

/** The audit event a refused minting or approval request is recorded under, when the limit holds it back. */
export interface AuditedRefusal {
  readonly event: 'ticket.minted' | 'approval.requested';
  readonly subject: string;
  readonly clientId?: string;
}

const RATE_LIMITED = 'too many refused requests by this caller; retry later';
const ALLOWED: LimitVerdict = { allowed: true };

// A limiter's verdict, or "allowed" when its store fails (the answer being given stands).
async function verdictOf(count: () => Promise<LimitVerdict>): Promise<LimitVerdict> {
  try {
    return await count();
  } catch {
    return ALLOWED;
  }
}

// RFC 6585 §4, RFC 9110 §10.2.3: 429 with `Retry-After`, in the API's error shape.
function tooMany(call: AdminCall, retryAfter: number): AdminError {
  call.limited = true;
  call.ctx.set('Retry-After', String(retryAfter));
  return new AdminError(429, 'invalid_request', RATE_LIMITED);
}

// The one record that says a window's further refusals go unrecorded: audited where the refusals are, else logged.
async function summarise(deps: RefusalDeps, ctx: KoaContextWithOIDC, who: { actor?: string; ip?: string }, audited?: AuditedRefusal): Promise<void> {
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
export async function holdBack(deps: RefusalDeps, call: AdminCall, caller: string, audited?: AuditedRefusal): Promise<void> {
  const key = `admin-refused account ${caller}`;
  const spent = await verdictOf(() => deps.refusals.byCaller.peek(key));
  if (spent.allowed) return;
  const counted = await verdictOf(() => deps.refusals.byCaller.consume(key));
  if (!counted.allowed && counted.firstRefused) await summarise(deps, call.ctx, { actor: caller }, audited);
  throw tooMany(call, counted.allowed ? spent.retryAfter : counted.retryAfter);
}

/** Counts a refusal against its caller; one refused before a caller is known, over its address's budget, becomes a 429. */
export async function countRefusal(deps: RefusalDeps, call: AdminCall, err: AdminError): Promise<AdminError> {
  if (err.status < 400 || err.status >= 500 || call.limited) return err;
  if (call.caller !== undefined) {
    await verdictOf(() => deps.refusals.byCaller.consume(`admin-refused account ${call.caller}`));
    return err;
  }
  const { ctx } = call;
  const verdict = await verdictOf(() => deps.refusals.byAddress.consume(`admin-refused ip ${ctx.ip}`));
  if (verdict.allowed) return err;
  if (verdict.firstRefused) await summarise(deps, ctx, { ip: ctx.ip });
  for (const name of ['WWW-Authenticate', 'Retry-After']) ctx.remove(name);
  return tooMany(call, verdict.retryAfter);
}
