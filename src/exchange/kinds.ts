import { randomUUID } from 'node:crypto';
import type { DirectoryAccount } from '../accounts.js';
import { TokenType } from '../constants.js';
import { invalidRequest, subjectRefused } from '../errors.js';
import { assertNoImpersonationParameters, delegatedAccess, passedOnAccess, startingAccess, type AccessDeps } from './access.js';
import { actorChain, wrapActor, type ActClaim } from '../claims/act.js';
import { accountProfile } from '../claims/profiles.js';
import { profileRule, type ActorProfileRule } from './actor-profiles.js';
import { actorAccountOf, admit, chargeChain, type AdmissionDeps } from './admission.js';
import type { Decision, Subject, VerifiedTokens } from './attempt.js';
import { assertChainLength, assertMayAct, assertSubjectActive } from './checks.js';
import type { ImpersonationFacts, VerifiedToken } from './verify.js';

/*
 * The three kinds of exchange (RFC 8693 §1.1), each decided by the rule module
 * (src/exchange/rules.ts `decide`): starting an impersonation, passing an `act` chain on (§4.1),
 * and delegation without impersonation.
 */

/** What the rule module reads to decide an exchange: its own dependencies. */
export type DecideDeps = AdmissionDeps & AccessDeps;

/** What the grant knows of the request beyond its tokens, and the lookups only it can make. */
export interface ExchangeContext {
  /** The authenticated client (RFC 8693 §2.1). */
  readonly clientId: string;
  /** This provider's issuer: the `iss` of an actor named without one. */
  readonly ownIssuer: string;
  /**
   * The kind of a client acting (draft-mora-oauth-entity-profiles §6 `client_profile`), read live:
   * the requesting client's, or another registered client's.
   */
  clientProfile(clientId: string): Promise<string>;
  /** The person who started the impersonation a grant belongs to (docs/introspection-revocation.md). */
  personOf(grantId: string): Promise<string | undefined>;
  /** The user's delegation a subject token was collected for, while it is active and this token's. */
  standingDelegation(id: string, grantId: string | undefined): Promise<{ id: string; reason: string | undefined; grantedAt?: number | undefined; first: boolean } | undefined>;
}

const epoch = () => Math.floor(Date.now() / 1000);

/**
 * The kind of the acting party (draft-mcguinness-oauth-actor-profile §3.4), read live: a person's
 * from the account directory, a client's from its registered `client_profile`; the requesting
 * client's when no actor token was sent.
 */
async function actingProfile(deps: DecideDeps, context: ExchangeContext, actor: VerifiedToken | undefined, account: DirectoryAccount | undefined): Promise<string> {
  if (actor?.principal === 'user') return accountProfile(account ?? (await deps.options.accounts.findAccount(actor.sub)));
  return context.clientProfile(actor?.sub ?? context.clientId);
}

/**
 * `policy.actorProfiles` over every actor of the chain (docs/policy.md "Typed actors"): a kind
 * that may not act for protected accounts is refused like any subject rule; a read-only kind
 * makes the whole chain read-only.
 */
function gateByProfile(deps: DecideDeps, act: ActClaim, subject: DirectoryAccount): ActorProfileRule {
  const { policy } = deps.options;
  const rule = profileRule(policy, actorChain(act).map((a) => a.sub_profile));
  const protectedRole = rule.protectedSubjects ? undefined : subject.roles.find((role) => policy.protectedRoles.includes(role));
  if (protectedRole) throw subjectRefused('subject_protected', `${subject.id} holds ${protectedRole}; policy.actorProfiles forbids this kind of actor`);
  return rule;
}

/** RFC 8693 §1.1 impersonation, started: a person (the actor token's user) takes on a subject whose token carries no `act`. */
async function impersonate(deps: DecideDeps, tokens: VerifiedTokens, context: ExchangeContext): Promise<Decision> {
  const { request, subject } = tokens;
  const actor = tokens.actor!;
  if (actor.principal !== 'user') {
    throw invalidRequest('actor_not_a_user', 'only a user can start an impersonation', `actor ${actor.sub} is a client`);
  }
  const { actorAccount, subjectAccount } = await admit(deps, { actor, subjectId: subject.id, clientId: context.clientId, reason: request.reason, mayAct: subject.token?.mayAct });
  const access = await startingAccess(deps, { actor: actorAccount, subject: subjectAccount, approvalId: request.approvalId, mode: request.impersonationMode });
  // RFC 8693 §4.1, draft-mcguinness-oauth-actor-profile §3.4: the actor's kind, read live from the directory.
  const act = wrapActor({ sub: actor.sub, iss: actor.ownIssuer ? undefined : actor.issuer, sub_profile: accountProfile(actorAccount) }, undefined);
  const impersonation: ImpersonationFacts = { id: randomUUID(), reason: request.reason, started_at: epoch(), ...(access.mode === 'read' ? { mode: 'read' as const } : {}) };
  return { kind: 'impersonation', actorAccount, subjectAccount, act, impersonation, access, person: actorAccount.id };
}

/**
 * RFC 8693 §4.1 chained delegation: the subject token already carries `act`; the new acting party
 * (the actor token's subject, or the requesting client) wraps the chain, which is never dropped.
 * docs/policy.md: a chain counts against the rate limit of the person who started it (the innermost actor).
 */
async function passOn(deps: DecideDeps, tokens: VerifiedTokens, context: ExchangeContext, prior: ActClaim): Promise<Decision> {
  const { request, actor, subject } = tokens;
  await chargeChain(deps, prior);
  const actorAccount = actor?.principal === 'user' ? await actorAccountOf(deps, actor) : undefined;
  const acting = actor ? { sub: actor.sub, iss: actor.ownIssuer ? undefined : actor.issuer } : { sub: context.clientId, iss: undefined };
  const subjectAccount = assertSubjectActive(await deps.options.accounts.findAccount(subject.id), subject.id);
  // RFC 8693 §4.4: a subject token's may_act names who may act for it.
  assertMayAct(subject.token?.mayAct, { sub: acting.sub, iss: acting.iss ?? context.ownIssuer, clientId: context.clientId });
  const act = wrapActor(Object.assign({}, acting, { sub_profile: await actingProfile(deps, context, actor, actorAccount) }), prior);
  assertChainLength(act, deps.options.policy);
  const rule = gateByProfile(deps, act, subjectAccount);
  const { impersonation, access } = passedOnAccess(deps.options.policy, request, subject.token?.impersonation, rule);
  // The person who started the chain stays the one the cascade re-reads (docs/introspection-revocation.md).
  const person = subject.token?.grantId === undefined ? undefined : await context.personOf(subject.token.grantId);
  return { kind: 'chain', actorAccount, subjectAccount, act, impersonation, access, person };
}

/**
 * A subject token collected under a user's delegation is good only while the delegation is
 * active and this token is its current one (pausing or ending it ends the token), and only with
 * the agent's own token as actor_token.
 */
async function delegationOf(context: ExchangeContext, subject: Subject, actor: VerifiedToken | undefined) {
  const id = subject.token?.delegationId;
  if (id === undefined) return undefined;
  const delegation = await context.standingDelegation(id, subject.token?.grantId);
  if (!delegation) throw invalidRequest('delegation_inactive', 'subject_token is invalid, expired or revoked', `delegation ${id} is paused, ended or no longer this token's`);
  if (!actor) throw invalidRequest('actor_token_required', "actor_token is required to act under a delegation: send the agent's own token");
  return delegation;
}

/** RFC 8693 §1.1 delegation without impersonation: the client (or a service actor) acts with the subject's own token. */
async function delegate(deps: DecideDeps, tokens: VerifiedTokens, context: ExchangeContext): Promise<Decision> {
  const { request, actor, subject } = tokens;
  assertNoImpersonationParameters(request);
  const subjectAccount = assertSubjectActive(await deps.options.accounts.findAccount(subject.id), subject.id);
  // RFC 8693 §4.4: a subject token's may_act names who may act for it.
  if (actor) assertMayAct(subject.token?.mayAct, { sub: actor.sub, iss: actor.issuer, clientId: context.clientId });
  const delegation = await delegationOf(context, subject, actor);
  const act = actor ? wrapActor({ sub: actor.sub, iss: actor.ownIssuer ? undefined : actor.issuer, sub_profile: await actingProfile(deps, context, actor, undefined) }, undefined) : undefined;
  const rule = act ? gateByProfile(deps, act, subjectAccount) : undefined;
  const access = delegatedAccess(deps.options.policy, rule);
  // Under a user's delegation every rule of an impersonation applies (docs/beyond-impersonation.md
  // "Delegation to agents"): the token carries its facts, is listed, audited and ends with it.
  const impersonation: ImpersonationFacts | undefined = delegation
    ? { id: delegation.id, reason: delegation.reason, started_at: delegation.grantedAt ?? epoch(), ...(rule?.readOnly ? { mode: 'read' as const } : {}) }
    : undefined;
  return { kind: 'delegation', actorAccount: undefined, subjectAccount, act, impersonation, access, person: undefined, delegationId: delegation?.id, quiet: delegation ? !delegation.first : undefined };
}

/**
 * Decides an exchange of verified tokens, whichever its kind (RFC 8693 §1.1): a subject token that
 * carries `act` is passed on (§4.1); a person's actor token, or a subject named by account id,
 * starts an impersonation; anything else is delegation. Throws the refusal of the first rule broken.
 */
export function decide(deps: DecideDeps, tokens: VerifiedTokens, context: ExchangeContext): Promise<Decision> {
  const prior = tokens.subject.token?.act;
  if (prior) return passOn(deps, tokens, context, prior);
  if (tokens.actor?.principal === 'user' || tokens.request.subjectTokenType === TokenType.userId) return impersonate(deps, tokens, context);
  return delegate(deps, tokens, context);
}
