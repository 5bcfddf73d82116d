import type { TokenEndpointGrantContext } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { ExchangeRefusal } from '../errors.js';
import { startedNotice, type ImpersonationStartedNotice } from '../notify/notice.js';
import type { ImpersonationRecord } from '../store/impersonations.js';
import type { WriteBatch } from '../store/write-batch.js';
import { actorChain } from '../claims/act.js';
import type { AttemptFacts } from './attempt.js';
import type { AboutToIssue, IssuePlan } from './issue.js';
import { auditableReason } from './request.js';

/*
 * What an exchange leaves behind (docs/audit.md): on success the index of what it issued and the
 * `exchange.granted` record, both written before the token is saved; on every refusal the
 * `exchange.denied` record.
 */

type Ctx = TokenEndpointGrantContext;

/** The index writes of an exchange: the live impersonations and the recorded JWTs (docs/introspection-revocation.md). */
export interface ImpersonationIndex {
  add(record: ImpersonationRecord, ttlSeconds: number): Promise<void>;
  addJwt(jti: string, grantId: string, ttlSeconds: number, audience?: readonly string[]): Promise<void>;
}

/** What recording reads and writes: the index, the audit recorder, and the request's facts. */
export interface RecordDeps {
  readonly registry: ImpersonationIndex;
  readonly recorder: AuditRecorder;
  readonly requestFacts: (ctx: Ctx) => RequestFacts;
}

/** What the `exchange.granted` record was written with, for what follows the response. */
export interface GrantRecorded {
  readonly grantId: string | undefined;
  readonly notice: ImpersonationStartedNotice | undefined;
}

const epoch = () => Math.floor(Date.now() / 1000);

/**
 * Records what bulk revocation and the cascade need, before the token exists (docs/introspection-revocation.md): every
 * exchanged access token — an impersonation, a chain, or a delegation without `act` — under the
 * grants it derives from, so that it ends with each of them.
 */
async function index(ctx: Ctx, plan: IssuePlan, issued: AboutToIssue, deps: RecordDeps): Promise<void> {
  const writes: Array<Promise<void>> = [];
  if (issued.jwtId && issued.grantId) {
    // The token's `aud` (src/exchange/issue.ts), so its revocation reaches the resource servers it is for.
    const audience = plan.target ? [plan.target.definition.audience ?? plan.target.identifier] : undefined;
    writes.push(deps.registry.addJwt(issued.jwtId, issued.grantId, plan.lifetime, audience));
  }
  if (issued.grantId) {
    writes.push(
      deps.registry.add(
        {
          grantId: issued.grantId,
          impersonationId: plan.impersonation?.id ?? issued.grantId,
          actors: actorChain(plan.act).map((a) => a.sub),
          actorProfiles: actorChain(plan.act).map((a) => a.sub_profile ?? ''),
          ...(plan.actorAccount ? { actorAccount: plan.actorAccount } : {}),
          subject: plan.subjectId,
          clientId: ctx.oidc.client.clientId,
          reason: plan.impersonation?.reason,
          startedAt: plan.impersonation?.started_at ?? epoch(),
          expiresAt: issued.expiresAt,
          sources: plan.sources,
          tokenId: issued.tokenId,
          ...(plan.impersonation?.mode ? { mode: plan.impersonation.mode } : {}),
          ...(plan.approvalId ? { approvalId: plan.approvalId } : {}),
          ...(plan.quiet ? { quiet: true } : {}),
        },
        plan.lifetime,
      ),
    );
  }
  await Promise.all(writes);
}

/** The notice addressed to the subject when this exchange starts an impersonation of them. */
function noticeOf(ctx: Ctx, plan: IssuePlan, issued: AboutToIssue): ImpersonationStartedNotice | undefined {
  if (!plan.startedBy || !plan.act || !plan.impersonation) return undefined;
  return startedNotice({
    subject: plan.subjectId,
    actor: plan.act.sub,
    actor_name: plan.startedBy.name,
    ...(plan.act.sub_profile ? { actor_profile: plan.act.sub_profile } : {}),
    reason: plan.impersonation.reason,
    client_id: ctx.oidc.client.clientId,
    started_at: new Date(plan.impersonation.started_at * 1000).toISOString(),
    until: new Date(issued.expiresAt * 1000).toISOString(),
    mode: plan.impersonation.mode ?? 'full',
    ...(plan.approvalId ? { approval_id: plan.approvalId } : {}),
  });
}

/** Before the token is stored: the impersonation index, then the `exchange.granted` record (docs/audit.md). */
export async function recordGranted(ctx: Ctx, plan: IssuePlan, issued: AboutToIssue, batch: WriteBatch | undefined, deps: RecordDeps): Promise<GrantRecorded> {
  await index(ctx, plan, issued, deps);
  const notice = noticeOf(ctx, plan, issued);
  await deps.recorder.record(
    'exchange.granted',
    {
      outcome: 'granted',
      client_id: ctx.oidc.client.clientId,
      actor: plan.act?.sub,
      subject: plan.subjectId,
      reason: plan.impersonation?.reason,
      scope: plan.scopes.join(' '),
      audience: plan.target ? [plan.target.identifier] : undefined,
      token_id: issued.tokenId,
      expires_at: new Date(issued.expiresAt * 1000).toISOString(),
      mode: plan.impersonation?.mode,
      approval_id: plan.approvalId,
      delegation_id: plan.delegationId,
    },
    deps.requestFacts(ctx),
    { notice, batch },
  );
  return { grantId: issued.grantId, notice };
}

/** The `exchange.denied` record of a refusal, naming as much of the attempt as was established (docs/audit.md). */
export async function recordRefused(ctx: Ctx, refusal: ExchangeRefusal, facts: AttemptFacts, deps: Pick<RecordDeps, 'recorder' | 'requestFacts'>): Promise<void> {
  try {
    await deps.recorder.record(
      'exchange.denied',
      {
        outcome: refusal.status >= 500 ? 'error' : 'denied',
        rule: refusal.rule,
        client_id: ctx.oidc.client.clientId,
        actor: facts.actor,
        subject: facts.subject,
        reason: facts.reason ?? auditableReason(ctx.oidc.params as Record<string, string>),
        scope: facts.scope,
        audience: facts.audience,
      },
      deps.requestFacts(ctx),
    );
  } catch {
    // The refusal stands and nothing was issued; the sink reports its own failure.
  }
}
