import type { KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ApprovalService } from '../approvals/service.js';
import { InvalidCursorError, type AuditLog } from '../audit/log.js';
import { queryAudit } from '../audit/query.js';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { TicketService } from '../browser/tickets.js';
import { ExchangeRefusal } from '../errors.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { Logger } from '../observability/logger.js';
import type { ImpersonationFilter } from '../store/index.js';
import { ADMIN_SCOPE } from '../constants.js';
import { AdminError, createAdminAuthenticator, type AdminAuthenticator, type AdminCaller } from './auth.js';
import { approvalBody, approvalQuery, auditQuery, impersonationQuery, parse, readJson, revocationBody, settingsBody, ticketBody } from './api/input.js';
import { countRefusal, holdBack, type AdminCall, type AdminRefusalLimits } from './api/refusals.js';

export { ADMIN_SCOPE };
export type { AdminRefusalLimits };

type Next = () => Promise<unknown>;

/** What the admin API is built from (`exchange.adminApi()` fills it). */
export interface AdminApiDependencies {
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
}

type Deps = AdminApiDependencies & { readonly auth: AdminAuthenticator };

/** Who acts on a resource, as the lifecycle records it. */
interface By {
  readonly actor: string;
  readonly request: RequestFacts;
}

/** A resource of the admin API past authentication and the refusal limit. */
type Resource = (deps: Deps, ctx: KoaContextWithOIDC, by: By) => Promise<void>;

/**
 * The JSON admin API behind the console (docs/admin-console.md, docs/introspection-revocation.md): live impersonations, bulk revocation, the
 * global switch, the audit trail, browser-impersonation tickets. Callers present an access token of this provider (RFC 6750) that holds
 * `impersonation:admin`, is not itself an impersonation, and belongs to an account that may
 * impersonate (read live).
 */
export function createAdminApi(options: AdminApiDependencies) {
  const base = options.basePath ?? '/admin/api';
  const deps: Deps = { ...options, auth: options.auth ?? createAdminAuthenticator(options.provider, options.lifecycle) };
  return async function adminApi(ctx: KoaContextWithOIDC, next: Next): Promise<void> {
    if (ctx.path !== base && !ctx.path.startsWith(`${base}/`)) {
      await next();
      return;
    }
    ctx.set('Cache-Control', 'no-store');
    const call: AdminCall = { ctx, caller: undefined, limited: false };
    try {
      await route(deps, call, ctx.path.slice(base.length));
    } catch (thrown) {
      await answerError(deps, call, thrown);
    }
  };
}

async function route(deps: Deps, call: AdminCall, path: string): Promise<void> {
  const { ctx } = call;
  if (path === '/tickets' && ctx.method === 'POST') return mintTicket(deps, call);
  if (path === '/approvals' && ctx.method === 'POST') return requestApproval(deps, call);
  const admin = (await authenticate(deps, call)).accountId;
  await holdBack(deps, call, admin);
  const resource = RESOURCES.get(`${ctx.method} ${path}`);
  if (!resource) throw new AdminError(404, 'not_found', 'no such admin API resource');
  await resource(deps, ctx, { actor: admin, request: deps.requestFacts(ctx) });
}

// The refusal in the API's error shape (counted against its caller), or a logged 500.
async function answerError(deps: Deps, call: AdminCall, thrown: unknown): Promise<void> {
  const { ctx } = call;
  const err = thrown instanceof AdminError ? await countRefusal(deps, call, thrown) : new AdminError(500, 'server_error', 'oops! something went wrong');
  if (!(thrown instanceof AdminError)) {
    const { name, message } = thrown instanceof Error ? thrown : new Error(String(thrown));
    deps.logger.error({ err: { name, message }, path: ctx.path, request_id: deps.requestFacts(ctx).requestId }, 'admin API failed');
  }
  ctx.status = err.status;
  ctx.body = { error: err.error, error_description: err.description };
  if (err.status === 401 || err.status === 403) ctx.set('WWW-Authenticate', challenge(deps.auth, err));
}

/**
 * RFC 6750 §3, RFC 9449 §7: answers who calls, or throws invalid_token / invalid_dpop_proof /
 * insufficient_scope. With `eligibility: false` the caller's right to impersonate is left to the
 * minting rules, which audit a refusal (docs/browser-impersonation.md §1).
 */
async function authenticate(deps: Deps, call: AdminCall, eligibility = true): Promise<AdminCaller> {
  const { ctx } = call;
  const caller = await deps.auth.authenticateRequest({ method: ctx.method, url: ctx.href, authorization: ctx.get('authorization'), dpop: ctx.get('dpop') || undefined }, eligibility);
  call.caller = caller.accountId;
  return caller;
}

// RFC 6750 §3 and RFC 9449 §7.1: the challenge of a 401 or 403, in the scheme at issue.
function challenge(auth: AdminAuthenticator, err: AdminError): string {
  const params = [`error="${err.error}"`, `error_description="${err.description}"`];
  if (err.status === 403) params.push(`scope="${ADMIN_SCOPE}"`);
  if (err.scheme === 'DPoP') params.push(`algs="${auth.proofAlgorithms.join(' ')}"`);
  return `${err.scheme} ${params.join(', ')}`;
}

// An extension refusal as the admin API answers it (its status, OAuth error and fixed description).
function refusalOf(ctx: KoaContextWithOIDC, err: unknown): unknown {
  if (!(err instanceof ExchangeRefusal) || err.status >= 500) return err;
  for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
  return new AdminError(err.status, err.error, err.description);
}

// docs/browser-impersonation.md §1: `POST /admin/api/tickets` → 201 `{ ticket, expires_at, login_url }`, or the refusal.
async function mintTicket(deps: Deps, call: AdminCall): Promise<void> {
  const { ctx } = call;
  const caller = await authenticate(deps, call, false);
  const body = parse(ticketBody, await readJson(ctx), 'give { "subject", "client_id", "reason" }');
  await holdBack(deps, call, caller.accountId, { event: 'ticket.minted', subject: body.subject, clientId: body.client_id });
  const authTime = await deps.auth.authTimeOf(caller);
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

// Beyond RFC 8693: `POST /admin/api/approvals` `{ subject, reason, scope?, duration_seconds?, mode? }`
// asks the subject for approval → 201 with the request, or the refusal (every attempt audited).
async function requestApproval(deps: Deps, call: AdminCall): Promise<void> {
  const { ctx } = call;
  const caller = await authenticate(deps, call, false);
  const body = parse(approvalBody, await readJson(ctx), 'give { "subject", "reason", "scope"?, "duration_seconds"?, "mode"? }');
  await holdBack(deps, call, caller.accountId, { event: 'approval.requested', subject: body.subject });
  const authTime = await deps.auth.authTimeOf(caller);
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

// `GET /impersonations[?actor=|?subject=]`: the live impersonations.
async function listImpersonations(deps: Deps, ctx: KoaContextWithOIDC): Promise<void> {
  const { actor, subject } = parse(impersonationQuery, ctx.query, 'impersonations query');
  const filter: ImpersonationFilter = actor !== undefined ? { actor } : subject !== undefined ? { subject } : { all: true };
  ctx.body = { impersonations: await deps.lifecycle.list(filter) };
}

// docs/introspection-revocation.md: `POST /revocations` `{ actor } | { subject } | { all: true }` → how many ended.
async function revokeInBulk(deps: Deps, ctx: KoaContextWithOIDC, by: By): Promise<void> {
  const filter = parse(revocationBody, await readJson(ctx), 'give exactly one of actor, subject or all: true');
  ctx.body = { revoked: await deps.lifecycle.revoke(filter, by) };
}

// `GET /approvals?subject=|?actor=`: the requests for a subject's approval.
async function listApprovals(deps: Deps, ctx: KoaContextWithOIDC): Promise<void> {
  const filter = parse(approvalQuery, ctx.query, 'approvals query');
  ctx.body = { approvals: await deps.approvals.list(filter) };
}

// docs/audit.md: `GET /audit` pages through the queryable audit log.
async function readAudit(deps: Deps, ctx: KoaContextWithOIDC): Promise<void> {
  if (!deps.auditLog) throw new AdminError(404, 'not_found', 'this provider writes audit records to a plain sink, not a queryable log');
  const { cursor, limit, ...filter } = parse(auditQuery, ctx.query, 'audit query');
  try {
    ctx.body = await queryAudit(deps.auditLog, filter, { cursor, limit });
  } catch (err) {
    if (err instanceof InvalidCursorError) throw new AdminError(400, 'invalid_request', 'audit query: not a cursor of this audit log');
    throw err;
  }
}

async function readSwitch(deps: Deps, ctx: KoaContextWithOIDC): Promise<void> {
  ctx.body = { enabled: await deps.lifecycle.isEnabled() };
}

// docs/introspection-revocation.md: the global switch; turning it off ends every live impersonation.
async function flipSwitch(deps: Deps, ctx: KoaContextWithOIDC, by: By): Promise<void> {
  const { enabled } = parse(settingsBody, await readJson(ctx), 'give { "enabled": true | false }');
  const revoked = await deps.lifecycle.setEnabled(enabled, by);
  ctx.body = { enabled, revoked };
}

const RESOURCES = new Map<string, Resource>([
  ['GET /impersonations', listImpersonations],
  ['POST /revocations', revokeInBulk],
  ['GET /approvals', listApprovals],
  ['GET /audit', readAudit],
  ['GET /settings', readSwitch],
  ['PUT /settings', flipSwitch],
]);
