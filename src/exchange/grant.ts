import type { TokenEndpointGrantContext } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { ResolvedOptions } from '../config.js';
import { TokenType } from '../constants.js';
import { ExchangeRefusal, toProviderError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { SubjectNotifier } from '../notify/notifier.js';
import type { ImpersonationRecord } from '../store/impersonations.js';
import { clientProfile } from '../claims/profiles.js';
import { FailedAttempt, knowing, type AttemptFacts, type Issued, type ParsedRequest } from './attempt.js';
import { AuditBeforeIssueError, issueTokens, type IssueDependencies, type IssuePlan } from './issue.js';
import { decidedFacts, planToken } from './plan.js';
import { recordGranted, recordRefused } from './record.js';
import { parseExchangeRequest, type ExchangeRequest } from './request.js';
import type { ExchangeContext, ImpersonationRules } from './rules.js';
import type { ResourceServerRegistry } from './targets.js';
import { startReads, verifyTokens } from './tokens.js';
import type { VerifyContext } from './verify.js';

/** The store side of the grant: the shared switch and the index of live impersonations. */
export interface ImpersonationRegistry {
  isEnabled(): Promise<boolean>;
  add(record: ImpersonationRecord, ttlSeconds: number): Promise<void>;
  addJwt(jti: string, grantId: string, ttlSeconds: number, audience?: readonly string[]): Promise<void>;
  /** The live record of an exchanged token's grant (a chained subject token's impersonation). */
  get(grantId: string): Promise<ImpersonationRecord | undefined>;
}

/** What the grant needs, injected once at registration. */
export interface GrantDependencies {
  readonly registry: ImpersonationRegistry;
  readonly options: ResolvedOptions;
  readonly recorder: AuditRecorder;
  readonly verify: VerifyContext;
  readonly rules: ImpersonationRules;
  readonly resourceServers: ResourceServerRegistry;
  readonly issue: IssueDependencies;
  readonly requestFacts: (ctx: TokenEndpointGrantContext) => RequestFacts;
  readonly markAudited: (ctx: TokenEndpointGrantContext) => void;
  readonly observeDuration: (seconds: number, outcome: 'granted' | 'denied' | 'error') => void;
  readonly logger: Logger;
  /** Tells the subject an impersonation of their account started (`hooks.notifySubject`). */
  readonly notifier: SubjectNotifier;
  /** The user's delegation a subject token was collected for, while it is active and this token's. */
  readonly delegations: { standing(id: string, grantId: string | undefined): Promise<{ id: string; agent: string; reason: string | undefined; grantedAt?: number | undefined; first: boolean } | undefined> };
  /** Ends an impersonation whose approval was revoked while it started. */
  readonly confirmStarted: (approvalId: string | undefined, grantId: string, facts: RequestFacts) => Promise<void>;
}

type Ctx = TokenEndpointGrantContext;

/**
 * The RFC 8693 token-exchange grant handler, top-down: parse → verify → rules → limits → issue,
 * each step a function of the value the one before returned. The audit record is written on every
 * path: `exchange.granted` before the token is saved, `exchange.denied` with each refusal, which is
 * answered with a fixed public description (RFC 8693 §2.2.2).
 */
export function createTokenExchangeHandler(deps: GrantDependencies) {
  return async function tokenExchangeGrant(ctx: Ctx): Promise<void> {
    const started = process.hrtime.bigint();
    let outcome: 'granted' | 'denied' | 'error' = 'granted';
    deps.markAudited(ctx);
    try {
      const parsed = await parse(ctx, deps);
      const tokens = await knowing(parsed.facts, () => verifyTokens(ctx, parsed, deps));
      const decision = await knowing(tokens.facts, () => deps.rules.decide(tokens, exchangeContext(ctx, deps)));
      const decided = decidedFacts(tokens.facts, decision);
      const { plan, facts } = await knowing(decided, () => planToken(ctx, tokens, decision, decided, deps));
      await knowing(facts, async () => {
        const issued = await issue(ctx, plan, deps);
        ctx.body = issued.response;
        await announce(ctx, plan, issued, deps);
      });
    } catch (err) {
      const failure = err instanceof FailedAttempt ? err : new FailedAttempt(err, {});
      const refusal = refusalOf(failure.error);
      outcome = refusal.status >= 500 ? 'error' : 'denied';
      await refuse(ctx, refusal, failure, deps);
      throw toProviderError(refusal);
    } finally {
      deps.observeDuration(Number(process.hrtime.bigint() - started) / 1e9, outcome);
    }
  };
}

/** docs/grant.md: the grant switched off (config, or the shared kill switch) is unsupported_grant_type. */
async function assertGrantEnabled(enabled: Promise<boolean>): Promise<void> {
  if (!(await enabled)) {
    throw new ExchangeRefusal('impersonation_disabled', 'unsupported_grant_type', 'token exchange is disabled');
  }
}

/**
 * RFC 8693 §2.1 relies on client authentication, and §5 warns that without it a leaked token can
 * be exchanged by anyone: public clients are refused (docs/grant.md).
 */
function assertConfidentialClient(ctx: Ctx): void {
  if (ctx.oidc.client.clientAuthMethod === 'none') {
    throw new ExchangeRefusal('client_public', 'invalid_client', 'public clients cannot use token exchange');
  }
}

/** RFC 8693 §2.1 parameters, or the refusal naming the first problem found. */
function parseOrRefusal(ctx: Ctx): ExchangeRequest | ExchangeRefusal {
  try {
    return parseExchangeRequest(ctx.oidc.params as Record<string, string | string[] | undefined>);
  } catch (err) {
    if (err instanceof ExchangeRefusal) return err;
    throw err;
  }
}

/**
 * A request refused for its reason alone still names its actor and subject in the audit record
 * (docs/audit.md), when its tokens verify: who tried is what an auditor looks for. Nothing more is
 * decided; a token that does not verify leaves its party unnamed.
 */
async function nameParties(ctx: Ctx, deps: GrantDependencies): Promise<AttemptFacts> {
  let request: ExchangeRequest;
  try {
    request = parseExchangeRequest({ ...(ctx.oidc.params as Record<string, string | string[] | undefined>), reason: undefined });
  } catch {
    return {};
  }
  const reads = startReads(ctx, request, deps);
  const [actor, subject] = await Promise.all([reads.actor.catch(() => undefined), reads.subject.catch(() => undefined)]);
  const subjectId = request.subjectTokenType === TokenType.userId ? request.subjectToken : subject?.sub;
  return { ...(actor ? { actor: actor.sub } : {}), ...(subjectId !== undefined ? { subject: subjectId } : {}) };
}

/**
 * The parse step: the switch, the client, then the RFC 8693 §2.1 parameters — a malformed request
 * is answered after the switch and client checks. The reads (the switch, the DPoP proof, both
 * tokens) start at once.
 */
async function parse(ctx: Ctx, deps: GrantDependencies): Promise<ParsedRequest> {
  const parsed = parseOrRefusal(ctx);
  const reads = parsed instanceof ExchangeRefusal ? undefined : startReads(ctx, parsed, deps);
  await assertGrantEnabled(reads?.enabled ?? deps.registry.isEnabled());
  assertConfidentialClient(ctx);
  if (parsed instanceof ExchangeRefusal) {
    throw new FailedAttempt(parsed, parsed.rule === 'reason_invalid' ? await nameParties(ctx, deps) : {});
  }
  return { request: parsed, reads: reads!, facts: { reason: parsed.reason } };
}

/** What the rule module needs of this request beyond its tokens: the client, and the lookups only the grant can make. */
function exchangeContext(ctx: Ctx, deps: GrantDependencies): ExchangeContext {
  const { client, provider } = ctx.oidc;
  return {
    clientId: client.clientId,
    ownIssuer: deps.verify.ownIssuer,
    // draft-mora-oauth-entity-profiles §6: a client's kind is its registered `client_profile`.
    clientProfile: async (clientId) => clientProfile(clientId === client.clientId ? client : await provider.Client.find(clientId)),
    personOf: async (grantId) => (await deps.registry.get(grantId))?.actorAccount,
    standingDelegation: (id, grantId) => deps.delegations.standing(id, grantId),
  };
}

/** The issue step (RFC 8693 §2.2.1): the index and the `exchange.granted` record are written before the token is saved. */
async function issue(ctx: Ctx, plan: IssuePlan, deps: GrantDependencies): Promise<Issued> {
  const { response, recorded } = await issueTokens(ctx, plan, deps.issue, (about, batch) => recordGranted(ctx, plan, about, batch, deps));
  return { response, ...recorded };
}

/** After the response is ready: the subject is told, and an approval's impersonation confirmed as started. */
async function announce(ctx: Ctx, plan: IssuePlan, issued: Issued, deps: GrantDependencies): Promise<void> {
  if (issued.notice) deps.notifier.notify(issued.notice);
  if (plan.approvalId && issued.grantId) await deps.confirmStarted(plan.approvalId, issued.grantId, deps.requestFacts(ctx));
}

/** A refusal as thrown, or a failure as `server_error` (`audit_write_failed` when the record could not be written). */
function refusalOf(err: unknown): ExchangeRefusal {
  if (err instanceof ExchangeRefusal) return err;
  return new ExchangeRefusal(err instanceof AuditBeforeIssueError ? 'audit_write_failed' : 'server_error', 'server_error', 'server error', {
    status: 500,
    detail: err instanceof Error ? err.name : 'unknown',
  });
}

/**
 * The refusal's side effects: a failure is logged; the `exchange.denied` record is written unless
 * the failure was that no record could be written; the refusal's headers are set.
 */
async function refuse(ctx: Ctx, refusal: ExchangeRefusal, failure: FailedAttempt, deps: GrantDependencies): Promise<void> {
  const err = failure.error;
  if (refusal.status >= 500) {
    const { name, message } = err instanceof Error ? err : new Error(String(err));
    deps.logger.error({ err: { name, message }, rule: refusal.rule, request_id: deps.requestFacts(ctx).requestId }, 'token exchange failed');
  }
  if (!(err instanceof AuditBeforeIssueError)) await recordRefused(ctx, refusal, failure.facts, deps);
  for (const [name, value] of Object.entries(refusal.headers)) ctx.set(name, value);
}
