import type { TokenEndpointGrantContext } from 'oidc-provider';
import type { ResolvedOptions } from '../config.js';
import { knowing, type AttemptFacts, type Decision, type Planned, type VerifiedTokens } from './attempt.js';
import { grantedScopes, lifetimeSeconds, subjectScopeLimit } from './checks.js';
import type { IssuePlan } from './issue.js';
import type { ImpersonationRules } from './rules.js';
import { resolveTarget, type ResourceServerRegistry, type Target } from './targets.js';

/*
 * The grant's limits step: what the decided exchange may yield — its target (RFC 8693 §2.1
 * resource and audience, RFC 8707), its scope (RFC 8693 §2.1 scope, §2.1.1), its lifetime — and
 * the last rules, the `authorize` hook and the approval spent, before anything is issued.
 */

type Ctx = TokenEndpointGrantContext;

/** What the limits step reads: the options, the resource servers, and the rule module's last rules. */
export interface PlanStepDeps {
  readonly options: ResolvedOptions;
  readonly resourceServers: ResourceServerRegistry;
  readonly rules: Pick<ImpersonationRules, 'authorizeByHook' | 'spendApproval'>;
}

const epoch = () => Math.floor(Date.now() / 1000);

/** The facts once the rules decided: who acts now (RFC 8693 §4.1, the outermost `act`) and the impersonation's reason. */
export function decidedFacts(facts: AttemptFacts, decision: Decision): AttemptFacts {
  // Object.assign, not `{ ...facts, more }`: on V8 a spread followed by more properties costs some
  // 2 µs a copy, ten times Object.assign's (docs/performance.md, "Spreads"); facts are copied per step.
  return Object.assign(
    {},
    facts,
    decision.act ? { actor: decision.act.sub } : undefined,
    decision.impersonation?.reason ? { reason: decision.impersonation.reason } : undefined,
  );
}

/**
 * RFC 8693 §2.1.1: the scope granted is the requested one within every bound that applies — the
 * subject token's, the client's, the `scopesFor` hook's, the target's, and the access decided
 * (read-only, approved) — and, for an impersonation, the policy's (docs/grant.md).
 */
async function scopesOf(ctx: Ctx, tokens: VerifiedTokens, decision: Decision, target: Target | undefined, deps: PlanStepDeps): Promise<string[]> {
  const { options } = deps;
  const clientScope = ctx.oidc.client.scope?.split(' ').filter(Boolean);
  return grantedScopes({
    requested: tokens.request.scopes,
    limits: [
      { source: 'subject_token', scopes: subjectScopeLimit(tokens.subject.token) },
      { source: 'client', scopes: clientScope },
      { source: 'hook', scopes: options.hooks.scopesFor ? await options.hooks.scopesFor(decision.subjectAccount, ctx.oidc.client.clientId) : undefined },
      { source: 'resource', scopes: target ? target.definition.scope.split(' ').filter(Boolean) : undefined },
      ...(decision.access?.scopeLimits ?? []),
    ],
    policy: options.policy,
    impersonating: decision.impersonation !== undefined,
  });
}

/** docs/grant.md: the lifetime never outlasts the incoming token, nor the window of the subject's approval. */
function lifetimeOf(tokens: VerifiedTokens, decision: Decision, ceiling: number): number {
  const notAfter = decision.access?.notAfter;
  const incoming = tokens.subject.token?.expiresAt;
  return lifetimeSeconds({
    requested: tokens.request.requestedExpiresIn,
    ceiling,
    incomingExpiresAt: notAfter === undefined ? incoming : incoming === undefined ? notAfter : Math.min(incoming, notAfter),
    now: epoch(),
  });
}

/** Everything decided about the token to issue (src/exchange/issue.ts). */
function planOf(tokens: VerifiedTokens, decision: Decision, limits: { scopes: string[]; target: Target | undefined; lifetime: number }): IssuePlan {
  return {
    subjectId: decision.subjectAccount.id,
    act: decision.act,
    impersonation: decision.impersonation,
    ...limits,
    requestedTokenType: tokens.request.requestedTokenType,
    proofKey: tokens.proofKey,
    sources: [tokens.actor?.grantId, tokens.subject.token?.grantId].filter((id): id is string => id !== undefined),
    approvalId: decision.access?.approval?.id,
    delegationId: decision.delegationId,
    quiet: decision.quiet,
    startedBy: decision.kind === 'impersonation' ? { name: decision.actorAccount?.name } : undefined,
    actorAccount: decision.person,
  };
}

/**
 * The limits step: the target (RFC 8693 §2.2.2 `invalid_target` when it cannot be served), the
 * scope (RFC 6749 §5.2 `invalid_scope` when none is left), the `authorize` hook, the lifetime, and
 * last the approval's single use, so that a refusal never costs the subject's approval.
 */
export async function planToken(ctx: Ctx, tokens: VerifiedTokens, decision: Decision, facts: AttemptFacts, deps: PlanStepDeps): Promise<Planned> {
  const { policy } = deps.options;
  const target = resolveTarget(tokens.request.targets, tokens.request.requestedTokenType, deps.resourceServers, policy);
  const targeted: AttemptFacts = target ? Object.assign({}, facts, { audience: [target.identifier] }) : facts;
  const scopes = await knowing(targeted, () => scopesOf(ctx, tokens, decision, target, deps));
  const scoped: AttemptFacts = Object.assign({}, targeted, { scope: scopes.join(' ') });
  return knowing(scoped, async () => {
    await deps.rules.authorizeByHook({
      actor: decision.actorAccount,
      subject: decision.subjectAccount,
      clientId: ctx.oidc.client.clientId,
      reason: decision.impersonation?.reason,
      scopes,
      audience: target ? [target.identifier] : [],
    });
    const lifetime = lifetimeOf(tokens, decision, policy.maxLifetimeSeconds);
    await deps.rules.spendApproval(decision.access?.approval);
    return { plan: planOf(tokens, decision, { scopes, target, lifetime }), facts: scoped };
  });
}
